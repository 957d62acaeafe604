// Stage 4 (METHOD.md "Stage 4", paper 5.2 and A.9-A.12): attribution patching of a
// feature's objective to attention heads, and exact activation patching of every head
// to check it.
//
// Objective of feature f at layer L, per sample (a scalar; samples are independent):
//   kProjection (default):  sum over TEXT positions t of resid_post_L[t] . v_f, with v_f
//                           the unit decoder direction W_dec[:, f] / ||W_dec[:, f]||
//   kSaeActivation:         sum over TEXT positions of h_f(resid_post_L[t])
// BOS, image and padding positions never count.
//
// Clean run: the sample as is. Corrupt run: image positions of the layer-0 embeddings
// moved to the mean image embedding (core/attribution/corruption.h).
//
// Per head (layer l <= L, query head h) and sample, with a the head's activation summed
// over positions and head_dim:
//   Method A: (a_corr - a_clean) . d obj / d a   (gradient at the clean run)
//   Method B: (a_clean - a_corr) . d obj / d a   (gradient at the corrupt run)
// Activation kQueryKey (default, the paper's "upstream query/key activations"): a head's
// score = its q term + its k term, q = blocks.l.attn.hook_q[:, :, h] and k the key of its
// KV group g = h / (H / Hkv) (blocks.l.attn.hook_k[:, :, g]); a key is shared by the
// H / Hkv query heads of its group, so the k term of KV head g is split evenly among
// them. Both are taken before RoPE: RoPE is a fixed rotation per position, so the dot
// products are the same after it. Activation kOutput: a = blocks.l.attn.hook_z[:, :, h]
// (o_proj input, the TransformerLens standard).
//
// Cost per batch: A needs one clean forward with grad + one backward and the corrupt
// activations (one forward without grad); B needs one corrupt forward with grad + one
// backward and the clean activations. With both methods: 2 forwards + 2 backwards.
//
// Exact activation patching (the check, "beyond the paper"): the clean run with the head's
// activation replaced by its corrupt value (noising), one run per head, batched over
// samples. With kQueryKey the exact counterpart of a head's split score is
//   noising(h) = [obj(q_h patched) - obj(clean)] + [obj(k_g patched) - obj(clean)] / (H / Hkv)
// so a model needs (L + 1) * (H + Hkv) patched runs per batch (kOutput: (L + 1) * H).
// To first order noising ~ A and noising ~ -B; denoising (the corrupt run with the clean
// activation patched in) is B's own counterpart and is optional.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/attribution/corruption.h"
#include "core/common/progress.h"
#include "core/model/model.h"
#include "core/sae/sae.h"

