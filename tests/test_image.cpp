// Image loading, saving, padding geometry, CLIP preprocessing on the real fixture JPEGs,
// tensor conversion and bad-input handling.
#include <gtest/gtest.h>
#include <stb_image_write.h>
#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "core/image/image.h"
#include "tests/test_util.h"

using namespace sightline;
namespace fs = std::filesystem;

namespace {

ImageU8 random_image(int w, int h, uint32_t seed) {
  std::mt19937 rng(seed);
  ImageU8 image;
  image.width = w;
  image.height = h;
  image.rgb.resize(static_cast<size_t>(w) * h * 3);
  for (auto& v : image.rgb) v = static_cast<uint8_t>(rng() & 0xFF);
  return image;
}

// Smooth gradients: survive JPEG compression with small error.
ImageU8 smooth_image(int w, int h) {
  ImageU8 image;
  image.width = w;
  image.height = h;
  image.rgb.resize(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      image.at(x, y)[0] = static_cast<uint8_t>(40 + 160 * x / w);
      image.at(x, y)[1] = static_cast<uint8_t>(30 + 180 * y / h);
      image.at(x, y)[2] = static_cast<uint8_t>(100 + 50 * (x + y) / (w + h));
    }
  return image;
}

std::string fixture_image(const std::string& name) {
  return (fs::path(test::fixtures_dir()) / "images" / name).string();
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint8_t> encode_with_stb(const ImageU8& image, const std::string& format) {
  std::vector<uint8_t> out;
  auto sink = [](void* ctx, void* data, int n) {
    auto* v = static_cast<std::vector<uint8_t>*>(ctx);
    v->insert(v->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + n);
  };
  int ok = 0;
  if (format == "jpg") ok = stbi_write_jpg_to_func(sink, &out, image.width, image.height, 3, image.rgb.data(), 95);
  if (format == "bmp") ok = stbi_write_bmp_to_func(sink, &out, image.width, image.height, 3, image.rgb.data());
  EXPECT_TRUE(ok) << format;
  return out;
}

// Expects `fn` to throw sightline::Error whose message contains `needle`.
template <typename Fn>
void expect_error_naming(Fn&& fn, const std::string& needle, const std::string& label) {
  try {
    fn();
    ADD_FAILURE() << label << ": no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << label << ": message '" << e.what() << "' does not name '" << needle << "'";
  } catch (const std::exception& e) {
    ADD_FAILURE() << label << ": wrong exception type: " << e.what();
  }
}

const ClipPreprocess kClip;

double normalised(int c, double byte) { return (byte / 255.0 - kClip.mean[c]) / kClip.std[c]; }

// Checks pad rows (wide source) or pad columns (tall source) of a preprocess_clip output
// hold the normalised pad colour, staying `margin` output pixels clear of the image edge
// (bicubic support is 2 output pixels), and that the middle line is not all padding.
void check_padding(const at::Tensor& t, int src_w, int src_h, int size, const std::string& label) {
  ASSERT_NE(src_w, src_h);
  const int side = std::max(src_w, src_h);
  const int offset = (side - std::min(src_w, src_h)) / 2;
  const double scale = static_cast<double>(size) / side;
  const int margin = 4;
  const int pad_before = static_cast<int>(std::floor(offset * scale)) - margin;
  const int pad_after = static_cast<int>(std::ceil((offset + std::min(src_w, src_h)) * scale)) + margin;
  ASSERT_GT(pad_before, 0) << label;
  ASSERT_LT(pad_after, size) << label;
  const bool wide = src_w > src_h;
  auto a = t.accessor<float, 3>();
  int checked = 0;
  for (int c = 0; c < 3; ++c) {
    const double expected = normalised(c, kClip.pad_color[c]);
    for (int line = 0; line < size; ++line) {
      if (line >= pad_before && line < pad_after) continue;
      for (int i = 0; i < size; ++i) {
        const float v = wide ? a[c][line][i] : a[c][i][line];
        ASSERT_NEAR(v, expected, 1e-2) << label << " channel " << c << " line " << line << " at " << i;
        ++checked;
      }
    }
    // The image occupies the middle line: it must not be uniformly the pad colour.
    int differing = 0;
    for (int i = 0; i < size; ++i) {
      const float v = wide ? a[c][size / 2][i] : a[c][i][size / 2];
      if (std::fabs(v - expected) > 1e-2) ++differing;
    }
    EXPECT_GT(differing, size / 4) << label << " channel " << c;
  }
  EXPECT_GT(checked, 0);
}

void check_range(const at::Tensor& t, const std::string& label) {
  for (int c = 0; c < 3; ++c) {
    const at::Tensor plane = t[c];
    const double lo = normalised(c, 0), hi = normalised(c, 255);
    EXPECT_GE(plane.min().item<double>(), lo - 1e-5) << label << " channel " << c;
    EXPECT_LE(plane.max().item<double>(), hi + 1e-5) << label << " channel " << c;
    EXPECT_TRUE(torch::isfinite(plane).all().item<bool>()) << label;
  }
}

}  // namespace

// ---- fixtures -------------------------------------------------------------------------

TEST(ImageFixtures, LoadKnownDimensions) {
  SIGHTLINE_REQUIRE_FIXTURES();
  struct Known {
    const char* name;
    int w, h;
  };
  // From the JPEG SOF headers (`file` reports the same).
  const Known known[] = {{"COCO_train2014_000000458752.jpg", 640, 480},
                         {"extreme_ironing.jpg", 570, 380},
                         {"waterview.jpg", 1000, 667}};  // progressive JPEG
  for (const auto& k : known) {
    const std::string path = fixture_image(k.name);
    if (!fs::exists(path)) GTEST_SKIP() << path << " absent";
    const ImageU8 image = load_image(path);
    std::cout << k.name << ": " << image.width << "x" << image.height << "\n";
    EXPECT_EQ(image.width, k.w) << k.name;
    EXPECT_EQ(image.height, k.h) << k.name;
    ASSERT_EQ(image.rgb.size(), static_cast<size_t>(k.w) * k.h * 3);
    // A real photo: not a constant buffer, and the channels are not all identical.
    const auto [mn, mx] = std::minmax_element(image.rgb.begin(), image.rgb.end());
    EXPECT_GT(int(*mx) - int(*mn), 100) << k.name;
    int colour = 0;
    for (size_t i = 0; i < image.rgb.size(); i += 3)
      if (image.rgb[i] != image.rgb[i + 1] || image.rgb[i + 1] != image.rgb[i + 2]) ++colour;
    EXPECT_GT(colour, k.w * k.h / 10) << k.name;
  }
}

TEST(ImageFixtures, PreprocessShapeRangeAndPadding) {
  SIGHTLINE_REQUIRE_FIXTURES();
  for (const char* name : {"COCO_train2014_000000458752.jpg", "extreme_ironing.jpg", "waterview.jpg"}) {
    const std::string path = fixture_image(name);
    if (!fs::exists(path)) GTEST_SKIP() << path << " absent";
    const ImageU8 image = load_image(path);
    const at::Tensor t = preprocess_clip(image, kClip);
    ASSERT_EQ(t.dim(), 3);
    EXPECT_EQ(t.size(0), 3);
    EXPECT_EQ(t.size(1), 336);
    EXPECT_EQ(t.size(2), 336);
    EXPECT_EQ(t.scalar_type(), at::kFloat);
    EXPECT_TRUE(t.is_contiguous());
    check_range(t, name);
    check_padding(t, image.width, image.height, 336, name);
  }
}

TEST(ImageFixtures, NoPadCropsTheCentre) {
  SIGHTLINE_REQUIRE_FIXTURES();
  const std::string path = fixture_image("extreme_ironing.jpg");
  if (!fs::exists(path)) GTEST_SKIP() << path << " absent";
  const ImageU8 image = load_image(path);
  ClipPreprocess options;
  options.pad_to_square = false;
  const at::Tensor t = preprocess_clip(image, options);
  ASSERT_EQ(t.sizes(), (std::vector<int64_t>{3, 336, 336}));
  check_range(t, "no pad");
  // 570x380 -> 504x336 (int(336 * 570 / 380) = 504), crop left = (504 - 336) / 2 = 84.
  const ImageU8 resized = resize_bicubic(image, 504, 336);
  auto a = t.accessor<float, 3>();
  for (int y : {0, 100, 335})
    for (int x : {0, 17, 335})
      for (int c = 0; c < 3; ++c)
        EXPECT_NEAR(a[c][y][x], normalised(c, resized.at(x + 84, y)[c]), 1e-5) << x << "," << y;
}

// ---- geometry -------------------------------------------------------------------------

TEST(ImageGeometry, ExpandToSquareOffsetsAsLlava) {
  const std::array<uint8_t, 3> fill{1, 2, 3};
  struct Case {
    int w, h, x0, y0;
  };
  // LLaVA: wide -> paste at (0, (w - h) // 2); tall -> ((h - w) // 2, 0).
  const Case cases[] = {{7, 3, 0, 2}, {3, 6, 1, 0}, {4, 7, 1, 0}, {8, 3, 0, 2}, {1, 2, 0, 0}};
  for (const auto& k : cases) {
    const ImageU8 src = random_image(k.w, k.h, 11u * k.w + k.h);
    const ImageU8 sq = expand_to_square(src, fill);
    const int side = std::max(k.w, k.h);
    ASSERT_EQ(sq.width, side);
    ASSERT_EQ(sq.height, side);
    for (int y = 0; y < side; ++y)
      for (int x = 0; x < side; ++x) {
        const bool inside = x >= k.x0 && x < k.x0 + k.w && y >= k.y0 && y < k.y0 + k.h;
        for (int c = 0; c < 3; ++c) {
          const uint8_t want = inside ? src.at(x - k.x0, y - k.y0)[c] : fill[c];
          ASSERT_EQ(sq.at(x, y)[c], want) << k.w << "x" << k.h << " at " << x << "," << y;
        }
      }
  }
  const ImageU8 square = random_image(5, 5, 9);
  EXPECT_EQ(expand_to_square(square, fill).rgb, square.rgb);
}

TEST(ImageGeometry, ShortestEdgeSizeAndCentreCrop) {
  struct Case {
    int w, h, size, resized_w, resized_h;
  };
  // int(size * long / short): 20*100/37 = 54.05 -> 54; 5*7/3 = 11.67 -> 11.
  const Case cases[] = {{100, 37, 20, 54, 20}, {37, 100, 20, 20, 54}, {3, 7, 5, 5, 11},
                        {9, 9, 4, 4, 4},       {20, 12, 12, 20, 12}};
  for (const auto& k : cases) {
    const ImageU8 src = random_image(k.w, k.h, 7u * k.w + k.h);
    const ImageU8 out = resize_shortest_and_crop(src, k.size);
    ASSERT_EQ(out.width, k.size);
    ASSERT_EQ(out.height, k.size);
    const ImageU8 resized = resize_bicubic(src, k.resized_w, k.resized_h);
    const int top = (k.resized_h - k.size) / 2, left = (k.resized_w - k.size) / 2;
    for (int y = 0; y < k.size; ++y)
      for (int x = 0; x < k.size; ++x)
        for (int c = 0; c < 3; ++c)
          ASSERT_EQ(out.at(x, y)[c], resized.at(x + left, y + top)[c]) << k.w << "x" << k.h;
  }
}

TEST(ImageGeometry, TallImagePadsColumns) {
  const ImageU8 src = random_image(50, 90, 21);
  ClipPreprocess options;
  options.size = 48;
  const at::Tensor t = preprocess_clip(src, options);
  ASSERT_EQ(t.sizes(), (std::vector<int64_t>{3, 48, 48}));
  check_range(t, "tall");
  check_padding(t, 50, 90, 48, "tall");
}

// ---- tensors --------------------------------------------------------------------------

TEST(ImageTensor, RoundTripAndClamping) {
  const ImageU8 src = random_image(13, 7, 4);
  const at::Tensor t = image_to_tensor(src);
  ASSERT_EQ(t.sizes(), (std::vector<int64_t>{3, 7, 13}));
  EXPECT_EQ(t.scalar_type(), at::kFloat);
  EXPECT_NEAR(t[1][2][5].item<float>(), src.at(5, 2)[1] / 255.0, 1e-7);
  EXPECT_GE(t.min().item<float>(), 0.0f);
  EXPECT_LE(t.max().item<float>(), 1.0f);
  const ImageU8 back = tensor_to_image(t);
  EXPECT_EQ(back.width, 13);
  EXPECT_EQ(back.height, 7);
  EXPECT_EQ(back.rgb, src.rgb);

  at::Tensor odd = torch::zeros({3, 1, 4}, torch::kDouble);
  odd[0][0][0] = -0.5;
  odd[1][0][1] = 2.0;
  odd[2][0][2] = std::numeric_limits<double>::quiet_NaN();
  odd[0][0][3] = 0.5;  // 127.5 rounds half away from zero
  const ImageU8 clamped = tensor_to_image(odd);
  EXPECT_EQ(clamped.at(0, 0)[0], 0);
  EXPECT_EQ(clamped.at(1, 0)[1], 255);
  EXPECT_EQ(clamped.at(2, 0)[2], 0);
  EXPECT_EQ(clamped.at(3, 0)[0], 128);

  EXPECT_THROW(tensor_to_image(torch::zeros({4, 2, 2})), Error);
  EXPECT_THROW(tensor_to_image(torch::zeros({3, 2})), Error);
  EXPECT_THROW(tensor_to_image(torch::zeros({3, 2, 2}, torch::kInt)), Error);
  EXPECT_THROW(tensor_to_image(at::Tensor()), Error);
  EXPECT_THROW(image_to_tensor(ImageU8{}), Error);
}

// ---- files ----------------------------------------------------------------------------

TEST(ImageFiles, PngRoundTripIsBitExactAndAtomic) {
  const std::string dir = test::scratch_dir("image-png");
  const std::string path = dir + "/out.png";
  const ImageU8 first = random_image(31, 17, 1);
  save_png(path, first);
  ImageU8 loaded = load_image(path);
  EXPECT_EQ(loaded.width, 31);
  EXPECT_EQ(loaded.height, 17);
  EXPECT_EQ(loaded.rgb, first.rgb);
  // Overwrite in place with a different image.
  const ImageU8 second = random_image(5, 9, 2);
  save_png(path, second);
  loaded = load_image(path);
  EXPECT_EQ(loaded.width, 5);
  EXPECT_EQ(loaded.rgb, second.rgb);
  // Only the final file remains: no temporary left behind.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    ++entries;
    EXPECT_EQ(e.path().filename(), "out.png");
  }
  EXPECT_EQ(entries, 1);

