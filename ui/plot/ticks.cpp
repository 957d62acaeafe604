#include "ui/plot/ticks.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace sightline::plot {

double nice_step(double span, int max_ticks) {
  if (!std::isfinite(span) || span <= 0) return 0;
  max_ticks = std::max(2, max_ticks);
  // n ticks cover (n - 1) steps.
  const double raw = span / static_cast<double>(max_ticks - 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * magnitude >= raw * (1 - 1e-12)) return m * magnitude;
  }
  return 10 * magnitude;
}

namespace {

// Multiples of `step` inside [lo, hi].
std::vector<double> multiples_of(double lo, double hi, double step) {
  std::vector<double> ticks;
  if (step <= 0) return ticks;
  const double first = std::ceil(lo / step - 1e-9);
  const double last = std::floor(hi / step + 1e-9);
  for (double k = first; k <= last; k += 1) {
    double v = k * step;
    if (std::fabs(v) < step * 1e-9) v = 0;  // no "-0"
    ticks.push_back(v);
  }
  return ticks;
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int max_ticks) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo >= hi) return {};
  return multiples_of(lo, hi, nice_step(hi - lo, max_ticks));
}

std::string format_tick(double value, double step) {
  char buffer[64];
  const double magnitude = std::max(std::fabs(value), step);
  if (magnitude >= 1e6 || (step > 0 && step < 1e-4)) {
    std::snprintf(buffer, sizeof(buffer), "%.3g", value);
    return buffer;
  }
  int decimals = 0;
  if (step > 0 && step < 1) decimals = static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  std::snprintf(buffer, sizeof(buffer), "%.*f", std::clamp(decimals, 0, 12), value);
  return buffer;
}

std::vector<Tick> linear_ticks(double lo, double hi, int max_ticks) {
  std::vector<Tick> out;
  const double step = nice_step(hi - lo, max_ticks);
  for (double v : nice_ticks(lo, hi, max_ticks)) out.push_back({v, format_tick(v, step)});
  return out;
}

std::vector<Tick> log10_ticks(double lo, double hi, int max_ticks) {
  std::vector<Tick> out;
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo >= hi) return out;
  char buffer[64];
  if (hi - lo >= 2) {
    // Integer exponents only: steps of 1, 2, 5, 10 decades.
    const double step = std::max(1.0, nice_step(hi - lo, max_ticks));
    for (double v : multiples_of(lo, hi, step)) {
      std::snprintf(buffer, sizeof(buffer), "1e%d", static_cast<int>(std::lround(v)));
      out.push_back({v, buffer});
    }
    return out;
  }
  for (double v : nice_ticks(lo, hi, max_ticks)) {
    std::snprintf(buffer, sizeof(buffer), "%.3g", std::pow(10.0, v));
    out.push_back({v, buffer});
  }
  return out;
}

}  // namespace sightline::plot
