// CLIP preprocessing and byte <-> float tensor conversion.
#include <torch/types.h>

#include <cmath>

#include "core/common/error.h"
#include "core/image/image.h"

namespace sightline {
namespace {

// HF rescale: image.astype(float64) * (1/255), then cast to float32.
inline float rescale(uint8_t byte) { return static_cast<float>(byte * (1.0 / 255.0)); }

}  // namespace

at::Tensor preprocess_clip(const ImageU8& image, const ClipPreprocess& options) {
  if (options.size <= 0) fail("preprocess_clip: field 'size' is {}, must be positive", options.size);
  for (int c = 0; c < 3; ++c)
    if (!(options.std[c] != 0.0f) || !std::isfinite(options.std[c]) || !std::isfinite(options.mean[c]))
      fail("preprocess_clip: field 'mean'/'std' channel {} invalid (mean {}, std {})", c,
           options.mean[c], options.std[c]);
  const ImageU8 cropped =
      options.pad_to_square
          ? resize_shortest_and_crop(expand_to_square(image, options.pad_color), options.size)
          : resize_shortest_and_crop(image, options.size);

  const int64_t s = options.size;
  at::Tensor out = at::empty({3, s, s}, at::kFloat);
  float* dst = out.data_ptr<float>();
  const size_t plane = static_cast<size_t>(s) * s;
  for (int c = 0; c < 3; ++c) {
    // HF normalize runs in float32: (x - mean) / std with float32 mean and std.
    const float mean = options.mean[c];
    const float sd = options.std[c];
    for (size_t i = 0; i < plane; ++i)
      dst[c * plane + i] = (rescale(cropped.rgb[i * 3 + c]) - mean) / sd;
  }
  return out;
}

at::Tensor image_to_tensor(const ImageU8& image) {
  if (image.width <= 0 || image.height <= 0 ||
      image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3)
    fail("image_to_tensor: field 'rgb' holds {} bytes for a {}x{}x3 image", image.rgb.size(),
         image.width, image.height);
  at::Tensor out = at::empty({3, image.height, image.width}, at::kFloat);
  float* dst = out.data_ptr<float>();
  const size_t plane = static_cast<size_t>(image.width) * image.height;
  for (int c = 0; c < 3; ++c)
    for (size_t i = 0; i < plane; ++i) dst[c * plane + i] = rescale(image.rgb[i * 3 + c]);
  return out;
}

ImageU8 tensor_to_image(const at::Tensor& chw01) {
  if (!chw01.defined()) fail("tensor_to_image: tensor 'chw01' is undefined");
  if (chw01.dim() != 3 || chw01.size(0) != 3 || chw01.size(1) <= 0 || chw01.size(2) <= 0)
    fail("tensor_to_image: tensor 'chw01' has shape [{}], expected [3, H, W]",
         fmt::join(chw01.sizes().vec(), ", "));
  if (!at::isFloatingType(chw01.scalar_type()))
    fail("tensor_to_image: tensor 'chw01' has dtype {}, expected a floating type",
         std::string(c10::toString(chw01.scalar_type())));
  const at::Tensor t = chw01.detach().to(at::kCPU, at::kFloat).contiguous();
  ImageU8 image;
  image.height = static_cast<int>(t.size(1));
  image.width = static_cast<int>(t.size(2));
  image.rgb.resize(static_cast<size_t>(image.width) * image.height * 3);
  const float* src = t.data_ptr<float>();
  const size_t plane = static_cast<size_t>(image.width) * image.height;
  for (int c = 0; c < 3; ++c) {
    for (size_t i = 0; i < plane; ++i) {
      float v = src[c * plane + i];
      if (!(v >= 0.0f)) v = 0.0f;  // also maps NaN to 0
      if (v > 1.0f) v = 1.0f;
      image.rgb[i * 3 + c] = static_cast<uint8_t>(std::lround(static_cast<double>(v) * 255.0));
    }
  }
  return image;
}

}  // namespace sightline