  expect_error_naming([&] { save_png(dir + "/missing-dir/x.png", first); }, "missing-dir/x.png",
                      "save into a missing directory");
  expect_error_naming([&] { save_png(dir + "/empty.png", ImageU8{}); }, "empty.png", "save empty");
}

TEST(ImageFiles, BmpAndJpegFromStbDecode) {
  const ImageU8 smooth = smooth_image(40, 24);
  const auto bmp = encode_with_stb(smooth, "bmp");
  const ImageU8 from_bmp = decode_image(bmp.data(), bmp.size(), "mem.bmp");
  EXPECT_EQ(from_bmp.width, 40);
  EXPECT_EQ(from_bmp.height, 24);
  EXPECT_EQ(from_bmp.rgb, smooth.rgb);

  const auto jpg = encode_with_stb(smooth, "jpg");
  const ImageU8 from_jpg = decode_image(jpg.data(), jpg.size(), "mem.jpg");
  ASSERT_EQ(from_jpg.width, 40);
  ASSERT_EQ(from_jpg.height, 24);
  int worst = 0;
  for (size_t i = 0; i < smooth.rgb.size(); ++i)
    worst = std::max(worst, std::abs(int(smooth.rgb[i]) - int(from_jpg.rgb[i])));
  EXPECT_LE(worst, 12) << "JPEG quality 95 of a gradient";
}

