// Synthetic explorer data for `sightline gui --synthetic N`, the tests and the benchmark:
// plausible Fig. 2 distributions (most decoders barely rotate and have little visual
// energy; a visually driven, strongly rotated cluster forms A), curves and heat maps
// shaped like the paper's figures. Deterministic in the seed; labelled "synthetic".
#pragma once

#include <cstdint>
#include <vector>

#include "core/common/progress.h"
#include "ui/snapshot.h"

namespace sightline::ui {

struct SyntheticOptions {
  size_t features = 32768;  // total over all layers (split evenly, the last layers get the rest)
  int layers = 32;
  uint64_t seed = 1;
};

// The feature table: flags mark A at the default thresholds (eps 1e-3, p_cos 25%), a few
// hundred spatial candidates (at most 2% of the high-E_v features), the candidates in A
// as spatial features, and up to 24 of those as analysed. Reports progress and honours
// cancel through `progress`.
FeatureTable make_synthetic_features(const SyntheticOptions& options, Progress& progress = null_progress());

// Fig. 1-like FVU-over-training curves per regime and Fig. 5-like cosine-per-layer curves.
std::vector<CurveSet> make_synthetic_curves(int layers, uint64_t seed);

// Fig. 13-like layer x head attribution maps for methods A and B (signed).
std::vector<HeatMap> make_synthetic_heat_maps(int layers, int heads, uint64_t seed);

}  // namespace sightline::ui
