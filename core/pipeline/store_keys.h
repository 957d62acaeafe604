// Names under which the pipeline's stages write to the store, shared by the stages, the
// summary and the report (one naming scheme everywhere).
//
// curves (name / key; layer, regime, step, tokens):
//   "fvu" / "heldout"            held-out FVU of an adapting SAE   (adapt; step = optimiser
//   "l0" / "heldout"             held-out L0                          steps, tokens = training
//   "dead_fraction" / "heldout"  features that never fired           positions seen)
//   "mse" / "train"              training MSE since the previous evaluation
//   "decoder_cosine" / "mean"    per-layer mean c_f of a regime's final SAE vs the base
//                                (adapt; step 0, tokens = training positions)
//   "sweep" / eps, p_cos, cosine_threshold, count, jaccard, layer_correlation
//                                threshold sweep cell `step` (diff; layer -1, regime = the
//                                diff regime, cells eps-major)
//   "layer_stats" / features, adapted, active, mean_cosine_all, mean_cosine_adapted,
//                   mean_visual_energy, text_positions, image_positions
//                                per-layer statistics of the adapted set (diff; step 0)
// tensors: "sae/L{layer}/{regime}" -> the adapted SAE's checkpoints/final.safetensors in
//   a LLaMA-Scope directory (load_sae on the directory two levels up), shape [d_model, d_sae].
// features: visual_energy, decoder_cosine, adapted (columns); extras fire_rate_text,
//   fire_rate_image, max_activation (diff). selections: "adapted" (diff).
#pragma once

#include <string>

namespace sightline::store_keys {

inline constexpr const char* kFvu = "fvu";
inline constexpr const char* kL0 = "l0";
inline constexpr const char* kDeadFraction = "dead_fraction";
inline constexpr const char* kMse = "mse";
inline constexpr const char* kHeldout = "heldout";
inline constexpr const char* kTrain = "train";
inline constexpr const char* kDecoderCosine = "decoder_cosine";
inline constexpr const char* kMean = "mean";
inline constexpr const char* kSweep = "sweep";
inline constexpr const char* kLayerStats = "layer_stats";
inline constexpr const char* kAdaptedSelection = "adapted";
inline constexpr const char* kFireRateText = "fire_rate_text";
inline constexpr const char* kFireRateImage = "fire_rate_image";
inline constexpr const char* kMaxActivation = "max_activation";

// "sae/L{layer}/{regime}"
inline std::string sae_tensor_key(int layer, const std::string& regime) {
  return "sae/L" + std::to_string(layer) + "/" + regime;
}

}  // namespace sightline::store_keys