TEST(ImageFiles, BadInputsThrowNamingTheFile) {
  const std::string dir = test::scratch_dir("image-bad");

  expect_error_naming([&] { load_image(dir + "/does-not-exist.jpg"); }, "does-not-exist.jpg", "missing");
  expect_error_naming([&] { load_image(dir); }, dir, "directory");

  const std::string empty = dir + "/empty.jpg";
  write_bytes(empty, {});
  expect_error_naming([&] { load_image(empty); }, "empty.jpg", "empty");

  const std::string text = dir + "/notes.png";
  {
    std::ofstream out(text);
    out << "this is a text file, not a PNG\n";
  }
  expect_error_naming([&] { load_image(text); }, "notes.png", "text named .png");

  // Truncated JPEG: cut inside the headers, inside the scan data, and just before EOI.
  const auto jpg = encode_with_stb(smooth_image(64, 48), "jpg");
  ASSERT_GT(jpg.size(), 400u);
  for (size_t keep : {size_t{3}, size_t{40}, jpg.size() / 3, jpg.size() / 2, jpg.size() - 2}) {
    const std::string path = dir + "/cut-" + std::to_string(keep) + ".jpg";
    write_bytes(path, std::vector<uint8_t>(jpg.begin(), jpg.begin() + static_cast<long>(keep)));
    expect_error_naming([&] { load_image(path); }, path, "truncated jpeg " + std::to_string(keep));
  }
  // The intact file decodes, so the failures above are about the truncation.
  const std::string whole = dir + "/whole.jpg";
  write_bytes(whole, jpg);
  EXPECT_EQ(load_image(whole).width, 64);

  if (!test::fixtures_dir().empty() && fs::exists(fixture_image("waterview.jpg"))) {
    const auto real = read_bytes(fixture_image("waterview.jpg"));  // progressive
    const std::string path = dir + "/waterview-half.jpg";
    write_bytes(path, std::vector<uint8_t>(real.begin(), real.begin() + static_cast<long>(real.size() / 2)));
    expect_error_naming([&] { load_image(path); }, path, "truncated fixture");
  }

  // Truncated PNG and BMP.
  const std::string png = dir + "/ok.png";
  save_png(png, random_image(20, 20, 8));
  const auto png_bytes = read_bytes(png);
  // Cuts in the signature, in IHDR, in the middle of IDAT and near the end of the deflate
  // stream (the last 12 bytes are IEND, 4 before them IDAT's CRC).
  for (size_t keep : {size_t{8}, size_t{30}, png_bytes.size() / 2, png_bytes.size() - 24}) {
    const std::vector<uint8_t> cut(png_bytes.begin(), png_bytes.begin() + static_cast<long>(keep));
    expect_error_naming([&] { decode_image(cut.data(), cut.size(), "cut.png"); }, "cut.png",
                        "truncated png " + std::to_string(keep));
  }
  // Like PIL, a PNG whose pixel data is complete but whose IEND trailer is cut still loads.
  {
    const std::vector<uint8_t> cut(png_bytes.begin(), png_bytes.end() - 4);
    EXPECT_EQ(decode_image(cut.data(), cut.size(), "no-trailer.png").width, 20);
  }
  const auto bmp = encode_with_stb(smooth_image(16, 16), "bmp");
  for (size_t keep : {size_t{2}, size_t{20}, bmp.size() / 2, bmp.size() - 1}) {
    const std::vector<uint8_t> cut(bmp.begin(), bmp.begin() + static_cast<long>(keep));
    expect_error_naming([&] { decode_image(cut.data(), cut.size(), "cut.bmp"); }, "cut.bmp",
                        "truncated bmp " + std::to_string(keep));
  }
}

TEST(ImageFiles, RandomBytesNeverCrash) {
  std::mt19937 rng(1234);
  const std::vector<std::vector<uint8_t>> magics = {
      {}, {0xFF, 0xD8, 0xFF}, {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A}, {'B', 'M'}};
  int cases = 0;
  for (const auto& magic : magics) {
    for (size_t len : {size_t{1}, size_t{2}, size_t{7}, size_t{64}, size_t{1000}, size_t{5000}}) {
      for (int rep = 0; rep < 4; ++rep) {
        std::vector<uint8_t> bytes = magic;
        for (size_t i = 0; i < len; ++i) bytes.push_back(static_cast<uint8_t>(rng() & 0xFF));
        const std::string what = "fuzz-" + std::to_string(cases++);
        expect_error_naming([&] { decode_image(bytes.data(), bytes.size(), what); }, what, what);
      }
    }
  }
  expect_error_naming([&] { decode_image(nullptr, 0, "null-input"); }, "null-input", "null");
}
