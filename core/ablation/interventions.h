// Interventions on the engine's forward pass (METHOD.md Stage 5, paper 5.3), as HookFn
// edits that compose in one ForwardRequest:
//   feature ablation  at the SAE's hook (blocks.L.hook_resid_post), TEXT positions only:
//                     y <- y - Q Q^T y, Q an orthonormal basis [D, r] of the span of the
//                     ablated features' unit decoder directions (for one feature v this is
//                     the paper's y <- y - (y . v) v); image, BOS and pad rows untouched.
//   head ablation     at blocks.L.attn.hook_z [B, T, H, dh], every position: the head's z
//                     set to 0 or to a precomputed mean z of that head.
//   steering          y <- y + alpha v at the feature's hook, at chosen positions.
// An InterventionSet is plain data (what the UI edits and the store keeps); the SAEs and
// head means it refers to are passed separately as InterventionResources.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/common/progress.h"
#include "core/model/hooks.h"
#include "core/model/model.h"
#include "core/sae/sae.h"

namespace sightline {

// One SAE feature: the SAE of `layer`, column `feature` of its decoder. (Not called
// FeatureRef: that is the store's record, and two classes of one name in one program
// share inline members and template instances at link time.)
struct SaeFeature {
  int layer = 0;
  int64_t feature = 0;
  bool operator<(const SaeFeature& o) const { return layer != o.layer ? layer < o.layer : feature < o.feature; }
  bool operator==(const SaeFeature& o) const { return layer == o.layer && feature == o.feature; }
};

enum class HeadAblationMode { kZero, kMean };

// "zero", "mean".
std::string to_string(HeadAblationMode mode);
// Parses the names above; throws "file '<where>': field '<field>' ..." for anything else.
HeadAblationMode parse_head_ablation_mode(const std::string& name, const std::string& where,
                                          const std::string& field);

struct HeadAblation {
  int layer = 0;
  int head = 0;  // query head index in [0, num_attention_heads)
  HeadAblationMode mode = HeadAblationMode::kZero;
};

// Where a steering vector is added.
enum class SteerPositions {
  kText,   // every text position (BOS excluded)
  kImage,  // every image position
  kAll,    // every real position (BOS included, padding excluded)
  kLast,   // each sequence's last real position (the answer position of a prompt)
  kList    // the sequence positions in Steering::positions (after image insertion)
};

// "text", "image", "all", "last", "list".
std::string to_string(SteerPositions positions);
SteerPositions parse_steer_positions(const std::string& name, const std::string& where, const std::string& field);

struct Steering {
  int layer = 0;
  int64_t feature = 0;  // direction: the unit decoder column of the layer's SAE
  double alpha = 0.0;   // added length, residual-stream units
  SteerPositions where = SteerPositions::kText;
  std::vector<int64_t> positions;  // for kList; each must be < the batch's padded length
};

struct InterventionSet {
  std::vector<SaeFeature> ablate_features;  // projected out together, per hook point
  std::vector<HeadAblation> ablate_heads;
  std::vector<Steering> steer;
  bool empty() const { return ablate_features.empty() && ablate_heads.empty() && steer.empty(); }
};

// What an InterventionSet refers to. The pointers must outlive every request built from them.
struct InterventionResources {
  std::map<int, const Sae*> saes;        // layer -> SAE (its hook_point, else blocks.L.hook_resid_post)
  std::map<int, at::Tensor> head_means;  // layer -> [H, dh] mean z, for HeadAblationMode::kMean
};

// The hook an SAE of `layer` reads: its config's hook_point when set (which must name
// `layer`), else blocks.<layer>.hook_resid_post. Throws naming the SAE's source otherwise.
std::string sae_hook(const Sae& sae, int layer);

// Unit decoder directions [D, n] of `features` of one SAE (float32, on the SAE's device);
// a zero column stays 0. Throws naming the SAE and the feature when one is out of range.
at::Tensor feature_directions(const Sae& sae, const std::vector<int64_t>& features);

// An orthonormal basis [D, r] (float64, same device) of the column span of `directions`
// [D, k]; r is the numerical rank (columns whose share of the largest singular value is
// below rel_tol are dropped), so dependent or repeated directions are removed once.
at::Tensor orthonormal_basis(const at::Tensor& directions, double rel_tol = 1e-6);

// The edits, for callers that build their own requests. `rows` restricts an edit to those
// batch rows (empty = every row); a row outside the batch throws when the edit runs.
//   basis [D, r]: y <- y - Q Q^T y at text positions (computed in float32 or wider).
HookFn project_out_edit(const at::Tensor& basis, const std::vector<int64_t>& rows = {});
//   heads [n] and values [n, dh] (the z each head is set to): at every position.
HookFn head_set_edit(const std::vector<int64_t>& heads, const at::Tensor& values, const std::vector<int64_t>& rows = {});
//   vector [D] added at `where` (positions for kList).
HookFn add_vector_edit(const at::Tensor& vector, SteerPositions where, const std::vector<int64_t>& positions = {},
                       const std::vector<int64_t>& rows = {});

// Appends the edits of `set` to request.edits: per hook, the feature ablation first (one
// projection for all features of that hook), then the steering vectors in order; head
// edits at hook_z. Layers, features and heads are checked against `model` and
// `resources`; throws naming the missing SAE / head mean or the index out of range.
void add_interventions(ForwardRequest& request, const InterventionSet& set, const InterventionResources& resources,
                       const VisionLanguageModel& model, const std::vector<int64_t>& rows = {});

// Mean head output z [H, dh] per layer in `layers`, over every real (non-pad) position of
// the batches: the values for HeadAblationMode::kMean. Float32 on the model's device.
std::map<int, at::Tensor> mean_head_outputs(const VisionLanguageModel& model, const std::vector<BatchInput>& batches,
                                            const std::vector<int>& layers, Progress& progress);

}  // namespace sightline
