// Axis ticks: "nice" steps of 1, 2 or 5 x 10^k (Heckbert, "Nice numbers for graph
// labels", Graphics Gems 1990) and their labels. Pure logic, no ImGui.
#pragma once

#include <string>
#include <vector>

namespace sightline::plot {

struct Tick {
  double value = 0;   // in axis units (for a log10 axis: the exponent)
  std::string label;  // what is drawn next to the tick
};

// The smallest step of the form {1, 2, 5} x 10^k that puts at most `max_ticks` ticks
// (>= 2) on a span > 0. Returns 0 for a span that is not finite and > 0.
double nice_step(double span, int max_ticks);

// Multiples of nice_step(hi - lo, max_ticks) inside [lo, hi] (both ends inclusive, up to
// a rounding tolerance of 1e-9 steps), ascending; empty when lo >= hi or not finite.
std::vector<double> nice_ticks(double lo, double hi, int max_ticks);

// A label for `value` with just enough decimals to tell ticks `step` apart: 0.25 with
// step 0.05 -> "0.25"; 3 with step 1 -> "3"; very large or small magnitudes use "1e-05".
std::string format_tick(double value, double step);

// Ticks of a linear axis with labels.
std::vector<Tick> linear_ticks(double lo, double hi, int max_ticks);

// Ticks of an axis whose coordinates are log10 of the shown quantity (the scatter's
// y = log10 E_v). Spans of >= 2 decades get integer exponents labelled "1e-3"; shorter
// spans get nice steps in exponent space labelled with the value 10^y ("0.0025").
std::vector<Tick> log10_ticks(double lo, double hi, int max_ticks);

}  // namespace sightline::plot
