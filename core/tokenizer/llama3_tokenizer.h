// The Llama 3 / 3.1 tokenizer: a regex pre-tokenizer (PCRE2, Unicode classes) followed by
// byte-level BPE inside each pre-token, as tiktoken does, plus 256 special tokens from
// id 128000. Loads Meta's tiktoken "tokenizer.model" or Hugging Face "tokenizer.json".
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/tokenizer/tokenizer.h"

namespace sightline {

// Llama 3's pre-tokenizer pattern (FORMATS.md, "Llama 3 tokenizer").
inline constexpr const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*)"
    R"(|\s*[\r\n]+|\s+(?!\S)|\s+)";

// The first special token id and how many there are (Llama 3.1: 128000..128255).
inline constexpr int64_t kLlama3FirstSpecialId = 128000;
inline constexpr int64_t kLlama3NumSpecial = 256;

// The 256 Llama 3.1 special token strings in id order from 128000: <|begin_of_text|>,
// <|end_of_text|>, <|reserved_special_token_0|>, <|reserved_special_token_1|>,
// <|finetune_right_pad_id|>, <|reserved_special_token_2|>, <|start_header_id|>,
// <|end_header_id|>, <|eom_id|>, <|eot_id|>, <|python_tag|>, then
// <|reserved_special_token_3|> .. <|reserved_special_token_247|> (as in the Llama 3.1
// tokenizer.json's added_tokens).
std::vector<std::string> llama31_special_tokens();

class Llama3Tokenizer final : public Tokenizer {
 public:
  // Reads a tiktoken ranks file: one "base64(token bytes) rank" line per ordinary token,
  // ranks 0..N-1 each once (rank = id); the Llama 3.1 specials follow at ids N..N+255.
  // Throws Error naming the file and line on a malformed line.
  static std::unique_ptr<Llama3Tokenizer> from_tiktoken(const std::string& path);

  // Reads a Hugging Face tokenizer.json with model.type "BPE": model.vocab (token strings in
  // GPT-2's byte-to-unicode alphabet -> id), model.merges (priority order; "a b" strings or
  // ["a","b"] pairs), added_tokens (specials; must include <|begin_of_text|> and
  // <|end_of_text|>), model.ignore_merges, and the pre_tokenizer's Split regex when present
  // (else kLlama3Pattern). A merged byte string ranks by the index of the first merge that
  // produces it; with Meta's vocab (every split of a token listed among the merges) this
  // is the same order as tiktoken's rank = id. Throws Error naming the file and field.
  static std::unique_ptr<Llama3Tokenizer> from_hf_json(const std::string& path);

  ~Llama3Tokenizer() override;
  Llama3Tokenizer(const Llama3Tokenizer&) = delete;
  Llama3Tokenizer& operator=(const Llama3Tokenizer&) = delete;

  std::vector<int64_t> encode(const std::string& text) const override;
  std::vector<int64_t> encode_with_specials(const std::string& text) const override;
  std::string decode(const std::vector<int64_t>& ids) const override;
  // Shows bytes that are not valid UTF-8 on their own (a token holding part of a
  // multi-byte character) as <0xNN>.
  std::string token_text(int64_t id) const override;
  int64_t vocab_size() const override;
  int64_t bos_id() const override;
  int64_t eos_id() const override;  // <|end_of_text|>; chat turns end with <|eot_id|>
  std::optional<int64_t> special_id(const std::string& token) const override;
  std::string kind() const override { return "llama3"; }

  // The raw bytes of an ordinary or special token (what decode concatenates).
  // Throws Error on an unknown id.
  const std::string& token_bytes(int64_t id) const;
  // The file this tokenizer was loaded from (for messages).
  const std::string& source() const;

 private:
  struct Impl;
  explicit Llama3Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sightline
