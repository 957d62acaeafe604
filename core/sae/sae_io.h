// SAE checkpoints on disk: the LLaMA-Scope layout (OpenMOSS; the real base SAEs and the
// shapes world's own) and the SAELens layout. Loading folds every normalisation into the
// weights so the result follows Sae's convention (raw residual input, unit decoder
// columns, h in residual units). Errors name the file and the field or tensor at fault.
#pragma once

#include <string>

#include "core/sae/sae.h"

namespace sightline {

struct SaeLoadOptions {
  std::string device = "cpu";     // cpu, cuda, cuda:N, auto
  std::string dtype = "float32";  // float32, bfloat16, float16, float64 (folding runs in
                                  // float64 when asked for float64, float32 otherwise)
};

enum class SaeFormat { LlamaScope, SaeLens };

// LlamaScope when `path` holds hyperparams.json, SaeLens when it holds cfg.json. `path`
// may also be one of those two files. Throws naming the directory and both files.
SaeFormat detect_sae_format(const std::string& path);

// Loads either format (detect_sae_format).
Sae load_sae(const std::string& path, const SaeLoadOptions& options = {});

// LLaMA-Scope directory: hyperparams.json + checkpoints/final.safetensors with
// encoder.weight [d_sae, d_model], encoder.bias [d_sae], decoder.weight [d_model, d_sae],
// decoder.bias [d_model] (any float dtype; the release is BF16). hyperparams keys used:
// d_model, d_sae (or expansion_factor), act_fn (jumprelu | topk | relu), jump_relu_threshold
// (scalar, jumprelu), top_k, norm_activation (dataset-wise | inference | none; token-wise
// and batch-wise cannot be folded and are refused), dataset_average_activation_norm
// {in, out}, use_decoder_bias, apply_decoder_bias_to_pre_encoder (folded into b_enc),
// hook_point_in / hook_point_out, l1_coefficient, and an optional "sightline" object
// (SaeConfig JSON, for the training-only settings this project writes). Folding, with
// d = d_model and s = sqrt(d) / norm (FORMATS.md, the release's own loader):
//   1. b_enc /= s_in; b_dec /= s_out; W_dec *= s_in / s_out
//   2. n_f = ||W_dec[:, f]||; W_dec[:, f] /= n_f; W_enc[f] *= n_f; b_enc[f] *= n_f
//   3. the scalar threshold is compared with the folded pre as is.
// (OpenMOSS's lm_saes writes unit decoder columns when sparsity_include_decoder_norm is
// false, so step 2 is then the identity and the flag needs no case of its own.)
// A Sightline extension: an optional tensor "jumprelu_threshold" [d_sae] (already in
// folded units) replaces the scalar, for trained per-feature thresholds.
Sae load_llama_scope_sae(const std::string& dir, const SaeLoadOptions& options = {});

// Writes `sae` as a LLaMA-Scope directory (creating it) that load_llama_scope_sae reads
// back to the same function: decoder columns normalised first (folded into the encoder),
// norm_activation "dataset-wise" with in = out = sqrt(d_model) (so s = 1 exactly),
// apply_decoder_bias_to_pre_encoder false, and jumprelu_threshold (tensor) when JumpReLU
// thresholds differ between features. `dtype` is the stored tensor dtype.
void save_llama_scope_sae(const Sae& sae, const std::string& dir, const std::string& dtype = "float32");

// SAELens directory: cfg.json (d_in, d_sae, architecture standard | topk | jumprelu,
// activation_fn_str, activation_fn_kwargs.k or k, apply_b_dec_to_input,
// normalize_activations (only "none" is accepted), hook_name or metadata.hook_name) +
// sae_weights.safetensors (W_enc [d_in, d_sae], W_dec [d_sae, d_in], b_enc, b_dec,
// threshold [d_sae] for jumprelu, optional scaling_factor [d_sae]). The input-side b_dec subtraction and the
// scaling factor are folded in, then decoder rows are normalised as in step 2 above
// (thresholds scale with them). A TopK file whose decoder rows are not unit-norm is
// refused: its selection cannot be refolded.
Sae load_saelens_sae(const std::string& dir, const SaeLoadOptions& options = {});

// Writes `sae` in the SAELens layout (apply_b_dec_to_input false, normalize_activations
// "none", unit decoder rows) plus a "sightline" object in cfg.json.
void save_saelens_sae(const Sae& sae, const std::string& dir, const std::string& dtype = "float32");

}  // namespace sightline
