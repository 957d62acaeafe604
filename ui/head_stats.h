// What the heads view derives from one feature's head scores besides the heat map: the
// per-layer curve (mean and max |score| over a head layer's heads, Fig. 13's margins) and
// Fig. 14's exact-vs-attributed pairs with their Spearman rank correlation. Pure logic.
#pragma once

#include <string>
#include <vector>

#include "core/store/records.h"
#include "ui/scatter_style.h"

namespace sightline::ui {

// Colours of the heads view's series (the screenshot tests look for them).
inline constexpr Rgb8 kColorMethodA = {255, 170, 40};   // method A vs exact: amber
inline constexpr Rgb8 kColorMethodB = {80, 220, 200};   // method B vs exact: teal
// The per-layer curve's two lines.
inline constexpr Rgb8 kColorLayerMax = {235, 90, 90};    // max |score|: red
inline constexpr Rgb8 kColorLayerMean = {120, 160, 255}; // mean |score|: blue

// Per head layer of `scores` (ascending head_layer; only layers with a finite score):
// mean |score| and max |score| over its heads.
struct HeadLayerCurve {
  std::vector<float> layer;
  std::vector<float> mean_abs;
  std::vector<float> max_abs;
  std::vector<int> heads;  // heads scored in the layer
};
HeadLayerCurve head_layer_curve(const std::vector<HeadScore>& scores);

// One point per head scored by both: x = exact patching effect, y = the method's score.
// Ordered by (head_layer, head); heads with a non-finite score on either side are left out.
struct HeadPairs {
  std::vector<float> exact, attributed;
  std::vector<int> head_layer, head;
  size_t size() const { return exact.size(); }
};
HeadPairs pair_with_exact(const std::vector<HeadScore>& exact, const std::vector<HeadScore>& method);

// "L3:H1": how the heads view names a head.
std::string head_name(int head_layer, int head);

// Spearman's rho of two equally long series: Pearson's r of their ranks, ties given their
// average rank. NaN with fewer than two points, when either series is constant, or when
// the lengths differ.
double spearman_rho(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace sightline::ui
