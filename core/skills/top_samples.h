// Top-activating samples per feature (paper 5.1, Fig. 3; A.8): for each kept feature the
// k items of a dataset with the largest activation, with the activation at every token of
// the prompt and at every image patch (for a patch-grid heat map), and the merge of the
// lists of several datasets (VQA and VSR) into one ranked, de-duplicated list per feature.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/skills/code_stream.h"
#include "core/store/records.h"

namespace sightline {

struct ScoredItem {
  int64_t item = 0;
  double score = 0;
};

// The k best items per column of streamed [count, C] score blocks. Deterministic: score
// descending, ties by item ascending; items scoring <= 0 (the feature never fired there)
// are never kept.
class TopItemTracker {
 public:
  // Throws when columns < 0 or k < 1.
  TopItemTracker(int64_t columns, int64_t k);
  // scores [count, C] (CPU, float) of items first .. first + count - 1.
  void add(int64_t first, const at::Tensor& scores);
  // Column c's best items, best first (at most k).
  const std::vector<ScoredItem>& top(int64_t column) const;
  int64_t columns() const { return static_cast<int64_t>(best_.size()); }

 private:
  int64_t k_;
  std::vector<std::vector<ScoredItem>> best_;  // per column, sorted best first
};

// One sample's activations of one feature as the store keeps them (records.h TopActivation).
struct SampleActivations {
  std::vector<float> token_acts;  // one per prompt id except the image marker, in order (BOS: 0)
  std::vector<float> patch_acts;  // one per image position (row-major patch grid); empty without image
};

// Splits h_f over an item's model sequence (seq_acts[p] at position p; the image marker of
// `ids` expands to `image_tokens` positions) into SampleActivations. Throws when the
// lengths disagree.
SampleActivations split_sequence_activations(const std::vector<int64_t>& ids, int64_t image_tokens,
                                             const std::vector<float>& seq_acts);

struct TopSample {
  int64_t item = 0;  // index in the dataset it came from
  std::string sample_id;
  double max_activation = 0;  // the ranking score: max over the ranked positions
  SampleActivations acts;
};

// requests[l][c]: the items whose activations column c of layers[l] needs. Returns, in
// the same layout, one SampleActivations per requested item. Runs the model once over the
// distinct requested items only.
std::vector<std::vector<std::vector<SampleActivations>>> sample_activations(
    const VisionLanguageModel& model, const std::vector<LayerFeatures>& layers, const PromptDataset& dataset,
    const std::vector<std::vector<std::vector<int64_t>>>& requests, const StreamOptions& options, Progress& progress);

// The k top items of `dataset` for every kept feature (result[l][c]), ranked by the max
// activation over the positions of `positions`, with their activations at every position.
// Two passes: one over the dataset for the ranking, one over the winning items.
std::vector<std::vector<std::vector<TopSample>>> top_samples(const VisionLanguageModel& model,
                                                             const std::vector<LayerFeatures>& layers,
                                                             const PromptDataset& dataset, int64_t k,
                                                             Positions positions, const StreamOptions& options,
                                                             Progress& progress);

// One feature's lists from several datasets (name, samples) merged into store rows: all
// samples by max_activation descending (ties: dataset order, then list order), a sample_id
// seen before dropped (the same sample reached through two sets), ranks 0, 1, ...
std::vector<TopActivation> merge_top_samples(int32_t layer, int32_t feature,
                                             const std::vector<std::pair<std::string, std::vector<TopSample>>>& sets);

}  // namespace sightline
