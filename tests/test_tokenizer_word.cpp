// Word tokenizer of the shapes world: splitting and punctuation rules, build order,
// save/load through load_tokenizer, error messages, and the word prompt.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "core/common/error.h"
#include "core/tokenizer/prompt.h"
#include "core/tokenizer/word_tokenizer.h"
#include "tests/test_util.h"

using namespace sightline;
using Ids = std::vector<int64_t>;
using Words = std::vector<std::string>;

namespace {

template <typename F>
std::string word_error_of(F&& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const Words& corpus() {
  static const Words c = {
      "Is the red cube left of the blue sphere? answer: yes",
      "What colour is the cube? answer: red",
      "How many spheres are there? answer: 2",
      "Is the sphere (small) above the cube? answer: no",
  };
  return c;
}

}  // namespace

TEST(WordTokenizer, SplitsLowerCasedWordsAndPunctuation) {
  EXPECT_EQ(WordTokenizer::split("What's the colour of the BIG cube?  (left)\tyes!"),
            (Words{"what", "'", "s", "the", "colour", "of", "the", "big", "cube", "?", "(", "left", ")", "yes", "!"}));
  EXPECT_EQ(WordTokenizer::split("a,b;c:d.\"e\""), (Words{"a", ",", "b", ";", "c", ":", "d", ".", "\"", "e", "\""}));
  EXPECT_EQ(WordTokenizer::split(" \n\t "), Words{});
  EXPECT_EQ(WordTokenizer::split("<image>"), Words{"<image>"});
}

TEST(WordTokenizer, SpecialIdsAndEncode) {
  const WordTokenizer tok({"the", "cube", "is", "red", "?", "."});
  EXPECT_EQ(tok.kind(), "word");
  EXPECT_EQ(tok.vocab_size(), 11);
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_EQ(tok.special_id("<pad>"), 0);
  EXPECT_EQ(tok.special_id("<unk>"), 3);
  EXPECT_EQ(tok.special_id("<image>"), 4);
  EXPECT_FALSE(tok.special_id("cube"));
  EXPECT_EQ(tok.word_id("cube"), 6);
  EXPECT_EQ(tok.encode("The CUBE is red?"), (Ids{5, 6, 7, 8, 9}));
  // Unknown words and (in plain encode) special strings are <unk>.
  EXPECT_EQ(tok.encode("the sphere"), (Ids{5, 3}));
  EXPECT_EQ(tok.encode("<image> the"), (Ids{3, 5}));
  EXPECT_EQ(tok.encode_with_specials("<bos><image>the cube<eos>"), (Ids{1, 4, 5, 6, 2}));
  EXPECT_EQ(tok.encode_with_specials("<IMAGE>"), (Ids{3}));
  EXPECT_EQ(tok.token_text(6), "cube");
  EXPECT_NE(word_error_of([&] { tok.token_text(11); }).find("11"), std::string::npos);
}

TEST(WordTokenizer, DecodeAttachesPunctuation) {
  const WordTokenizer tok({"the", "cube", "is", "red", "?", ".", ",", "!", ";", ":", "(", ")", "yes"});
  EXPECT_EQ(tok.decode(tok.encode("is the cube red ?")), "is the cube red?");
  EXPECT_EQ(tok.decode(tok.encode("yes , the cube ; red : yes ! the cube .")), "yes, the cube; red: yes! the cube.");
  EXPECT_EQ(tok.decode(tok.encode("( yes )")), "( yes )");
  EXPECT_EQ(tok.decode({1, 4, 5, 6, 2}), "<bos> <image> the cube <eos>");
  EXPECT_EQ(tok.decode({}), "");
  const std::string msg = word_error_of([&] { tok.decode({5, kImageTokenIndex}); });
  EXPECT_NE(msg.find("-200"), std::string::npos) << msg;
  EXPECT_NE(msg.find("position 1"), std::string::npos) << msg;
}

TEST(WordTokenizer, BuildIsDeterministic) {
  const WordTokenizer tok = WordTokenizer::build(corpus());
  const Words words = tok.words();
  // Counts: "the" 5; ":" "?" "answer" 4 (ties by byte order); "cube" "is" 3; "red" "sphere" 2.
  ASSERT_GE(words.size(), 8u);
  EXPECT_EQ(Words(words.begin(), words.begin() + 8), (Words{"the", ":", "?", "answer", "cube", "is", "red", "sphere"}));
  EXPECT_EQ(tok.word_id("the"), WordTokenizer::kFirstWordId);
  // Corpus order does not matter.
  Words shuffled = corpus();
  std::reverse(shuffled.begin(), shuffled.end());
  EXPECT_EQ(WordTokenizer::build(shuffled).words(), words);
  // Every corpus text encodes without <unk>.
  for (const std::string& text : corpus()) {
    const Ids ids = tok.encode(text);
    EXPECT_EQ(std::count(ids.begin(), ids.end(), WordTokenizer::kUnkId), 0) << text;
  }
  // min_count drops rare words; special strings in a corpus never become words.
  const WordTokenizer frequent = WordTokenizer::build(corpus(), 3);
  EXPECT_EQ(frequent.words(), (Words{"the", ":", "?", "answer", "cube", "is"}));
  const WordTokenizer with_marker = WordTokenizer::build({"<image> what is it", "what"});
  EXPECT_EQ(with_marker.words(), (Words{"what", "is", "it"}));
}

TEST(WordTokenizer, SaveLoadRoundTrip) {
  const std::string dir = test::scratch_dir("word-vocab");
  const WordTokenizer tok = WordTokenizer::build(corpus());
  tok.save(dir + "/vocab.json");
  const WordTokenizer loaded = WordTokenizer::load(dir + "/vocab.json");
  EXPECT_EQ(loaded.words(), tok.words());
  for (const auto& path : {dir, dir + "/vocab.json"}) {
    const auto any = load_tokenizer(path);
    EXPECT_EQ(any->kind(), "word");
    EXPECT_EQ(any->vocab_size(), tok.vocab_size());
    for (const std::string& text : corpus()) EXPECT_EQ(any->encode(text), tok.encode(text));
  }
  // Another file name is recognised by its content.
  tok.save(dir + "/shapes_words.json");
  EXPECT_EQ(load_tokenizer(dir + "/shapes_words.json")->kind(), "word");
}

TEST(WordTokenizer, BadVocabulariesGiveClearErrors) {
  EXPECT_NE(word_error_of([] { WordTokenizer({"cube", "cube"}); }).find("twice"), std::string::npos);
  EXPECT_NE(word_error_of([] { WordTokenizer({"Cube"}); }).find("upper-case"), std::string::npos);
  EXPECT_NE(word_error_of([] { WordTokenizer({"red cube"}); }).find("whitespace"), std::string::npos);
  EXPECT_NE(word_error_of([] { WordTokenizer({"cube?"}); }).find("punctuation"), std::string::npos);
  EXPECT_NE(word_error_of([] { WordTokenizer({"<image>"}); }).find("special"), std::string::npos);
  EXPECT_NE(word_error_of([] { WordTokenizer({""}); }).find("tokens[5]"), std::string::npos);

  const std::string dir = test::scratch_dir("word-bad");
  const std::string path = dir + "/vocab.json";
  const auto load_error = [&](const std::string& content) {
    std::ofstream(path) << content;
    const std::string m = word_error_of([&] { load_tokenizer(path); });
    EXPECT_NE(m.find(path), std::string::npos) << m;
    return m;
  };
  EXPECT_NE(load_error("{\"kind\": \"word\", \"tokens\": [").find("invalid JSON"), std::string::npos);
  EXPECT_NE(load_error("{\"kind\": \"bpe\", \"tokens\": []}").find("'kind'"), std::string::npos);
  EXPECT_NE(load_error("{\"kind\": \"word\"}").find("'tokens'"), std::string::npos);
  EXPECT_NE(load_error("{\"kind\": \"word\", \"tokens\": [\"<pad>\", \"<eos>\", \"<bos>\", \"<unk>\", \"<image>\"]}")
                .find("tokens[1]"),
            std::string::npos);
  EXPECT_NE(load_error("{\"kind\": \"word\", \"tokens\": [\"<pad>\", \"<bos>\", \"<eos>\", \"<unk>\", \"<image>\", 7]}")
                .find("tokens[5]"),
            std::string::npos);
  EXPECT_NE(load_error("{\"kind\": \"word\", \"tokens\": [\"<pad>\", \"<bos>\", \"<eos>\", \"<unk>\", \"<image>\", "
                       "\"a\", \"a\"]}")
                .find("tokens[6]"),
            std::string::npos);
  EXPECT_NE(word_error_of([&] { WordTokenizer::load(dir + "/missing.json"); }).find("no such file"),
            std::string::npos);
  EXPECT_NE(word_error_of([&] { WordTokenizer({"a"}).save(dir + "/no/such/dir/vocab.json"); }).find("cannot open"),
            std::string::npos);
}

TEST(WordPrompt, BosImageQuestionAnswerColon) {
  const WordTokenizer tok = WordTokenizer::build(corpus());
  const int64_t answer = *tok.word_id("answer");
  const int64_t colon = *tok.word_id(":");
  const Ids question = tok.encode("Is the red cube left of the blue sphere?");
  Ids expected = {WordTokenizer::kBosId, kImageTokenIndex};
  expected.insert(expected.end(), question.begin(), question.end());
  expected.push_back(answer);
  expected.push_back(colon);
  EXPECT_EQ(word_prompt(tok, "Is the red cube left of the blue sphere?", true), expected);
  expected.erase(expected.begin() + 1);
  EXPECT_EQ(word_prompt(tok, "Is the red cube left of the blue sphere?", false), expected);
  // The question's own "<image>" text is not a placeholder.
  const Ids literal = word_prompt(tok, "<image> cube?", true);
  EXPECT_EQ(std::count(literal.begin(), literal.end(), kImageTokenIndex), 1);
  EXPECT_NE(word_error_of([] { word_prompt(WordTokenizer({"cube"}), "cube", true); }).find("answer"), std::string::npos);
}
