#include "core/model/model.h"

#include <torch/types.h>

#include <filesystem>
#include <set>

#include "core/common/error.h"
#include "core/common/runtime.h"
#include "core/io/json_util.h"
#include "core/io/safetensors.h"
#include "core/io/tensor_source.h"
#include "core/model/modules.h"

namespace fs = std::filesystem;

namespace sightline {

namespace {

torch::Dtype parse_dtype(const std::string& name) {
  if (name == "float32" || name == "f32" || name == "float") return torch::kFloat32;
  if (name == "bfloat16" || name == "bf16") return torch::kBFloat16;
  if (name == "float16" || name == "f16" || name == "half") return torch::kFloat16;
  if (name == "float64" || name == "f64") return torch::kFloat64;
  fail("dtype '{}' is not supported (float32, bfloat16, float16, float64)", name);
}

std::string dtype_name(torch::Dtype d) {
  switch (d) {
    case torch::kFloat32: return "float32";
    case torch::kBFloat16: return "bfloat16";
    case torch::kFloat16: return "float16";
    case torch::kFloat64: return "float64";
    default: return std::string(c10::toString(d));
  }
}

const char* kVisionPrefix = "model.vision_tower.vision_tower.";

}  // namespace

struct VisionLanguageModel::Impl {
  ModelConfig config;
  detail::CausalLm lm{nullptr};
  torch::Device device{torch::kCPU};
  torch::Dtype dtype = torch::kFloat32;
};

VisionLanguageModel::VisionLanguageModel(const ModelConfig& config) : impl_(std::make_unique<Impl>()) {
  impl_->config = config;
  impl_->lm = detail::CausalLm(config);
  // Llama-style init: N(0, 0.02) linear weights (torch's default kaiming is too wide for
  // deep residual stacks); norms stay at one.
  torch::NoGradGuard guard;
  for (auto& p : impl_->lm->named_parameters()) {
    const auto& name = p.key();
    if (name.find("norm") != std::string::npos || name.find("layrnorm") != std::string::npos) continue;
    if (p.value().dim() >= 2) p.value().normal_(0.0, 0.02);
    else if (name.size() > 5 && name.substr(name.size() - 5) == ".bias") p.value().zero_();
  }
}

VisionLanguageModel::~VisionLanguageModel() = default;

const ModelConfig& VisionLanguageModel::config() const { return impl_->config; }
int VisionLanguageModel::num_layers() const { return static_cast<int>(impl_->config.text.num_hidden_layers); }
bool VisionLanguageModel::has_vision() const { return !impl_->lm->model->vision_tower.is_empty(); }
std::string VisionLanguageModel::device() const { return impl_->device.str(); }
std::string VisionLanguageModel::dtype() const { return dtype_name(impl_->dtype); }

int64_t model_image_tokens(const ModelConfig& config) {
  if (!config.mm.present || !config.mm.vision) return 0;
  return config.mm.vision->num_patches() + (config.mm.vision_select_feature == "cls_patch" ? 1 : 0);
}

int64_t VisionLanguageModel::image_tokens() const { return has_vision() ? model_image_tokens(impl_->config) : 0; }

void VisionLanguageModel::to(const std::string& device, const std::string& dtype) {
  impl_->device = torch::Device(device);
  impl_->dtype = parse_dtype(dtype);
  impl_->lm->to(impl_->device, impl_->dtype);
}

std::vector<std::pair<std::string, at::Tensor>> VisionLanguageModel::named_parameters() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : impl_->lm->named_parameters()) out.emplace_back(p.key(), p.value());
  return out;
}

void VisionLanguageModel::set_trainable(const std::vector<std::string>& prefixes) {
  for (auto& p : impl_->lm->named_parameters()) {
    bool on = false;
    for (const auto& prefix : prefixes) on = on || p.key().rfind(prefix, 0) == 0;
    p.value().set_requires_grad(on);
  }
}

