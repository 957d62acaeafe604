// PIL-compatible bicubic resampling for 8-bit RGB.
//
// What is matched (Pillow src/libImaging/Resample.c, 8bpc path, unchanged since Pillow 4.x;
// checked bit-exact against Pillow 9.4 in tests/test_image_resize.cpp):
//   - precompute_coeffs: scale = in / out; filterscale = max(scale, 1); support =
//     2 * filterscale; window per output pixel xx: center = (xx + 0.5) * scale,
//     xmin = (int)(center - support + 0.5) clamped to 0, xmax = (int)(center + support + 0.5)
//     clamped to in; weights bicubic((x + xmin - center + 0.5) / filterscale), a = -0.5,
//     divided by their sum (same double operation order as PIL).
//   - normalize_coeffs_8bpc: weights to fixed point with PRECISION_BITS = 22, rounded half
//     away from zero ((int)(w * 2^22 +- 0.5)).
//   - per pass: accumulator starts at 2^21 (rounding), sum of byte * coefficient, result
//     >> 22 clamped to [0, 255] (PIL's clip8 lookup table).
//   - ImagingResampleInner: horizontal pass first (only when the width changes), over just
//     the source rows the vertical pass will read, stored as uint8; then the vertical pass
//     (only when the height changes). Same size is a copy.
#include <algorithm>
#include <cmath>

#include "core/common/error.h"
#include "core/image/image.h"

namespace sightline {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

// https://en.wikipedia.org/wiki/Bicubic_interpolation#Bicubic_convolution_algorithm
// with PIL's a = -0.5 and PIL's exact expression order.
double bicubic_filter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// Fixed-point taps for one axis: output i reads `count[i]` inputs starting at `first[i]`,
// with weights k[i * ksize + j].
struct Taps {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<int32_t> k;
};

Taps precompute_taps(int in_size, int out_size) {
  constexpr double kSupport = 2.0;  // bicubic
  // PIL computes (double)(in1 - in0) / outSize with float box edges: exact for our sizes.
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = kSupport * filterscale;
  Taps taps;
  taps.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  taps.first.resize(out_size);
  taps.count.resize(out_size);
  taps.k.assign(static_cast<size_t>(out_size) * taps.ksize, 0);
  std::vector<double> w(taps.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      w[x] = bicubic_filter((x + xmin - center + 0.5) * ss);
      ww += w[x];
    }
    for (int x = 0; x < xmax; ++x) {
      if (ww != 0.0) w[x] /= ww;
      const double fixed = w[x] * (1 << kPrecisionBits);
      taps.k[static_cast<size_t>(xx) * taps.ksize + x] =
          static_cast<int32_t>(w[x] < 0 ? -0.5 + fixed : 0.5 + fixed);
    }
    taps.first[xx] = xmin;
    taps.count[xx] = xmax;
  }
  return taps;
}

// PIL's clip8: the accumulator (already offset by 2^21) shifted down, clamped to a byte.
inline uint8_t clip8(int64_t accumulator) {
  if (accumulator < 0) return 0;
  const int64_t v = accumulator >> kPrecisionBits;
  return static_cast<uint8_t>(v > 255 ? 255 : v);
}

// Horizontal pass over source rows [row0, row0 + rows) into a width-`taps` image.
ImageU8 resample_horizontal(const ImageU8& in, const Taps& taps, int row0, int rows) {
  const int out_w = static_cast<int>(taps.first.size());
  ImageU8 out;
  out.width = out_w;
  out.height = rows;
  out.rgb.resize(static_cast<size_t>(out_w) * rows * 3);
  for (int yy = 0; yy < rows; ++yy) {
    for (int xx = 0; xx < out_w; ++xx) {
      const int32_t* k = &taps.k[static_cast<size_t>(xx) * taps.ksize];
      const uint8_t* src = in.at(taps.first[xx], yy + row0);
      int64_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
      for (int x = 0; x < taps.count[xx]; ++x) {
        s0 += src[x * 3 + 0] * k[x];
        s1 += src[x * 3 + 1] * k[x];
        s2 += src[x * 3 + 2] * k[x];
      }
      uint8_t* dst = out.at(xx, yy);
      dst[0] = clip8(s0);
      dst[1] = clip8(s1);
      dst[2] = clip8(s2);
    }
  }
  return out;
}

// Vertical pass; taps.first is relative to row `row_offset` of `in`.
ImageU8 resample_vertical(const ImageU8& in, const Taps& taps, int row_offset) {
  const int out_h = static_cast<int>(taps.first.size());
  ImageU8 out;
  out.width = in.width;
  out.height = out_h;
  out.rgb.resize(static_cast<size_t>(in.width) * out_h * 3);
  const size_t stride = static_cast<size_t>(in.width) * 3;
  for (int yy = 0; yy < out_h; ++yy) {
    const int32_t* k = &taps.k[static_cast<size_t>(yy) * taps.ksize];
    const int ymin = taps.first[yy] - row_offset;
    const int count = taps.count[yy];
    for (int xx = 0; xx < in.width; ++xx) {
      const uint8_t* src = in.at(xx, ymin);
      int64_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
      for (int y = 0; y < count; ++y) {
        const uint8_t* p = src + y * stride;
        s0 += p[0] * k[y];
        s1 += p[1] * k[y];
        s2 += p[2] * k[y];
      }
      uint8_t* dst = out.at(xx, yy);
      dst[0] = clip8(s0);
      dst[1] = clip8(s1);
      dst[2] = clip8(s2);
    }
  }
  return out;
}

