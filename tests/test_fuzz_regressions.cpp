// Inputs the libFuzzer targets (tests/fuzz, scripts/fuzz) found to crash or misbehave,
// kept as ordinary tests with the bytes inline, each beside the fix it pins down.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include <fstream>

#include <nlohmann/json.hpp>

#include "core/data/vsr.h"
#include "core/image/image.h"
#include "core/io/json_util.h"
#include "core/io/safetensors.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/word_tokenizer.h"
#include "tests/test_util.h"

using namespace sightline;

namespace {

std::vector<uint8_t> bytes_of(std::initializer_list<int> values) {
  std::vector<uint8_t> out;
  for (const int v : values) out.push_back(static_cast<uint8_t>(v));
  return out;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// GPT-2's byte-to-character map for the printable ASCII bytes, the others shifted past
// U+0100 (enough for a byte-complete test vocabulary).
std::string gpt2_char(int b) {
  static const std::vector<int> map = [] {
    std::vector<int> m(256);
    int extra = 0;
    for (int i = 0; i < 256; ++i) {
      const bool keep = (i >= '!' && i <= '~') || (i >= 0xA1 && i <= 0xAC) || (i >= 0xAE && i <= 0xFF);
      m[static_cast<size_t>(i)] = keep ? i : 256 + extra++;
    }
    return m;
  }();
  const int cp = map[static_cast<size_t>(b)];
  if (cp < 0x80) return std::string(1, static_cast<char>(cp));
  return {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
}

}  // namespace

// fuzz_image: a JPEG whose DHT segment declares 300 Huffman codes (at most 256 fit). Its
// markers are well formed (the segment length covers the 300 symbols, EOI follows), so it
// passed the structure walk, and stb_image 2.27's stbi__build_huffman wrote past the
// table's size[257] and values[256] arrays while reading the header (UBSan: "index 257 out
// of bounds for type 'stbi_uc[257]'"). Fixed: the walk checks every DHT table's count, as
// libjpeg does, before stb sees the file.
TEST(FuzzRegressions, JpegHuffmanTableWithTooManyCodes) {
  std::vector<uint8_t> jpeg = bytes_of({0xFF, 0xD8,               // SOI
                                        0xFF, 0xC4, 0x01, 0x3F,   // DHT, length 2 + 17 + 300
                                        0x00,                     // DC table 0
                                        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                        45, 255});               // code counts: 300 in all
  jpeg.insert(jpeg.end(), 300, 0x01);                             // the symbols
  jpeg.insert(jpeg.end(), {0xFF, 0xD9});                          // EOI
  const std::string message = test::error_of([&] { decode_image(jpeg.data(), jpeg.size(), "dht.jpg"); });
  EXPECT_NE(message.find("image 'dht.jpg': bad JPEG: DHT segment: Huffman table 0 declares 300 codes (at most 256)"),
            std::string::npos)
      << message;

  // A table whose symbols run past the end of its segment is refused the same way.
  std::vector<uint8_t> cut = bytes_of({0xFF, 0xD8, 0xFF, 0xC4, 0x00, 0x15, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                       0, 0, 0, 9, 0x01, 0x02, 0xFF, 0xD9});
  const std::string cut_message = test::error_of([&] { decode_image(cut.data(), cut.size(), "cut.jpg"); });
  EXPECT_NE(cut_message.find("Huffman table 0 declares 9 codes but its segment holds 2"), std::string::npos)
      << cut_message;
}

// Found by review while writing fuzz_image: a 58-byte BMP header declaring 100000 x 1
// pixels decodes (stb reads zeros past the data; the declared file size 0 means
// "unknown"), and LLaVA's pad-to-square then asked for a 100000 x 100000 x 3 buffer (30 GB).
// Fixed: expand_to_square refuses squares above the decoder's pixel limit.
TEST(FuzzRegressions, PadToSquareOfAVeryWideImage) {
  const std::vector<uint8_t> bmp =
      bytes_of({'B', 'M', 0, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0,  // file header: size 0, data at 54
                40, 0, 0, 0,                                     // BITMAPINFOHEADER
                0xA0, 0x86, 0x01, 0x00,                          // width 100000
                1, 0, 0, 0,                                      // height 1
                1, 0, 24, 0,                                     // 1 plane, 24 bits
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                1, 2, 3, 4});                                    // a few pixel bytes
  const ImageU8 image = decode_image(bmp.data(), bmp.size(), "wide.bmp");
  ASSERT_EQ(image.width, 100000);
  ASSERT_EQ(image.height, 1);
  const std::string message = test::error_of([&] { expand_to_square(image, {122, 116, 104}); });
  EXPECT_NE(message.find("expand_to_square: 100000x1 image would become a 100000x100000 square"), std::string::npos)
      << message;
  // The full CLIP pipeline with padding stops at the same check instead of allocating.
  ClipPreprocess options;
  options.size = 8;
  EXPECT_NE(test::error_of([&] { preprocess_clip(image, options); }).find("expand_to_square"), std::string::npos);
  // Without padding the shortest-edge resize goes through 800000 x 8 (6.4 Mpixel, within
  // the limit) and crops 8 x 8.
  options.pad_to_square = false;
  EXPECT_EQ(preprocess_clip(image, options).sizes(), at::IntArrayRef({3, 8, 8}));
}

// fuzz_json / fuzz_tokenizer / fuzz_safetensors / fuzz_vsr: a number literal too large for
// a double (1e999) makes nlohmann throw out_of_range (406), not parse_error, and the
// readers caught only parse_error, so the exception left the loader and ended the process
// (std::terminate from the CLI's noexcept paths). Fixed: every parse site also catches
// nlohmann's base exception and throws our Error naming the file.
TEST(FuzzRegressions, NumberLiteralThatOverflowsADouble) {
  const std::string dir = test::scratch_dir("fuzz-1e999");
  const std::string json_path = dir + "/config.json";
  write_text(json_path, "{\"hidden_size\": 1e999}");
  std::string m = test::error_of([&] { read_json_file(json_path); });
  EXPECT_NE(m.find("file '" + json_path + "': invalid JSON value"), std::string::npos) << m;

  const std::string jsonl = dir + "/vsr.jsonl";
  write_text(jsonl, "{\"image\": \"a.jpg\", \"label\": 1e999}\n");
  m = test::error_of([&] { read_vsr_jsonl(jsonl); });
  EXPECT_NE(m.find("file '" + jsonl + "': line 1: invalid JSON value"), std::string::npos) << m;
  m = test::error_of([&] { parse_validator_ids("[1e999]", "v.jsonl", "vote_true_validator_id"); });
  EXPECT_NE(m.find("field 'vote_true_validator_id'"), std::string::npos) << m;

  const std::string tok_path = dir + "/tokenizer.json";
  write_text(tok_path, "{\"model\": {\"vocab\": {\"a\": 1e999}}}");
  m = test::error_of([&] { load_tokenizer(tok_path); });
  EXPECT_NE(m.find("tokenizer file '" + tok_path + "': invalid JSON value"), std::string::npos) << m;

  const std::string vocab = dir + "/vocab.json";
  write_text(vocab, "{\"kind\": \"word\", \"words\": [1e999]}");
  m = test::error_of([&] { WordTokenizer::load(vocab); });
  EXPECT_NE(m.find("vocab file '" + vocab + "': invalid JSON value"), std::string::npos) << m;

  // A safetensors header: 8-byte little-endian length, then the JSON.
  const std::string header = "{\"w\": {\"dtype\": \"F32\", \"shape\": [1e999], \"data_offsets\": [0, 4]}}";
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i) file[static_cast<size_t>(i)] = static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  file += header + std::string(4, '\0');
  const std::string st = dir + "/model.safetensors";
  write_text(st, file);
  m = test::error_of([&] { SafetensorsFile f(st); });
  EXPECT_NE(m.find("file '" + st + "': header holds an invalid JSON value"), std::string::npos) << m;
}

// fuzz_tokenizer: a tokenizer.json whose added token takes the id of an ordinary token.
// The loader re-labelled the id as special, so encode() still produced it for the
// ordinary bytes and decode() turned it into the added token's text: encode/decode no
// longer round-tripped. Fixed: such a file is refused naming the field; an added token
// that repeats an ordinary token (same id, same text, as GPT-2 lists <|endoftext|>) loads.
TEST(FuzzRegressions, AddedTokenTakesAnOrdinaryTokensId) {
  const std::string dir = test::scratch_dir("fuzz-added-id");
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[gpt2_char(b)] = b;
  nlohmann::json root = {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", nlohmann::json::array()}}},
                         {"added_tokens",
                          {{{"id", 256}, {"content", "<|begin_of_text|>"}},
                           {{"id", 97}, {"content", "<|end_of_text|>"}}}}};  // 97 is "a"
  const std::string path = dir + "/tokenizer.json";
  write_text(path, root.dump());
  const std::string m = test::error_of([&] { load_tokenizer(path); });
  EXPECT_NE(m.find("field 'added_tokens[1].id' is 97, which model.vocab already gives to \"a\""), std::string::npos)
      << m;

  // Two added tokens on one id are refused the same way.
  root["added_tokens"][1]["id"] = 256;
  write_text(path, root.dump());
  const std::string twice = test::error_of([&] { load_tokenizer(path); });
  EXPECT_NE(twice.find("field 'added_tokens[1].id' is 256, which an earlier added token already gives to"),
            std::string::npos)
      << twice;

  // The same text at the same id is a repeat, not a clash.
  root["model"]["vocab"]["<|end_of_text|>"] = 257;
  root["added_tokens"][1]["id"] = 257;
  write_text(path, root.dump());
  const auto tok = load_tokenizer(path);
  EXPECT_EQ(tok->decode(tok->encode("a")), "a");
}
