#include "core/sae/sae.h"

#include <torch/types.h>

#include <algorithm>
#include <cctype>
#include <utility>

#include "core/common/error.h"
#include "core/common/runtime.h"
#include "core/io/json_util.h"
#include "core/sae/tensor_util.h"

namespace sightline {

using sae_detail::dtype_name;
using sae_detail::parse_dtype;
using sae_detail::shape_string;

std::string to_string(SaeVariant variant) {
  switch (variant) {
    case SaeVariant::ReLU: return "relu";
    case SaeVariant::TopK: return "topk";
    case SaeVariant::JumpReLU: return "jumprelu";
  }
  return "unknown";
}

SaeVariant parse_sae_variant(const std::string& name, const std::string& where, const std::string& field) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "relu") return SaeVariant::ReLU;
  if (lower == "topk") return SaeVariant::TopK;
  if (lower == "jumprelu") return SaeVariant::JumpReLU;
  fail("file '{}': field '{}' is '{}', expected one of relu, topk, jumprelu", where, field, name);
}

void SaeConfig::validate(const std::string& where) const {
  check(d_model > 0, "file '{}': field 'd_model' must be positive, got {}", where, d_model);
  check(d_sae > 0, "file '{}': field 'd_sae' must be positive, got {}", where, d_sae);
  if (variant == SaeVariant::TopK)
    check(k >= 1 && k <= d_sae, "file '{}': field 'k' must be in [1, d_sae = {}] for a topk SAE, got {}", where, d_sae,
          k);
  check(l1_coefficient >= 0, "file '{}': field 'l1_coefficient' must be >= 0, got {}", where, l1_coefficient);
  check(jumprelu_bandwidth > 0, "file '{}': field 'jumprelu_bandwidth' must be > 0, got {}", where,
        jumprelu_bandwidth);
}

nlohmann::json to_json(const SaeConfig& c) {
  return {{"variant", to_string(c.variant)},
          {"d_model", c.d_model},
          {"d_sae", c.d_sae},
          {"k", c.k},
          {"l1_coefficient", c.l1_coefficient},
          {"threshold", c.threshold},
          {"jumprelu_bandwidth", c.jumprelu_bandwidth},
          {"hook_point", c.hook_point},
          {"hook_point_out", c.hook_point_out}};
}

SaeConfig sae_config_from_json(const nlohmann::json& j, const std::string& where) {
  SaeConfig c;
  c.variant = parse_sae_variant(json_get<std::string>(j, "variant", where), where, "variant");
  c.d_model = json_get<int64_t>(j, "d_model", where);
  c.d_sae = json_get<int64_t>(j, "d_sae", where);
  c.k = json_get_or<int64_t>(j, "k", c.k, where);
  c.l1_coefficient = json_get_or<double>(j, "l1_coefficient", c.l1_coefficient, where);
  c.threshold = json_get_or<double>(j, "threshold", c.threshold, where);
  c.jumprelu_bandwidth = json_get_or<double>(j, "jumprelu_bandwidth", c.jumprelu_bandwidth, where);
  c.hook_point = json_get_or<std::string>(j, "hook_point", "", where);
  c.hook_point_out = json_get_or<std::string>(j, "hook_point_out", "", where);
  c.source = where;
  c.validate(where);
  return c;
}

namespace {

std::string source_of(const SaeConfig& c) { return c.source.empty() ? std::string("<in-memory SAE>") : c.source; }

at::Tensor checked(const SaeConfig& c, const at::Tensor& t, const char* name, std::vector<int64_t> shape) {
  check(t.defined(), "file '{}': tensor '{}' is missing", source_of(c), name);
  check(t.is_floating_point(), "file '{}': tensor '{}' must be floating point, got {}", source_of(c), name,
        std::string(c10::toString(t.scalar_type())));
  check(t.sizes() == at::IntArrayRef(shape), "file '{}': tensor '{}' has shape {}, expected {} (d_model {}, d_sae {})",
        source_of(c), name, shape_string(t.sizes()), shape_string(shape), c.d_model, c.d_sae);
  return t;
}

}  // namespace

Sae::Sae(const SaeConfig& config) : config_(config) {
  config_.validate(source_of(config_));
  torch::NoGradGuard no_grad;
  // Random unit directions; the tied encoder starts every feature as a matched filter.
  w_dec_ = torch::randn({config_.d_model, config_.d_sae}, torch::kFloat32);
  w_dec_.div_(w_dec_.norm(2, {0}, true).clamp_min(1e-12));
  w_enc_ = w_dec_.t().clone();
  b_enc_ = torch::zeros({config_.d_sae}, torch::kFloat32);
  b_dec_ = torch::zeros({config_.d_model}, torch::kFloat32);
  threshold_ = torch::full({config_.d_sae}, config_.threshold, torch::kFloat32);
  tokens_since_fired_ = torch::zeros({config_.d_sae}, torch::kInt64);
}

