#include "core/sae/sae_io.h"

#include <torch/types.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <utility>
#include <vector>

#include "core/common/error.h"
#include "core/common/runtime.h"
#include "core/io/json_util.h"
#include "core/io/safetensors.h"
#include "core/io/tensor_source.h"
#include "core/sae/tensor_util.h"

namespace fs = std::filesystem;

namespace sightline {

using sae_detail::parse_dtype;
using sae_detail::shape_string;

namespace {

constexpr const char* kLlamaScopeHyperparams = "hyperparams.json";
constexpr const char* kLlamaScopeWeights = "checkpoints/final.safetensors";
constexpr const char* kSaeLensConfig = "cfg.json";
constexpr const char* kSaeLensWeights = "sae_weights.safetensors";

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

fs::path directory_of(const std::string& path) {
  const fs::path p(path);
  if (fs::is_regular_file(p)) {
    const auto name = p.filename().string();
    if (name == kLlamaScopeHyperparams || name == kSaeLensConfig) return p.parent_path();
  }
  return p;
}

// The dtype folding runs in: float64 only when the caller wants float64 (a 131k-feature
// SAE in float64 would need 4 GB per matrix).
torch::Dtype fold_dtype(const SaeLoadOptions& options) {
  return parse_dtype(options.dtype) == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
}

// Column norms of w [D, F] with zero columns reported as 1 (their direction is undefined;
// leaving them as they are keeps h = 0 and x_hat unchanged).
at::Tensor safe_column_norms(const at::Tensor& w) {
  const auto n = w.norm(2, {0});
  return torch::where(n > 0, n, torch::ones_like(n));
}

Sae finish(const SaeConfig& config, at::Tensor w_enc, at::Tensor b_enc, at::Tensor w_dec, at::Tensor b_dec,
           at::Tensor threshold, const SaeLoadOptions& options) {
  const c10::Device device(resolve_device(options.device));
  const auto type = parse_dtype(options.dtype);
  auto move = [&](const at::Tensor& t) { return t.to(device, type).contiguous(); };
  return Sae(config, move(w_enc), move(b_enc), move(w_dec), move(b_dec), move(threshold));
}

// A clone with unit decoder columns, what both savers write.
Sae normalized_copy(const Sae& sae) {
  Sae copy = sae.clone();
  copy.normalize_decoder();
  return copy;
}

at::Tensor stored(const at::Tensor& t, torch::Dtype type) { return t.detach().to(torch::kCPU, type).contiguous(); }

// Reads the optional "sightline" object (SaeConfig JSON) for training-only settings.
void read_sightline_extras(const nlohmann::json& j, const std::string& where, SaeConfig& config) {
  if (!j.contains("sightline") || j.at("sightline").is_null()) return;
  const auto extra = json_get<nlohmann::json>(j, "sightline", where);
  check(extra.is_object(), "file '{}': field 'sightline' must be an object", where);
  config.jumprelu_bandwidth =
      json_get_or<double>(extra, "jumprelu_bandwidth", config.jumprelu_bandwidth, where + " (sightline)");
  config.l1_coefficient = json_get_or<double>(extra, "l1_coefficient", config.l1_coefficient, where + " (sightline)");
}

nlohmann::json sightline_extras(const SaeConfig& c) {
  return {{"jumprelu_bandwidth", c.jumprelu_bandwidth}, {"l1_coefficient", c.l1_coefficient},
          {"variant", to_string(c.variant)}};
}

}  // namespace

SaeFormat detect_sae_format(const std::string& path) {
  const fs::path dir = directory_of(path);
  if (fs::is_regular_file(dir / kLlamaScopeHyperparams)) return SaeFormat::LlamaScope;
  if (fs::is_regular_file(dir / kSaeLensConfig)) return SaeFormat::SaeLens;
  check(fs::exists(dir), "SAE directory '{}' does not exist", dir.string());
  if (fs::exists(dir / "checkpoints"))
    fail("file '{}': missing (the directory holds checkpoints/ as a LLaMA-Scope SAE does)",
         (dir / kLlamaScopeHyperparams).string());
  fail("SAE directory '{}': neither '{}' (LLaMA-Scope) nor '{}' (SAELens) exists", dir.string(),
       kLlamaScopeHyperparams, kSaeLensConfig);
}

Sae load_sae(const std::string& path, const SaeLoadOptions& options) {
  const fs::path dir = directory_of(path);
  switch (detect_sae_format(path)) {
    case SaeFormat::LlamaScope: return load_llama_scope_sae(dir.string(), options);
    case SaeFormat::SaeLens: return load_saelens_sae(dir.string(), options);
  }
  fail("SAE directory '{}': unknown format", dir.string());
}

// ---------------------------------------------------------------------------------------
// LLaMA-Scope

Sae load_llama_scope_sae(const std::string& dir_in, const SaeLoadOptions& options) {
  const fs::path dir = directory_of(dir_in);
  const std::string where = (dir / kLlamaScopeHyperparams).string();
  check(fs::is_regular_file(where), "file '{}': missing (a LLaMA-Scope SAE directory holds {} and {})", where,
        kLlamaScopeHyperparams, kLlamaScopeWeights);
  const auto j = read_json_file(where);
  check(j.is_object(), "file '{}': expected a JSON object at the top level", where);

  SaeConfig config;
  config.source = dir.string();
  config.d_model = json_get<int64_t>(j, "d_model", where);
  check(config.d_model > 0, "file '{}': field 'd_model' must be positive, got {}", where, config.d_model);
  if (j.contains("d_sae") && !j.at("d_sae").is_null()) {
    config.d_sae = json_get<int64_t>(j, "d_sae", where);
  } else {
    config.d_sae = json_get<int64_t>(j, "expansion_factor", where) * config.d_model;
  }
  const std::string act_fn = lower(json_get_or<std::string>(j, "act_fn", "relu", where));
  config.k = json_get_or<int64_t>(j, "top_k", config.k, where);
  config.l1_coefficient = json_get_or<double>(j, "l1_coefficient", config.l1_coefficient, where);
  config.hook_point = json_get_or<std::string>(j, "hook_point_in", json_get_or<std::string>(j, "hook_point", "", where),
                                               where);
  config.hook_point_out = json_get_or<std::string>(j, "hook_point_out", "", where);
  if (config.hook_point_out == config.hook_point) config.hook_point_out.clear();
  read_sightline_extras(j, where, config);

  if (act_fn == "jumprelu") {
    config.variant = SaeVariant::JumpReLU;
    config.threshold = json_get<double>(j, "jump_relu_threshold", where);
  } else if (act_fn == "topk") {
    config.variant = SaeVariant::TopK;
  } else if (act_fn == "relu") {
    config.variant = SaeVariant::ReLU;
  } else {
    fail("file '{}': field 'act_fn' is '{}', expected jumprelu, topk or relu", where, act_fn);
  }
  config.validate(where);

  std::string norm_mode = lower(json_get_or<std::string>(
      j, "norm_activation", j.contains("dataset_average_activation_norm") ? "dataset-wise" : "inference", where));
  double s_in = 1.0, s_out = 1.0;
  if (norm_mode == "dataset-wise") {
    const auto norms = json_get<std::map<std::string, double>>(j, "dataset_average_activation_norm", where);
    for (const char* side : {"in", "out"}) {
      const auto it = norms.find(side);
      check(it != norms.end(), "file '{}': field 'dataset_average_activation_norm.{}' missing", where, side);
      check(it->second > 0 && std::isfinite(it->second),
            "file '{}': field 'dataset_average_activation_norm.{}' must be a positive number, got {}", where, side,
            it->second);
    }
    const double sqrt_d = std::sqrt(static_cast<double>(config.d_model));
    s_in = sqrt_d / norms.at("in");
    s_out = sqrt_d / norms.at("out");
  } else if (norm_mode != "inference" && norm_mode != "none") {
    fail("file '{}': field 'norm_activation' is '{}': only dataset-wise, inference or none can be folded into the "
         "weights",
         where, norm_mode);
  }
  const bool use_decoder_bias = json_get_or<bool>(j, "use_decoder_bias", true, where);
  const bool bias_pre_encoder = json_get_or<bool>(j, "apply_decoder_bias_to_pre_encoder", false, where);

  const fs::path weights = dir / kLlamaScopeWeights;
  check(fs::is_regular_file(weights), "file '{}': missing (LLaMA-Scope weights; {} was found)", weights.string(),
        where);
  const TensorSource source(weights.string());
  const int64_t D = config.d_model, F = config.d_sae;
  const std::string why = "d_model " + std::to_string(D) + ", d_sae " + std::to_string(F) + " in " + where;
  const auto type = fold_dtype(options);
  torch::NoGradGuard no_grad;
  auto w_enc = source.load_shaped("encoder.weight", {F, D}, why).to(type);  // [F, D]
  auto b_enc = source.load_shaped("encoder.bias", {F}, why).to(type);       // [F]
  auto w_dec = source.load_shaped("decoder.weight", {D, F}, why).to(type);  // [D, F]
  auto b_dec = use_decoder_bias ? source.load_shaped("decoder.bias", {D}, why).to(type) : torch::zeros({D}, type);
  at::Tensor threshold;
  if (source.contains("jumprelu_threshold")) threshold = source.load_shaped("jumprelu_threshold", {F}, why).to(type);
  const std::vector<std::pair<const char*, at::Tensor>> loaded{
      {"encoder.weight", w_enc}, {"encoder.bias", b_enc}, {"decoder.weight", w_dec}, {"decoder.bias", b_dec}};
  for (const auto& [name, t] : loaded)
    check(torch::isfinite(t).all().item<bool>(), "file '{}': tensor '{}' holds NaN or Inf", weights.string(), name);

  // x - b_dec before the encoder, in the stored (normalised) units, is a bias shift.
  if (bias_pre_encoder) b_enc = b_enc - torch::mv(w_enc, b_dec);
  // Step 1: from normalised units (x * s_in in, x_hat * s_out out) to raw residual units.
  b_enc = b_enc / s_in;
  b_dec = b_dec / s_out;
  w_dec = w_dec * (s_in / s_out);
  // Step 2: unit decoder columns, norms folded into the encoder rows.
  const auto n = safe_column_norms(w_dec);  // [F]
  w_dec = w_dec / n.unsqueeze(0);
  w_enc = w_enc * n.unsqueeze(1);
  b_enc = b_enc * n;
  if (!threshold.defined()) threshold = torch::full({F}, config.threshold, type);
  return finish(config, w_enc, b_enc, w_dec, b_dec, threshold, options);
}

void save_llama_scope_sae(const Sae& sae_in, const std::string& dir_in, const std::string& dtype) {
  const fs::path dir(dir_in);
  const auto type = parse_dtype(dtype);
  std::error_code ec;
  fs::create_directories(dir / "checkpoints", ec);
  check(!ec, "directory '{}': cannot create: {}", (dir / "checkpoints").string(), ec.message());
  const Sae sae = normalized_copy(sae_in);
  const auto& c = sae.config();
  torch::NoGradGuard no_grad;

  const auto threshold = sae.threshold().detach().to(torch::kCPU, torch::kFloat64);
  const bool jump = c.variant == SaeVariant::JumpReLU;
  const bool uniform = (threshold - threshold[0]).abs().max().item<double>() == 0.0;
  const double sqrt_d = std::sqrt(static_cast<double>(c.d_model));
  nlohmann::json j = {
      {"d_model", c.d_model},
      {"d_sae", c.d_sae},
      {"act_fn", to_string(c.variant)},
      {"top_k", c.k},
      {"norm_activation", "dataset-wise"},
      // in = out = sqrt(d) makes s_in = s_out = 1 exactly, so the loader's step 1 is the identity.
      {"dataset_average_activation_norm", {{"in", sqrt_d}, {"out", sqrt_d}}},
      {"use_decoder_bias", true},
      {"apply_decoder_bias_to_pre_encoder", false},
      {"sparsity_include_decoder_norm", true},
      {"hook_point_in", c.hook_point},
      {"hook_point_out", c.hook_point_out.empty() ? c.hook_point : c.hook_point_out},
      {"l1_coefficient", c.l1_coefficient},
      {"sightline", sightline_extras(c)},
  };
  if (c.d_sae % c.d_model == 0) j["expansion_factor"] = c.d_sae / c.d_model;
  if (jump) j["jump_relu_threshold"] = uniform ? threshold[0].item<double>() : threshold.mean().item<double>();

  std::vector<std::pair<std::string, at::Tensor>> tensors{{"encoder.weight", stored(sae.w_enc(), type)},
                                                          {"encoder.bias", stored(sae.b_enc(), type)},
                                                          {"decoder.weight", stored(sae.w_dec(), type)},
                                                          {"decoder.bias", stored(sae.b_dec(), type)}};
  if (jump && !uniform) tensors.emplace_back("jumprelu_threshold", stored(sae.threshold(), type));
  save_safetensors((dir / kLlamaScopeWeights).string(), tensors, {{"format", "pt"}});
  write_json_file((dir / kLlamaScopeHyperparams).string(), j);
}

// ---------------------------------------------------------------------------------------
// SAELens

Sae load_saelens_sae(const std::string& dir_in, const SaeLoadOptions& options) {
  const fs::path dir = directory_of(dir_in);
  const std::string where = (dir / kSaeLensConfig).string();
  check(fs::is_regular_file(where), "file '{}': missing (a SAELens SAE directory holds {} and {})", where,
        kSaeLensConfig, kSaeLensWeights);
  const auto j = read_json_file(where);
  check(j.is_object(), "file '{}': expected a JSON object at the top level", where);

  SaeConfig config;
  config.source = dir.string();
  config.d_model = json_get<int64_t>(j, "d_in", where);
  config.d_sae = json_get<int64_t>(j, "d_sae", where);
  const std::string architecture = lower(json_get_or<std::string>(j, "architecture", "standard", where));
  const std::string act = lower(json_get_or<std::string>(j, "activation_fn_str", "relu", where));
  if (architecture == "jumprelu") {
    config.variant = SaeVariant::JumpReLU;
  } else if (architecture == "topk" || act == "topk") {
    config.variant = SaeVariant::TopK;
    if (j.contains("k") && !j.at("k").is_null()) {
      config.k = json_get<int64_t>(j, "k", where);
    } else {
      const auto kwargs = json_get<nlohmann::json>(j, "activation_fn_kwargs", where);
      check(kwargs.is_object() && kwargs.contains("k"), "file '{}': field 'activation_fn_kwargs.k' missing (topk)",
            where);
      config.k = json_get<int64_t>(kwargs, "k", where + " (activation_fn_kwargs)");
    }
  } else if (architecture == "standard" && act == "relu") {
    config.variant = SaeVariant::ReLU;
  } else if (architecture != "standard") {
    fail("file '{}': field 'architecture' is '{}', expected standard, topk or jumprelu", where, architecture);
  } else {
    fail("file '{}': field 'activation_fn_str' is '{}', expected relu or topk", where, act);
  }
  const std::string normalize = lower(json_get_or<std::string>(j, "normalize_activations", "none", where));
  check(normalize == "none",
        "file '{}': field 'normalize_activations' is '{}': only 'none' is supported (fold the norm into the "
        "weights first)",
        where, normalize);
  const bool b_dec_to_input = json_get_or<bool>(j, "apply_b_dec_to_input", true, where);
  config.hook_point = json_get_or<std::string>(j, "hook_name", "", where);
  // SAELens 6 moved hook_name into "metadata".
  if (config.hook_point.empty() && j.contains("metadata") && j.at("metadata").is_object())
    config.hook_point = json_get_or<std::string>(j.at("metadata"), "hook_name", "", where + " (metadata)");
  read_sightline_extras(j, where, config);
  config.validate(where);

  const fs::path weights = dir / kSaeLensWeights;
  check(fs::is_regular_file(weights), "file '{}': missing (SAELens weights; {} was found)", weights.string(), where);
  const TensorSource source(weights.string());
  const int64_t D = config.d_model, F = config.d_sae;
  const std::string why = "d_in " + std::to_string(D) + ", d_sae " + std::to_string(F) + " in " + where;
  const auto type = fold_dtype(options);
  torch::NoGradGuard no_grad;
  auto w_enc = source.load_shaped("W_enc", {D, F}, why).to(type).t();  // -> [F, D]
  auto b_enc = source.load_shaped("b_enc", {F}, why).to(type);
  auto w_dec = source.load_shaped("W_dec", {F, D}, why).to(type).t();  // -> [D, F]
  auto b_dec = source.load_shaped("b_dec", {D}, why).to(type);
  at::Tensor threshold = torch::zeros({F}, type);
  if (config.variant == SaeVariant::JumpReLU) threshold = source.load_shaped("threshold", {F}, why).to(type);
  if (b_dec_to_input) b_enc = b_enc - torch::mv(w_enc, b_dec);
  // SAELens decodes (h * scaling_factor) @ W_dec: fold the factor into the decoder rows.
  if (source.contains("scaling_factor")) w_dec = w_dec * source.load_shaped("scaling_factor", {F}, why).to(type);

  const auto n = safe_column_norms(w_dec);  // [F]
  if (config.variant == SaeVariant::TopK) {
    const double worst = (n - 1).abs().max().item<double>();
    check(worst <= 1e-3,
          "file '{}': tensor 'W_dec' has rows with norm off 1 by up to {:.3g}: a topk SAE's selection cannot be "
          "refolded onto unit decoder directions",
          weights.string(), worst);
  }
  w_dec = w_dec / n.unsqueeze(0);
  w_enc = w_enc * n.unsqueeze(1);
  b_enc = b_enc * n;
  threshold = threshold * n;  // SAELens compares the raw pre with the threshold
  return finish(config, w_enc, b_enc, w_dec, b_dec, threshold, options);
}

void save_saelens_sae(const Sae& sae_in, const std::string& dir_in, const std::string& dtype) {
  const fs::path dir(dir_in);
  const auto type = parse_dtype(dtype);
  std::error_code ec;
  fs::create_directories(dir, ec);
  check(!ec, "directory '{}': cannot create: {}", dir.string(), ec.message());
  const Sae sae = normalized_copy(sae_in);
  const auto& c = sae.config();
  torch::NoGradGuard no_grad;

  nlohmann::json j = {
      {"d_in", c.d_model},
      {"d_sae", c.d_sae},
      {"architecture", c.variant == SaeVariant::ReLU ? "standard" : to_string(c.variant)},
      {"activation_fn_str", c.variant == SaeVariant::TopK ? "topk" : "relu"},
      {"apply_b_dec_to_input", false},
      {"normalize_activations", "none"},
      {"hook_name", c.hook_point},
      {"dtype", sae_detail::dtype_name(type)},
      {"sightline", sightline_extras(c)},
  };
  if (c.variant == SaeVariant::TopK) {
    j["k"] = c.k;
    j["activation_fn_kwargs"] = {{"k", c.k}};
  } else {
    j["activation_fn_kwargs"] = nlohmann::json::object();
  }
  std::vector<std::pair<std::string, at::Tensor>> tensors{{"W_enc", stored(sae.w_enc().t(), type)},
                                                          {"W_dec", stored(sae.w_dec().t(), type)},
                                                          {"b_enc", stored(sae.b_enc(), type)},
                                                          {"b_dec", stored(sae.b_dec(), type)}};
  if (c.variant == SaeVariant::JumpReLU) tensors.emplace_back("threshold", stored(sae.threshold(), type));
  save_safetensors((dir / kSaeLensWeights).string(), tensors);
  write_json_file((dir / kSaeLensConfig).string(), j);
}

}  // namespace sightline
