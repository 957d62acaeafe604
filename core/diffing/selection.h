// Stage 2 of METHOD.md (paper 4.2): decoder cosine between a base and an adapted SAE,
// the adapted set A (E_v > eps and c_f in the bottom p_cos of ALL layers' cosines), the
// threshold sweep of Appx. A.4 / Fig. 8 and the per-layer statistics of Fig. 7. Pure
// arithmetic on per-feature vectors: no model, no store.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sightline {

class Sae;

// c_f = cos(W_dec_base[:, f], W_dec_adapted[:, f]) for every feature, computed in float64.
// A zero column on either side gives 0 (no direction is aligned with nothing). Throws
// naming `what` when the shapes differ.
std::vector<double> decoder_cosine(const at::Tensor& w_dec_base, const at::Tensor& w_dec_adapted,
                                   const std::string& what);
// Same, from two SAEs (their W_dec [D, F]).
std::vector<double> decoder_cosine(const Sae& base, const Sae& adapted);

// Mean of the finite values (NaN when there are none).
double finite_mean(const std::vector<double>& values);

// The q-quantile (q in [0, 1]) of the finite values, linearly interpolated between order
// statistics as numpy.percentile's default: position q * (n - 1) of the sorted values.
// Throws when there is no finite value or q is outside [0, 1].
double quantile(std::vector<double> values, double q);

// Pearson correlation of two equally long series; NaN when either has zero variance or
// fewer than two points. Throws when the lengths differ.
double pearson(const std::vector<double>& x, const std::vector<double>& y);

// One layer's per-feature scores (same length F).
struct LayerFeatureScores {
  int layer = 0;
  std::vector<double> visual_energy;   // E_v(f); NaN = not measured (never selected)
  std::vector<double> decoder_cosine;  // c_f;    NaN = not measured (never selected)
};

struct SelectionThresholds {
  double eps = 1e-3;   // E_v must be strictly above this
  double p_cos = 0.25; // fraction of all features (all layers pooled) with the lowest c_f
};

// A selection over several layers: selected[i][f] for layers[i] of the scores it came from.
struct FeatureSelection {
  double cosine_threshold = 0;              // the global p_cos quantile of c_f
  std::vector<int> layers;                  // as in the scores, same order
  std::vector<std::vector<uint8_t>> selected;  // per layer, per feature: 1 = in the set
  std::vector<int64_t> layer_counts;        // selected features per layer
  int64_t count = 0;                        // total selected
};

// A = {f : E_v(f) > eps and c_f <= Q(p_cos)}, Q the quantile() of every layer's c_f
// together (so layers compete for the rotated share). Throws on mismatched vector
// lengths (naming the layer) or p_cos outside [0, 1].
FeatureSelection select_adapted(const std::vector<LayerFeatureScores>& scores, const SelectionThresholds& thresholds);

// |a ∩ b| / |a ∪ b| over the same layers and features; 1 when both are empty. Throws when
// the two selections do not cover the same layers and feature counts.
double jaccard(const FeatureSelection& a, const FeatureSelection& b);

// One cell of the sweep grid (Fig. 8).
struct SweepPoint {
  double eps = 0;
  double p_cos = 0;
  double cosine_threshold = 0;
  int64_t count = 0;               // features selected with these thresholds
  double jaccard = 0;              // overlap with the reference set A
  double layer_correlation = 0;    // Pearson r of per-layer counts with A's (NaN: no variance)
};

// select_adapted for every (eps, p_cos) pair, eps-major, compared with `reference`.
// The cosines are sorted once, so a grid costs one pass over the features per cell.
std::vector<SweepPoint> threshold_sweep(const std::vector<LayerFeatureScores>& scores,
                                        const FeatureSelection& reference, const std::vector<double>& eps_grid,
                                        const std::vector<double>& p_cos_grid);

// Per-layer statistics of a selection (Fig. 7).
struct LayerSelectionStats {
  int layer = 0;
  int64_t features = 0;
  int64_t selected = 0;
  int64_t active = 0;                // features with E_v > 0
  double mean_cosine_all = 0;        // mean c_f over the layer's features
  double mean_cosine_selected = 0;   // mean c_f over its selected features (NaN: none)
  double mean_visual_energy = 0;     // mean E_v over the layer's features
};

std::vector<LayerSelectionStats> layer_selection_stats(const std::vector<LayerFeatureScores>& scores,
                                                       const FeatureSelection& selection);

}  // namespace sightline