std::vector<at::Tensor> VisionLanguageModel::trainable_parameters() const {
  std::vector<at::Tensor> out;
  for (const auto& p : impl_->lm->parameters()) {
    if (p.requires_grad()) out.push_back(p);
  }
  return out;
}

int64_t VisionLanguageModel::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : impl_->lm->parameters()) n += p.numel();
  return n;
}

// ---------------------------------------------------------------- vision

at::Tensor VisionLanguageModel::vision_features(const at::Tensor& pixels) const {
  check(has_vision(), "model '{}' has no vision tower", impl_->config.source);
  const auto& v = *impl_->config.mm.vision;
  check(pixels.dim() == 4 && pixels.size(1) == v.num_channels && pixels.size(2) == v.image_size &&
            pixels.size(3) == v.image_size,
        "pixels have shape {}, the vision tower takes [N, {}, {}, {}]", c10::str(pixels.sizes()), v.num_channels,
        v.image_size, v.image_size);
  auto& tower = impl_->lm->model->vision_tower->vision_tower->vision_model;
  auto x = tower->hidden_state(pixels.to(impl_->device, impl_->dtype),
                               impl_->config.mm.vision_layers_used(v.num_hidden_layers));  // (N, 1 + P, C)
  if (impl_->config.mm.vision_select_feature == "patch") x = x.narrow(1, 1, x.size(1) - 1);
  return x;
}

at::Tensor VisionLanguageModel::encode_images(const at::Tensor& pixels) const {
  auto x = vision_features(pixels);
  auto& proj = impl_->lm->model->mm_projector;
  x = proj->ptr<torch::nn::LinearImpl>(0)->forward(x);
  x = torch::gelu(x);  // exact erf GELU, as nn.GELU()
  return proj->ptr<torch::nn::LinearImpl>(2)->forward(x);
}

// ---------------------------------------------------------------- assembly

PreparedBatch VisionLanguageModel::prepare(const BatchInput& input) const {
  const auto& cfg = impl_->config.text;
  const int64_t B = static_cast<int64_t>(input.ids.size());
  check(B > 0, "empty batch");
  int64_t n_images = 0;
  for (size_t b = 0; b < input.ids.size(); ++b) {
    const auto& seq = input.ids[b];
    check(!seq.empty(), "sequence {} of the batch is empty", b);
    int64_t count = 0;
    for (int64_t id : seq) {
      if (id == kImageTokenIndex) {
        ++count;
      } else if (id < 0 || id >= cfg.vocab_size) {
        fail("sequence {}: token id {} is outside the vocabulary [0, {})", b, id, cfg.vocab_size);
      }
    }
    check(count <= 1, "sequence {} holds {} image markers ({}); at most one is supported", b, count,
          kImageTokenIndex);
    n_images += count;
  }
  at::Tensor image_embeds;
  if (n_images > 0) {
    check(has_vision(), "the input has image markers ({}) but model '{}' has no vision tower", kImageTokenIndex,
          impl_->config.source);
    check(input.pixels.defined() && input.pixels.size(0) == n_images,
          "the batch has {} image markers but {} images", n_images,
          input.pixels.defined() ? input.pixels.size(0) : 0);
    image_embeds = encode_images(input.pixels);  // (N, P, D)
  }
  const int64_t P = n_images > 0 ? image_embeds.size(1) : 0;

  PreparedBatch out;
  int64_t T = 0;
  for (const auto& seq : input.ids) {
    bool has_image = false;
    for (int64_t id : seq) has_image = has_image || id == kImageTokenIndex;
    const int64_t len = static_cast<int64_t>(seq.size()) + (has_image ? P - 1 : 0);
    out.lengths.push_back(len);
    T = std::max(T, len);
  }
  auto ids = torch::zeros({B, T}, torch::kInt64);
  auto types = torch::full({B, T}, static_cast<int8_t>(kTokenPad), torch::kInt8);
  auto ids_a = ids.accessor<int64_t, 2>();
  auto types_a = types.accessor<int8_t, 2>();
  out.image_offsets.assign(B, -1);
  for (int64_t b = 0; b < B; ++b) {
    int64_t t = 0;
    for (int64_t id : input.ids[b]) {
      if (id == kImageTokenIndex) {
        out.image_offsets[b] = t;
        for (int64_t p = 0; p < P; ++p, ++t) {
          ids_a[b][t] = kImageTokenIndex;
          types_a[b][t] = kTokenImage;
        }
      } else {
        ids_a[b][t] = id;
        types_a[b][t] = (t == 0 && id == cfg.bos_token_id) ? kTokenBos : kTokenText;
        ++t;
      }
    }
  }
  auto& embed = impl_->lm->model->embed_tokens;
  const auto lookup = ids.clamp_min(0).to(impl_->device);
  auto embeds = embed(lookup);  // (B, T, D)
  if (n_images > 0) {
    // Rebuild image rows by concatenation so gradients reach the projector and tower.
    std::vector<at::Tensor> rows;
    int64_t image = 0;
    for (int64_t b = 0; b < B; ++b) {
      const int64_t off = out.image_offsets[b];
      if (off < 0) {
        rows.push_back(embeds[b]);
        continue;
      }
      rows.push_back(torch::cat({embeds[b].narrow(0, 0, off), image_embeds[image++].to(embeds.scalar_type()),
                                 embeds[b].narrow(0, off + P, T - off - P)},
                                0));
    }
    embeds = torch::stack(rows, 0);
  }
  out.embeds = embeds;
  out.input_ids = ids.to(impl_->device);
  out.token_types = types.to(impl_->device);
  return out;
}

