#include "core/world/raster.h"

#include <algorithm>
#include <cmath>

#include "core/world/font.h"

namespace sightline {

namespace {

constexpr double kRingInner = 0.55;
constexpr double kCrossArm = 1.0 / 3.0;
constexpr double kArrowHead = 0.9;
constexpr double kArrowShaft = 0.3;
constexpr double kSignWidth = 0.8;

Mask rasterise(const Object& object, const WorldOptions& options, bool filled) {
  const int size = options.image_size;
  const double r = half_extent(object.size, options);
  Mask m;
  m.size = size;
  m.bits.assign(static_cast<size_t>(size) * size, 0);
  const int xa = std::max(0, static_cast<int>(std::floor(object.x - r - 1)));
  const int xb = std::min(size - 1, static_cast<int>(std::ceil(object.x + r + 1)));
  const int ya = std::max(0, static_cast<int>(std::floor(object.y - r - 1)));
  const int yb = std::min(size - 1, static_cast<int>(std::ceil(object.y + r + 1)));
  m.x0 = size;
  m.y0 = size;
  for (int y = ya; y <= yb; ++y) {
    for (int x = xa; x <= xb; ++x) {
      if (!shape_covers(object, r, x + 0.5, y + 0.5, filled)) continue;
      m.bits[static_cast<size_t>(y) * size + x] = 1;
      ++m.area;
      m.x0 = std::min(m.x0, x);
      m.x1 = std::max(m.x1, x);
      m.y0 = std::min(m.y0, y);
      m.y1 = std::max(m.y1, y);
    }
  }
  if (m.area == 0) {
    m.x0 = m.y0 = 0;
    m.x1 = m.y1 = -1;
  }
  return m;
}

}  // namespace

bool shape_covers(const Object& object, double r, double px, double py, bool filled) {
  const double dx = px - object.x;
  const double dy = py - object.y;
  switch (object.shape) {
    case Shape::Circle:
      return dx * dx + dy * dy <= r * r;
    case Shape::Square:
      return std::fabs(dx) <= r && std::fabs(dy) <= r;
    case Shape::Triangle:
      return dy <= r && std::fabs(dx) <= (dy + r) / 2;
    case Shape::Cross: {
      const double arm = r * kCrossArm;
      return (std::fabs(dx) <= arm && std::fabs(dy) <= r) || (std::fabs(dy) <= arm && std::fabs(dx) <= r);
    }
    case Shape::Ring: {
      const double d2 = dx * dx + dy * dy;
      const double inner = r * kRingInner;
      return d2 <= r * r && (filled || d2 >= inner * inner);
    }
    case Shape::Arrow: {
      double u = dx, v = dy;  // u along the arrow, v across
      switch (object.facing) {
        case Facing::Left: u = -dx; v = dy; break;
        case Facing::Up: u = -dy; v = dx; break;
        case Facing::Down: u = dy; v = dx; break;
        case Facing::Right:
        case Facing::None: break;
      }
      if (u >= 0) return u <= r && std::fabs(v) <= kArrowHead * (r - u);
      return u >= -r && std::fabs(v) <= kArrowShaft * r;
    }
    case Shape::Sign:
      return std::fabs(dx) <= kSignWidth * r && std::fabs(dy) <= r;
  }
  return false;
}

Mask object_mask(const Object& object, const WorldOptions& options) { return rasterise(object, options, false); }

Mask object_footprint(const Object& object, const WorldOptions& options) {
  return rasterise(object, options, true);
}

GlyphLayout sign_glyph_layout(const Object& sign, const WorldOptions& options) {
  const double r = half_extent(sign.size, options);
  // Largest integer scale leaving a pixel of panel around the glyph on each side.
  const int by_width = static_cast<int>(std::floor((2 * kSignWidth * r - 2) / kGlyphWidth));
  const int by_height = static_cast<int>(std::floor((2 * r - 2) / kGlyphHeight));
  GlyphLayout g;
  g.scale = std::max(1, std::min(by_width, by_height));
  g.x0 = static_cast<int>(std::floor(sign.x - kGlyphWidth * g.scale / 2.0 + 0.5));
  g.y0 = static_cast<int>(std::floor(sign.y - kGlyphHeight * g.scale / 2.0 + 0.5));
  return g;
}

SizeClass min_sign_size(const WorldOptions& options) {
  for (const SizeClass s : all_sizes()) {
    const double r = half_extent(s, options);
    if (2 * kSignWidth * r - 2 >= kGlyphWidth && 2 * r - 2 >= kGlyphHeight) return s;
  }
  return SizeClass::Large;
}

}  // namespace sightline
