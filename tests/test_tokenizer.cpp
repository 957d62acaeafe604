// Llama 3 tokenizer: Meta's test vectors on the real tiktoken file, special-token parsing,
// round trips, speed, the tokenizer.json loader against the tiktoken loader, BPE merge
// order, error messages, and the LLaVA-MORE prompt.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <tuple>

#include "core/common/error.h"
#include "core/tokenizer/bpe.h"
#include "core/tokenizer/llama3_tokenizer.h"
#include "core/tokenizer/prompt.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/word_tokenizer.h"
#include "tests/test_util.h"

using namespace sightline;
using Ids = std::vector<int64_t>;

namespace {

std::string tiktoken_path() { return test::fixtures_dir() + "/llama3/tokenizer.model"; }

// The real tokenizer, loaded once for the whole executable.
const Llama3Tokenizer& llama() {
  static const std::unique_ptr<Llama3Tokenizer> tok = Llama3Tokenizer::from_tiktoken(tiktoken_path());
  return *tok;
}

// Runs `body` and returns the Error message it throws ("" if it throws nothing).
template <typename F>
std::string error_of(F&& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

// Varied text for round trips and the speed test.
const std::vector<std::string>& sample_texts() {
  static const std::vector<std::string> texts = {
      "This is a test sentence.",
      "hello world",
      "I'll go, can't stop, you're right, she'd've, WE'LL, It'S",
      "Numbers: 1234567 and 3.14159 and 00042, 1,000,000.",
      "Tabs\tand\t\ttabs, runs of spaces:     five, and a trailing one ",
      "Line one\nline two\r\nline three\n\n\n   indented\n",
      "日本語のテキストと中文文本，還有한국어 문장.",
      "Emoji: 😀🎉👍🏽 👨‍👩‍👧‍👦 and flags 🇫🇷🇯🇵",
      "Accents: café naïve résumé Ångström façade Zürich señor",
      "العربية: مرحبا بالعالم، كيف حالك؟",
      "Ελληνικά και русский текст, עברית",
      "Symbols: <>{}[]()!@#$%^&*_+=|\\/~`'\" ... --- ***",
      "   ",
      "\n",
      "x",
      "Mixed: abc123def 456ghi, e=mc^2; f(x) = x**2 + 2x + 1",
      "CamelCaseIdentifiersAndsnake_case_names_and_URLs https://example.com/path?q=1&r=2",
  };
  return texts;
}

// GPT-2's bytes_to_unicode, written out independently of the loader's table.
std::string bytes_to_gpt2(const std::string& bytes) {
  static const std::array<uint32_t, 256> map = [] {
    std::array<uint32_t, 256> m{};
    uint32_t extra = 0;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool keep = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      m[b] = keep ? b : 256 + extra++;
    }
    return m;
  }();
  std::string out;
  for (const unsigned char c : bytes) {
    const uint32_t cp = map[c];
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else {  // every mapped code point is below U+0800: two UTF-8 bytes
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  return out;
}

// Writes the first n ranks of the real tiktoken file as (a) a tiktoken file and (b) a
// tokenizer.json in HF's layout: vocab in the GPT-2 alphabet, merges made the way HF's
// TikTokenConverter makes them (every split of a token into two tokens, ordered by the
// merged token's rank, then the parts' ranks), the Llama 3.1 specials as added_tokens from
// id n, and the Llama 3 Split pre-tokenizer. Returns {tiktoken path, json path}.
std::pair<std::string, std::string> write_subset(const std::string& dir, int64_t n, bool array_merges) {
  std::ifstream in(tiktoken_path());
  std::string line, lines;
  for (int64_t i = 0; i < n && std::getline(in, line); ++i) lines += line + "\n";
  const std::string tiktoken = dir + "/subset.model";
  write_file(tiktoken, lines);

  const auto sub = Llama3Tokenizer::from_tiktoken(tiktoken);
  std::map<std::string, int64_t> rank;
  nlohmann::json vocab = nlohmann::json::object();
  for (int64_t id = 0; id < n; ++id) {
    rank[sub->token_bytes(id)] = id;
    vocab[bytes_to_gpt2(sub->token_bytes(id))] = id;
  }
  std::vector<std::tuple<int64_t, int64_t, int64_t, std::string, std::string>> splits;
  for (const auto& [bytes, r] : rank) {
    for (size_t k = 1; k < bytes.size(); ++k) {
      const auto a = rank.find(bytes.substr(0, k)), b = rank.find(bytes.substr(k));
      if (a != rank.end() && b != rank.end()) splits.emplace_back(r, a->second, b->second, a->first, b->first);
    }
  }
  std::sort(splits.begin(), splits.end());
  nlohmann::json merges = nlohmann::json::array();
  for (const auto& [r, ra, rb, a, b] : splits) {
    if (array_merges) {
      merges.push_back({bytes_to_gpt2(a), bytes_to_gpt2(b)});
    } else {
      merges.push_back(bytes_to_gpt2(a) + " " + bytes_to_gpt2(b));
    }
  }
  nlohmann::json added = nlohmann::json::array();
  const auto names = llama31_special_tokens();
  for (size_t i = 0; i < names.size(); ++i) {
    added.push_back({{"id", n + static_cast<int64_t>(i)}, {"content", names[i]}, {"special", true}});
  }
  nlohmann::json root = {
      {"version", "1.0"},
      {"added_tokens", added},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"}, {"pattern", {{"Regex", kLlama3Pattern}}}, {"behavior", "Isolated"}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}}},
      {"model", {{"type", "BPE"}, {"ignore_merges", true}, {"vocab", vocab}, {"merges", merges}}},
  };
  const std::string json_path = dir + "/tokenizer.json";
  write_file(json_path, root.dump());
  return {tiktoken, json_path};
}

// Random text over a pool of scripts, digits, punctuation, whitespace and words.
std::string random_text(std::mt19937& rng, size_t pieces) {
  static const std::vector<std::string> pool = {
      "the", " the", "The", " cat", " sat", "on", " mat", "ing", "tion", "'s", "'ll", "'VE", " ", "  ", "\n",
      "\r\n", "\t", "1", "23", "4567", ".", ",", "?!", "...", "(", ")", "\"", "é", "ü", "ß", "中", "文", "日本",
      "😀", "🎉", "ع", "ر", "ب", "я", "ж", "λ", "—", "™", "\xC2\xA0", "zzqx", "Qwfp", "xyzzy", "blorf"};
  std::uniform_int_distribution<size_t> pick(0, pool.size() - 1);
  std::string s;
  for (size_t i = 0; i < pieces; ++i) s += pool[pick(rng)];
  return s;
}

}  // namespace

TEST(Llama3Tokenizer, MetaTestVectors) {
  SIGHTLINE_REQUIRE_FIXTURES();
  const Llama3Tokenizer& tok = llama();
  Ids with_bos_eos = {tok.bos_id()};
  for (const int64_t id : tok.encode("This is a test sentence.")) with_bos_eos.push_back(id);
  with_bos_eos.push_back(tok.eos_id());
  EXPECT_EQ(with_bos_eos, (Ids{128000, 2028, 374, 264, 1296, 11914, 13, 128001}));
  EXPECT_EQ(tok.encode("hello world"), (Ids{15339, 1917}));
  EXPECT_EQ(tok.encode("Hello world"), (Ids{9906, 1917}));
  EXPECT_EQ(tok.encode(" Hello world"), (Ids{22691, 1917}));
  EXPECT_EQ(tok.decode({128000, 2028, 374, 264, 1296, 11914, 13, 128001}),
            "<|begin_of_text|>This is a test sentence.<|end_of_text|>");
  EXPECT_TRUE(tok.encode("").empty());
}

TEST(Llama3Tokenizer, SpecialTokenIds) {
  SIGHTLINE_REQUIRE_FIXTURES();
  const Llama3Tokenizer& tok = llama();
  EXPECT_EQ(tok.kind(), "llama3");
  EXPECT_EQ(tok.vocab_size(), 128256);
  EXPECT_EQ(tok.bos_id(), 128000);
  EXPECT_EQ(tok.eos_id(), 128001);
  const std::map<std::string, int64_t> expected = {
      {"<|begin_of_text|>", 128000},          {"<|end_of_text|>", 128001},
      {"<|reserved_special_token_0|>", 128002}, {"<|reserved_special_token_1|>", 128003},
      {"<|finetune_right_pad_id|>", 128004},  {"<|reserved_special_token_2|>", 128005},
      {"<|start_header_id|>", 128006},        {"<|end_header_id|>", 128007},
      {"<|eom_id|>", 128008},                 {"<|eot_id|>", 128009},
      {"<|python_tag|>", 128010},             {"<|reserved_special_token_3|>", 128011},
      {"<|reserved_special_token_247|>", 128255}};
  for (const auto& [name, id] : expected) {
    EXPECT_EQ(tok.special_id(name), id) << name;
    EXPECT_EQ(tok.token_text(id), name);
  }
  EXPECT_FALSE(tok.special_id("<|reserved_special_token_248|>"));
  EXPECT_FALSE(tok.special_id("hello"));
  // Ordinary tokens: text for display, with a lone partial UTF-8 byte shown as <0xNN>.
  EXPECT_EQ(tok.token_text(15339), "hello");
  EXPECT_EQ(tok.token_bytes(1917), " world");
  const Ids lone_byte = tok.encode(std::string("\xE6", 1));  // the first byte of 日 alone
  ASSERT_EQ(lone_byte.size(), 1u);
  EXPECT_EQ(tok.token_text(lone_byte[0]), "<0xE6>");
  EXPECT_EQ(tok.token_bytes(lone_byte[0]), "\xE6");
}

TEST(Llama3Tokenizer, SpecialsParsedOnlyByEncodeWithSpecials) {
  SIGHTLINE_REQUIRE_FIXTURES();
  const Llama3Tokenizer& tok = llama();
  const std::string text = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello world<|eot_id|>";
  EXPECT_EQ(tok.encode_with_specials(text), (Ids{128000, 128006, 882, 128007, 271, 9906, 1917, 128009}));
  const Ids plain = tok.encode(text);
  for (const int64_t id : plain) EXPECT_LT(id, 128000) << "plain encode produced a special id";
  EXPECT_GT(plain.size(), 8u);
  EXPECT_EQ(tok.decode(plain), text);
  EXPECT_EQ(tok.decode(tok.encode_with_specials(text)), text);
  // Adjacent and partial special strings.
  EXPECT_EQ(tok.encode_with_specials("<|eot_id|><|eot_id|>"), (Ids{128009, 128009}));
  const Ids partial = tok.encode_with_specials("<|eot_id|");
  EXPECT_EQ(std::count(partial.begin(), partial.end(), 128009), 0);
  EXPECT_EQ(tok.decode(partial), "<|eot_id|");
}

TEST(Llama3Tokenizer, RoundTripsVariedText) {
  SIGHTLINE_REQUIRE_FIXTURES();
  const Llama3Tokenizer& tok = llama();
  for (const std::string& s : sample_texts()) {
    const Ids ids = tok.encode(s);
    EXPECT_EQ(tok.decode(ids), s) << s;
    EXPECT_EQ(tok.decode(tok.encode_with_specials(s)), s) << s;
    for (const int64_t id : ids) ASSERT_TRUE(id >= 0 && id < 128000) << s;
  }
  // The pre-tokenizer splits digits in threes and keeps contractions apart.
  const Ids digits = tok.encode("1234567");
  ASSERT_EQ(digits.size(), 3u);
  EXPECT_EQ(tok.token_bytes(digits[0]), "123");
  EXPECT_EQ(tok.token_bytes(digits[1]), "456");
  EXPECT_EQ(tok.token_bytes(digits[2]), "7");
  const Ids cant = tok.encode("can't");
  ASSERT_GE(cant.size(), 2u);
  EXPECT_EQ(tok.token_bytes(cant.back()), "'t");
}

TEST(Llama3Tokenizer, RoundTripsInvalidUtf8AndLongPieces) {
  SIGHTLINE_REQUIRE_FIXTURES();
  const Llama3Tokenizer& tok = llama();
  const std::vector<std::string> texts = {
      std::string("\xFF\xFE" "abc\xC3", 6), std::string("ok \xE6\x97 broken", 12), std::string("\x80", 1),
      std::string("nul\0byte", 8), std::string(20000, ' '), std::string(5000, 'a'), std::string(3000, '7'),
      std::string(4000, '!'), "x" + std::string(3000, '\n') + "y"};
  for (const std::string& s : texts) EXPECT_EQ(tok.decode(tok.encode(s)), s) << s.substr(0, 20);
}

TEST(Llama3Tokenizer, EncodesHundredKilobytesQuickly) {
  SIGHTLINE_REQUIRE_FIXTURES();
  const Llama3Tokenizer& tok = llama();
  std::mt19937 rng(7);
  std::string text;
  while (text.size() < 100 * 1024) {
    text += random_text(rng, 50);
    text += sample_texts()[text.size() % sample_texts().size()];
  }
  const auto start = std::chrono::steady_clock::now();
  const Ids ids = tok.encode(text);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("encoded %zu bytes into %zu tokens in %.3f s\n", text.size(), ids.size(), seconds);
  EXPECT_LT(seconds, 1.0);
  EXPECT_EQ(tok.decode(ids), text);
}

TEST(Bpe, MergeOrderOnToyRanks) {
  bpe::ByteTable ranks;
  // Single bytes, then "bc" ranked before "ab", then "abc"; "aa" for the tie test.
  for (const auto& [key, rank] : std::vector<std::pair<std::string, uint32_t>>{
           {"a", 0}, {"b", 1}, {"c", 2}, {"bc", 3}, {"ab", 4}, {"abc", 5}, {"aa", 6}}) {
    ASSERT_TRUE(ranks.insert(key, rank));
  }
  EXPECT_FALSE(ranks.insert("ab", 9));
  EXPECT_EQ(ranks.find("ab"), 4u);
  EXPECT_EQ(ranks.find("zz"), bpe::kAbsent);
  using Bounds = std::vector<size_t>;
  for (const auto& merge : {&bpe::merge_scan, &bpe::merge_heap}) {
    EXPECT_EQ(merge("abc", ranks), (Bounds{0, 3}));           // bc first, then a+bc
    EXPECT_EQ(merge("abab", ranks), (Bounds{0, 2, 4}));       // "ba" has no rank
    EXPECT_EQ(merge("aaaa", ranks), (Bounds{0, 2, 4}));       // leftmost of equal ranks
    EXPECT_EQ(merge("aaa", ranks), (Bounds{0, 2, 3}));
    EXPECT_EQ(merge("cab", ranks), (Bounds{0, 1, 3}));
    EXPECT_EQ(merge("x", ranks), (Bounds{0, 1}));
  }
}

TEST(Bpe, HeapAndScanAgreeOnRealRanks) {
  SIGHTLINE_REQUIRE_FIXTURES();
  const Llama3Tokenizer& tok = llama();
  bpe::ByteTable ranks;
  for (int64_t id = 0; id < 128000; ++id) ranks.insert(tok.token_bytes(id), static_cast<uint32_t>(id));
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> letter('a', 'z'), byte(0, 255), length(2, 700);
  for (int trial = 0; trial < 60; ++trial) {
    std::string piece;
    const int n = length(rng);
    for (int i = 0; i < n; ++i) {
      piece.push_back(static_cast<char>(trial % 3 == 0 ? byte(rng) : letter(rng)));
    }
    if (trial % 3 == 1) piece = random_text(rng, static_cast<size_t>(n / 4 + 1));
    ASSERT_EQ(bpe::merge_scan(piece, ranks), bpe::merge_heap(piece, ranks)) << "trial " << trial;
  }
}

TEST(Llama3Tokenizer, HfJsonMatchesTiktoken) {
  SIGHTLINE_REQUIRE_FIXTURES();
  const std::string dir = test::scratch_dir("tok-json");
  constexpr int64_t kRanks = 3000;
  for (const bool array_merges : {false, true}) {
    const auto [tiktoken, json_path] = write_subset(dir, kRanks, array_merges);
    const auto sub = Llama3Tokenizer::from_tiktoken(tiktoken);
    const auto hf = load_tokenizer(json_path);
    ASSERT_EQ(hf->kind(), "llama3");
    EXPECT_EQ(hf->vocab_size(), kRanks + 256);
    EXPECT_EQ(hf->bos_id(), kRanks);
    EXPECT_EQ(hf->eos_id(), kRanks + 1);
    EXPECT_EQ(hf->special_id("<|eot_id|>"), kRanks + 9);

    // Text whose full-vocabulary encoding uses only the first kRanks tokens: all three agree.
    const std::string common = "This is a test. So the world, and the man in the car is on the table. "
                               "The man said: I will go to the game at 10, it's done!\n\nThe end";
    const Ids full = llama().encode(common);
    for (const int64_t id : full) {
      ASSERT_LT(id, kRanks) << "test text must stay inside the subset: '" << llama().token_bytes(id) << "'";
    }
    EXPECT_EQ(hf->encode(common), full);
    EXPECT_EQ(sub->encode(common), full);
    // Multi-token merges really happen through model.merges (not only whole-word lookups).
    EXPECT_EQ(hf->encode("hellohello"), sub->encode("hellohello"));
    EXPECT_GT(hf->encode("hellohello").size(), 1u);

    // Arbitrary text: the two loaders of the same subset give the same ids.
    std::mt19937 rng(3);
    for (int trial = 0; trial < 40; ++trial) {
      const std::string text = random_text(rng, 40);
      const Ids a = hf->encode(text);
      ASSERT_EQ(a, sub->encode(text)) << text;
      ASSERT_EQ(hf->decode(a), text);
    }
    const std::string chat = "<|start_header_id|>user<|end_header_id|>\n\nhello<|eot_id|>";
    EXPECT_EQ(hf->encode_with_specials(chat), sub->encode_with_specials(chat));
  }

  // The merges' order is what ranks them: reversed merges change some encodings.
  nlohmann::json root = nlohmann::json::parse(std::ifstream(dir + "/tokenizer.json"));
  auto& merges = root["model"]["merges"];
  std::reverse(merges.begin(), merges.end());
  write_file(dir + "/reversed.json", root.dump());
  const auto reversed = load_tokenizer(dir + "/reversed.json");
  const auto straight = load_tokenizer(dir + "/tokenizer.json");
  std::mt19937 rng(5);
  int differing = 0;
  for (int trial = 0; trial < 20; ++trial) {
    const std::string text = random_text(rng, 40);
    if (reversed->encode(text) != straight->encode(text)) ++differing;
    EXPECT_EQ(reversed->decode(reversed->encode(text)), text);
  }
  EXPECT_GT(differing, 0);
}

TEST(Llama3Tokenizer, LoadTokenizerPicksByNameAndDirectory) {
  SIGHTLINE_REQUIRE_FIXTURES();
  const std::string dir = test::scratch_dir("tok-pick");
  write_subset(dir, 600, false);
  // A directory with both prefers tokenizer.json; the subset tiktoken file is not named
  // tokenizer.model, so copy it under that name too.
  std::filesystem::copy_file(dir + "/subset.model", dir + "/tokenizer.model");
  const auto from_dir = load_tokenizer(dir);
  const auto* llama_dir = dynamic_cast<const Llama3Tokenizer*>(from_dir.get());
  ASSERT_NE(llama_dir, nullptr);
  EXPECT_EQ(std::filesystem::path(llama_dir->source()).filename(), "tokenizer.json");
  std::filesystem::remove(dir + "/tokenizer.json");
  const auto from_model = load_tokenizer(dir);
  EXPECT_EQ(std::filesystem::path(dynamic_cast<const Llama3Tokenizer&>(*from_model).source()).filename(),
            "tokenizer.model");
  // An unusual file name is sniffed: tiktoken lines.
  const auto sniffed = load_tokenizer(dir + "/subset.model");
  EXPECT_EQ(sniffed->kind(), "llama3");
  EXPECT_EQ(sniffed->vocab_size(), 600 + 256);
  // The real file by name.
  EXPECT_EQ(load_tokenizer(tiktoken_path())->encode("hello world"), (Ids{15339, 1917}));
}

TEST(Llama3Tokenizer, BadInputsGiveClearErrors) {
  SIGHTLINE_REQUIRE_FIXTURES();
  const std::string dir = test::scratch_dir("tok-bad");

  // A bad base64 line names the file and its line number.
  std::ifstream in(tiktoken_path());
  std::string line, lines;
  for (int i = 0; i < 300 && std::getline(in, line); ++i) lines += line + "\n";
  const std::string bad_b64 = dir + "/bad_b64.model";
  write_file(bad_b64, lines + "@@not*base64 300\n");
  std::string msg = error_of([&] { Llama3Tokenizer::from_tiktoken(bad_b64); });
  EXPECT_NE(msg.find(bad_b64), std::string::npos) << msg;
  EXPECT_NE(msg.find("line 301"), std::string::npos) << msg;
  EXPECT_NE(msg.find("base64"), std::string::npos) << msg;

  const std::string bad_rank = dir + "/bad_rank.model";
  write_file(bad_rank, lines + "QUJD x12\n");
  msg = error_of([&] { Llama3Tokenizer::from_tiktoken(bad_rank); });
  EXPECT_NE(msg.find("line 301"), std::string::npos) << msg;
  EXPECT_NE(msg.find("rank"), std::string::npos) << msg;

  const std::string no_space = dir + "/no_space.model";
  write_file(no_space, "IQ==0\n");
  msg = error_of([&] { Llama3Tokenizer::from_tiktoken(no_space); });
  EXPECT_NE(msg.find("line 1"), std::string::npos) << msg;

  const std::string hole = dir + "/hole.model";
  write_file(hole, lines + "QUJDRA== 301\n");
  msg = error_of([&] { Llama3Tokenizer::from_tiktoken(hole); });
  EXPECT_NE(msg.find("rank 300 is missing"), std::string::npos) << msg;
  write_file(hole, lines + "QUJDRA== 999999999\n");
  msg = error_of([&] { Llama3Tokenizer::from_tiktoken(hole); });
  EXPECT_NE(msg.find("line 301: rank 999999999 is beyond"), std::string::npos) << msg;

  const std::string few_bytes = dir + "/few_bytes.model";
  write_file(few_bytes, "IQ== 0\nIg== 1\n");
  msg = error_of([&] { Llama3Tokenizer::from_tiktoken(few_bytes); });
  EXPECT_NE(msg.find("single byte"), std::string::npos) << msg;

  // A missing file, through the loader and through load_tokenizer.
  const std::string missing = dir + "/nope/tokenizer.model";
  msg = error_of([&] { load_tokenizer(missing); });
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;
  EXPECT_NE(msg.find("no such file"), std::string::npos) << msg;
  msg = error_of([&] { Llama3Tokenizer::from_tiktoken(missing); });
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;
  msg = error_of([&] { load_tokenizer(dir); });
  EXPECT_NE(msg.find("holds none of"), std::string::npos) << msg;

  // Malformed tokenizer.json files: each message names the file and the field.
  const std::string json_path = dir + "/tokenizer.json";
  const auto json_error = [&](const std::string& content) {
    write_file(json_path, content);
    const std::string m = error_of([&] { load_tokenizer(json_path); });
    EXPECT_NE(m.find(json_path), std::string::npos) << m;
    return m;
  };
  EXPECT_NE(json_error("{\"model\": {\"vocab\": ").find("invalid JSON"), std::string::npos);
  EXPECT_NE(json_error("[1, 2]").find("not a JSON object"), std::string::npos);
  EXPECT_NE(json_error("{\"model\": {\"merges\": []}}").find("model.vocab"), std::string::npos);
  EXPECT_NE(json_error("{\"model\": {\"vocab\": {}, \"merges\": 3}}").find("model.merges"), std::string::npos);
  EXPECT_NE(json_error("{\"model\": {\"type\": \"Unigram\", \"vocab\": {}, \"merges\": []}}").find("model.type"),
            std::string::npos);
  EXPECT_NE(json_error("{\"model\": {\"vocab\": {\"a\": \"x\"}, \"merges\": []}}").find("model.vocab[\"a\"]"),
            std::string::npos);
  // A byte-complete vocabulary with a merge whose result is missing, or no added tokens.
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[bytes_to_gpt2(std::string(1, static_cast<char>(b)))] = b;
  nlohmann::json root = {{"model", {{"vocab", vocab}, {"merges", {"a b"}}}}};
  EXPECT_NE(json_error(root.dump()).find("model.merges[0]"), std::string::npos);
  root["model"]["merges"] = nlohmann::json::array();
  EXPECT_NE(json_error(root.dump()).find("<|begin_of_text|>"), std::string::npos);
  root["model"]["vocab"]["\xE4\xB8\xAD"] = 256;  // 中 is outside the byte alphabet
  EXPECT_NE(json_error(root.dump()).find("outside the byte-level alphabet"), std::string::npos);

  // Unknown ids.
  const Llama3Tokenizer& tok = llama();
  msg = error_of([&] { tok.decode({15339, 999999}); });
  EXPECT_NE(msg.find("999999"), std::string::npos) << msg;
  EXPECT_NE(msg.find("position 1"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { tok.decode({-1}); }).find("-1"), std::string::npos);
  EXPECT_NE(error_of([&] { tok.decode({kImageTokenIndex}); }).find("-200"), std::string::npos);
  EXPECT_NE(error_of([&] { tok.token_text(128256); }).find("128256"), std::string::npos);
}

TEST(LlavaMorePrompt, RendersTheLlama31Template) {
  SIGHTLINE_REQUIRE_FIXTURES();
  const Llama3Tokenizer& tok = llama();
  const std::string question = "What is to the left of the dog?";
  const Ids ids = llava_more_prompt(tok, question + "  \n", true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), 128000);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), kImageTokenIndex), 1);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 128000), 1);
  // <|start_header_id|>system<|end_header_id|>\n\n ... and the assistant header at the end.
  EXPECT_EQ(Ids(ids.begin(), ids.begin() + 5), (Ids{128000, 128006, 9125, 128007, 271}));
  EXPECT_EQ(Ids(ids.end() - 4, ids.end()), (Ids{128006, 78191, 128007, 271}));

  const auto image = std::find(ids.begin(), ids.end(), kImageTokenIndex);
  EXPECT_EQ(tok.decode(Ids(ids.begin(), image)),
            std::string("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n") +
                "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n" + kLlavaMoreSystem +
                "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n");
  EXPECT_EQ(tok.decode(Ids(image + 1, ids.end())),
            "\n" + question + "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
  // The user header precedes the image: ... 128006 882 128007 271 -200.
  EXPECT_EQ(Ids(image - 4, image), (Ids{128006, 882, 128007, 271}));

  // Without the image, and without the date header.
  const Ids text_only = llava_more_prompt(tok, question, false, "Be brief.", false);
  EXPECT_EQ(std::count(text_only.begin(), text_only.end(), kImageTokenIndex), 0);
  EXPECT_EQ(tok.decode(text_only),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\n" +
                question + "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
  // A literal <image> in the question stays text.
  const Ids literal = llava_more_prompt(tok, "Is <image> here?", true);
  EXPECT_EQ(std::count(literal.begin(), literal.end(), kImageTokenIndex), 1);

  // The word tokenizer has no Llama chat tokens.
  const WordTokenizer words({"what", "answer", ":"});
  EXPECT_NE(error_of([&] { llava_more_prompt(words, "what", true); }).find("<|begin_of_text|>"), std::string::npos);
}
