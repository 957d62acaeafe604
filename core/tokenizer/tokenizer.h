// The tokenizer interface shared by the Llama 3 byte-level BPE tokenizer (the real
// LLaVA-MORE language model) and the word-level tokenizer of the procedural shapes world.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sightline {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Token ids of plain text. Literal special-token strings are tokenized as ordinary text.
  virtual std::vector<int64_t> encode(const std::string& text) const = 0;

  // Like encode, but literal special-token strings (e.g. "<|begin_of_text|>", or "<image>"
  // for the word tokenizer) become their ids; the text between them is encoded as by encode.
  virtual std::vector<int64_t> encode_with_specials(const std::string& text) const = 0;

  // The text of a token sequence; special tokens appear as their literal strings.
  // Throws Error naming the first id that is not a token of this vocabulary.
  virtual std::string decode(const std::vector<int64_t>& ids) const = 0;

  // One token's text for display (the Llama 3 tokenizer shows bytes that are not valid
  // UTF-8 on their own as <0xNN>). Throws Error on an unknown id.
  virtual std::string token_text(int64_t id) const = 0;

  // One past the largest token id (the embedding table's row count).
  virtual int64_t vocab_size() const = 0;
  virtual int64_t bos_id() const = 0;
  virtual int64_t eos_id() const = 0;

  // The id of a special token given by its literal string, or nullopt.
  virtual std::optional<int64_t> special_id(const std::string& token) const = 0;

  // "llama3" or "word".
  virtual std::string kind() const = 0;
};

// Loads a tokenizer, picking the format by file name:
//   "tokenizer.json"  - Hugging Face BPE (model.vocab + model.merges + added_tokens),
//   "tokenizer.model" - tiktoken ranks ("base64 rank" lines, Llama 3 special tokens),
//   "vocab.json"      - a word vocabulary written by WordTokenizer::save.
// A directory is searched for those names in that order. Other file names are sniffed by
// content (JSON with "kind":"word", JSON with "model", else tiktoken lines).
// Throws Error naming the file and the line or field at fault.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

}  // namespace sightline
