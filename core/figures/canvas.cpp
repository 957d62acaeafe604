// Canvas rasterisation. The stb implementations live in libstb; stb_easy_font is
// header-only with static functions (hence the unused-function pragma).
#include "core/figures/canvas.h"

#include <fmt/format.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb_easy_font.h>
#pragma GCC diagnostic pop
#include <stb_image_write.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/common/error.h"

namespace fs = std::filesystem;

namespace sightline {

namespace {

constexpr int kMaxCanvasSide = 16384;

// stb_easy_font geometry, in font units: capitals span y in [0, 7], a line is 12 tall,
// and each glyph's advance includes one unit of spacing after it.
constexpr double kCapHeight = 7;
constexpr double kLineAdvance = 12;

uint8_t to_byte(double v) { return static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L)); }

// Piecewise-linear interpolation through equally spaced colour stops.
template <size_t N>
Rgb interpolate(const std::array<Rgb, N>& stops, double t) {
  t = std::clamp(t, 0.0, 1.0) * static_cast<double>(N - 1);
  const size_t i = std::min(static_cast<size_t>(t), N - 2);
  return mix(stops[i], stops[i + 1], t - static_cast<double>(i));
}

// stb_easy_font indexes a table by (c - 32) for c in [32, 126]; anything else would read
// past it, so other bytes (UTF-8, control characters) are replaced.
std::string printable(const std::string& line) {
  std::string out = line;
  for (char& c : out)
    if (c < 32 || c > 126) c = '?';
  return out;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines(1);
  for (char c : text) {
    if (c == '\n') lines.emplace_back();
    else lines.back() += c;
  }
  return lines;
}

// Width of one line in font units, without the spacing after the last glyph.
double line_units(const std::string& line) {
  if (line.empty()) return 0;
  std::string s = printable(line);
  return std::max(0, stb_easy_font_width(s.data()) - 1);
}

// The quads of one line, in font units: {x0, y0, x1, y1} each.
std::vector<std::array<float, 4>> line_quads(const std::string& line) {
  std::string s = printable(line);
  // Each quad takes 64 bytes; no glyph of the font has more than 16 segments.
  std::vector<char> buffer(s.size() * 16 * 64 + 64);
  const int quads = stb_easy_font_print(0, 0, s.data(), nullptr, buffer.data(), static_cast<int>(buffer.size()));
  std::vector<std::array<float, 4>> out;
  out.reserve(static_cast<size_t>(quads));
  for (int q = 0; q < quads; ++q) {
    // Vertices 0 and 2 of a quad are its opposite corners; each vertex is x, y, z, rgba.
    float v0[2], v2[2];
    std::memcpy(v0, buffer.data() + static_cast<size_t>(q) * 64, sizeof v0);
    std::memcpy(v2, buffer.data() + static_cast<size_t>(q) * 64 + 32, sizeof v2);
    out.push_back({v0[0], v0[1], v2[0], v2[1]});
  }
  return out;
}

// Distance from point p to the segment a-b.
double segment_distance(double px, double py, double ax, double ay, double bx, double by) {
  const double dx = bx - ax, dy = by - ay;
  const double len2 = dx * dx + dy * dy;
  double t = len2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / len2 : 0;
  t = std::clamp(t, 0.0, 1.0);
  const double ex = ax + t * dx - px, ey = ay + t * dy - py;
  return std::sqrt(ex * ex + ey * ey);
}

// Overlap of [a0, a1] with the pixel [i - 0.5, i + 0.5].
double overlap(double a0, double a1, int i) {
  return std::max(0.0, std::min(a1, i + 0.5) - std::max(a0, i - 0.5));
}

}  // namespace

Rgb palette_color(size_t index) {
  static const std::array<Rgb, 10> kPalette{{
      {0, 114, 178},    // blue
      {230, 159, 0},    // orange
      {0, 158, 115},    // bluish green
      {213, 94, 0},     // vermillion
      {117, 112, 179},  // purple
      {86, 180, 233},   // sky blue
      {140, 86, 75},    // brown
      {204, 121, 167},  // pink
      {90, 90, 90},     // dark grey
      {188, 189, 34},   // olive
  }};
  return kPalette[index % kPalette.size()];
}

