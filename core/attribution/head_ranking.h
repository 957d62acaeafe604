// Summaries of [layers x heads] attribution maps (METHOD.md "Stage 4"; paper Fig. 13-17):
// per-layer curves, top and bottom heads, the overlap of two methods' top heads, heads
// recurring across features, and Spearman rank correlation.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sightline {

struct HeadId {
  int layer = 0;
  int head = 0;
  bool operator==(const HeadId& o) const { return layer == o.layer && head == o.head; }
  bool operator<(const HeadId& o) const { return layer != o.layer ? layer < o.layer : head < o.head; }
};

// "L13H1".
std::string to_string(const HeadId& head);

// How heads are ranked: by |score| (default: a head that drives a feature scores negative
// under Method A and positive under Method B) or by the signed score.
enum class RankBy { kAbsolute, kSigned };

// One head of a ranking (the store keeps its own HeadScore record per method).
struct RankedHead {
  HeadId head;
  double score = 0.0;  // the map's value (signed)
};

// Sum over heads of a [layers, heads] map: one value per layer.
std::vector<double> layer_curve(const at::Tensor& map);
// The k heads with the largest key (|score| or score), largest first; ties broken by
// (layer, head). k is clamped to the number of heads.
std::vector<RankedHead> top_heads(const at::Tensor& map, int64_t k, RankBy by = RankBy::kAbsolute);
// The k heads with the smallest key, smallest first (the paper's control heads).
std::vector<RankedHead> bottom_heads(const at::Tensor& map, int64_t k, RankBy by = RankBy::kAbsolute);

struct TopKOverlap {
  int64_t shared = 0;     // heads in both top-k sets
  double fraction = 0.0;  // shared / k
  double jaccard = 0.0;   // shared / |union|
};
// Overlap of the top-k heads of two maps of the same shape (Method A vs B).
TopKOverlap top_k_overlap(const at::Tensor& a, const at::Tensor& b, int64_t k, RankBy by = RankBy::kAbsolute);

struct RecurringHead {
  HeadId head;
  int64_t count = 0;              // features whose top-k holds the head
  std::vector<int64_t> features;  // their indices into the map list
  double mean_score = 0.0;        // mean signed score over those features
};
// Heads in the top-k of at least `min_features` of `maps` (one map per feature; maps may
// have different numbers of layers), most frequent first, then by mean |score|.
std::vector<RecurringHead> recurring_heads(const std::vector<at::Tensor>& maps, int64_t k, int64_t min_features,
                                           RankBy by = RankBy::kAbsolute);

// Spearman rank correlation of two same-shaped tensors (flattened; tied values get their
// mean rank). NaN when either is constant or they have fewer than 2 elements.
double spearman(const at::Tensor& a, const at::Tensor& b);

}  // namespace sightline