// ---------------------------------------------------------------- forward

ForwardOutput VisionLanguageModel::forward(const PreparedBatch& batch, const ForwardRequest& request) const {
  const bool grad = request.grad || request.capture_grad;
  torch::AutoGradMode grad_mode(grad);
  ForwardOutput out;
  const int L = num_layers();
  check(request.stop_after_layer < L, "stop_after_layer {} is beyond the model's {} layers",
        request.stop_after_layer, L);
  detail::HookRunner hooks(request, L, batch.token_types, out);
  auto x = batch.embeds;
  if (request.capture_grad && !x.requires_grad()) x = x.detach().requires_grad_(true);
  x = hooks(HookSite::kEmbed, -1, x);
  const int64_t T = x.size(1);
  const auto opts = torch::TensorOptions().device(impl_->device).dtype(impl_->dtype);
  const auto [cos, sin] = detail::rope_tables(impl_->config.text, T, opts);
  // Additive causal mask in float32: right padding needs no key mask, since a real
  // position never sees a later (padded) one.
  const auto mask = torch::full({T, T}, -std::numeric_limits<float>::infinity(),
                                torch::TensorOptions().device(impl_->device).dtype(torch::kFloat32))
                        .triu(1);
  auto& layers = impl_->lm->model->layers;
  const int last = request.stop_after_layer >= 0 ? request.stop_after_layer : L - 1;
  for (int l = 0; l <= last; ++l) x = layers->ptr<detail::LlamaLayerImpl>(l)->forward(x, cos, sin, mask, hooks, l);
  if (request.stop_after_layer >= 0 || request.logits == LogitsMode::kNone) return out;
  if (request.logits == LogitsMode::kLast) {
    auto idx = torch::tensor(batch.lengths, torch::kInt64).sub(1).to(impl_->device);
    x = x.index({torch::arange(x.size(0), torch::TensorOptions().device(impl_->device).dtype(torch::kInt64)), idx});
  }
  x = impl_->lm->model->norm(x);
  out.logits = impl_->lm->lm_head.is_empty() ? torch::matmul(x, impl_->lm->model->embed_tokens->weight.t())
                                             : impl_->lm->lm_head(x);
  return out;
}