Rgb mix(Rgb a, Rgb b, double t) {
  t = std::clamp(t, 0.0, 1.0);
  return {to_byte(a.r + (b.r - a.r) * t), to_byte(a.g + (b.g - a.g) * t), to_byte(a.b + (b.b - a.b) * t)};
}

Rgb colormap(ColorMap map, double t) {
  if (std::isnan(t)) return colors::kMissing;
  // matplotlib's viridis and ColorBrewer's RdBu (reversed), sampled at 9 equal steps.
  static const std::array<Rgb, 9> kViridis{{{68, 1, 84},
                                            {71, 45, 123},
                                            {59, 82, 139},
                                            {44, 114, 142},
                                            {33, 145, 140},
                                            {40, 174, 128},
                                            {94, 201, 98},
                                            {173, 220, 48},
                                            {253, 231, 37}}};
  static const std::array<Rgb, 9> kDiverging{{{33, 102, 172},
                                              {67, 147, 195},
                                              {146, 197, 222},
                                              {209, 229, 240},
                                              {247, 247, 247},
                                              {253, 219, 199},
                                              {244, 165, 130},
                                              {214, 96, 77},
                                              {178, 24, 43}}};
  return map == ColorMap::kViridis ? interpolate(kViridis, t) : interpolate(kDiverging, t);
}

double text_width(const std::string& text, double scale) {
  double units = 0;
  for (const auto& line : split_lines(text)) units = std::max(units, line_units(line));
  return units * scale;
}

double text_height(const std::string& text, double scale) {
  const auto lines = static_cast<double>(split_lines(text).size());
  return (kCapHeight + kLineAdvance * (lines - 1)) * scale;
}

Canvas::Canvas(int width, int height, Rgb background) : width_(width), height_(height) {
  check(width > 0 && height > 0 && width <= kMaxCanvasSide && height <= kMaxCanvasSide,
        "canvas: size {}x{} outside 1..{} per side", width, height, kMaxCanvasSide);
  rgb_.resize(static_cast<size_t>(width) * height * 3);
  for (size_t i = 0; i < rgb_.size(); i += 3) {
    rgb_[i] = background.r;
    rgb_[i + 1] = background.g;
    rgb_[i + 2] = background.b;
  }
  reset_clip();
}

Rgb Canvas::pixel(int x, int y) const {
  check(x >= 0 && y >= 0 && x < width_ && y < height_, "canvas: pixel ({}, {}) outside {}x{}", x, y, width_,
        height_);
  const uint8_t* p = rgb_.data() + (static_cast<size_t>(y) * width_ + x) * 3;
  return {p[0], p[1], p[2]};
}

void Canvas::set_clip(int x, int y, int w, int h) {
  clip_x0_ = std::clamp(x, 0, width_);
  clip_y0_ = std::clamp(y, 0, height_);
  clip_x1_ = std::clamp(x + std::max(w, 0), clip_x0_, width_);
  clip_y1_ = std::clamp(y + std::max(h, 0), clip_y0_, height_);
}

void Canvas::reset_clip() {
  clip_x0_ = clip_y0_ = 0;
  clip_x1_ = width_;
  clip_y1_ = height_;
}

void Canvas::set_pixel(int x, int y, Rgb color) {
  if (!inside_clip(x, y)) return;
  uint8_t* p = rgb_.data() + (static_cast<size_t>(y) * width_ + x) * 3;
  p[0] = color.r;
  p[1] = color.g;
  p[2] = color.b;
}

