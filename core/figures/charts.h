// Chart helpers on a Canvas: line charts, scatter plots (with a binned density path for
// very many points), grouped bar charts and heat maps with a colour bar, plus layout
// helpers for small multiples. Each chart draws into a rectangle of the canvas and lays
// out its own margins (see Plot), so several compose into one figure.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/figures/axes.h"
#include "core/figures/canvas.h"

namespace sightline {

// One line of a line chart; points with a non-finite coordinate (or <= 0 on a log axis)
// break the line.
struct Series {
  std::string name;  // legend label ("" = not in the legend)
  std::vector<double> x, y;
  Rgb color = palette_color(0);
  double width = 2;
  bool markers = false;  // also draw a marker at each point
  Marker marker = Marker::kCircle;
  bool dashed = false;
};

struct LineChart {
  std::string title, x_label, y_label;
  Scale x_scale = Scale::kLinear, y_scale = Scale::kLinear;
  bool x_integer = false;       // ticks at whole numbers only (layers)
  bool y_include_zero = false;  // the y range reaches 0
  std::optional<double> x_min, x_max, y_min, y_max;  // override the fitted range
  std::vector<Series> series;
  LegendPosition legend = LegendPosition::kBest;
  double text_scale = 2;
};

// Draws the chart into `outer`; returns the data area.
Rect draw_line_chart(Canvas& canvas, Rect outer, const LineChart& chart);

// A dashed reference line across a scatter plot at x = value (vertical) or y = value.
struct ReferenceLine {
  bool vertical = true;
  double value = 0;
  Rgb color = colors::kAxis;
  std::string label;  // drawn beside the line's end ("" = none)
};

struct ScatterChart {
  std::string title, x_label, y_label;
  Scale x_scale = Scale::kLinear, y_scale = Scale::kLinear;
  std::optional<double> x_min, x_max, y_min, y_max;
  std::vector<double> x, y;
  // Per-point colours (same length as x), or empty for `color`. Points are drawn in order,
  // so later points cover earlier ones: put highlighted points last.
  std::vector<Rgb> colors;
  Rgb color = palette_color(0);
  double radius = 2;     // marker radius in pixels
  double alpha = 0.85;   // marker opacity
  // Above this many points, the points are binned into square cells of 2 * radius + 1
  // pixels: a cell takes the colour of its last point, from light (one point) to full
  // (the densest cell) on a log scale of its count. Cost O(points + pixels).
  size_t density_threshold = 200000;
  std::vector<ReferenceLine> lines;
  std::vector<LegendEntry> legend;
  LegendPosition legend_position = LegendPosition::kBest;
  double text_scale = 2;
};

struct ScatterResult {
  Rect area;             // the data area
  size_t drawn = 0;      // points placed inside the axes
  size_t skipped = 0;    // points with a non-finite coordinate, or <= 0 on a log axis
  bool density = false;  // the binned path was used
  int cell = 0;          // its cell size in pixels
};

// Draws the scatter plot into `outer`. Throws Error when x, y (and non-empty colors)
// differ in length.
ScatterResult draw_scatter(Canvas& canvas, Rect outer, const ScatterChart& chart);

struct BarSeries {
  std::string name;
  std::vector<double> values;  // one per category; NaN = no bar
  Rgb color = palette_color(0);
};

// Grouped bars: one group per category, one bar per series in each group.
struct BarChart {
  std::string title, x_label, y_label;
  std::vector<std::string> categories;
  std::vector<BarSeries> series;
  std::optional<double> y_min, y_max;
  bool value_labels = false;  // print each bar's value above it when there is room
  LegendPosition legend = LegendPosition::kBest;
  double text_scale = 2;
};

// Draws the chart into `outer`; returns the data area. Throws Error when a series does
// not have one value per category.
Rect draw_bar_chart(Canvas& canvas, Rect outer, const BarChart& chart);

// A rows x cols grid of values (row-major, row 0 at the top), each cell coloured by the
// map; NaN cells are grey.
struct HeatMap {
  std::string title, x_label, y_label;
  int rows = 0, cols = 0;
  std::vector<double> values;
  std::vector<std::string> row_labels, col_labels;  // empty = the indices 0..n-1
  ColorMap map = ColorMap::kViridis;
  bool symmetric = false;  // range [-m, m], m = max |value| (signed scores)
  std::optional<double> lo, hi;  // override the range of the colour scale
  bool annotate = false;         // print every value, at one scale that fits all cells
  int annotate_decimals = -1;    // fixed decimals for those values; -1 = format_value
  std::string colorbar_label;
  std::vector<std::pair<int, int>> marked;  // (row, col) cells circled (an operating point)
  double text_scale = 2;
};

// Draws the heat map and its colour bar (on the right) into `outer`; returns the cell
// area. Throws Error when values.size() != rows * cols or a label list has the wrong size.
Rect draw_heat_map(Canvas& canvas, Rect outer, const HeatMap& map);

// `count` cells of a grid with `columns` columns filling `area`, row-major, separated by
// `gap` pixels.
std::vector<Rect> grid_layout(Rect area, int count, int columns, int gap = 8);

// A figure title (scale 3) and an optional subtitle (scale 2) centred at the top of the
// canvas, each drawn smaller (down to scale 1) when it would not fit the width; returns
// the height they take, in pixels.
int draw_figure_title(Canvas& canvas, const std::string& title, const std::string& subtitle = "");

}  // namespace sightline
