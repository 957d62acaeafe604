// A closed word-level vocabulary for the procedural shapes world: lower-cased words split
// on whitespace, with . , ? ; : ! ' " ( ) as tokens of their own.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/tokenizer/tokenizer.h"

namespace sightline {

class WordTokenizer final : public Tokenizer {
 public:
  // Special tokens and their fixed ids; words follow from kFirstWordId.
  static constexpr int64_t kPadId = 0;
  static constexpr int64_t kBosId = 1;
  static constexpr int64_t kEosId = 2;
  static constexpr int64_t kUnkId = 3;
  static constexpr int64_t kImageId = 4;
  static constexpr int64_t kFirstWordId = 5;
  // "<pad>", "<bos>", "<eos>", "<unk>", "<image>" in id order.
  static const std::vector<std::string>& special_tokens();

  // Words get ids kFirstWordId, kFirstWordId + 1, ... in the given order. Throws Error on an
  // empty, duplicated or special word, or on a word the splitter could never produce
  // (holding whitespace, an upper-case ASCII letter, or a punctuation character together
  // with other characters).
  explicit WordTokenizer(const std::vector<std::string>& words);

  // The vocabulary of a corpus: every token the splitter yields (special-token strings
  // excluded), kept when it occurs at least min_count times, ordered by descending count
  // then by word (so the result does not depend on corpus order).
  static WordTokenizer build(const std::vector<std::string>& corpus, int min_count = 1);

  // Writes {"kind":"word","tokens":[all tokens in id order, specials first]} to path.
  // Throws Error naming the file when it cannot be written.
  void save(const std::string& path) const;
  // Reads a file written by save; throws Error naming the file and the field at fault.
  static WordTokenizer load(const std::string& path);

  // The splitter alone: lower-cased (ASCII) words and punctuation tokens, in order.
  static std::vector<std::string> split(const std::string& text);

  // Plain text -> ids; a word outside the vocabulary (special strings included) is <unk>.
  std::vector<int64_t> encode(const std::string& text) const override;
  // As encode, but the exact strings "<pad>", "<bos>", "<eos>", "<unk>", "<image>" become
  // their ids.
  std::vector<int64_t> encode_with_specials(const std::string& text) const override;
  // Tokens joined by single spaces, with no space before . , ? ; : !
  std::string decode(const std::vector<int64_t>& ids) const override;
  std::string token_text(int64_t id) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(tokens_.size()); }
  int64_t bos_id() const override { return kBosId; }
  int64_t eos_id() const override { return kEosId; }
  std::optional<int64_t> special_id(const std::string& token) const override;
  std::string kind() const override { return "word"; }

  // The words after the specials, in id order.
  std::vector<std::string> words() const;
  // The id of a word, or nullopt (special strings are not words).
  std::optional<int64_t> word_id(const std::string& word) const;

 private:
  std::vector<std::string> tokens_;                      // index = id, specials first
  std::unordered_map<std::string, int64_t> word_ids_;    // words only
};

}  // namespace sightline
