// Inputs the libFuzzer targets (tests/fuzz, scripts/fuzz) found to crash or misbehave,
// kept as ordinary tests with the bytes inline, each beside the fix it pins down.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/image/image.h"
#include "tests/test_util.h"

using namespace sightline;

namespace {

std::vector<uint8_t> bytes_of(std::initializer_list<int> values) {
  std::vector<uint8_t> out;
  for (const int v : values) out.push_back(static_cast<uint8_t>(v));
  return out;
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
