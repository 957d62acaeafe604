// 8-bit RGB images: decoding (stb_image), PNG writing, and the CLIP / LLaVA-MORE
// preprocessing pipeline (FORMATS.md "LLaVA-MORE": expand2square with the mean colour,
// PIL bicubic shortest-edge resize, HF centre crop, /255, mean/std normalisation).
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sightline {

// Row-major H x W x 3 bytes, R G B interleaved, no row padding.
struct ImageU8 {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // size width * height * 3

  // Pointer to the 3 bytes of pixel (x, y); no bounds check.
  uint8_t* at(int x, int y) { return rgb.data() + (static_cast<size_t>(y) * width + x) * 3; }
  const uint8_t* at(int x, int y) const {
    return rgb.data() + (static_cast<size_t>(y) * width + x) * 3;
  }
};

// Reads a JPEG, PNG or BMP file and converts it to RGB (grey is replicated, alpha is
// dropped, as PIL's convert("RGB")). Throws Error naming the file and the reason
// (missing, empty, truncated, unsupported format, stb's decode failure).
ImageU8 load_image(const std::string& path);

// Same as load_image from bytes in memory; `what` names the source in error messages.
ImageU8 decode_image(const uint8_t* bytes, size_t size, const std::string& what);

// Writes `image` as an 8-bit RGB PNG, atomically (a temporary file beside `path`,
// then rename). Throws Error naming the file on failure.
void save_png(const std::string& path, const ImageU8& image);

// LLaVA's expand2square: pads the short side to a square filled with `fill`, the image
// pasted at ((h - w) / 2, 0) when tall or (0, (w - h) / 2) when wide. A square image is
// returned unchanged.
ImageU8 expand_to_square(const ImageU8& image, std::array<uint8_t, 3> fill);

// Bicubic resize equal to PIL's Image.resize((width, height), BICUBIC) on an RGB image:
// separable, horizontal pass then vertical, a = -0.5, support widened by the scale when
// downsampling (antialiased), 8-bit fixed-point coefficients, uint8 rounding and clamping
// after each pass. Same size returns a copy.
ImageU8 resize_bicubic(const ImageU8& image, int width, int height);

// HF CLIPImageProcessor resize + centre crop: the shortest edge becomes `size`, the other
// int(size * long / short); then a size x size crop at top = (h - size) / 2,
// left = (w - size) / 2 (floor division).
ImageU8 resize_shortest_and_crop(const ImageU8& image, int size);

struct ClipPreprocess {
  int size = 336;
  bool pad_to_square = true;                        // image_aspect_ratio "pad"
  std::array<uint8_t, 3> pad_color{122, 116, 104};  // int(mean * 255), as LLaVA
  std::array<float, 3> mean{0.48145466f, 0.4578275f, 0.40821073f};
  std::array<float, 3> std{0.26862954f, 0.26130258f, 0.27577711f};
};

// Full CLIP pipeline -> float32 [3, size, size] (CHW): optional expand_to_square,
// resize_shortest_and_crop, x * (1/255) then (x - mean) / std per channel.
at::Tensor preprocess_clip(const ImageU8& image, const ClipPreprocess& options);

// [3, H, W] float32 in [0, 1] (byte / 255), no normalisation.
at::Tensor image_to_tensor(const ImageU8& image);

// Inverse of image_to_tensor: [3, H, W] floating tensor, clamped to [0, 1] (NaN -> 0),
// times 255, rounded to nearest.
ImageU8 tensor_to_image(const at::Tensor& chw01);

}  // namespace sightline
