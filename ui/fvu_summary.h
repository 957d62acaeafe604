// The summary table beside the FVU curves (Fig. 1 / 6): the final held-out FVU of every
// layer and regime, read from the curve sets that carry CurveSet::fvu_layer. Pure logic.
#pragma once

#include <string>
#include <vector>

#include "ui/snapshot.h"

namespace sightline::ui {

struct FvuSummary {
  std::vector<int> layers;            // ascending
  std::vector<std::string> regimes;   // sorted by name
  // layers x regimes, row-major: the FVU (not its log) at the curve's last finite point;
  // NaN where the layer has no curve for the regime.
  std::vector<double> final_fvu;
  std::vector<double> final_x;        // the x (training positions) of that point
  bool empty() const { return layers.empty(); }
  double at(size_t layer_row, size_t regime_col) const { return final_fvu[layer_row * regimes.size() + regime_col]; }
};

// One row per distinct fvu_layer; a set with log_y holds log10 FVU and is converted back.
// When two sets name the same layer, the later one's curves win.
FvuSummary fvu_summary(const std::vector<CurveSet>& sets);

}  // namespace sightline::ui
