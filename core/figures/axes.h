// Axes for figures: "nice" tick steps (1, 2, 5 x 10^k), log ticks, tick labels, a plot
// frame that lays out its own margins inside a rectangle (so small multiples compose), and
// legends.
#pragma once

#include <string>
#include <vector>

#include "core/figures/canvas.h"

namespace sightline {

// A pixel rectangle [x, x + w) x [y, y + h).
struct Rect {
  int x = 0, y = 0, w = 0, h = 0;
};

enum class Scale { kLinear, kLog };

// One axis: its data range, scale and label. With `categories`, the axis is categorical:
// category i sits at value i and the range is [-0.5, n - 0.5].
struct Axis {
  double lo = 0, hi = 1;
  Scale scale = Scale::kLinear;
  std::string label;
  bool integer = false;  // ticks only at whole numbers (layers, heads)
  std::vector<std::string> categories;

  // Position of v along the axis: 0 at lo, 1 at hi (log10 space for kLog); NaN when v
  // cannot be placed (non-finite, or <= 0 on a log axis). Values outside give < 0 or > 1.
  double fraction(double v) const;
};

// The smallest step of the form {1, 2, 5} x 10^k that splits `span` into at most
// max_ticks - 1 intervals (>= 1 when `integer`). span <= 0 or non-finite gives 1.
double nice_step(double span, int max_ticks, bool integer = false);
// The multiples of nice_step(hi - lo, max_ticks) inside [lo, hi] (ends included up to
// rounding), ascending; values within 1e-9 steps of 0 are exactly 0.
std::vector<double> nice_ticks(double lo, double hi, int max_ticks = 6, bool integer = false);
// Ticks for a log axis over [lo, hi] (lo > 0): the powers of ten inside (every k-th
// decade when there are more than max_ticks); with fewer than 3, also the 2x and 5x
// multiples; still fewer than 3, nice linear ticks inside the range. Empty when lo <= 0.
std::vector<double> log_ticks(double lo, double hi, int max_ticks = 8);
// The ticks of an axis: category indices, log_ticks or nice_ticks.
std::vector<double> axis_ticks(const Axis& axis, int max_ticks = 6);

// A tick label for `value` on a linear axis ticked every `step`, one style per axis (it
// depends on the step): as many decimals as the step needs ("0.2", "15"); for steps
// >= 1000, k/M/G/T suffixes ("5k", "250k", "1.5M"); for steps < 1e-3, scientific
// ("2.5e-4"); 0 is "0".
std::string format_tick(double value, double step);
// A tick label on a log axis, 2 significant digits: scientific below 0.1 ("1e-4",
// "5e-2"), plain up to 1000 ("0.5", "200"), then k/M/G/T suffixes ("2k", "10k", "1M").
std::string format_log_tick(double value);
// A data value in 3 significant digits (4 below 1e4): integers as such below 1e6
// ("1234"), scientific below 0.01 ("2.5e-4"), plain below 1e4 ("0.25"), then k/M/G/T
// ("1.5M"); NaN is "-".
std::string format_value(double value);

// An axis fitted to the finite values (positive ones on a log axis), widened by
// `pad` x span on each side (log10 space for kLog). include_zero extends a linear range to
// 0 first. No data gives [0, 1] (log: [1, 10]); a single value is widened around itself.
Axis fit_axis(const std::vector<double>& values, Scale scale, double pad = 0.04, bool include_zero = false);

// A plot's frame in a rectangle of the canvas: the constructor reserves margins for the
// title, tick labels and axis labels and computes the data area; the caller draws the grid,
// then its data (clipped to the area), then the frame on top.
class Plot {
 public:
  // `text_scale` is the stb_easy_font scale of labels and title (2 reads at 100 dpi).
  // `right_margin` reserves extra pixels on the right (a colour bar).
  Plot(Canvas& canvas, Rect outer, Axis x, Axis y, std::string title, double text_scale = 2,
       int right_margin = 0);

  // The data area in pixels.
  const Rect& area() const { return area_; }
  const Axis& x_axis() const { return x_; }
  const Axis& y_axis() const { return y_; }
  Canvas& canvas() { return canvas_; }
  double text_scale() const { return text_scale_; }

  // Pixel coordinates of data values (NaN where the axis cannot place them).
  double px(double x) const;
  double py(double y) const;

  // Light grid lines at the ticks (draw before the data).
  void draw_grid();
  // Frame, outward ticks, tick labels, axis labels and title (draw after the data).
  void draw_frame();
  // Clips drawing to the data area / back to the whole canvas.
  void clip_to_area();
  void unclip();

 private:
  Canvas& canvas_;
  Axis x_, y_;
  std::string title_;
  double text_scale_;
  Rect outer_, area_;
  std::vector<double> x_ticks_, y_ticks_;
  std::vector<std::string> x_labels_, y_labels_;
};

// One legend row: a line (with an optional marker), a marker alone, or a filled box.
struct LegendEntry {
  enum class Kind { kLine, kMarker, kBox };
  std::string label;
  Rgb color;
  Kind kind = Kind::kLine;
  Marker marker = Marker::kCircle;
  bool with_marker = false;  // kLine: draw the marker on the line too
};

// kBest: the corner (or else middle of a side) of the data area where the legend covers
// the least of what is already drawn, coloured pixels counting more than grey ones (draw
// the data first).
enum class LegendPosition { kNone, kBest, kTopRight, kTopLeft, kBottomRight, kBottomLeft };

// A boxed legend inside `area` at `position` (nothing for kNone or no entries).
void draw_legend(Canvas& canvas, const Rect& area, const std::vector<LegendEntry>& entries,
                 LegendPosition position, double text_scale = 2);

}  // namespace sightline