namespace sightline {

enum class AttributionObjective { kProjection, kSaeActivation };
enum class HeadActivation { kQueryKey, kOutput };

// "projection", "sae_activation" / "qk", "z".
std::string to_string(AttributionObjective objective);
std::string to_string(HeadActivation activation);
// Parse the names above; throw "file '<where>': field '<field>' ..." otherwise.
AttributionObjective parse_attribution_objective(const std::string& name, const std::string& where,
                                                 const std::string& field);
HeadActivation parse_head_activation(const std::string& name, const std::string& where, const std::string& field);

// The feature whose objective is attributed: feature `feature` of `sae`, which reads
// blocks.{layer}.hook_resid_post.
struct FeatureTarget {
  const Sae* sae = nullptr;
  int layer = 0;
  int64_t feature = 0;
};

struct AttributionOptions {
  AttributionObjective objective = AttributionObjective::kProjection;
  HeadActivation activation = HeadActivation::kQueryKey;
  bool method_a = true;
  bool method_b = true;
  double corruption_strength = 1.0;  // see mean_embedding_edit
};

// One method's scores; rows are layers 0..L, columns query heads.
struct HeadScores {
  at::Tensor score;       // [L + 1, H] float64: mean over samples
  at::Tensor per_sample;  // [N, L + 1, H] float64
  at::Tensor q_term;      // [L + 1, H] mean q term (kQueryKey; undefined for kOutput)
  at::Tensor k_term;      // [L + 1, Hkv] mean k term of each KV head, before the split (kQueryKey)
  bool defined() const { return score.defined(); }
};

struct HeadAttribution {
  FeatureTarget target;
  AttributionOptions options;
  int64_t samples = 0;
  HeadScores method_a;  // undefined when options.method_a is false
  HeadScores method_b;  // undefined when options.method_b is false
  at::Tensor objective_clean;    // [N] float64 per-sample objective of the clean run
  at::Tensor objective_corrupt;  // [N] of the corrupt run
  int64_t forward_passes = 0;    // counted per batch
  int64_t backward_passes = 0;
};

// Attribution patching over `batches` (a feature's samples, batched; every sequence must
// hold one image block). Progress: begin("attribution patching", batches) and a tick
// per batch; check_cancel() per batch. Throws naming the SAE, layer or feature when the
// target does not fit the model.
HeadAttribution attribute_heads(const VisionLanguageModel& model, const FeatureTarget& target,
                                const std::vector<PreparedBatch>& batches, const MeanImageEmbedding& mean,
                                const AttributionOptions& options, Progress& progress = null_progress());

struct ExactPatchingOptions {
  AttributionObjective objective = AttributionObjective::kProjection;
  HeadActivation activation = HeadActivation::kQueryKey;
  double corruption_strength = 1.0;
  bool denoising = false;  // also patch clean activations into the corrupt run
};

// Effects on the objective, mean over samples; rows layers 0..L, columns heads.
struct PatchEffects {
  at::Tensor effect;  // [L + 1, H] float64 (kQueryKey: q effect + k effect / (H / Hkv))
  at::Tensor q;       // [L + 1, H] effect of patching each head's query alone (kQueryKey)
  at::Tensor k;       // [L + 1, Hkv] effect of patching each KV head's key (kQueryKey)
  bool defined() const { return effect.defined(); }
};

struct ExactPatching {
  FeatureTarget target;
  ExactPatchingOptions options;
  int64_t samples = 0;
  PatchEffects noising;    // obj(clean, head <- corrupt) - obj(clean)
  PatchEffects denoising;  // obj(corrupt, head <- clean) - obj(corrupt); undefined unless asked
  at::Tensor objective_clean;    // [N] float64
  at::Tensor objective_corrupt;  // [N]
  int64_t forward_passes = 0;
};

// Exact activation patching of every head of layers 0..L. Progress: begin("exact
// patching", batches x runs per batch), a tick per run; check_cancel() per run.
ExactPatching exact_patch_heads(const VisionLanguageModel& model, const FeatureTarget& target,
                                const std::vector<PreparedBatch>& batches, const MeanImageEmbedding& mean,
                                const ExactPatchingOptions& options, Progress& progress = null_progress());

// Rank agreement between attribution and exact patching: Spearman over all heads of
// layers 0..L of A vs noising and of B vs denoising (or -noising when denoising was not
// run). NaN where a map is missing or constant.
struct PatchingAgreement {
  double spearman_a = 0.0;
  double spearman_b = 0.0;
  double max_abs_error_a = 0.0;  // max |A - noising|
  double max_abs_error_b = 0.0;  // max |B - denoising| (or |B + noising|)
};
PatchingAgreement compare_with_exact(const HeadAttribution& attribution, const ExactPatching& exact);

// Per-sample objective of a forward's captured blocks.{layer}.hook_resid_post [B, T, D]
// under `objective` (differentiable; float32, or float64 for a float64 model): [B].
at::Tensor feature_objective(const at::Tensor& resid_post, const at::Tensor& token_types, const FeatureTarget& target,
                             AttributionObjective objective);

// Batches prepared for attribution: `ids[i]` holds one image marker (kImageTokenIndex)
// and pixels[i] ([N, 3, S, S]) is its image; `batch_size` sequences per batch. Runs the
// vision tower without grad.
std::vector<PreparedBatch> prepare_batches(const VisionLanguageModel& model,
                                           const std::vector<std::vector<int64_t>>& ids, const at::Tensor& pixels,
                                           int64_t batch_size);

}  // namespace sightline