ForwardOutput VisionLanguageModel::forward(const BatchInput& input, const ForwardRequest& request) const {
  torch::AutoGradMode grad_mode(request.grad || request.capture_grad);
  return forward(prepare(input), request);
}

// ---------------------------------------------------------------- load / save

ModelConfig VisionLanguageModel::load_config(const LoadOptions& options) {
  const fs::path dir(options.model_dir);
  check(fs::is_directory(dir), "model directory '{}' does not exist", options.model_dir);
  const std::string config_path = (dir / "config.json").string();
  check(fs::exists(config_path), "model directory '{}' has no config.json", options.model_dir);
  ModelConfig config = load_model_config(config_path);
  if (!options.vision_dir.empty()) {
    const fs::path vdir(options.vision_dir);
    check(fs::exists(vdir / "config.json"), "vision directory '{}' has no config.json", options.vision_dir);
    check(config.mm.present, "--vision '{}' was given but '{}' is not a LLaVA config", options.vision_dir,
          config_path);
    config.mm.vision = load_vision_config((vdir / "config.json").string());
    check(config.mm.mm_hidden_size == config.mm.vision->hidden_size,
          "file '{}': mm_hidden_size {} disagrees with the vision tower's hidden_size {} in '{}'", config_path,
          config.mm.mm_hidden_size, config.mm.vision->hidden_size, (vdir / "config.json").string());
  }
  return config;
}

std::unique_ptr<VisionLanguageModel> VisionLanguageModel::load(const LoadOptions& options) {
  const ModelConfig config = load_config(options);
  const std::string config_path = (fs::path(options.model_dir) / "config.json").string();
  std::unique_ptr<TensorSource> vision_source;
  if (!options.vision_dir.empty()) vision_source = std::make_unique<TensorSource>(options.vision_dir);
  torch::NoGradGuard guard;
  auto model = std::make_unique<VisionLanguageModel>(config);
  const TensorSource source(options.model_dir);
  for (auto& p : model->impl_->lm->named_parameters()) {
    const std::string& name = p.key();
    auto& param = p.value();
    const std::vector<int64_t> shape(param.sizes().begin(), param.sizes().end());
    at::Tensor value;
    if (source.contains(name)) {
      value = source.load_shaped(name, shape, config_path);
    } else if (name.rfind(kVisionPrefix, 0) == 0) {
      const std::string short_name = name.substr(std::string(kVisionPrefix).size());  // vision_model.*
      if (vision_source && vision_source->contains(short_name)) {
        value = vision_source->load_shaped(short_name, shape, "the vision config");
      } else if (short_name.rfind("vision_model.post_layernorm", 0) == 0) {
        continue;  // LLaVA never uses post_layernorm; a checkpoint may omit it
      } else {
        fail("model '{}': tensor '{}' is in neither the checkpoint nor {}", options.model_dir, name,
             vision_source ? "'" + options.vision_dir + "' (as '" + short_name + "')"
                           : std::string("a --vision directory (none given)"));
      }
    } else {
      fail("model '{}': tensor '{}' is missing from the checkpoint", options.model_dir, name);
    }
    param.copy_(value.to(param.scalar_type()));
  }
  model->to(resolve_device(options.device), options.dtype);
  return model;
}

void VisionLanguageModel::save(const std::string& dir, const std::string& dtype) const {
  fs::create_directories(dir);
  const auto d = parse_dtype(dtype);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& [name, value] : named_parameters()) tensors.emplace_back(name, value.detach().to(torch::kCPU, d));
  ModelConfig config = impl_->config;
  config.text.torch_dtype = dtype_name(d);
  save_safetensors((fs::path(dir) / "model.safetensors").string(), tensors, {{"format", "pt"}});
  write_json_file((fs::path(dir) / "config.json").string(), to_json(config));
}

}  // namespace sightline