void Canvas::blend_pixel(int x, int y, Rgb color, double alpha) {
  if (!(alpha > 0) || !inside_clip(x, y)) return;
  if (alpha >= 1) return set_pixel(x, y, color);
  uint8_t* p = rgb_.data() + (static_cast<size_t>(y) * width_ + x) * 3;
  p[0] = to_byte(p[0] + (color.r - p[0]) * alpha);
  p[1] = to_byte(p[1] + (color.g - p[1]) * alpha);
  p[2] = to_byte(p[2] + (color.b - p[2]) * alpha);
}

void Canvas::fill_rect(int x, int y, int w, int h, Rgb color) {
  const int x0 = std::max(x, clip_x0_), x1 = std::min(x + w, clip_x1_);
  const int y0 = std::max(y, clip_y0_), y1 = std::min(y + h, clip_y1_);
  for (int j = y0; j < y1; ++j)
    for (int i = x0; i < x1; ++i) set_pixel(i, j, color);
}

void Canvas::fill_rect_aa(double x0, double y0, double x1, double y1, Rgb color, double alpha) {
  if (!std::isfinite(x0) || !std::isfinite(y0) || !std::isfinite(x1) || !std::isfinite(y1)) return;
  if (x0 > x1) std::swap(x0, x1);
  if (y0 > y1) std::swap(y0, y1);
  const int i0 = std::max(static_cast<int>(std::floor(x0 + 0.5)), clip_x0_);
  const int i1 = std::min(static_cast<int>(std::ceil(x1 + 0.5)), clip_x1_);
  const int j0 = std::max(static_cast<int>(std::floor(y0 + 0.5)), clip_y0_);
  const int j1 = std::min(static_cast<int>(std::ceil(y1 + 0.5)), clip_y1_);
  for (int j = j0; j < j1; ++j) {
    const double cy = overlap(y0, y1, j);
    if (cy <= 0) continue;
    for (int i = i0; i < i1; ++i) blend_pixel(i, j, color, cy * overlap(x0, x1, i) * alpha);
  }
}

void Canvas::stroke_rect(int x, int y, int w, int h, Rgb color, int thickness) {
  const int t = std::max(1, std::min({thickness, (w + 1) / 2, (h + 1) / 2}));
  fill_rect(x, y, w, t, color);
  fill_rect(x, y + h - t, w, t, color);
  fill_rect(x, y, t, h, color);
  fill_rect(x + w - t, y, t, h, color);
}

void Canvas::draw_line(double x0, double y0, double x1, double y1, Rgb color, double width, double alpha) {
  if (!std::isfinite(x0) || !std::isfinite(y0) || !std::isfinite(x1) || !std::isfinite(y1) || !(width > 0))
    return;
  const double half = width / 2 + 0.5;  // coverage is positive for d < half
  const double dx = x1 - x0, dy = y1 - y0;
  const bool x_major = std::abs(dx) >= std::abs(dy);
  // Walk the major axis; at each step only pixels within `span` of the line along the
  // minor axis can be covered (half / cos of the line's angle to the major axis).
  const double a0 = x_major ? x0 : y0, a1 = x_major ? x1 : y1;
  const double b0 = x_major ? y0 : x0, db = x_major ? dy : dx, da = x_major ? dx : dy;
  const double slope = da != 0 ? db / da : 0;
  const double span = half * std::sqrt(1 + slope * slope) + 1;
  const int lo_clip = x_major ? clip_x0_ : clip_y0_, hi_clip = x_major ? clip_x1_ : clip_y1_;
  const int m_lo = std::max(static_cast<int>(std::floor(std::min(a0, a1) - half)), lo_clip);
  const int m_hi = std::min(static_cast<int>(std::ceil(std::max(a0, a1) + half)), hi_clip - 1);
  for (int m = m_lo; m <= m_hi; ++m) {
    const double t = da != 0 ? std::clamp((m - a0) / da, 0.0, 1.0) : 0.0;
    const double centre = b0 + t * db;
    const int n_lo = static_cast<int>(std::floor(centre - span)), n_hi = static_cast<int>(std::ceil(centre + span));
    for (int n = n_lo; n <= n_hi; ++n) {
      const int px = x_major ? m : n, py = x_major ? n : m;
      if (!inside_clip(px, py)) continue;
      const double d = segment_distance(px, py, x0, y0, x1, y1);
      const double coverage = std::clamp(width / 2 + 0.5 - d, 0.0, 1.0) * std::min(width, 1.0);
      if (coverage > 0) blend_pixel(px, py, color, coverage * alpha);
    }
  }
}