void check_image(const ImageU8& image, const char* function) {
  if (image.width <= 0 || image.height <= 0)
    fail("{}: image '{}x{}' is empty", function, image.width, image.height);
  if (image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3)
    fail("{}: field 'rgb' holds {} bytes, expected {}x{}x3", function, image.rgb.size(),
         image.width, image.height);
}

// Same guard as decoding (PIL's decompression-bomb limit), for requested output sizes.
constexpr int64_t kMaxResizePixels = 2LL * 89478485;

}  // namespace

ImageU8 expand_to_square(const ImageU8& image, std::array<uint8_t, 3> fill) {
  check_image(image, "expand_to_square");
  if (image.width == image.height) return image;
  const int side = std::max(image.width, image.height);
  // A 100000 x 1 image (a 60-byte BMP decodes to one) would otherwise ask for 30 GB.
  if (static_cast<int64_t>(side) * side > kMaxResizePixels)
    fail("expand_to_square: {}x{} image would become a {}x{} square, above {} pixels", image.width, image.height,
         side, side, kMaxResizePixels);
  // LLaVA: paste at (0, (w - h) // 2) when wide, ((h - w) // 2, 0) when tall.
  const int x0 = (side - image.width) / 2;
  const int y0 = (side - image.height) / 2;
  ImageU8 out;
  out.width = side;
  out.height = side;
  out.rgb.resize(static_cast<size_t>(side) * side * 3);
  for (size_t i = 0; i < out.rgb.size(); i += 3) {
    out.rgb[i] = fill[0];
    out.rgb[i + 1] = fill[1];
    out.rgb[i + 2] = fill[2];
  }
  for (int y = 0; y < image.height; ++y)
    std::copy(image.at(0, y), image.at(0, y) + static_cast<size_t>(image.width) * 3,
              out.at(x0, y + y0));
  return out;
}

ImageU8 resize_bicubic(const ImageU8& image, int width, int height) {
  check_image(image, "resize_bicubic");
  if (width <= 0 || height <= 0 || static_cast<int64_t>(width) * height > kMaxResizePixels)
    fail("resize_bicubic: target size {}x{} out of range", width, height);
  const bool need_horizontal = width != image.width;
  const bool need_vertical = height != image.height;
  if (!need_horizontal && !need_vertical) return image;

  const Taps vertical = precompute_taps(image.height, height);
  if (!need_horizontal) return resample_vertical(image, vertical, 0);

  // Only the source rows the vertical pass reads are resampled horizontally.
  const int row_first = vertical.first.front();
  const int row_last = vertical.first.back() + vertical.count.back();
  const Taps horizontal = precompute_taps(image.width, width);
  if (!need_vertical) return resample_horizontal(image, horizontal, 0, image.height);
  const ImageU8 temp = resample_horizontal(image, horizontal, row_first, row_last - row_first);
  return resample_vertical(temp, vertical, row_first);
}

ImageU8 resize_shortest_and_crop(const ImageU8& image, int size) {
  check_image(image, "resize_shortest_and_crop");
  if (size <= 0) fail("resize_shortest_and_crop: size {} must be positive", size);
  // HF get_resize_output_image_size(default_to_square=False): short -> size,
  // long -> int(size * long / short) (Python true division, truncated).
  const bool wide = image.width > image.height;
  const int shortest = wide ? image.height : image.width;
  const int longest = wide ? image.width : image.height;
  const double scaled = static_cast<double>(static_cast<int64_t>(size) * longest) / shortest;
  if (scaled > static_cast<double>(kMaxResizePixels))
    fail("resize_shortest_and_crop: {}x{} at shortest edge {} is too large", image.width,
         image.height, size);
  const int new_long = static_cast<int>(scaled);
  const int new_w = wide ? new_long : size;
  const int new_h = wide ? size : new_long;
  const ImageU8 resized = resize_bicubic(image, new_w, new_h);

  // HF center_crop: top = (h - size) // 2, left = (w - size) // 2; both >= 0 here since
  // new_long >= size.
  const int top = (resized.height - size) / 2;
  const int left = (resized.width - size) / 2;
  if (top == 0 && left == 0 && resized.width == size && resized.height == size) return resized;
  ImageU8 out;
  out.width = size;
  out.height = size;
  out.rgb.resize(static_cast<size_t>(size) * size * 3);
  for (int y = 0; y < size; ++y)
    std::copy(resized.at(left, top + y), resized.at(left, top + y) + static_cast<size_t>(size) * 3,
              out.at(0, y));
  return out;
}

}  // namespace sightline
