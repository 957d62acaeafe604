// The streaming statistics pass of Stage 2 (paper 4.2, "visual energy"): run the VLM over
// a prompt dataset, capturing every requested layer's residual stream in ONE forward per
// batch, encode each layer with its SAE, and accumulate per feature
//   E_v(f)    = mean of h_f^2 over the positions of a setting (text | image | all),
//   firing    = counts of h_f > 0 at text and at image positions,
//   max       = the largest h_f at any text or image position.
// BOS and padding are always excluded. Accumulators are float64 [F] per layer; the SAE
// encodes at most `chunk_rows` rows at a time, so memory is bounded by
// batch_size x T x D (residuals) + chunk_rows x F (codes), never tokens x features.
#pragma once

#include <cstdint>
#include <vector>

#include "core/common/progress.h"
#include "core/diffing/positions.h"
#include "core/diffing/prompt_dataset.h"
#include "core/model/model.h"
#include "core/sae/sae.h"

namespace sightline {

// An SAE reading blocks.{layer}.hook_resid_post.
struct LayerSae {
  int layer = 0;
  const Sae* sae = nullptr;
};

struct FeatureStatsOptions {
  Positions positions = Positions::kText;  // positions E_v averages over (the paper: text)
  int64_t batch_size = 8;                  // sequences per forward pass
  int64_t chunk_rows = 4096;               // rows encoded at once per layer
};

struct LayerFeatureStats {
  int layer = 0;
  int64_t selected_positions = 0;  // positions E_v averaged over
  int64_t text_positions = 0;
  int64_t image_positions = 0;
  std::vector<double> sum_squares;      // sum of h_f^2 over the selected positions
  std::vector<int64_t> fire_text;       // text positions with h_f > 0
  std::vector<int64_t> fire_image;      // image positions with h_f > 0
  std::vector<double> max_activation;   // 0 when never active

  // sum_squares / selected_positions (NaN for every feature when no position was selected).
  std::vector<double> visual_energy() const;
  // fire_text / text_positions, fire_image / image_positions (NaN without positions).
  std::vector<double> fire_rate_text() const;
  std::vector<double> fire_rate_image() const;
};

struct FeatureStatsResult {
  std::vector<LayerFeatureStats> layers;  // in the order of the LayerSae list
  int64_t items = 0;                      // prompts processed
  int64_t peak_chunk_rows = 0;            // the most rows any one encode() call saw
  int64_t peak_code_elements = 0;         // the largest [rows, F] code tensor, in elements
};

// Runs the pass over the whole dataset. `layers` must name distinct layers of `model`
// with SAEs whose d_model matches its hidden size. Progress: begin("feature statistics",
// items), tick per batch; check_cancel() per batch (throws Cancelled).
FeatureStatsResult compute_feature_stats(const VisionLanguageModel& model, const std::vector<LayerSae>& layers,
                                         const PromptDataset& dataset, const FeatureStatsOptions& options,
                                         Progress& progress = null_progress());

// Capture request for the residual stream after each of `layers` (stops after the last,
// no logits): shared by every pass that reads several layers at once.
ForwardRequest residual_request(const std::vector<int>& layers);
// "blocks.{layer}.hook_resid_post".
std::string residual_hook(int layer);

}  // namespace sightline
