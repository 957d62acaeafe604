// Bicubic resize: an independent float64 reference of PIL's formula, bit-exact golden
// outputs from Pillow 9.4, and the HF CLIPImageProcessor pipeline emulated in Python.
#include <gtest/gtest.h>
#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "core/image/image.h"

using namespace sightline;

namespace {

// The deterministic pattern the golden values were generated from (Python below):
// value = (x*37 + y*91 + c*53 + (x*y % 7)*29) % 256. Its wrap-arounds are sharp edges,
// so bicubic overshoot and the [0, 255] clamp are exercised.
ImageU8 pattern(int w, int h) {
  ImageU8 image;
  image.width = w;
  image.height = h;
  image.rgb.resize(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        image.at(x, y)[c] = static_cast<uint8_t>((x * 37 + y * 91 + c * 53 + (x * y) % 7 * 29) % 256);
  return image;
}

ImageU8 resize_random_image(int w, int h, uint32_t seed) {
  std::mt19937 rng(seed);
  ImageU8 image;
  image.width = w;
  image.height = h;
  image.rgb.resize(static_cast<size_t>(w) * h * 3);
  for (auto& v : image.rgb) v = static_cast<uint8_t>(rng() & 0xFF);
  return image;
}

std::string to_hex(const std::vector<uint8_t>& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (uint8_t b : bytes) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

uint64_t fnv1a(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

// --- Independent reference ----------------------------------------------------------
// Written from the formula, not from Resample.c: each output sample is the normalised
// sum over ALL source samples j of K((j + 0.5 - centre) / s) * src[j], where
// centre = (i + 0.5) * in / out, s = max(in / out, 1), K the Keys cubic with a = -0.5
// (zero for |t| >= 2). Float64 throughout; the intermediate image is rounded and clamped
// to uint8 between the horizontal and the vertical pass, as PIL stores it.
double keys_cubic(double t) {
  const double a = -0.5;
  t = std::fabs(t);
  if (t < 1) return (a + 2) * t * t * t - (a + 3) * t * t + 1;
  if (t < 2) return a * t * t * t - 5 * a * t * t + 8 * a * t - 4 * a;
  return 0;
}

std::vector<double> resample_line(const std::vector<double>& src, int out) {
  const int in = static_cast<int>(src.size());
  const double scale = static_cast<double>(in) / out;
  const double s = std::max(scale, 1.0);
  std::vector<double> dst(out);
  for (int i = 0; i < out; ++i) {
    const double centre = (i + 0.5) * scale;
    double sum = 0, weight = 0;
    for (int j = 0; j < in; ++j) {
      const double w = keys_cubic((j + 0.5 - centre) / s);
      sum += w * src[j];
      weight += w;
    }
    dst[i] = sum / weight;
  }
  return dst;
}

uint8_t to_byte(double v) { return static_cast<uint8_t>(std::clamp(std::round(v), 0.0, 255.0)); }

ImageU8 reference_resize(const ImageU8& in, int w, int h) {
  ImageU8 mid;  // horizontal pass (skipped when the width does not change, as PIL)
  mid.width = w;
  mid.height = in.height;
  mid.rgb.resize(static_cast<size_t>(w) * in.height * 3);
  for (int y = 0; y < in.height; ++y)
    for (int c = 0; c < 3; ++c) {
      std::vector<double> row(in.width);
      for (int x = 0; x < in.width; ++x) row[x] = in.at(x, y)[c];
      const auto out = w == in.width ? row : resample_line(row, w);
      for (int x = 0; x < w; ++x) mid.at(x, y)[c] = to_byte(out[x]);
    }
  ImageU8 res;
  res.width = w;
  res.height = h;
  res.rgb.resize(static_cast<size_t>(w) * h * 3);
  for (int x = 0; x < w; ++x)
    for (int c = 0; c < 3; ++c) {
      std::vector<double> col(in.height);
      for (int y = 0; y < in.height; ++y) col[y] = mid.at(x, y)[c];
      const auto out = h == in.height ? col : resample_line(col, h);
      for (int y = 0; y < h; ++y) res.at(x, y)[c] = to_byte(out[y]);
    }
  return res;
}

}  // namespace

TEST(ImageResize, MatchesFloat64ReferenceWithinOneUnit) {
  struct Case {
    int in_w, in_h, out_w, out_h;
  };
  const Case cases[] = {{37, 23, 16, 11}, {13, 9, 30, 21}, {40, 10, 17, 25}, {20, 20, 20, 7},
                        {20, 20, 7, 20},  {31, 17, 31, 40}, {64, 48, 21, 13}, {3, 2, 17, 13},
                        {50, 1, 9, 4},    {1, 1, 5, 3}};
  int64_t off_by_one = 0, total = 0;
  for (const auto& k : cases) {
    for (int kind = 0; kind < 2; ++kind) {
      const ImageU8 src = kind == 0 ? resize_random_image(k.in_w, k.in_h, 17u + k.in_w) : pattern(k.in_w, k.in_h);
      const ImageU8 got = resize_bicubic(src, k.out_w, k.out_h);
      const ImageU8 ref = reference_resize(src, k.out_w, k.out_h);
      ASSERT_EQ(got.width, k.out_w);
      ASSERT_EQ(got.height, k.out_h);
      ASSERT_EQ(got.rgb.size(), ref.rgb.size());
      for (size_t i = 0; i < got.rgb.size(); ++i) {
        const int diff = std::abs(int(got.rgb[i]) - int(ref.rgb[i]));
        ASSERT_LE(diff, 1) << k.in_w << "x" << k.in_h << " -> " << k.out_w << "x" << k.out_h
                           << " kind " << kind << " byte " << i;
        off_by_one += diff;
        ++total;
      }
    }
  }
  // Fixed-point rounding makes a few bytes differ by one; most must agree exactly.
  EXPECT_LT(off_by_one, total / 20) << off_by_one << " of " << total << " bytes off by one";
}

TEST(ImageResize, SameSizeIsIdentity) {
  const ImageU8 src = resize_random_image(29, 17, 5);
  const ImageU8 out = resize_bicubic(src, 29, 17);
  EXPECT_EQ(out.width, 29);
  EXPECT_EQ(out.height, 17);
  EXPECT_EQ(out.rgb, src.rgb);
}

TEST(ImageResize, ConstantImageStaysConstant) {
  ImageU8 src = resize_random_image(23, 31, 3);
  for (size_t i = 0; i < src.rgb.size(); i += 3) {
    src.rgb[i] = 122;
    src.rgb[i + 1] = 116;
    src.rgb[i + 2] = 104;
  }
  for (auto [w, h] : {std::pair{7, 5}, std::pair{50, 70}, std::pair{23, 9}}) {
    const ImageU8 out = resize_bicubic(src, w, h);
    for (size_t i = 0; i < out.rgb.size(); i += 3) {
      ASSERT_EQ(out.rgb[i], 122);
      ASSERT_EQ(out.rgb[i + 1], 116);
      ASSERT_EQ(out.rgb[i + 2], 104);
    }
  }
}

// Golden outputs of Pillow 9.4.0 (Debian 12 python3-pil), generated with:
//   from PIL import Image; import numpy as np
//   def pattern(w, h):  # same formula as pattern() above
//     a = np.zeros((h, w, 3), np.uint8)
//     for y in range(h):
//       for x in range(w):
//         for c in range(3): a[y, x, c] = (x*37 + y*91 + c*53 + (x*y) % 7 * 29) % 256
//     return Image.fromarray(a, "RGB")
//   pattern(w, h).resize((ow, oh), Image.BICUBIC).tobytes().hex()
TEST(ImageResize, BitExactWithPillowSmall) {
  struct Golden {
    int w, h, ow, oh;
    const char* hex;
  };
  const Golden goldens[] = {
      {9, 7, 4, 3, "5c7d6a7478a4a59f6366726756819279768096756d5b939294808b575c977042648c8681"},
      {5, 4, 11, 9,
       "002a5c0030680b3e841c53a02b6fb03c89be569ace72a9de87baef95caff9bd0ff083b760e4476225978386b"
       "804c6d925c71a66083ba6398ce74ade289bff492c7fa2c60b93a719d5b9c5c7ea832a16846ac33687748893874"
       "a94290c56ca5da7cafe35b90d3689fa982c946a2c704d1681fdf164b8e20662e4a812d6ea3588ec3689dd29ed4"
       "798fc66969a8435c89368f7469ba5f94a4377d7c1b606c44856689c063a6d9c6fb1ba1d62d497f52164b823f80"
       "bf7aa7dcac5d95cd0944af306a7687bd5fabe082b72c73a848518588386ebc317ecc438abf8c7577d25e31b26a"
       "586783aa488ecc1c5163316680669ac67aafe93d76bd144c8160874ab9cf269cba4d4e7f943068b2002877164b"
       "956da2e094c9fe3f73b90034694e8f38b1fe2094db48457d8b2558a7"},
      {12, 5, 7, 13,
       "0338794286c695d4dfc982381e29723d86cc90c5591348784f7db48bcbd7c881392c38734c7fb986bb663e7176"
       "7366846eb5c3ca7c39535d79756d8369a28871a2729b4b4e5098aac8793b7f8b7ca458484b83af82b566a24650"
       "59889ab489448aa172aa554a546eb779b3518d5281837f9190a9527aa55a8d60808060a86ba94d7762a5a27b87"
       "78b76267a253716da99e5f945c977165789d9d80757c9579569677607ea695787d4a81a3558c848989648d628e"
       "4685aa568c917d9a694074ba59867579886a9d4e863f80be5b82826ca66f3f71b2745e6f6b7b8cac5e574587af"
       "7458746099973f70a68c3b6c616fabb8702f4c8f9d8a346a598bba3f6fa3952e6b5d6bb6bc75204e9298932766"
       "5586c7"},
      {8, 8, 3, 8,
       "21569188bac28f5e5092855971767aa67a6d688d7598768d7db8584580a57e8664695b965d548a7e5a8b988f5e"
       "8dc8aa565b9ed76244af3a6f383d72185388aacf5b7e5d62538ec9"},
      {8, 8, 8, 3,
       "4e837b568b5a885d926f618774a9deb5e61fab2c6851867e6ba07c4b7db57047838e9d7c376ca1df3a46818c6b"
       "6ea37f6ca199b38264cb8a6c6249850d42775d45806a5c816fa49c"},
  };
  for (const auto& g : goldens) {
    const ImageU8 out = resize_bicubic(pattern(g.w, g.h), g.ow, g.oh);
    EXPECT_EQ(to_hex(out.rgb), g.hex) << g.w << "x" << g.h << " -> " << g.ow << "x" << g.oh;
  }
}

// Same generator, larger sizes, compared by FNV-1a 64 of the output bytes.
TEST(ImageResize, BitExactWithPillowLarge) {
  struct Golden {
    int w, h, ow, oh;
    uint64_t fnv;
  };
  const Golden goldens[] = {{300, 200, 336, 224, 0x72734d4e5623b836ULL},
                            {640, 480, 123, 77, 0x8899f5e04b7acef9ULL},
                            {97, 211, 336, 731, 0xf2cba60caa3afde9ULL}};
  for (const auto& g : goldens) {
    const ImageU8 out = resize_bicubic(pattern(g.w, g.h), g.ow, g.oh);
    EXPECT_EQ(fnv1a(out.rgb.data(), out.rgb.size()), g.fnv)
        << g.w << "x" << g.h << " -> " << g.ow << "x" << g.oh;
  }
}

// The HF CLIPImageProcessor path emulated with Pillow 9.4 + numpy 1.24 (LLaVA's
// expand2square when pad; resize to short edge int(size*long/short); crop at
// ((h-size)//2, (w-size)//2); float64 * (1/255) -> float32; (x - mean) / std in float32),
// compared by FNV-1a 64 of the cropped uint8 HWC bytes and of the float32 CHW tensor.
TEST(ImageResize, ClipPipelineBitExactWithHfEmulation) {
  struct Golden {
    int w, h, size;
    bool pad;
    uint64_t crop_fnv, tensor_fnv;
  };
  const Golden goldens[] = {{61, 40, 24, true, 0x4c8f43a211c04f62ULL, 0x23aea3ba748755fdULL},
                            {40, 61, 24, false, 0xb0b8edad23db7ebbULL, 0xa314c6dbfc4b27f3ULL},
                            {61, 40, 24, false, 0x8ffbafada45a40c9ULL, 0x43d6ea4b868b8aaaULL}};
  for (const auto& g : goldens) {
    const ImageU8 src = pattern(g.w, g.h);
    ClipPreprocess options;
    options.size = g.size;
    options.pad_to_square = g.pad;
    const ImageU8 crop =
        resize_shortest_and_crop(g.pad ? expand_to_square(src, options.pad_color) : src, g.size);
    EXPECT_EQ(fnv1a(crop.rgb.data(), crop.rgb.size()), g.crop_fnv) << g.w << "x" << g.h;
    const at::Tensor t = preprocess_clip(src, options).contiguous();
    ASSERT_EQ(t.scalar_type(), at::kFloat);
    EXPECT_EQ(fnv1a(t.data_ptr<float>(), t.numel() * sizeof(float)), g.tensor_fnv)
        << g.w << "x" << g.h << " pad " << g.pad;
  }
}

TEST(ImageResize, RejectsBadArguments) {
  const ImageU8 src = pattern(4, 4);
  EXPECT_THROW(resize_bicubic(src, 0, 4), Error);
  EXPECT_THROW(resize_bicubic(src, 4, -1), Error);
  EXPECT_THROW(resize_bicubic(ImageU8{}, 4, 4), Error);
  ImageU8 broken = src;
  broken.rgb.pop_back();
  EXPECT_THROW(resize_bicubic(broken, 2, 2), Error);
  EXPECT_THROW(resize_shortest_and_crop(src, 0), Error);
}
