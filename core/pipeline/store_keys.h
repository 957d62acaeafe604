// Names under which the pipeline's stages write to the store, shared by the stages, the
// summary and the report (one naming scheme everywhere).
//
// curves (name / key; layer, regime, step, tokens):
//   "fvu" / "heldout"            held-out FVU of an adapting SAE   (adapt; step = optimiser
//   "fvu" / "heldout_text"       held-out FVU on text positions, every regime (one ruler
//                                to compare regimes on; equals "heldout" for text)
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
//
// Stage 3, skill features (shift, topk, lexical; SAEs = the diff stage's adapted SAEs):
//   features (shift, every feature):
//     p_base                         column: firing frequency over D_base (the eval split)
//     skill_metric_key(s, m)         per skill s, m = p_skill, delta_p, odds_ratio: the
//                                    columns p_skill, delta_p, odds_ratio for "spatial",
//                                    extras "<s>_p_skill", "<s>_delta_p", "<s>_odds_ratio"
//                                    for any other skill (e.g. "ocr_odds_ratio")
//   features (topk, candidates of any skill):
//     vsr_or                         column: VSR odds ratio of its top relation (NaN: none)
//     "vsr_or:<relation>"            extra: OR of firing on that relation's VSR items vs the
//                                    other relations; only relations it fired on
//   features (lexical, candidates of any skill):
//     lexical_persistent             column: 1 passed the lexical filter, 0 not
//     lexical_fraction               extra: fraction of neutral runs it fired on (NaN: none)
//     skill_metric_key(s, "selected") 1 when in selection "<s>", 0 for its other candidates
//                                    (column "spatial"; extra "<s>_selected" otherwise)
//   selections: "<s>_candidates" (shift: dp and OR above the settings), "<s>" (lexical:
//     candidates that pass the lexical filter and are in "adapted"). With the default
//     skills: "spatial_candidates", "spatial", "ocr_candidates", "ocr".
//   top activations (topk, every candidate of any skill): TopActivation rows with dataset
//     "vqa" (the eval split) or "vsr" (the VSR items; absent in real mode without a VSR
//     file), up to k_vqa + k_vsr per feature, merged by max_activation (rank 0 = strongest)
//     and de-duplicated by sample_id. max_activation = the ranking score (max over the
//     topk stage's positions, default text); token_acts = one value per prompt id except
//     the image marker (BOS 0); patch_acts = one per image position, row-major patch grid.
//     sample_id is the PromptItem id of the dataset (PipelineContext::dataset(kEval / kVsr)).
// Stages 4 and 5 (attrib, ablate) read:
//   selection "spatial"          the skill features (skills stage)
//   samples (top activations)    a feature's top samples (topk stage), rank 0 strongest;
//                                dataset "vqa" = the eval split (VQA questions), "vsr" =
//                                the VSR split; sample_id = the item's PromptItem::sample_id
//   features column vsr_or       Stage 3's VSR odds ratio (ablate passes it through)
// and write:
//   heads (attrib)      per spatial feature (layer, feature), method "A" / "B" (attribution
//                       patching, mean over its top samples) and "exact" (activation
//                       patching, noising: obj(clean, head <- corrupt) - obj(clean), the
//                       counterpart of A), one row per head of layers 0..layer
//   patching (attrib)   Spearman of A vs exact and of B vs exact (denoising when run, else
//                       -noising), per feature; only when exact patching ran
//   tensors (attrib):
//     "attrib/mean_image_embedding" -> safetensors: "mean" float64 [P, D] (per_position) or
//         [D] (global); metadata mode, images (the corrupt run's layer-0 image embedding)
//     "attn/L{layer}/F{feature}"    -> safetensors, the explorer's overlays on the feature's
//         top samples: "top_heads" / "bottom_heads" int64 [K, 2] (head_layer, head; ranked
//         by |score| of the overlay method, strongest / weakest first), "top_grids" /
//         "bottom_grids" float32 [K, N, g, g] (attention from the question's text positions
//         onto image patch r * g + c), "top_image_mass" / "bottom_image_mass" float64
//         [K, N], "ranks" int64 [N] (the samples' top-activation ranks), "samples" in the
//         metadata (JSON list of {dataset, sample_id}); the TensorRef shape is top_grids'
//   ablation (ablate)   one row per spatial feature; accuracies in points, relations the
//                       VSR subset's relations ([] = no top sample had one: the whole VSR
//                       split); seed_spread_json: seeds, d_ctrl_seeds, d_ctrl_std, the
//                       per-seed control features, and the baseline / ablated accuracies
// autointerp (optional; skipped without an endpoint): extras autointerp_f1,
//   autointerp_precision, autointerp_recall for the features of the "spatial" and "ocr"
//   selections whose validation completed. The store has no per-feature text, so the
//   descriptions, the examples shown and the validation answers go to a JSON file in the
//   run's folder (format: core/pipeline/stage_autointerp.cpp); the stage's result_json
//   field "results_file" holds its path, relative to the store file's folder.
#pragma once

