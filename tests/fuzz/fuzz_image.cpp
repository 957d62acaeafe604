// libFuzzer target: the image path a user's file takes: decode_image (format sniffing,
// JPEG/BMP structure checks, stb_image), then LLaVA's preprocessing (expand_to_square,
// bicubic resize, shortest-edge resize + centre crop, CLIP normalisation) and the
// byte <-> tensor conversion, which must round-trip exactly. stb_image itself is compiled
// into this target (fuzz_stb_image.c, at most 4096 pixels a side) so ASan and the
// coverage see inside the decoder.
#include <ATen/ATen.h>

#include <algorithm>

#include "core/common/error.h"
#include "core/image/image.h"
#include "tests/fuzz/fuzz_util.h"

using namespace sightline;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Sizes for the resize calls, from the last input bytes (a decoder ignores trailing bytes).
  const uint8_t a = size > 0 ? data[size - 1] : 0, b = size > 1 ? data[size - 2] : 0;
  try {
    const ImageU8 image = decode_image(data, size, "fuzz input");
    if (image.width <= 0 || image.height <= 0 ||
        image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3)
      fuzz::finding("decode_image returned an inconsistent image");
    // The resize paths are the same at any size; large images (the fixture JPEGs and
    // their mutants) would take a second each through them and starve the search.
    if (static_cast<int64_t>(image.width) * image.height > 65536) return 0;
    const ImageU8 square = expand_to_square(image, {122, 116, 104});
    if (square.width != std::max(image.width, image.height) || square.height != square.width)
      fuzz::finding("expand_to_square did not give a max(w, h) square");
    const ImageU8 resized = resize_bicubic(image, 1 + a % 48, 1 + b % 48);
    if (resized.width != 1 + a % 48 || resized.height != 1 + b % 48) fuzz::finding("resize_bicubic size");
    const int side = 1 + (a ^ b) % 40;
    const ImageU8 cropped = resize_shortest_and_crop(image, side);
    if (cropped.width != side || cropped.height != side) fuzz::finding("resize_shortest_and_crop size");
    ClipPreprocess options;
    options.size = 1 + b % 24;
    options.pad_to_square = (a & 1) != 0;
    const at::Tensor pixels = preprocess_clip(image, options);
    if (pixels.sizes() != at::IntArrayRef({3, options.size, options.size}) || !pixels.isfinite().all().item<bool>())
      fuzz::finding("preprocess_clip gave a bad tensor");
    const ImageU8 back = tensor_to_image(image_to_tensor(cropped));
    if (back.rgb != cropped.rgb) fuzz::finding("tensor_to_image(image_to_tensor(x)) != x");
  } catch (const Error&) {
  }
  return 0;
}
