// A headless RGB raster for figures: anti-aliased lines and markers, filled rectangles,
// text (stb_easy_font's segment font, scaled), colour palettes and maps, and atomic PNG
// writing. No torch, no GL.
//
// Coordinates are in pixels, x right, y down. Pixel (i, j) is the unit square centred on
// (i, j), so a 1-pixel line at integer coordinates covers exactly one row or column and
// a line from (0, 0) to (9, 9) runs through the centres of the diagonal pixels. Drawing
// outside the canvas (or outside the clip rectangle) is silently clipped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sightline {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb& o) const { return r == o.r && g == o.g && b == o.b; }
  bool operator!=(const Rgb& o) const { return !(*this == o); }
};

namespace colors {
inline constexpr Rgb kWhite{255, 255, 255};
inline constexpr Rgb kBlack{0, 0, 0};
inline constexpr Rgb kText{33, 33, 33};        // labels and titles
inline constexpr Rgb kAxis{64, 64, 64};        // frames and ticks
inline constexpr Rgb kGrid{226, 226, 226};     // grid lines behind the data
inline constexpr Rgb kMuted{170, 170, 170};    // the "all other points" grey of a scatter
inline constexpr Rgb kMissing{210, 210, 210};  // heat-map cells without data
}  // namespace colors

// Colour i (cycling) of a qualitative palette that reads on white (Okabe-Ito order, then
// Tableau tones): blue, orange, green, vermillion, purple, sky blue, brown, pink, ...
Rgb palette_color(size_t index);
// (1 - t) * a + t * b per channel, t clamped to [0, 1], rounded.
Rgb mix(Rgb a, Rgb b, double t);

enum class ColorMap {
  kViridis,    // sequential, dark purple (0) -> yellow (1)
  kDiverging,  // blue (0) -> white (0.5) -> red (1), for signed scores centred on 0
};
// The map's colour at t in [0, 1] (clamped); NaN gives colors::kMissing.
Rgb colormap(ColorMap map, double t);

enum class Marker { kCircle, kSquare, kDiamond, kTriangle, kCross };

enum class HAlign { kLeft, kCenter, kRight };
enum class VAlign { kTop, kMiddle, kBottom };

// How draw_text places a string: the anchor (x, y) is the box's left/centre/right edge and
// top/middle/bottom of its capital letters. `scale` multiplies stb_easy_font's units
// (capitals are 7 units tall, glyph advance about 6); integer scales stay crisp. Vertical
// text reads bottom to top (a y-axis label); alignment then applies to the rotated box.
struct TextStyle {
  double scale = 2;
  Rgb color = colors::kText;
  HAlign h = HAlign::kLeft;
  VAlign v = VAlign::kTop;
  bool vertical = false;
};

// Width in pixels of the widest line of `text` at `scale` (horizontal layout).
double text_width(const std::string& text, double scale);
// Height in pixels of `text` at `scale`: 7 units for one line (capitals), plus 12 units per
// further line ('\n').
double text_height(const std::string& text, double scale);

class Canvas {
 public:
  // A width x height canvas filled with `background`. Throws Error for a size <= 0 or
  // larger than 16384 on a side.
  Canvas(int width, int height, Rgb background = colors::kWhite);

  int width() const { return width_; }
  int height() const { return height_; }
  // Row-major width * height * 3 bytes, R G B.
  const std::vector<uint8_t>& rgb() const { return rgb_; }
  // The colour of pixel (x, y); throws Error when outside the canvas.
  Rgb pixel(int x, int y) const;

  // Restricts every later drawing call to the pixels [x, x + w) x [y, y + h) (intersected
  // with the canvas) until reset_clip().
  void set_clip(int x, int y, int w, int h);
  void reset_clip();

  // Sets one pixel (clipped).
  void set_pixel(int x, int y, Rgb color);
  // Composites `color` over pixel (x, y) with coverage `alpha` in [0, 1] (clipped).
  void blend_pixel(int x, int y, Rgb color, double alpha);

  // Fills exactly the pixels [x, x + w) x [y, y + h).
  void fill_rect(int x, int y, int w, int h, Rgb color);
  // Fills the real rectangle [x0, x1] x [y0, y1] (pixel-centre coordinates, so pixel i
  // spans [i - 0.5, i + 0.5]); edge pixels get their fractional coverage times `alpha`.
  void fill_rect_aa(double x0, double y0, double x1, double y1, Rgb color, double alpha = 1);
  // A `thickness`-pixel outline drawn inside the pixels [x, x + w) x [y, y + h).
  void stroke_rect(int x, int y, int w, int h, Rgb color, int thickness = 1);

  // An anti-aliased segment `width` pixels wide with round ends: a pixel's coverage is
  // clamp(width / 2 + 0.5 - d, 0, 1) for d its centre's distance to the segment.
  void draw_line(double x0, double y0, double x1, double y1, Rgb color, double width = 1, double alpha = 1);
  // The same, drawn as dashes of `dash` pixels separated by gaps of `gap` pixels.
  void draw_dashed_line(double x0, double y0, double x1, double y1, Rgb color, double width = 1,
                        double dash = 6, double gap = 4);
  // Consecutive points joined by draw_line; points with a non-finite coordinate break the
  // line into pieces.
  void draw_polyline(const std::vector<double>& xs, const std::vector<double>& ys, Rgb color, double width = 1);

  // A filled marker of radius `radius` centred on (x, y), anti-aliased. kCross is drawn as
  // two strokes of width max(1, radius / 2).
  void draw_marker(double x, double y, Marker marker, double radius, Rgb color, double alpha = 1);
  // A ring (circle outline) of radius `radius` and stroke `width`, anti-aliased.
  void draw_ring(double x, double y, double radius, Rgb color, double width = 1.5);

  // Draws `text` (ASCII; other bytes print as '?'; '\n' starts a new line) at the anchor
  // (x, y) per `style`.
  void draw_text(double x, double y, const std::string& text, const TextStyle& style = {});

 private:
  bool inside_clip(int x, int y) const {
    return x >= clip_x0_ && x < clip_x1_ && y >= clip_y0_ && y < clip_y1_;
  }

  int width_ = 0, height_ = 0;
  int clip_x0_ = 0, clip_y0_ = 0, clip_x1_ = 0, clip_y1_ = 0;
  std::vector<uint8_t> rgb_;
};

// The canvas encoded as an 8-bit RGB PNG (stb_image_write). Throws Error on failure.
std::vector<uint8_t> encode_png(const Canvas& canvas);
// Writes the canvas as a PNG to `path` atomically: a temporary file in the same
// directory, then rename. Throws Error naming the file on failure.
void save_png(const std::string& path, const Canvas& canvas);

}  // namespace sightline