Sae::Sae(const SaeConfig& config, at::Tensor w_enc, at::Tensor b_enc, at::Tensor w_dec, at::Tensor b_dec,
         at::Tensor threshold)
    : config_(config) {
  config_.validate(source_of(config_));
  const int64_t D = config_.d_model, F = config_.d_sae;
  checked(config_, w_enc, "W_enc", {F, D});
  checked(config_, b_enc, "b_enc", {F});
  checked(config_, w_dec, "W_dec", {D, F});
  checked(config_, b_dec, "b_dec", {D});
  const auto options = w_enc.options();
  torch::NoGradGuard no_grad;
  w_enc_ = w_enc.detach().contiguous();
  b_enc_ = b_enc.detach().to(options).contiguous();
  w_dec_ = w_dec.detach().to(options).contiguous();
  b_dec_ = b_dec.detach().to(options).contiguous();
  if (!threshold.defined()) {
    threshold_ = torch::full({F}, config_.threshold, options);
  } else if (threshold.dim() == 0 || (threshold.dim() == 1 && threshold.size(0) == 1)) {
    threshold_ = torch::full({F}, threshold.reshape({}).item<double>(), options);
  } else {
    checked(config_, threshold, "threshold", {F});
    threshold_ = threshold.detach().to(options).contiguous();
  }
  tokens_since_fired_ = torch::zeros({F}, options.dtype(torch::kInt64));
}

Sae::Sae(Sae&&) noexcept = default;
Sae& Sae::operator=(Sae&&) noexcept = default;
Sae::~Sae() = default;

std::string Sae::device() const { return w_enc_.device().str(); }
std::string Sae::dtype() const { return dtype_name(w_enc_.scalar_type()); }

at::Tensor Sae::pre_activation(const at::Tensor& x) const {
  check(x.dim() == 2 && x.size(1) == config_.d_model, "SAE '{}': input has shape {}, expected [N, {}] (d_model)",
        source_of(config_), shape_string(x.sizes()), config_.d_model);
  const auto xs = x.to(w_enc_.device(), w_enc_.scalar_type());
  return torch::addmm(b_enc_, xs, w_enc_.t());  // [N, F]
}

namespace {

// Inference activation for every variant: h >= 0 by construction.
at::Tensor activate(const SaeConfig& c, const at::Tensor& pre, const at::Tensor& threshold) {
  switch (c.variant) {
    case SaeVariant::ReLU: return torch::relu(pre);
    case SaeVariant::JumpReLU: return pre * (pre > threshold.clamp_min(0)).to(pre.scalar_type());
    case SaeVariant::TopK: {
      const auto top = pre.topk(std::min(c.k, pre.size(1)), 1);
      return torch::zeros_like(pre).scatter(1, std::get<1>(top), torch::relu(std::get<0>(top)));
    }
  }
  fail("SAE '{}': unknown variant", source_of(c));
}

}  // namespace

at::Tensor Sae::encode(const at::Tensor& x) const { return activate(config_, pre_activation(x), threshold_); }

at::Tensor Sae::decode(const at::Tensor& h) const {
  check(h.dim() == 2 && h.size(1) == config_.d_sae, "SAE '{}': feature activations have shape {}, expected [N, {}] (d_sae)",
        source_of(config_), shape_string(h.sizes()), config_.d_sae);
  const auto hs = h.to(w_dec_.device(), w_dec_.scalar_type());
  return torch::addmm(b_dec_, hs, w_dec_.t());  // [N, D]
}

at::Tensor Sae::reconstruct(const at::Tensor& x) const { return decode(encode(x)); }

SaeLoss Sae::loss(const at::Tensor& x_in, const at::Tensor& mask) const {
  check(x_in.dim() == 2 && x_in.size(1) == config_.d_model, "SAE '{}': input has shape {}, expected [N, {}] (d_model)",
        source_of(config_), shape_string(x_in.sizes()), config_.d_model);
  at::Tensor x = x_in.to(w_enc_.device(), w_enc_.scalar_type());
  if (mask.defined()) {
    check(mask.dim() == 1 && mask.size(0) == x.size(0), "SAE '{}': mask has shape {}, expected [{}]",
          source_of(config_), shape_string(mask.sizes()), x.size(0));
    x = x.index({mask.to(x.device(), torch::kBool)});
  }
  SaeLoss out;
  out.rows = x.size(0);
  const auto zero = torch::zeros({}, w_enc_.options());
  if (out.rows == 0) {
    out.mse = out.sparsity = out.total = zero;
    out.pre = out.h = torch::zeros({0, config_.d_sae}, w_enc_.options());
    out.x = out.x_hat = x;
    return out;
  }
  const auto pre = torch::addmm(b_enc_, x, w_enc_.t());  // [N, F]
  at::Tensor h, sparsity = zero;
  switch (config_.variant) {
    case SaeVariant::ReLU: {
      h = torch::relu(pre);
      // Weighting by decoder norms stops the optimiser from shrinking h against the L1
      // while growing W_dec (Anthropic's April 2024 update).
      sparsity = config_.l1_coefficient * (h * w_dec_.norm(2, {0})).sum(1).mean();
      break;
    }
    case SaeVariant::TopK: h = activate(config_, pre, threshold_); break;
    case SaeVariant::JumpReLU: {
      const double eps = config_.jumprelu_bandwidth;
      const auto theta = threshold_;
      const auto pre_d = pre.detach(), theta_d = theta.detach();
      const auto active = (pre_d > theta_d.clamp_min(0)).to(pre.scalar_type());            // [N, F]
      const auto kernel = ((pre_d - theta_d).abs() < 0.5 * eps).to(pre.scalar_type());    // K((pre - theta) / eps)
      // Each surrogate is c * theta - (c * theta).detach(): zero in value, gradient c
      // w.r.t. theta (the pseudo-derivatives above).
      const auto h_sur = (-(theta_d / eps) * kernel) * theta;
      h = pre * active + (h_sur - h_sur.detach());
      const auto l0_sur = (-(1.0 / eps) * kernel) * theta;
      const auto l0 = active + (l0_sur - l0_sur.detach());
      sparsity = config_.l1_coefficient * l0.sum(1).mean();
      break;
    }
  }
  const auto x_hat = torch::addmm(b_dec_, h, w_dec_.t());
  out.mse = (x - x_hat).pow(2).sum(1).mean();
  out.sparsity = sparsity;
  out.total = out.mse + sparsity;
  out.pre = pre;
  out.h = h;
  out.x = x;
  out.x_hat = x_hat;
  return out;
}

