#include "core/world/render.h"

#include <algorithm>
#include <numeric>

#include "core/common/error.h"
#include "core/world/font.h"
#include "core/world/raster.h"

namespace sightline {

std::array<uint8_t, 3> object_fill_rgb(const Object& object) {
  std::array<uint8_t, 3> rgb = colour_rgb(object.colour);
  if (object.shape == Shape::Sign)
    for (uint8_t& c : rgb) c = static_cast<uint8_t>((c + 255 + 1) / 2);
  return rgb;
}

std::vector<size_t> draw_order(const Scene& scene) {
  std::vector<size_t> order(scene.objects.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return scene.objects[a].depth < scene.objects[b].depth; });
  return order;
}

ImageU8 render_scene(const Scene& scene, const WorldOptions& options) {
  if (scene.image_size != options.image_size)
    fail("world scene: image_size {} differs from the options' image_size {}", scene.image_size,
         options.image_size);
  const int size = options.image_size;
  ImageU8 image;
  image.width = size;
  image.height = size;
  image.rgb.resize(static_cast<size_t>(size) * size * 3);
  for (size_t p = 0; p < static_cast<size_t>(size) * size; ++p)
    std::copy(options.background.begin(), options.background.end(), image.rgb.begin() + p * 3);

  for (const size_t i : draw_order(scene)) {
    const Object& object = scene.objects[i];
    const Mask mask = object_mask(object, options);
    const std::array<uint8_t, 3> fill = object_fill_rgb(object);
    for (int y = mask.y0; y <= mask.y1; ++y)
      for (int x = mask.x0; x <= mask.x1; ++x)
        if (mask.at(x, y)) std::copy(fill.begin(), fill.end(), image.at(x, y));
    if (object.shape != Shape::Sign || object.text == 0) continue;
    const GlyphLayout g = sign_glyph_layout(object, options);
    for (int row = 0; row < kGlyphHeight * g.scale; ++row) {
      for (int col = 0; col < kGlyphWidth * g.scale; ++col) {
        const int x = g.x0 + col, y = g.y0 + row;
        if (x < 0 || y < 0 || x >= size || y >= size || !mask.at(x, y)) continue;
        if (glyph_pixel(object.text, col / g.scale, row / g.scale))
          std::copy(kSignInk.begin(), kSignInk.end(), image.at(x, y));
      }
    }
  }
  return image;
}

}  // namespace sightline
