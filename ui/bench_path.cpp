#include "ui/bench_path.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace sightline::ui {

namespace {

constexpr double kTwoPi = 6.283185307179586;

// The full view scaled by 1/zoom about (cx, cy).
plot::ViewRect zoomed(const plot::ViewRect& full, double cx, double cy, double zoom) {
  const double hx = full.x.span() / zoom / 2, hy = full.y.span() / zoom / 2;
  return {{cx - hx, cx + hx}, {cy - hy, cy + hy}};
}

}  // namespace

plot::ViewRect bench_camera(const plot::ViewRect& full, double focus_x, double focus_y, int frame, int frames,
                            double zoom) {
  frames = std::max(frames, 4);
  const int phase_length = frames / 4;
  const int phase = std::min(frame / phase_length, 3);
  const double t = static_cast<double>(frame - phase * phase_length) / phase_length;  // [0, 1)
  const double full_cx = (full.x.min + full.x.max) / 2, full_cy = (full.y.min + full.y.max) / 2;
  switch (phase) {
    case 0: {  // pan zoomed out: a circle of 10% of the spans
      const double a = kTwoPi * t;
      return zoomed(full, full_cx + 0.1 * full.x.span() * std::sin(a), full_cy + 0.1 * full.y.span() * std::sin(2 * a),
                    1.0);
    }
    case 1: {  // zoom in toward the focus
      const double z = std::pow(zoom, t);
      return zoomed(full, full_cx + (focus_x - full_cx) * t, full_cy + (focus_y - full_cy) * t, z);
    }
    case 2: {  // pan zoomed in: a circle of one zoomed span around the focus
      const double a = kTwoPi * t;
      return zoomed(full, focus_x + full.x.span() / zoom * std::sin(a), focus_y + full.y.span() / zoom * std::cos(a) -
                                                                            full.y.span() / zoom,
                    zoom);
    }
    default: {  // zoom back out
      const double z = std::pow(zoom, 1 - t);
      return zoomed(full, focus_x + (full_cx - focus_x) * t, focus_y + (full_cy - focus_y) * t, z);
    }
  }
}

Percentiles percentiles(std::vector<double> samples) {
  Percentiles p;
  p.count = samples.size();
  if (samples.empty()) return p;
  std::sort(samples.begin(), samples.end());
  auto rank = [&](double q) {
    const size_t k = static_cast<size_t>(std::ceil(q * static_cast<double>(samples.size())));
    return samples[std::clamp<size_t>(k, 1, samples.size()) - 1];
  };
  p.p50 = rank(0.50);
  p.p90 = rank(0.90);
  p.p99 = rank(0.99);
  p.max = samples.back();
  p.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
  return p;
}

}  // namespace sightline::ui