at::Tensor Sae::decoder_directions() const {
  torch::NoGradGuard no_grad;
  const auto n = w_dec_.to(torch::kFloat32).norm(2, {0}, true);
  return (w_dec_.to(torch::kFloat32) / torch::where(n > 0, n, torch::ones_like(n))).to(w_dec_.scalar_type());
}

void Sae::normalize_decoder() {
  torch::NoGradGuard no_grad;
  auto n = w_dec_.to(torch::kFloat32).norm(2, {0});  // [F]
  n = torch::where(n > 0, n, torch::ones_like(n)).to(w_dec_.scalar_type());
  w_dec_.div_(n.unsqueeze(0));
  w_enc_.mul_(n.unsqueeze(1));
  b_enc_.mul_(n);
  threshold_.mul_(n);
}

Sae Sae::clone() const {
  Sae copy(config_, w_enc_.detach().clone(), b_enc_.detach().clone(), w_dec_.detach().clone(),
           b_dec_.detach().clone(), threshold_.detach().clone());
  copy.tokens_since_fired_ = tokens_since_fired_.clone();
  return copy;
}

Sae Sae::as_variant(SaeVariant variant, int64_t k, double threshold) const {
  SaeConfig c = config_;
  c.variant = variant;
  c.k = k;
  c.threshold = threshold;
  c.validate(source_of(c));
  Sae copy(c, w_enc_.detach().clone(), b_enc_.detach().clone(), w_dec_.detach().clone(), b_dec_.detach().clone(),
           threshold_.detach().clone());
  if (variant == SaeVariant::JumpReLU) copy.threshold_.fill_(threshold);
  return copy;
}

void Sae::to(const std::string& device, const std::string& dtype) {
  const c10::Device dev(resolve_device(device));
  const auto type = parse_dtype(dtype);
  torch::NoGradGuard no_grad;
  w_enc_ = w_enc_.to(dev, type);
  b_enc_ = b_enc_.to(dev, type);
  w_dec_ = w_dec_.to(dev, type);
  b_dec_ = b_dec_.to(dev, type);
  threshold_ = threshold_.to(dev, type);
  tokens_since_fired_ = tokens_since_fired_.to(dev);
}

std::vector<at::Tensor> Sae::parameters() const {
  std::vector<at::Tensor> p{w_enc_, b_enc_, w_dec_, b_dec_};
  if (config_.variant == SaeVariant::JumpReLU) p.push_back(threshold_);
  return p;
}

void Sae::set_requires_grad(bool requires_grad) {
  w_enc_.requires_grad_(requires_grad);
  b_enc_.requires_grad_(requires_grad);
  w_dec_.requires_grad_(requires_grad);
  b_dec_.requires_grad_(requires_grad);
  threshold_.requires_grad_(requires_grad && config_.variant == SaeVariant::JumpReLU);
}

void Sae::record_firing(const at::Tensor& h) {
  check(h.dim() == 2 && h.size(1) == config_.d_sae, "SAE '{}': feature activations have shape {}, expected [N, {}]",
        source_of(config_), shape_string(h.sizes()), config_.d_sae);
  const int64_t n = h.size(0);
  if (n == 0) return;
  torch::NoGradGuard no_grad;
  const auto fired = (h.detach() > 0).to(tokens_since_fired_.device());  // [N, F]
  // 1-based row of each feature's last firing, 0 when it stayed silent.
  const auto rows = torch::arange(1, n + 1, tokens_since_fired_.options()).unsqueeze(1);
  const auto last = (rows * fired.to(torch::kInt64)).amax(0);
  tokens_since_fired_ = torch::where(last > 0, n - last, tokens_since_fired_ + n);
}

void Sae::reset_firing() { tokens_since_fired_.zero_(); }

double Sae::dead_fraction(int64_t window) const {
  return (tokens_since_fired_ >= window).to(torch::kFloat64).mean().item<double>();
}

}  // namespace sightline
