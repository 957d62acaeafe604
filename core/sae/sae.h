// A sparse autoencoder on one hook point of the residual stream (METHOD.md Stage 1), in
// LLaMA-Scope orientation, device- and dtype-generic:
//   W_enc [d_sae, d_model], b_enc [d_sae], W_dec [d_model, d_sae], b_dec [d_model],
//   threshold [d_sae] (JumpReLU only).
//   pre = x W_enc^T + b_enc                 [N, F]
//   h   = act(pre) >= 0                     [N, F]
//   x_hat = h W_dec^T + b_dec               [N, D]
// Convention (kept by every loader and by training): decoder columns are unit-norm and
// dataset normalisation is folded into the weights, so x is the raw residual stream and
// h_f is the length of x_hat's component along the unit direction W_dec[:, f]
// (residual-stream units). Loaders fold norms exactly as FORMATS.md "LLaMA-Scope SAEs".
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace sightline {

// Activation functions:
//   ReLU:     h = max(pre, 0); sparsity = l1 * sum_f h_f ||W_dec[:, f]||.
//   TopK:     the k largest pre per row, ReLU'd, others 0 (Gao et al. 2024); no penalty.
//   JumpReLU: h = pre where pre > max(threshold_f, 0), else 0 (Rajamanoharan et al. 2024);
//             sparsity = l1 * L0, trained with the paper's rectangle-kernel
//             straight-through estimator (see Sae::loss).
enum class SaeVariant { ReLU, TopK, JumpReLU };

// "relu", "topk", "jumprelu".
std::string to_string(SaeVariant variant);
// Parses the names above (case-insensitive); throws "file '<where>': field '<field>' ...".
SaeVariant parse_sae_variant(const std::string& name, const std::string& where, const std::string& field);

struct SaeConfig {
  SaeVariant variant = SaeVariant::TopK;
  int64_t d_model = 0;
  int64_t d_sae = 0;
  int64_t k = 50;                    // TopK: active features per row (the paper's k = 50)
  double l1_coefficient = 1e-3;      // ReLU: weight of the decoder-norm-weighted L1;
                                     // JumpReLU: weight of the L0 penalty
  double threshold = 0.0;            // JumpReLU: initial / scalar threshold (residual units)
  double jumprelu_bandwidth = 1e-3;  // JumpReLU STE kernel width epsilon (residual units)
  std::string hook_point;            // input hook, "blocks.L.hook_resid_post"
  std::string hook_point_out;        // output hook; "" = same as hook_point (an SAE)
  std::string source;                // where it was loaded from, for messages (not saved)

  // Throws naming `where` when sizes are not positive or k is outside [1, d_sae].
  void validate(const std::string& where) const;
};

nlohmann::json to_json(const SaeConfig& config);
// Reads the keys written by to_json (missing optional keys keep their defaults);
// throws "file '<where>': field '<key>' ..." on a bad or missing field.
SaeConfig sae_config_from_json(const nlohmann::json& j, const std::string& where);

// The parts of the training objective for a batch (0-dim tensors of the SAE's dtype,
// differentiable when the parameters require grad).
struct SaeLoss {
  at::Tensor mse;       // mean over rows of ||x - x_hat||^2 (summed over d_model)
  at::Tensor sparsity;  // the variant's penalty (0 for TopK), already weighted by l1_coefficient
  at::Tensor total;     // mse + sparsity
  at::Tensor pre;       // [rows, F] pre-activations of the rows used
  at::Tensor h;         // [rows, F] activations of the rows used (for dead-feature counts)
  at::Tensor x;         // [rows, D] the rows used, in the SAE's dtype
  at::Tensor x_hat;     // [rows, D] their reconstructions
  int64_t rows = 0;     // rows that contributed (mask true)
};

class Sae {
 public:
  // A randomly initialised SAE (torch's RNG: seed with torch::manual_seed): unit decoder
  // columns from a normal distribution, W_enc = W_dec^T (tied init, Gao et al.), zero
  // biases, threshold = config.threshold. Float32 on the CPU.
  explicit Sae(const SaeConfig& config);
  // An SAE from tensors already in the convention above (any device / float dtype; all
  // moved to w_enc's). Shapes are checked against config (error names config.source and
  // the tensor). `threshold` may be undefined (filled with config.threshold), a scalar
  // or [d_sae].
  Sae(const SaeConfig& config, at::Tensor w_enc, at::Tensor b_enc, at::Tensor w_dec, at::Tensor b_dec,
      at::Tensor threshold = {});

  Sae(Sae&&) noexcept;
  Sae& operator=(Sae&&) noexcept;
  Sae(const Sae&) = delete;  // tensors are handles: use clone() for an independent copy
  Sae& operator=(const Sae&) = delete;
  ~Sae();

  const SaeConfig& config() const { return config_; }
  SaeVariant variant() const { return config_.variant; }
  int64_t d_model() const { return config_.d_model; }
  int64_t d_sae() const { return config_.d_sae; }
  std::string device() const;  // "cpu", "cuda:0"
  std::string dtype() const;   // "float32", "bfloat16", ...

  const at::Tensor& w_enc() const { return w_enc_; }  // [F, D]
  const at::Tensor& b_enc() const { return b_enc_; }  // [F]
  const at::Tensor& w_dec() const { return w_dec_; }  // [D, F]
  const at::Tensor& b_dec() const { return b_dec_; }  // [D]
  const at::Tensor& threshold() const { return threshold_; }  // [F]; used by JumpReLU only

  // x [N, D] (any float dtype; cast to the SAE's dtype and device) -> pre [N, F].
  at::Tensor pre_activation(const at::Tensor& x) const;
  // x [N, D] -> h [N, F] >= 0.
  at::Tensor encode(const at::Tensor& x) const;
  // h [N, F] -> x_hat [N, D].
  at::Tensor decode(const at::Tensor& h) const;
  // encode then decode.
  at::Tensor reconstruct(const at::Tensor& x) const;

  // The training objective on the rows of x [N, D] where mask [N] (bool) is true; an
  // undefined mask keeps every row. No rows -> zero losses. JumpReLU gradients follow
  // Rajamanoharan et al. 2024 ("Jumping ahead", eqs. 11-12): with the rectangle kernel
  // K(u) = 1{|u| < 1/2} and eps = jumprelu_bandwidth,
  //   d h_f / d theta_f       := -(theta_f / eps) K((pre_f - theta_f) / eps)
  //   d H(pre_f - theta_f) / d theta_f := -(1 / eps) K((pre_f - theta_f) / eps)
  // and the usual gradients elsewhere (h_f w.r.t. pre_f is 1 where active; the L0 term
  // trains only the thresholds).
  SaeLoss loss(const at::Tensor& x, const at::Tensor& mask = {}) const;

  // Unit decoder directions [D, F] (the columns of W_dec, renormalised; a zero column stays 0).
  at::Tensor decoder_directions() const;

  // Rescales every decoder column to unit norm and folds its old norm n_f into the
  // encoder (W_enc[f] *= n_f, b_enc[f] *= n_f, threshold[f] *= n_f), which leaves ReLU
  // and JumpReLU outputs x_hat unchanged and keeps h_f in residual units; TopK's
  // selection can change only through the rescaled pre. Zero columns are left as they
  // are. The trainer calls this after every optimiser step. No grad is recorded.
  void normalize_decoder();

  // A deep copy (same device / dtype), dead-feature counters included.
  Sae clone() const;
  // A copy with another activation function and the same weights (the paper re-instantiates
  // LLaMA-Scope's JumpReLU SAEs as TopK, k = 50). JumpReLU thresholds reset to `threshold`.
  Sae as_variant(SaeVariant variant, int64_t k, double threshold = 0.0) const;
  // Moves every tensor; device "cpu", "cuda", "cuda:N" or "auto"; dtype "float32",
  // "bfloat16", "float16" or "float64".
  void to(const std::string& device, const std::string& dtype);

  // The trainable tensors (handles, so an optimiser updates this SAE in place):
  // W_enc, b_enc, W_dec, b_dec, plus threshold for JumpReLU.
  std::vector<at::Tensor> parameters() const;
  // Sets requires_grad on every tensor of parameters().
  void set_requires_grad(bool requires_grad);

  // Dead-feature accounting: tokens_since_fired()[f] counts the rows seen since feature
  // f last had h_f > 0 (int64 [F], starts at 0). record_firing(h [N, F]) advances it
  // exactly (by N for silent features, to N - 1 - last firing row otherwise).
  void record_firing(const at::Tensor& h);
  const at::Tensor& tokens_since_fired() const { return tokens_since_fired_; }
  void reset_firing();
  // Fraction of features silent for at least `window` rows.
  double dead_fraction(int64_t window) const;

 private:
  SaeConfig config_;
  at::Tensor w_enc_, b_enc_, w_dec_, b_dec_, threshold_;
  at::Tensor tokens_since_fired_;
};

}  // namespace sightline
