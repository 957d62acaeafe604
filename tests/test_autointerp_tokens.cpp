// core/autointerp/question_tokens: from stored per-token activations to the question's
// pieces, for each activation layout, with a small word tokenizer defined here.
#include <gtest/gtest.h>

#include <sstream>

#include "core/autointerp/question_tokens.h"
#include "core/common/constants.h"
#include "core/common/error.h"
#include "tests/test_util.h"

namespace sightline {
namespace {

using test::error_of;

// Words split on spaces; decode joins with spaces. Ids 0-2 are <s>, </s>, <|user|>.
class FakeWordTokenizer final : public Tokenizer {
 public:
  FakeWordTokenizer() : words_{"<s>", "</s>", "<|user|>", "is", "the", "cat", "left", "of", "dog", "answer", ":"} {}
  std::vector<int64_t> encode(const std::string& text) const override {
    std::vector<int64_t> out;
    std::istringstream in(text);
    std::string w;
    while (in >> w) out.push_back(id(w));
    return out;
  }
  std::vector<int64_t> encode_with_specials(const std::string& text) const override { return encode(text); }
  std::string decode(const std::vector<int64_t>& ids) const override {
    std::string out;
    for (int64_t i : ids) out += (out.empty() ? "" : " ") + token_text(i);
    return out;
  }
  std::string token_text(int64_t id) const override {
    if (id < 0 || id >= vocab_size()) fail("fake tokenizer: unknown id {}", id);
    return words_[static_cast<size_t>(id)];
  }
  int64_t vocab_size() const override { return static_cast<int64_t>(words_.size()); }
  int64_t bos_id() const override { return 0; }
  int64_t eos_id() const override { return 1; }
  std::optional<int64_t> special_id(const std::string& token) const override {
    if (token == "<s>") return 0;
    if (token == "</s>") return 1;
    if (token == "<|user|>") return 2;
    return std::nullopt;
  }
  std::string kind() const override { return "word"; }
  int64_t id(const std::string& w) const {
    for (size_t i = 0; i < words_.size(); ++i)
      if (words_[i] == w) return static_cast<int64_t>(i);
    fail("fake tokenizer: unknown word '{}'", w);
  }

 private:
  std::vector<std::string> words_;
};

// <s> <image> is the cat left of the dog answer :
std::vector<int64_t> prompt(const FakeWordTokenizer& tok) {
  std::vector<int64_t> ids{0, kImageTokenIndex};
  for (int64_t i : tok.encode("is the cat left of the dog answer :")) ids.push_back(i);
  return ids;
}

const std::vector<std::string> kPieces{"is", " the", " cat", " left", " of", " the", " dog"};
const std::vector<float> kQuestionActs{0, 0, 0, 5, 1, 0, 0};

TEST(AutointerpTokens, OnePerPromptId) {
  const FakeWordTokenizer tok;
  // <s>, <image>, 7 question words, answer, :
  const std::vector<float> acts{9, 99, 0, 0, 0, 5, 1, 0, 0, 7, 8};
  const auto q = question_tokens(tok, prompt(tok), acts, "is the cat left of the dog", 4, "sample 's'");
  EXPECT_EQ(q.pieces, kPieces);
  EXPECT_EQ(q.activations, kQuestionActs);
  EXPECT_TRUE(q.question_span);
}

TEST(AutointerpTokens, OnePerModelPositionDropsTheImageSpan) {
  const FakeWordTokenizer tok;
  // <s>, 4 image positions, 7 question words, answer, :
  const std::vector<float> acts{9, 50, 51, 52, 53, 0, 0, 0, 5, 1, 0, 0, 7, 8};
  const auto q = question_tokens(tok, prompt(tok), acts, " is the cat left of the dog ", 4, "sample 's'");
  EXPECT_EQ(q.pieces, kPieces);
  EXPECT_EQ(q.activations, kQuestionActs);
}

TEST(AutointerpTokens, OnePerTextIdAndOnePerQuestionToken) {
  const FakeWordTokenizer tok;
  const std::vector<float> text_acts{9, 0, 0, 0, 5, 1, 0, 0, 7, 8};
  EXPECT_EQ(question_tokens(tok, prompt(tok), text_acts, "is the cat left of the dog", 4, "s").activations,
            kQuestionActs);
  const auto q = question_tokens(tok, prompt(tok), kQuestionActs, "is the cat left of the dog", 4, "s");
  EXPECT_EQ(q.pieces, kPieces);
  EXPECT_EQ(q.activations, kQuestionActs);
}

TEST(AutointerpTokens, QuestionNotFoundUsesEveryNonSpecialTextToken) {
  const FakeWordTokenizer tok;
  std::vector<int64_t> ids{0, 2, kImageTokenIndex, tok.id("cat"), tok.id("left"), 1};
  const std::vector<float> acts{1, 2, 3, 4, 5, 6};  // one per prompt id
  const auto q = question_tokens(tok, ids, acts, "the dog", 0, "s");
  EXPECT_FALSE(q.question_span);
  EXPECT_EQ(q.pieces, (std::vector<std::string>{"cat", " left"}));
  EXPECT_EQ(q.activations, (std::vector<float>{4, 5}));
}

TEST(AutointerpTokens, MismatchedLengthsNameTheSample) {
  const FakeWordTokenizer tok;
  const std::string e = error_of([&] {
    question_tokens(tok, prompt(tok), std::vector<float>(5, 0.0f), "is the cat left of the dog", 4, "sample 'vqa:7'");
  });
  EXPECT_NE(e.find("sample 'vqa:7': 5 token activations fit no layout of its prompt (11 ids, 14 model positions, 7 "
                   "question tokens)"),
            std::string::npos)
      << e;
  const std::vector<int64_t> bad{0, 999};
  const std::string u = error_of([&] { question_tokens(tok, bad, {1, 2}, "cat", 0, "sample 'x'"); });
  EXPECT_NE(u.find("sample 'x': fake tokenizer: unknown id 999"), std::string::npos) << u;
}

}  // namespace
}  // namespace sightline
