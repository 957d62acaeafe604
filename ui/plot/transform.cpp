#include "ui/plot/transform.h"

#include <algorithm>
#include <cmath>

namespace sightline::plot {

namespace {

Range scale_range(Range r, double centre, double factor, double min_span) {
  if (r.span() * factor < min_span) factor = min_span / r.span();
  return {centre + (r.min - centre) * factor, centre + (r.max - centre) * factor};
}

Range padded(Range r, double pad) {
  if (!std::isfinite(r.min) || !std::isfinite(r.max)) return {0, 1};
  if (r.max < r.min) std::swap(r.min, r.max);
  if (r.span() <= 0) return {r.min - 0.5, r.max + 0.5};
  const double extra = r.span() * pad;
  return {r.min - extra, r.max + extra};
}

}  // namespace

ViewRect zoom_about(const ViewRect& view, double cx, double cy, double factor_x, double factor_y,
                    double min_span) {
  return {scale_range(view.x, cx, factor_x, min_span), scale_range(view.y, cy, factor_y, min_span)};
}

ViewRect pan_by_pixels(const ViewRect& view, const Transform& t, double dx, double dy) {
  const double ddx = -dx / t.scale_x();
  const double ddy = dy / t.scale_y();  // screen y grows downwards
  return {{view.x.min + ddx, view.x.max + ddx}, {view.y.min + ddy, view.y.max + ddy}};
}

ViewRect fit_view(Range x, Range y, double pad) { return {padded(x, pad), padded(y, pad)}; }

ViewRect lerp_view(const ViewRect& a, const ViewRect& b, double t) {
  auto mix = [t](double p, double q) { return p + (q - p) * t; };
  return {{mix(a.x.min, b.x.min), mix(a.x.max, b.x.max)}, {mix(a.y.min, b.y.min), mix(a.y.max, b.y.max)}};
}

}  // namespace sightline::plot