void Canvas::draw_dashed_line(double x0, double y0, double x1, double y1, Rgb color, double width, double dash,
                              double gap) {
  const double length = std::hypot(x1 - x0, y1 - y0);
  if (!std::isfinite(length)) return;
  if (length == 0 || !(dash > 0) || !(gap >= 0)) return draw_line(x0, y0, x1, y1, color, width);
  const double ux = (x1 - x0) / length, uy = (y1 - y0) / length;
  for (double s = 0; s < length; s += dash + gap) {
    const double e = std::min(s + dash, length);
    draw_line(x0 + ux * s, y0 + uy * s, x0 + ux * e, y0 + uy * e, color, width);
  }
}

void Canvas::draw_polyline(const std::vector<double>& xs, const std::vector<double>& ys, Rgb color, double width) {
  const size_t n = std::min(xs.size(), ys.size());
  auto finite = [&](size_t i) { return std::isfinite(xs[i]) && std::isfinite(ys[i]); };
  for (size_t i = 0; i + 1 < n; ++i)
    if (finite(i) && finite(i + 1)) draw_line(xs[i], ys[i], xs[i + 1], ys[i + 1], color, width);
  // A lone finite point between gaps would otherwise vanish.
  for (size_t i = 0; i < n; ++i)
    if (finite(i) && (i == 0 || !finite(i - 1)) && (i + 1 >= n || !finite(i + 1)))
      draw_marker(xs[i], ys[i], Marker::kCircle, width, color);
}

void Canvas::draw_marker(double x, double y, Marker marker, double radius, Rgb color, double alpha) {
  if (!std::isfinite(x) || !std::isfinite(y) || !(radius > 0)) return;
  if (marker == Marker::kSquare) return fill_rect_aa(x - radius, y - radius, x + radius, y + radius, color, alpha);
  if (marker == Marker::kCross) {
    const double w = std::max(1.0, radius / 2);
    draw_line(x - radius, y - radius, x + radius, y + radius, color, w, alpha);
    draw_line(x - radius, y + radius, x + radius, y - radius, color, w, alpha);
    return;
  }
  // Signed distance to the shape's edge (negative inside); coverage = clamp(0.5 - sd).
  // The triangle points up, circumradius `radius`: three half-planes at distance
  // radius / 2 from the centre with outward normals at 90, 210 and 330 degrees (y down).
  static const double kC = std::sqrt(3.0) / 2;
  auto signed_distance = [&](double px, double py) {
    switch (marker) {
      case Marker::kDiamond:
        return (std::abs(px) + std::abs(py) - radius) / std::sqrt(2.0);
      case Marker::kTriangle:
        return std::max({py, -kC * px - 0.5 * py, kC * px - 0.5 * py}) - radius / 2;
      default:
        return std::sqrt(px * px + py * py) - radius;
    }
  };
  const int i0 = static_cast<int>(std::floor(x - radius - 1)), i1 = static_cast<int>(std::ceil(x + radius + 1));
  const int j0 = static_cast<int>(std::floor(y - radius - 1)), j1 = static_cast<int>(std::ceil(y + radius + 1));
  for (int j = j0; j <= j1; ++j)
    for (int i = i0; i <= i1; ++i) {
      const double coverage = std::clamp(0.5 - signed_distance(i - x, j - y), 0.0, 1.0);
      if (coverage > 0) blend_pixel(i, j, color, coverage * alpha);
    }
}

