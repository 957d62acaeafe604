// Interventions on the engine's forward pass (METHOD.md Stage 5, paper 5.3), as HookFn
// edits that compose in one ForwardRequest:
//   feature ablation  at the SAE's hook (blocks.L.hook_resid_post), TEXT positions only:
//                     y <- y - Q Q^T y, Q an orthonormal basis [D, r] of the span of the
//                     ablated features' unit decoder directions (for one feature v this is
//                     the paper's y <- y - (y . v) v); image, BOS and pad rows untouched.
//   head ablation     at blocks.L.attn.hook_z [B, T, H, dh], every position: the head's z
//                     set to 0 or to a precomputed mean z of that head.
//   steering          y <- y + alpha v at the feature's hook, at chosen positions.
// An InterventionSet is plain data (what the UI edits and the store keeps; it lives in the
// torch-free core/ablation/intervention_set.h); the SAEs and head means it refers to are
// passed separately as InterventionResources.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/ablation/intervention_set.h"
#include "core/common/progress.h"
#include "core/model/hooks.h"
#include "core/model/model.h"
#include "core/sae/sae.h"

namespace sightline {

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
