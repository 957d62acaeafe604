// Fig. 8 in the explorer: the adapted set A over a grid of thresholds (eps x p_cos),
// recomputed live from the loaded feature table (the stored sweep of stage 2 is read by
// ui/store_loader.h into SweepTable). The live sweep counts, per cell, |A| and how many of
// stage 3's spatial candidates A keeps, with the explorer's own p_cos rule
// (CosineQuantiles::threshold_for), so that its cell at the current thresholds equals the
// Per-layer view's |A|. Pure logic.
#pragma once

#include <cstdint>
#include <vector>

#include "ui/adapted_set.h"
#include "ui/scatter_style.h"
#include "ui/snapshot.h"

namespace sightline::ui {

// The ring drawn around the current thresholds' cell on every sweep map.
inline constexpr Rgb8 kColorSweepMarker = {255, 255, 255};

// Stage 2's default grid (core/pipeline/stage_diff.cpp's sweep_eps and sweep_p_cos), used
// for the live sweep when the store holds no sweep.
std::vector<double> default_sweep_eps();
std::vector<double> default_sweep_p_cos();

// rows = eps.size(), cols = p_cos.size(); cell (r, c) at r * cols + c.
struct LiveSweep {
  std::vector<double> eps, p_cos;        // the grid, as given
  std::vector<double> cosine_threshold;  // per column: threshold_for(p_cos[c])
  std::vector<int64_t> adapted;          // |A(eps_r, p_c)|: E_v > eps and c_f <= threshold
  std::vector<int64_t> candidates_in;    // spatial candidates (kFlagSpatialCandidate) in that A
  int64_t candidates = 0;                // spatial candidates in the table
  int rows() const { return static_cast<int>(eps.size()); }
  int cols() const { return static_cast<int>(p_cos.size()); }
};

// Counts every cell in O(n log n + cells): features sorted by cosine enter the columns'
// sets as the threshold grows, and per-feature eps buckets give every row at once. The
// grids need not be sorted. `quantiles` must hold the table's cosines.
LiveSweep sweep_feature_table(const FeatureTable& table, const CosineQuantiles& quantiles,
                              const std::vector<double>& eps, const std::vector<double>& p_cos);

// Where `value` falls on a sweep axis in cell units (cell i spans [i, i + 1]): grid[i]
// maps to i + 0.5; between two grid values the position is interpolated (in log10 when
// both are > 0, as the eps grid is spaced). NaN when the grid is empty or not ascending, or
// the value lies outside [grid.front(), grid.back()].
double sweep_axis_position(const std::vector<double>& grid, double value);

}  // namespace sightline::ui
