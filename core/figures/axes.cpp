#include "core/figures/axes.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <utility>

namespace sightline {

namespace {

// "2.50e-04" -> "2.5e-4", "1.0e+05" -> "1e5".
std::string clean_scientific(const std::string& s) {
  const size_t e = s.find('e');
  if (e == std::string::npos) return s;
  std::string mantissa = s.substr(0, e);
  if (mantissa.find('.') != std::string::npos) {
    while (!mantissa.empty() && mantissa.back() == '0') mantissa.pop_back();
    if (!mantissa.empty() && mantissa.back() == '.') mantissa.pop_back();
  }
  std::string exponent = s.substr(e + 1);
  bool negative = false;
  if (!exponent.empty() && (exponent[0] == '+' || exponent[0] == '-')) {
    negative = exponent[0] == '-';
    exponent.erase(0, 1);
  }
  while (exponent.size() > 1 && exponent[0] == '0') exponent.erase(0, 1);
  return mantissa + "e" + (negative ? "-" : "") + exponent;
}

// The SI suffix for |v| >= 1e4 (k below 1e6, then M, G, T) and its divisor.
std::pair<const char*, double> si_suffix(double av) {
  if (av >= 1e12) return {"T", 1e12};
  if (av >= 1e9) return {"G", 1e9};
  if (av >= 1e6) return {"M", 1e6};
  return {"k", 1e3};
}

// Positive v in `digits` significant digits (more where the integer part needs them):
// scientific below `small`, plain up to `large`, then k/M/G/T.
std::string compact_positive(double v, int digits, double small, double large) {
  if (v < small) return clean_scientific(fmt::format("{:.{}e}", v, digits - 1));
  if (v < large) return fmt::format("{:.{}g}", v, std::max(digits, 4));
  const auto [suffix, divisor] = v >= 1e4 ? si_suffix(v) : std::pair<const char*, double>{"k", 1e3};
  return fmt::format("{:.{}g}{}", v / divisor, std::max(digits, 3), suffix);
}

}  // namespace

double Axis::fraction(double v) const {
  if (!std::isfinite(v)) return std::nan("");
  if (scale == Scale::kLog) {
    if (!(v > 0) || !(lo > 0) || !(hi > 0)) return std::nan("");
    const double a = std::log10(lo), b = std::log10(hi);
    return b != a ? (std::log10(v) - a) / (b - a) : 0.5;
  }
  return hi != lo ? (v - lo) / (hi - lo) : 0.5;
}

double nice_step(double span, int max_ticks, bool integer) {
  if (!(span > 0) || !std::isfinite(span)) return 1;
  const double raw = span / std::max(1, max_ticks - 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * magnitude;
  for (double m : {1.0, 2.0, 5.0}) {
    if (m * magnitude >= raw * (1 - 1e-9)) {
      step = m * magnitude;
      break;
    }
  }
  return integer ? std::max(1.0, std::round(step)) : step;
}

std::vector<double> nice_ticks(double lo, double hi, int max_ticks, bool integer) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {};
  if (lo > hi) std::swap(lo, hi);
  if (lo == hi) return {lo};
  const double step = nice_step(hi - lo, max_ticks, integer);
  const double k0 = std::ceil(lo / step - 1e-9), k1 = std::floor(hi / step + 1e-9);
  std::vector<double> ticks;
  for (double k = k0; k <= k1 && ticks.size() < 1000; k += 1) {
    const double v = k * step;
    ticks.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  }
  return ticks;
}

std::vector<double> log_ticks(double lo, double hi, int max_ticks) {
  if (!(lo > 0) || !std::isfinite(hi) || hi < lo) return {};
  const int e0 = static_cast<int>(std::ceil(std::log10(lo) - 1e-9));
  const int e1 = static_cast<int>(std::floor(std::log10(hi) + 1e-9));
  std::vector<double> ticks;
  if (e1 - e0 + 1 >= 3) {
    const int every = std::max(1, static_cast<int>(std::ceil((e1 - e0 + 1) / static_cast<double>(std::max(1, max_ticks)))));
    for (int e = e0; e <= e1; ++e)
      if (((e % every) + every) % every == 0) ticks.push_back(std::pow(10.0, e));
    return ticks;
  }
  const int f0 = static_cast<int>(std::floor(std::log10(lo))), f1 = static_cast<int>(std::ceil(std::log10(hi)));
  for (int e = f0; e <= f1; ++e)
    for (double m : {1.0, 2.0, 5.0}) {
      const double v = m * std::pow(10.0, e);
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push_back(v);
    }
  if (ticks.size() >= 3) return ticks;
  ticks.clear();
  for (double v : nice_ticks(lo, hi, 5))
    if (v > 0) ticks.push_back(v);
  return ticks;
}

std::vector<double> axis_ticks(const Axis& axis, int max_ticks) {
  if (!axis.categories.empty()) {
    std::vector<double> ticks;
    for (size_t i = 0; i < axis.categories.size(); ++i) ticks.push_back(static_cast<double>(i));
    return ticks;
  }
  if (axis.scale == Scale::kLog) return log_ticks(axis.lo, axis.hi, max_ticks);
  return nice_ticks(axis.lo, axis.hi, max_ticks, axis.integer);
}

std::string format_tick(double value, double step) {
  if (!std::isfinite(value)) return fmt::format("{}", value);
  step = std::abs(step);
  if (!(step > 0) || !std::isfinite(step)) step = std::abs(value) > 0 ? std::abs(value) : 1;
  if (std::abs(value) < step * 1e-9) return "0";
  const double av = std::abs(value);
  if (step >= 1000 && av >= 1000) {
    const auto [suffix, divisor] = av >= 1e4 ? si_suffix(av) : std::pair<const char*, double>{"k", 1e3};
    const int decimals = std::clamp(static_cast<int>(std::ceil(-std::log10(step / divisor) - 1e-9)), 0, 3);
    return fmt::format("{:.{}f}{}", value / divisor, decimals, suffix);
  }
  if (step < 1e-3) {
    const int exponent = static_cast<int>(std::floor(std::log10(av)));
    const int decimals = std::clamp(exponent - static_cast<int>(std::floor(std::log10(step) + 1e-9)), 0, 6);
    return clean_scientific(fmt::format("{:.{}e}", value, decimals));
  }
  const int decimals = std::clamp(static_cast<int>(std::ceil(-std::log10(step) - 1e-9)), 0, 6);
  return fmt::format("{:.{}f}", value, decimals);
}

std::string format_log_tick(double value) {
  if (!(value > 0) || !std::isfinite(value)) return fmt::format("{}", value);
  return compact_positive(value, 2, 0.1, 1e3);
}

std::string format_value(double value) {
  if (std::isnan(value)) return "-";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  if (value == std::round(value) && std::abs(value) < 1e6) return fmt::format("{:.0f}", value);
  const std::string body = compact_positive(std::abs(value), 3, 0.01, 1e4);
  return value < 0 ? "-" + body : body;
}

Axis fit_axis(const std::vector<double>& values, Scale scale, double pad, bool include_zero) {
  Axis axis;
  axis.scale = scale;
  const bool log = scale == Scale::kLog;
  double lo = INFINITY, hi = -INFINITY;
  for (double v : values) {
    if (!std::isfinite(v) || (log && !(v > 0))) continue;
    const double t = log ? std::log10(v) : v;
    lo = std::min(lo, t);
    hi = std::max(hi, t);
  }
  if (!(lo <= hi)) {  // no data
    lo = 0;
    hi = 1;
  } else {
    if (include_zero && !log) {
      lo = std::min(lo, 0.0);
      hi = std::max(hi, 0.0);
    }
    if (hi == lo) {
      const double widen = log ? 0.5 : (lo != 0 ? std::abs(lo) * 0.1 : 1.0);
      lo -= widen;
      hi += widen;
    }
    const double margin = (hi - lo) * std::max(0.0, pad);
    lo -= margin;
    hi += margin;
  }
  axis.lo = log ? std::pow(10.0, lo) : lo;
  axis.hi = log ? std::pow(10.0, hi) : hi;
  return axis;
}

// ---------------------------------------------------------------------------------------
// Plot
// ---------------------------------------------------------------------------------------

namespace {

std::vector<std::string> tick_labels(const Axis& axis, const std::vector<double>& ticks) {
  std::vector<std::string> labels;
  if (!axis.categories.empty()) {
    for (double t : ticks) labels.push_back(axis.categories[static_cast<size_t>(t)]);
    return labels;
  }
  const double step = ticks.size() >= 2 ? ticks[1] - ticks[0] : nice_step(axis.hi - axis.lo, 6, axis.integer);
  for (double t : ticks) labels.push_back(axis.scale == Scale::kLog ? format_log_tick(t) : format_tick(t, step));
  return labels;
}

}  // namespace

Plot::Plot(Canvas& canvas, Rect outer, Axis x, Axis y, std::string title, double text_scale, int right_margin)
    : canvas_(canvas), x_(std::move(x)), y_(std::move(y)), title_(std::move(title)), text_scale_(text_scale),
      outer_(outer) {
  for (Axis* a : {&x_, &y_})
    if (!a->categories.empty()) {
      a->lo = -0.5;
      a->hi = static_cast<double>(a->categories.size()) - 0.5;
      a->scale = Scale::kLinear;
    }
  const double s = text_scale_;
  const int th = static_cast<int>(std::lround(7 * s));
  const int pad = static_cast<int>(std::lround(3 * s));
  const int tick = static_cast<int>(std::lround(2.5 * s));
  // Tick density from the space available: ~45 px per y tick, ~70 px per x tick (labels
  // that would touch are skipped when drawn).
  y_ticks_ = axis_ticks(y_, std::clamp(outer.h / 45, 3, 8));
  x_ticks_ = axis_ticks(x_, std::clamp(outer.w / 70, 3, 8));
  y_labels_ = tick_labels(y_, y_ticks_);
  x_labels_ = tick_labels(x_, x_ticks_);
  double y_label_w = 0, last_x_w = 0;
  for (const auto& l : y_labels_) y_label_w = std::max(y_label_w, text_width(l, s));
  if (!x_labels_.empty()) last_x_w = text_width(x_labels_.back(), s);

  // The y label's column: capitals (th) plus descenders ('_', 'p': 2 more units), a gap.
  const int y_label_column = y_.label.empty() ? 0 : th + static_cast<int>(std::lround(2 * s)) + 2 * pad;
  const int left = pad + y_label_column + static_cast<int>(std::ceil(y_label_w)) + pad + tick;
  const int bottom = tick + pad / 2 + th + (x_.label.empty() ? 0 : pad + th) + pad;
  const int top = title_.empty() ? std::max(pad, th / 2 + 2) : th + 2 * pad;
  const int right = std::max(pad, static_cast<int>(std::ceil(last_x_w / 2)) + 2) + std::max(0, right_margin);
  area_ = {outer.x + left, outer.y + top, std::max(8, outer.w - left - right), std::max(8, outer.h - top - bottom)};
}

double Plot::px(double x) const {
  return area_.x + x_.fraction(x) * (area_.w - 1);
}

double Plot::py(double y) const {
  return area_.y + (1 - y_.fraction(y)) * (area_.h - 1);
}

void Plot::draw_grid() {
  canvas_.fill_rect(area_.x, area_.y, area_.w, area_.h, colors::kWhite);
  if (x_.categories.empty())
    for (double t : x_ticks_) {
      const int X = static_cast<int>(std::lround(px(t)));
      if (X > area_.x && X < area_.x + area_.w - 1) canvas_.fill_rect(X, area_.y, 1, area_.h, colors::kGrid);
    }
  if (y_.categories.empty())
    for (double t : y_ticks_) {
      const int Y = static_cast<int>(std::lround(py(t)));
      if (Y > area_.y && Y < area_.y + area_.h - 1) canvas_.fill_rect(area_.x, Y, area_.w, 1, colors::kGrid);
    }
}

void Plot::draw_frame() {
  unclip();
  const double s = text_scale_;
  const int th = static_cast<int>(std::lround(7 * s));
  const int pad = static_cast<int>(std::lround(3 * s));
  const int tick = static_cast<int>(std::lround(2.5 * s));
  const int bottom = area_.y + area_.h - 1;
  canvas_.stroke_rect(area_.x, area_.y, area_.w, area_.h, colors::kAxis);

  // Tick labels left to right (bottom to top), each drawn only when it keeps a gap to the
  // last one drawn: log ticks are unevenly spaced, so a fixed "every k-th" would not do.
  double last_right = -INFINITY;
  for (size_t i = 0; i < x_ticks_.size(); ++i) {
    const double X = std::round(px(x_ticks_[i]));
    if (!std::isfinite(X)) continue;
    canvas_.fill_rect(static_cast<int>(X), bottom + 1, 1, tick, colors::kAxis);
    const double w = text_width(x_labels_[i], s);
    if (X - w / 2 < last_right + pad) continue;
    canvas_.draw_text(X, bottom + 1 + tick + pad / 2, x_labels_[i], {s, colors::kText, HAlign::kCenter, VAlign::kTop});
    last_right = X + w / 2;
  }
  // Y labels bottom-up; top-down on a categorical axis, so that a heat map's first row
  // (drawn at the top) keeps its label.
  std::vector<size_t> order(y_ticks_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = y_.categories.empty() ? i : order.size() - 1 - i;
  double last_y = NAN;
  for (size_t i : order) {
    const double Y = std::round(py(y_ticks_[i]));
    if (!std::isfinite(Y)) continue;
    canvas_.fill_rect(area_.x - tick, static_cast<int>(Y), tick, 1, colors::kAxis);
    if (std::isfinite(last_y) && std::abs(Y - last_y) < th + pad / 2.0) continue;
    canvas_.draw_text(area_.x - tick - pad, Y, y_labels_[i], {s, colors::kText, HAlign::kRight, VAlign::kMiddle});
    last_y = Y;
  }
  const double cx = area_.x + area_.w / 2.0, cy = area_.y + area_.h / 2.0;
  if (!x_.label.empty())
    canvas_.draw_text(cx, bottom + 1 + tick + pad / 2 + th + pad, x_.label, {s, colors::kText, HAlign::kCenter, VAlign::kTop});
  if (!y_.label.empty())
    canvas_.draw_text(outer_.x + pad, cy, y_.label, {s, colors::kText, HAlign::kLeft, VAlign::kMiddle, true});
  if (!title_.empty())
    canvas_.draw_text(cx, outer_.y + pad, title_, {s, colors::kText, HAlign::kCenter, VAlign::kTop});
}

void Plot::clip_to_area() { canvas_.set_clip(area_.x, area_.y, area_.w, area_.h); }

void Plot::unclip() { canvas_.reset_clip(); }

void draw_legend(Canvas& canvas, const Rect& area, const std::vector<LegendEntry>& entries, LegendPosition position,
                 double text_scale) {
  if (position == LegendPosition::kNone || entries.empty()) return;
  const double s = text_scale;
  const int pad = static_cast<int>(std::lround(3 * s));
  const int row = static_cast<int>(std::lround(7 * s)) + pad;
  const int swatch = static_cast<int>(std::lround(11 * s));
  double label_w = 0;
  for (const auto& e : entries) label_w = std::max(label_w, text_width(e.label, s));
  const int w = pad + swatch + pad + static_cast<int>(std::ceil(label_w)) + pad;
  const int h = pad + row * static_cast<int>(entries.size());
  const int inset = 8;
  auto corner = [&](LegendPosition p) {
    const bool right = p == LegendPosition::kTopRight || p == LegendPosition::kBottomRight;
    const bool top = p == LegendPosition::kTopRight || p == LegendPosition::kTopLeft;
    return std::pair<int, int>{right ? area.x + area.w - inset - w : area.x + inset,
                               top ? area.y + inset : area.y + area.h - inset - h};
  };
  std::pair<int, int> origin = corner(position);
  if (position == LegendPosition::kBest) {
    // Of the four corners, then the middles of the four sides, the box that covers the least
    // drawn ink (pixels neither background nor grid); coloured pixels weigh up to 5x more
    // than grey ones, so a legend rather hides grey context than highlighted data.
    std::vector<std::pair<int, int>> candidates;
    for (LegendPosition p : {LegendPosition::kTopRight, LegendPosition::kTopLeft, LegendPosition::kBottomRight,
                             LegendPosition::kBottomLeft})
      candidates.push_back(corner(p));
    const int mid_x = area.x + (area.w - w) / 2, mid_y = area.y + (area.h - h) / 2;
    candidates.push_back({area.x + area.w - inset - w, mid_y});
    candidates.push_back({area.x + inset, mid_y});
    candidates.push_back({mid_x, area.y + inset});
    candidates.push_back({mid_x, area.y + area.h - inset - h});
    double fewest = INFINITY;
    for (const auto& [cx, cy] : candidates) {
      double ink = 0;
      for (int j = std::max(cy, 0); j < std::min(cy + h, canvas.height()); ++j)
        for (int i = std::max(cx, 0); i < std::min(cx + w, canvas.width()); ++i) {
          const Rgb c = canvas.pixel(i, j);
          if (c == colors::kWhite || c == colors::kGrid) continue;
          const int chroma = std::max({c.r, c.g, c.b}) - std::min({c.r, c.g, c.b});
          ink += 1 + 4.0 * chroma / 255;
        }
      if (ink < fewest) {
        fewest = ink;
        origin = {cx, cy};
      }
    }
  }
  const auto [x, y] = origin;
  canvas.fill_rect_aa(x - 0.5, y - 0.5, x + w - 0.5, y + h - 0.5, colors::kWhite, 0.88);
  canvas.stroke_rect(x, y, w, h, Rgb{200, 200, 200});
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    const double cy = y + pad + row * static_cast<double>(i) + (row - pad) / 2.0;
    const double sx0 = x + pad, sx1 = x + pad + swatch;
    const double r = std::max(2.5, 2 * s);
    switch (e.kind) {
      case LegendEntry::Kind::kLine:
        canvas.draw_line(sx0, cy, sx1, cy, e.color, std::max(1.5, s));
        if (e.with_marker) canvas.draw_marker((sx0 + sx1) / 2, cy, e.marker, r, e.color);
        break;
      case LegendEntry::Kind::kMarker:
        canvas.draw_marker((sx0 + sx1) / 2, cy, e.marker, r, e.color);
        break;
      case LegendEntry::Kind::kBox:
        canvas.fill_rect_aa((sx0 + sx1) / 2 - 2.5 * s, cy - 2.5 * s, (sx0 + sx1) / 2 + 2.5 * s, cy + 2.5 * s, e.color);
        break;
    }
    canvas.draw_text(sx1 + pad, cy, e.label, {s, colors::kText, HAlign::kLeft, VAlign::kMiddle});
  }
}

}  // namespace sightline
