// The adapted set A of stage 2 (METHOD.md): E_v > eps and c_f in the bottom p_cos of all
// layers' decoder cosines. The explorer recomputes it live while the user drags the
// thresholds: the cosines are sorted once, so p_cos -> cosine threshold is an index and
// recounting A per layer is one O(n) pass. Pure logic.
#pragma once

#include <cstdint>
#include <vector>

#include "ui/snapshot.h"

namespace sightline::ui {

struct Thresholds {
  double eps = 1e-3;   // E_v must exceed this
  double p_cos = 0.25; // fraction of all features (bottom cosines) eligible, in [0, 1]
};

inline bool is_adapted(float visual_energy, float cosine, double eps, double cosine_threshold) {
  return visual_energy > eps && cosine <= cosine_threshold;
}

// Sorted decoder cosines of every feature of every layer.
class CosineQuantiles {
 public:
  void build(const std::vector<float>& cosines);
  size_t size() const { return sorted_.size(); }

  // The cosine threshold of the bottom fraction p: the k-th smallest cosine with
  // k = ceil(p * n), so exactly k features have c <= threshold when cosines are distinct.
  // p <= 0 (or no data) gives -infinity: nothing is selected.
  double threshold_for(double p) const;
  // The fraction of features with c <= cosine (the inverse of threshold_for).
  double fraction_at_or_below(double cosine) const;
  const std::vector<float>& sorted() const { return sorted_; }

 private:
  std::vector<float> sorted_;
};

// Per-layer counts of A (Fig. 7).
struct LayerCounts {
  std::vector<int64_t> adapted;             // |A| per layer
  std::vector<int64_t> total;               // features per layer
  std::vector<double> mean_cosine;          // mean c_f over all of the layer's features
  std::vector<double> mean_cosine_adapted;  // mean c_f over the layer's features in A (0 if none)
  int64_t adapted_total = 0;
};

// One pass over the table.
LayerCounts count_adapted(const FeatureTable& table, double eps, double cosine_threshold);

}  // namespace sightline::ui
