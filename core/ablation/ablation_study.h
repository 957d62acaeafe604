// The per-feature ablation report of the paper's Tables 1-2 (METHOD.md Stage 5): each
// target feature is projected out of the text positions of its layer and the model is
// re-scored on the feature's relation-specific VSR subset and on the VQA yes/no control;
// the same is done with random features of the same layer (the control, several seeds).
//
//   d_vsr_acc   accuracy change on the feature's VSR subset, points (negative = worse)
//   d_vsr_prob  change of mean P(correct) on that subset (normalised over yes/no)
//   d_vqa_acc   accuracy change on the VQA yes/no items, points
//   d_ctrl      accuracy change on the VSR subset when as many random same-layer features
//               are ablated instead, points, mean over seeds (d_ctrl_std: their spread)
//   vsr_or, relations, n_samples  passed through from Stage 3 / the subset
// Interventions are deterministic, so the target's deltas are the same for every seed;
// only the controls vary with the seed.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/ablation/interventions.h"
#include "core/ablation/yes_no_eval.h"
#include "core/common/progress.h"
#include "core/model/model.h"

namespace sightline {

struct AblationTarget {
  SaeFeature feature;
  std::vector<int64_t> vsr_items;      // the relation-specific subset: indices into AblationData::vsr
  std::vector<std::string> relations;  // the relations that subset was drawn from
  double vsr_odds_ratio = 0.0;         // Stage 3's VSR OR, reported as is
};

struct AblationData {
  std::vector<YesNoItem> vsr;  // every VSR item any target's subset indexes
  ItemImages vsr_images;
  std::vector<YesNoItem> vqa;  // the VQA yes/no control, shared by all targets
  ItemImages vqa_images;
};

struct AblationOptions {
  int control_seeds = 3;     // random-feature control draws per target
  uint64_t seed = 0;         // with the target, fixes the control features
  EvalOptions eval;
  // Pixels are encoded once into image tokens when those take at most this many bytes,
  // so the many passes over the same items skip the vision tower.
  int64_t image_cache_bytes = int64_t{1} << 30;
};

// One feature's row of Tables 1-2 (the store keeps its own AblationRow record of it).
struct FeatureAblation {
  // The CSV columns, in order.
  int layer = 0;
  int64_t feature = 0;
  double d_vsr_acc = 0.0, d_vsr_prob = 0.0, d_vqa_acc = 0.0, d_ctrl = 0.0;
  double vsr_or = 0.0;
  int64_t n_samples = 0;  // VSR items evaluated
  std::string relations;  // joined with ", "
  // Details beyond the CSV.
  double d_ctrl_std = 0.0;                  // sample standard deviation over seeds (0 for one seed)
  std::vector<double> d_ctrl_seeds;         // per seed, points
  std::vector<std::vector<SaeFeature>> controls;  // per seed, the features ablated instead
  EvalSummary vsr_baseline, vsr_ablated, vqa_baseline, vqa_ablated;
};

// Per seed, one random feature of the same layer for each feature of `ablated`. All draws
// over all seeds are distinct and none is an ablated feature. `d_sae` maps each layer to
// its dictionary size. Deterministic in (ablated, seeds, seed). Throws naming the layer
// when it has too few other features for seeds * count distinct draws.
std::vector<std::vector<SaeFeature>> draw_control_features(const std::vector<SaeFeature>& ablated,
                                                           const std::map<int, int64_t>& d_sae, int seeds,
                                                           uint64_t seed);

// Runs the study: baseline scores once for the VSR items the targets use and for the VQA
// items, then per target the ablated and the control passes. Progress: one unit per item
// scored, over one phase; cancellable between batches (throws Cancelled). Throws naming
// the target whose subset indexes outside data.vsr or whose layer has no SAE.
std::vector<FeatureAblation> run_ablation_study(const VisionLanguageModel& model,
                                                const InterventionResources& resources,
                                                const AnswerTokens& answers, const AblationData& data,
                                                const std::vector<AblationTarget>& targets,
                                                const AblationOptions& options, Progress& progress);

// The rows as CSV text: the header line
//   layer,feature,d_vsr_acc,d_vsr_prob,d_vqa_acc,d_ctrl,vsr_or,n_samples,relations
// then one line per row (RFC 4180 quoting for relations holding commas or quotes).
std::string ablation_csv(const std::vector<FeatureAblation>& rows);

}  // namespace sightline
