// Pixel masks of the world's shapes. Relations (relations.h) and the renderer (render.h)
// use the same masks, so what a relation says is what the image shows.
//
// Shape outlines, with r = half_extent(size) and (dx, dy) = pixel centre - object centre:
//   circle    dx^2 + dy^2 <= r^2
//   square    |dx| <= r and |dy| <= r
//   triangle  pointing up: dy <= r and |dx| <= (dy + r) / 2 (apex at dy = -r)
//   cross     a plus sign: arms of half-width r/3 and half-length r
//   ring      (0.55 r)^2 <= dx^2 + dy^2 <= r^2; its footprint is the whole disc
//   arrow     along its facing u (v across): head 0 <= u <= r, |v| <= 0.9 (r - u);
//             shaft -r <= u < 0, |v| <= 0.3 r
//   sign      a panel |dx| <= 0.8 r, |dy| <= r, with a dark 5x7 glyph in the middle
#pragma once

#include <cstdint>
#include <vector>

#include "core/world/scene.h"

namespace sightline {

// A binary mask over the whole image (image_size x image_size, row-major).
struct Mask {
  int size = 0;
  std::vector<uint8_t> bits;              // 0 or 1
  int x0 = 0, y0 = 0, x1 = -1, y1 = -1;   // inclusive bounding box of the set pixels
  int64_t area = 0;                       // number of set pixels

  bool empty() const { return area == 0; }
  bool at(int x, int y) const { return bits[static_cast<size_t>(y) * size + x] != 0; }
  int width() const { return x1 - x0 + 1; }
  int height() const { return y1 - y0 + 1; }
};

// Whether the point (px, py) lies on the shape (ring: on the band; filled = true: in the
// outer outline, the ring's hole included).
bool shape_covers(const Object& object, double half, double px, double py, bool filled = false);

// The pixels whose centres the object covers.
Mask object_mask(const Object& object, const WorldOptions& options);
// The object's outline filled in: equal to object_mask except for the ring (a disc).
Mask object_footprint(const Object& object, const WorldOptions& options);

// Where a sign's glyph goes: top-left pixel and the integer scale (each glyph pixel is
// scale x scale image pixels), centred on the sign.
struct GlyphLayout {
  int x0 = 0, y0 = 0, scale = 1;
};
GlyphLayout sign_glyph_layout(const Object& sign, const WorldOptions& options);

// The smallest size class a sign may have so that its glyph fits inside the panel.
SizeClass min_sign_size(const WorldOptions& options);

}  // namespace sightline