void Canvas::draw_ring(double x, double y, double radius, Rgb color, double width) {
  if (!std::isfinite(x) || !std::isfinite(y) || !(radius > 0)) return;
  const double reach = radius + width / 2 + 1;
  const int i0 = static_cast<int>(std::floor(x - reach)), i1 = static_cast<int>(std::ceil(x + reach));
  const int j0 = static_cast<int>(std::floor(y - reach)), j1 = static_cast<int>(std::ceil(y + reach));
  for (int j = j0; j <= j1; ++j)
    for (int i = i0; i <= i1; ++i) {
      const double d = std::abs(std::hypot(i - x, j - y) - radius);
      const double coverage = std::clamp(width / 2 + 0.5 - d, 0.0, 1.0);
      if (coverage > 0) blend_pixel(i, j, color, coverage);
    }
}

void Canvas::draw_text(double x, double y, const std::string& text, const TextStyle& style) {
  if (text.empty() || !std::isfinite(x) || !std::isfinite(y) || !(style.scale > 0)) return;
  const double s = style.scale;
  const double w = text_width(text, s), h = text_height(text, s);
  // The box as drawn: rotated for vertical text.
  const double box_w = style.vertical ? h : w, box_h = style.vertical ? w : h;
  double left = x - (style.h == HAlign::kCenter ? box_w / 2 : style.h == HAlign::kRight ? box_w : 0);
  double top = y - (style.v == VAlign::kMiddle ? box_h / 2 : style.v == VAlign::kBottom ? box_h : 0);
  // Whole-pixel origins keep integer-scale glyph segments on pixel boundaries.
  left = std::round(left);
  top = std::round(top);
  const auto lines = split_lines(text);
  for (size_t l = 0; l < lines.size(); ++l) {
    const double line_offset = kLineAdvance * static_cast<double>(l);
    for (const auto& q : line_quads(lines[l])) {
      const double u0 = q[0], u1 = q[2], v0 = q[1] + line_offset, v1 = q[3] + line_offset;
      if (!style.vertical) {
        fill_rect_aa(left + s * u0 - 0.5, top + s * v0 - 0.5, left + s * u1 - 0.5, top + s * v1 - 0.5, style.color);
      } else {
        // Font (u, v) -> canvas (left + s v, bottom - s u): reads bottom to top.
        const double bottom = top + box_h;
        fill_rect_aa(left + s * v0 - 0.5, bottom - s * u1 - 0.5, left + s * v1 - 0.5, bottom - s * u0 - 0.5,
                     style.color);
      }
    }
  }
}

std::vector<uint8_t> encode_png(const Canvas& canvas) {
  std::vector<uint8_t> encoded;
  auto sink = [](void* context, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(context);
    const auto* p = static_cast<const uint8_t*>(data);
    out->insert(out->end(), p, p + size);
  };
  if (!stbi_write_png_to_func(sink, &encoded, canvas.width(), canvas.height(), 3, canvas.rgb().data(),
                              canvas.width() * 3) ||
      encoded.empty())
    fail("canvas: PNG encoding of a {}x{} image failed", canvas.width(), canvas.height());
  return encoded;
}

void save_png(const std::string& path, const Canvas& canvas) {
  const std::vector<uint8_t> encoded = encode_png(canvas);
  // A temporary name unique per process and call, in the same directory so that the
  // rename is atomic: a reader sees the old file or the whole new one.
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = fmt::format("{}.tmp-{}-{}", path, static_cast<long>(::getpid()), counter.fetch_add(1));
  std::FILE* file = std::fopen(tmp.c_str(), "wb");
  if (!file) fail("figure '{}': cannot create '{}': {}", path, tmp, std::strerror(errno));
  const bool written = std::fwrite(encoded.data(), 1, encoded.size(), file) == encoded.size() &&
                       std::fflush(file) == 0 && ::fsync(::fileno(file)) == 0;
  const bool closed = std::fclose(file) == 0;
  std::error_code ec;
  if (!written || !closed) {
    fs::remove(tmp, ec);
    fail("figure '{}': write error on '{}'", path, tmp);
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    fail("figure '{}': cannot rename '{}' into place: {}", path, tmp, ec.message());
  }
}

}  // namespace sightline