#include <cstdint>
#include <string>

namespace sightline::store_keys {

inline constexpr const char* kFvu = "fvu";
inline constexpr const char* kL0 = "l0";
inline constexpr const char* kDeadFraction = "dead_fraction";
inline constexpr const char* kMse = "mse";
inline constexpr const char* kHeldout = "heldout";
inline constexpr const char* kHeldoutText = "heldout_text";
inline constexpr const char* kTrain = "train";
inline constexpr const char* kDecoderCosine = "decoder_cosine";
inline constexpr const char* kMean = "mean";
inline constexpr const char* kSweep = "sweep";
inline constexpr const char* kLayerStats = "layer_stats";
inline constexpr const char* kAdaptedSelection = "adapted";
inline constexpr const char* kFireRateText = "fire_rate_text";
inline constexpr const char* kFireRateImage = "fire_rate_image";
inline constexpr const char* kMaxActivation = "max_activation";

inline constexpr const char* kPBase = "p_base";
inline constexpr const char* kVsrOr = "vsr_or";
inline constexpr const char* kVsrOrPrefix = "vsr_or:";
inline constexpr const char* kLexicalPersistent = "lexical_persistent";
inline constexpr const char* kLexicalFraction = "lexical_fraction";
inline constexpr const char* kCandidatesSuffix = "_candidates";
inline constexpr const char* kTopVqa = "vqa";
inline constexpr const char* kTopVsr = "vsr";
inline constexpr const char* kSpatialSkill = "spatial";

// The feature metric of skill `skill` (metric: "p_skill", "delta_p", "odds_ratio",
// "selected"): the FeatureRow column for the spatial skill, "<skill>_<metric>" otherwise.
inline std::string skill_metric_key(const std::string& skill, const std::string& metric) {
  if (skill == kSpatialSkill) return metric == "selected" ? std::string(kSpatialSkill) : metric;
  return skill + "_" + metric;
}
// "<skill>_candidates"
inline std::string candidates_selection(const std::string& skill) { return skill + kCandidatesSuffix; }
// "vsr_or:<relation>"
inline std::string vsr_relation_key(const std::string& relation) { return kVsrOrPrefix + relation; }
inline constexpr const char* kSpatialSelection = "spatial";
inline constexpr const char* kDatasetVqa = "vqa";
inline constexpr const char* kDatasetVsr = "vsr";
inline constexpr const char* kMethodA = "A";
inline constexpr const char* kMethodB = "B";
inline constexpr const char* kMethodExact = "exact";
inline constexpr const char* kMeanImageEmbedding = "attrib/mean_image_embedding";
inline constexpr const char* kAutointerpF1 = "autointerp_f1";
inline constexpr const char* kAutointerpPrecision = "autointerp_precision";
inline constexpr const char* kAutointerpRecall = "autointerp_recall";
inline constexpr const char* kAutointerpResultsFile = "results_file";  // a field of the stage's result_json

// "sae/L{layer}/{regime}"
inline std::string sae_tensor_key(int layer, const std::string& regime) {
  return "sae/L" + std::to_string(layer) + "/" + regime;
}

// "attn/L{layer}/F{feature}"
inline std::string attention_tensor_key(int layer, int64_t feature) {
  return "attn/L" + std::to_string(layer) + "/F" + std::to_string(feature);
}

}  // namespace sightline::store_keys
