#include "core/figures/charts.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/common/error.h"

namespace sightline {

namespace {

void apply_overrides(Axis& axis, const std::optional<double>& lo, const std::optional<double>& hi) {
  if (lo) axis.lo = *lo;
  if (hi) axis.hi = *hi;
}

std::vector<LegendEntry> series_legend(const std::vector<Series>& series) {
  std::vector<LegendEntry> entries;
  for (const auto& s : series)
    if (!s.name.empty())
      entries.push_back({s.name, s.color, LegendEntry::Kind::kLine, s.marker, s.markers});
  return entries;
}

// Relative luminance in [0, 1] (Rec. 709 weights on the 8-bit values): decides whether a
// label on a coloured cell is drawn dark or light.
double luminance(Rgb c) { return (0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b) / 255.0; }

}  // namespace

Rect draw_line_chart(Canvas& canvas, Rect outer, const LineChart& chart) {
  std::vector<double> xs, ys;
  for (const auto& s : chart.series) {
    xs.insert(xs.end(), s.x.begin(), s.x.end());
    ys.insert(ys.end(), s.y.begin(), s.y.end());
  }
  Axis x = fit_axis(xs, chart.x_scale, 0.02);
  Axis y = fit_axis(ys, chart.y_scale, 0.05, chart.y_include_zero);
  apply_overrides(x, chart.x_min, chart.x_max);
  apply_overrides(y, chart.y_min, chart.y_max);
  x.label = chart.x_label;
  y.label = chart.y_label;
  x.integer = chart.x_integer;

  Plot plot(canvas, outer, x, y, chart.title, chart.text_scale);
  plot.draw_grid();
  plot.clip_to_area();
  for (const auto& s : chart.series) {
    const size_t n = std::min(s.x.size(), s.y.size());
    std::vector<double> px(n), py(n);
    for (size_t i = 0; i < n; ++i) {
      px[i] = plot.px(s.x[i]);
      py[i] = plot.py(s.y[i]);
    }
    if (s.dashed) {
      for (size_t i = 0; i + 1 < n; ++i)
        if (std::isfinite(px[i] + py[i] + px[i + 1] + py[i + 1]))
          canvas.draw_dashed_line(px[i], py[i], px[i + 1], py[i + 1], s.color, s.width);
    } else {
      canvas.draw_polyline(px, py, s.color, s.width);
    }
    if (s.markers)
      for (size_t i = 0; i < n; ++i) canvas.draw_marker(px[i], py[i], s.marker, s.width + 1.5, s.color);
  }
  plot.draw_frame();
  draw_legend(canvas, plot.area(), series_legend(chart.series), chart.legend, chart.text_scale);
  return plot.area();
}

ScatterResult draw_scatter(Canvas& canvas, Rect outer, const ScatterChart& chart) {
  check(chart.x.size() == chart.y.size(), "scatter '{}': {} x values but {} y values", chart.title, chart.x.size(),
        chart.y.size());
  check(chart.colors.empty() || chart.colors.size() == chart.x.size(),
        "scatter '{}': {} colours for {} points", chart.title, chart.colors.size(), chart.x.size());
  Axis x = fit_axis(chart.x, chart.x_scale, 0.04);
  Axis y = fit_axis(chart.y, chart.y_scale, 0.04);
  apply_overrides(x, chart.x_min, chart.x_max);
  apply_overrides(y, chart.y_min, chart.y_max);
  x.label = chart.x_label;
  y.label = chart.y_label;

  Plot plot(canvas, outer, x, y, chart.title, chart.text_scale);
  plot.draw_grid();
  plot.clip_to_area();
  const Rect& a = plot.area();
  ScatterResult result;
  result.area = a;
  const size_t n = chart.x.size();
  auto color_of = [&](size_t i) { return chart.colors.empty() ? chart.color : chart.colors[i]; };
  // Pixel centres of the area run from a.x to a.x + a.w - 1; its edges are half a pixel out.
  auto inside = [&](double px, double py) {
    return px >= a.x - 0.5 && px < a.x + a.w - 0.5 && py >= a.y - 0.5 && py < a.y + a.h - 0.5;
  };
  // Calls draw(i, px, py) for every point whose position falls in the area (counted as
  // drawn); a point with a non-finite pixel position (e.g. <= 0 on a log axis) is skipped.
  auto for_each_drawn = [&](auto&& draw) {
    for (size_t i = 0; i < n; ++i) {
      const double px = plot.px(chart.x[i]), py = plot.py(chart.y[i]);
      if (!std::isfinite(px) || !std::isfinite(py)) {
        ++result.skipped;
        continue;
      }
      if (!inside(px, py)) continue;
      draw(i, px, py);
      ++result.drawn;
    }
  };

  if (n > chart.density_threshold) {
    result.density = true;
    const int cell = std::max(2, 2 * static_cast<int>(std::lround(chart.radius)) + 1);
    result.cell = cell;
    const int cols = (a.w + cell - 1) / cell, rows = (a.h + cell - 1) / cell;
    std::vector<uint32_t> counts(static_cast<size_t>(cols) * rows, 0);
    std::vector<Rgb> cell_color(counts.size());
    for_each_drawn([&](size_t i, double px, double py) {
      const int cx = std::min(cols - 1, static_cast<int>((px - a.x + 0.5) / cell));
      const int cy = std::min(rows - 1, static_cast<int>((py - a.y + 0.5) / cell));
      const size_t k = static_cast<size_t>(cy) * cols + cx;
      ++counts[k];
      cell_color[k] = color_of(i);
    });
    const uint32_t most = counts.empty() ? 0 : *std::max_element(counts.begin(), counts.end());
    const double log_most = std::log1p(static_cast<double>(most));
    for (int cy = 0; cy < rows; ++cy)
      for (int cx = 0; cx < cols; ++cx) {
        const size_t k = static_cast<size_t>(cy) * cols + cx;
        if (!counts[k]) continue;
        const double t = log_most > 0 ? std::log1p(static_cast<double>(counts[k])) / log_most : 1;
        canvas.fill_rect(a.x + cx * cell, a.y + cy * cell, cell, cell,
                         mix(colors::kWhite, cell_color[k], 0.35 + 0.65 * t));
      }
  } else {
    for_each_drawn([&](size_t i, double px, double py) {
      canvas.draw_marker(px, py, Marker::kCircle, chart.radius, color_of(i), chart.alpha);
    });
  }

  const double s = chart.text_scale;
  for (const auto& line : chart.lines) {
    if (line.vertical) {
      const double X = std::round(plot.px(line.value));
      if (!std::isfinite(X)) continue;
      canvas.draw_dashed_line(X, a.y, X, a.y + a.h - 1, line.color, 1.5);
      canvas.draw_text(X + 5, a.y + 6, line.label, {s, line.color, HAlign::kLeft, VAlign::kTop});
    } else {
      const double Y = std::round(plot.py(line.value));
      if (!std::isfinite(Y)) continue;
      canvas.draw_dashed_line(a.x, Y, a.x + a.w - 1, Y, line.color, 1.5);
      canvas.draw_text(a.x + a.w - 6, Y - 4, line.label, {s, line.color, HAlign::kRight, VAlign::kBottom});
    }
  }
  plot.draw_frame();
  draw_legend(canvas, a, chart.legend, chart.legend_position, s);
  return result;
}

Rect draw_bar_chart(Canvas& canvas, Rect outer, const BarChart& chart) {
  const size_t n = chart.categories.size();
  std::vector<double> values{0.0};
  for (const auto& s : chart.series) {
    check(s.values.size() == n, "bar chart '{}': series '{}' has {} values for {} categories", chart.title, s.name,
          s.values.size(), n);
    values.insert(values.end(), s.values.begin(), s.values.end());
  }
  Axis y = fit_axis(values, Scale::kLinear, 0.06, true);
  // Bars grow from 0: no padding below a non-negative range (or above a non-positive one).
  if (std::all_of(values.begin(), values.end(), [](double v) { return !(v < 0); })) y.lo = 0;
  if (std::all_of(values.begin(), values.end(), [](double v) { return !(v > 0); })) y.hi = 0;
  if (y.lo == y.hi) y.hi = y.lo + 1;
  apply_overrides(y, chart.y_min, chart.y_max);
  y.label = chart.y_label;
  Axis x;
  x.categories = chart.categories;
  if (x.categories.empty()) x.categories.push_back("");
  x.label = chart.x_label;

  Plot plot(canvas, outer, x, y, chart.title, chart.text_scale);
  plot.draw_grid();
  plot.clip_to_area();
  const double s = chart.text_scale;
  const size_t k = std::max<size_t>(1, chart.series.size());
  const double group = 0.8, bar = group / static_cast<double>(k);
  const double bar_px = std::abs(plot.px(bar) - plot.px(0));
  const double gap = bar_px >= 6 ? 0.5 : 0;  // one pixel between bars of a group when wide
  for (size_t j = 0; j < chart.series.size(); ++j) {
    const auto& series = chart.series[j];
    for (size_t i = 0; i < n; ++i) {
      const double v = series.values[i];
      if (!std::isfinite(v)) continue;
      const double left = static_cast<double>(i) - group / 2 + bar * static_cast<double>(j);
      const double x0 = plot.px(left) + gap, x1 = plot.px(left + bar) - gap;
      const double y0 = plot.py(v), y1 = plot.py(0);
      canvas.fill_rect_aa(x0, std::min(y0, y1), x1, std::max(y0, y1), series.color);
      if (chart.value_labels) {
        const std::string label = format_value(v);
        if (text_width(label, s) <= x1 - x0 + 2) {
          const double cx = (x0 + x1) / 2;
          if (v >= 0)
            canvas.draw_text(cx, y0 - 3, label, {s, colors::kText, HAlign::kCenter, VAlign::kBottom});
          else
            canvas.draw_text(cx, y0 + 3, label, {s, colors::kText, HAlign::kCenter, VAlign::kTop});
        }
      }
    }
  }
  plot.draw_frame();
  std::vector<LegendEntry> legend;
  for (const auto& series : chart.series)
    if (!series.name.empty()) legend.push_back({series.name, series.color, LegendEntry::Kind::kBox});
  draw_legend(canvas, plot.area(), legend, chart.legend, s);
  return plot.area();
}

Rect draw_heat_map(Canvas& canvas, Rect outer, const HeatMap& map) {
  check(map.rows > 0 && map.cols > 0, "heat map '{}': {}x{} cells", map.title, map.rows, map.cols);
  check(map.values.size() == static_cast<size_t>(map.rows) * map.cols, "heat map '{}': {} values for {}x{} cells",
        map.title, map.values.size(), map.rows, map.cols);
  check(map.row_labels.empty() || map.row_labels.size() == static_cast<size_t>(map.rows),
        "heat map '{}': {} row labels for {} rows", map.title, map.row_labels.size(), map.rows);
  check(map.col_labels.empty() || map.col_labels.size() == static_cast<size_t>(map.cols),
        "heat map '{}': {} column labels for {} columns", map.title, map.col_labels.size(), map.cols);

  // Colour range.
  double lo = INFINITY, hi = -INFINITY;
  for (double v : map.values)
    if (std::isfinite(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  if (!(lo <= hi)) lo = 0, hi = 1;
  if (map.symmetric) {
    const double m = std::max(std::abs(lo), std::abs(hi));
    lo = -m;
    hi = m;
  }
  if (map.lo) lo = *map.lo;
  if (map.hi) hi = *map.hi;
  if (!(hi > lo)) {
    const double widen = lo != 0 ? std::abs(lo) * 0.1 : 1.0;
    lo -= widen;
    hi += widen;
  }
  auto unit = [&](double v) { return std::isfinite(v) ? (v - lo) / (hi - lo) : std::nan(""); };

  const double s = map.text_scale;
  const int th = static_cast<int>(std::lround(7 * s));
  const int pad = static_cast<int>(std::lround(3 * s));
  const int tick = static_cast<int>(std::lround(2.5 * s));
  const int bar_w = static_cast<int>(std::lround(7 * s));
  const auto bar_ticks = nice_ticks(lo, hi, std::clamp(outer.h / 60, 3, 6));
  const double bar_step = bar_ticks.size() >= 2 ? bar_ticks[1] - bar_ticks[0] : nice_step(hi - lo, 5);
  double bar_label_w = 0;
  for (double t : bar_ticks) bar_label_w = std::max(bar_label_w, text_width(format_tick(t, bar_step), s));
  const int right = 2 * pad + bar_w + tick + pad / 2 + static_cast<int>(std::ceil(bar_label_w)) +
                    (map.colorbar_label.empty() ? 0 : pad + th) + pad;

  Axis x, y;
  for (int c = 0; c < map.cols; ++c)
    x.categories.push_back(map.col_labels.empty() ? std::to_string(c) : map.col_labels[static_cast<size_t>(c)]);
  // Category j of the y axis sits j rows above the bottom: row r is category rows-1-r.
  for (int r = map.rows - 1; r >= 0; --r)
    y.categories.push_back(map.row_labels.empty() ? std::to_string(r) : map.row_labels[static_cast<size_t>(r)]);
  x.label = map.x_label;
  y.label = map.y_label;

  Plot plot(canvas, outer, x, y, map.title, s, right);
  const Rect& a = plot.area();
  const double cw = static_cast<double>(a.w) / map.cols, ch = static_cast<double>(a.h) / map.rows;
  // Pixel centres: the area spans [a.x - 0.5, a.x + a.w - 0.5].
  auto cell_x = [&](double c) { return a.x - 0.5 + c * cw; };
  auto cell_y = [&](double r) { return a.y - 0.5 + r * ch; };
  plot.clip_to_area();
  for (int r = 0; r < map.rows; ++r)
    for (int c = 0; c < map.cols; ++c) {
      const double v = map.values[static_cast<size_t>(r) * map.cols + c];
      canvas.fill_rect_aa(cell_x(c), cell_y(r), cell_x(c + 1), cell_y(r + 1), colormap(map.map, unit(v)));
    }
  if (map.annotate) {
    auto label_of = [&](double v) {
      return map.annotate_decimals >= 0 && std::isfinite(v) ? fmt::format("{:.{}f}", v, map.annotate_decimals)
                                                            : format_value(v);
    };
    // One scale for every label (the text scale, or down to 1 in steps of 0.5) such that
    // the widest fits its cell; none when even scale 1 does not.
    double widest = 0;
    for (double v : map.values) widest = std::max(widest, text_width(label_of(v), 1));
    double ls = s;
    while (ls > 1 && (widest * ls + 4 > cw || 7 * ls + 4 > ch)) ls -= 0.5;
    if (widest * ls + 4 <= cw && 7 * ls + 4 <= ch) {
      for (int r = 0; r < map.rows; ++r)
        for (int c = 0; c < map.cols; ++c) {
          const double v = map.values[static_cast<size_t>(r) * map.cols + c];
          const Rgb fill = colormap(map.map, unit(v));
          const Rgb ink = luminance(fill) < 0.5 ? colors::kWhite : colors::kText;
          canvas.draw_text((cell_x(c) + cell_x(c + 1)) / 2, (cell_y(r) + cell_y(r + 1)) / 2, label_of(v),
                           {ls, ink, HAlign::kCenter, VAlign::kMiddle});
        }
    }
  }
  for (const auto& [r, c] : map.marked) {
    if (r < 0 || r >= map.rows || c < 0 || c >= map.cols) continue;
    const double mx = (cell_x(c) + cell_x(c + 1)) / 2, my = (cell_y(r) + cell_y(r + 1)) / 2;
    const double radius = std::max(3.0, std::min(cw, ch) * 0.38);
    canvas.draw_ring(mx, my, radius + 1.5, colors::kText, 1.2);
    canvas.draw_ring(mx, my, radius, colors::kWhite, 2.5);
  }
  plot.draw_frame();

  // Colour bar: top = hi, bottom = lo.
  const int bx = a.x + a.w + 2 * pad;
  for (int j = 0; j < a.h; ++j) {
    const double t = a.h > 1 ? 1 - static_cast<double>(j) / (a.h - 1) : 0.5;
    canvas.fill_rect(bx, a.y + j, bar_w, 1, colormap(map.map, t));
  }
  canvas.stroke_rect(bx, a.y, bar_w, a.h, colors::kAxis);
  for (double t : bar_ticks) {
    const double Y = std::round(a.y + (1 - (t - lo) / (hi - lo)) * (a.h - 1));
    canvas.fill_rect(bx + bar_w, static_cast<int>(Y), tick, 1, colors::kAxis);
    canvas.draw_text(bx + bar_w + tick + pad / 2, Y, format_tick(t, bar_step),
                     {s, colors::kText, HAlign::kLeft, VAlign::kMiddle});
  }
  if (!map.colorbar_label.empty())
    canvas.draw_text(bx + bar_w + tick + pad / 2 + std::ceil(bar_label_w) + pad, a.y + a.h / 2.0, map.colorbar_label,
                     {s, colors::kText, HAlign::kLeft, VAlign::kMiddle, true});
  return a;
}

std::vector<Rect> grid_layout(Rect area, int count, int columns, int gap) {
  std::vector<Rect> cells;
  if (count <= 0) return cells;
  columns = std::clamp(columns, 1, count);
  const int rows = (count + columns - 1) / columns;
  const int w = std::max(1, (area.w - gap * (columns - 1)) / columns);
  const int h = std::max(1, (area.h - gap * (rows - 1)) / rows);
  for (int i = 0; i < count; ++i)
    cells.push_back({area.x + (i % columns) * (w + gap), area.y + (i / columns) * (h + gap), w, h});
  return cells;
}

int draw_figure_title(Canvas& canvas, const std::string& title, const std::string& subtitle) {
  const double cx = canvas.width() / 2.0;
  // The largest scale (from `scale` down to 1, in steps of 0.5) at which `text` fits the width.
  auto fitting = [&](const std::string& text, double scale) {
    while (scale > 1 && text_width(text, scale) > canvas.width() - 16) scale -= 0.5;
    return scale;
  };
  int y = 12;
  if (!title.empty()) {
    const double s = fitting(title, 3);
    canvas.draw_text(cx, y, title, {s, colors::kText, HAlign::kCenter, VAlign::kTop});
    y += static_cast<int>(std::ceil(text_height(title, s))) + 10;
  }
  if (!subtitle.empty()) {
    const double s = fitting(subtitle, 2);
    canvas.draw_text(cx, y, subtitle, {s, Rgb{90, 90, 90}, HAlign::kCenter, VAlign::kTop});
    y += static_cast<int>(std::ceil(text_height(subtitle, s))) + 10;
  }
  return y;
}

}  // namespace sightline
