#include "core/model/modules.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/types.h>

#include <cmath>

#include "core/common/error.h"

namespace sightline::detail {

// ---------------------------------------------------------------- hooks

HookRunner::HookRunner(const ForwardRequest& request, int num_layers, const at::Tensor& token_types,
                       ForwardOutput& out)
    : num_layers_(num_layers),
      token_types_(token_types),
      out_(out),
      keep_graph_(request.capture_grad) {
  const size_t n = static_cast<size_t>(HookSite::kCount) * static_cast<size_t>(num_layers + 1);
  capture_.assign(n, 0);
  edits_.assign(n, nullptr);
  for (const auto& name : request.capture) {
    const HookPoint p = parse_hook_name(name, num_layers);
    capture_[index(p.site, p.layer)] = 1;
  }
  for (const auto& [name, fns] : request.edits) {
    const HookPoint p = parse_hook_name(name, num_layers);
    if (!fns.empty()) edits_[index(p.site, p.layer)] = &fns;
  }
}

size_t HookRunner::index(HookSite site, int layer) const {
  return static_cast<size_t>(site) * static_cast<size_t>(num_layers_ + 1) + static_cast<size_t>(layer + 1);
}

bool HookRunner::active(HookSite site, int layer) const {
  const size_t i = index(site, layer);
  return capture_[i] || edits_[i];
}

at::Tensor HookRunner::operator()(HookSite site, int layer, at::Tensor x) {
  const size_t i = index(site, layer);
  if (edits_[i]) {
    const HookContext context{HookPoint{site, layer}, token_types_};
    for (const auto& fn : *edits_[i]) {
      at::Tensor y = fn(x, context);
      if (!y.sizes().equals(x.sizes())) {
        fail("edit at hook '{}' returned shape {} for an activation of shape {}", hook_name({site, layer}),
             c10::str(y.sizes()), c10::str(x.sizes()));
      }
      x = y;
    }
  }
  if (capture_[i]) out_.captured[hook_name({site, layer})] = keep_graph_ ? x : x.detach();
  return x;
}

// ---------------------------------------------------------------- llama

RmsNormImpl::RmsNormImpl(int64_t dim, double eps_) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({dim}));
}

at::Tensor RmsNormImpl::forward(const at::Tensor& x) {
  const auto x32 = x.to(torch::kFloat32);
  const auto normed = x32 * torch::rsqrt(x32.pow(2).mean(-1, true) + eps);
  return weight * normed.to(x.scalar_type());
}

LlamaAttentionImpl::LlamaAttentionImpl(const LlamaConfig& c)
    : heads(c.num_attention_heads), kv_heads(c.num_key_value_heads), head_dim(c.head_dim) {
  auto lin = [&](int64_t in, int64_t out, bool bias) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
  };
  q_proj = register_module("q_proj", lin(c.hidden_size, heads * head_dim, c.attention_bias));
  k_proj = register_module("k_proj", lin(c.hidden_size, kv_heads * head_dim, c.attention_bias));
  v_proj = register_module("v_proj", lin(c.hidden_size, kv_heads * head_dim, c.attention_bias));
  o_proj = register_module("o_proj", lin(heads * head_dim, c.hidden_size, c.attention_bias));
}

namespace {
at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}
}  // namespace

at::Tensor LlamaAttentionImpl::forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                                       const at::Tensor& mask, HookRunner& hooks, int layer) {
  const int64_t B = x.size(0), T = x.size(1);
  auto q = hooks(HookSite::kQ, layer, q_proj(x).view({B, T, heads, head_dim}));     // (B, T, H, dh)
  auto k = hooks(HookSite::kK, layer, k_proj(x).view({B, T, kv_heads, head_dim}));  // (B, T, Hkv, dh)
  auto v = hooks(HookSite::kV, layer, v_proj(x).view({B, T, kv_heads, head_dim}));
  const auto c = cos.view({1, T, 1, head_dim});
  const auto s = sin.view({1, T, 1, head_dim});
  const auto qr = (q * c + rotate_half(q) * s).transpose(1, 2);  // (B, H, T, dh)
  auto kr = (k * c + rotate_half(k) * s).transpose(1, 2);        // (B, Hkv, T, dh)
  auto vh = v.transpose(1, 2);
  if (kv_heads != heads) {  // GQA: query head h reads KV head h / (H / Hkv)
    const int64_t rep = heads / kv_heads;
    kr = kr.unsqueeze(2).expand({B, kv_heads, rep, T, head_dim}).reshape({B, heads, T, head_dim});
    vh = vh.unsqueeze(2).expand({B, kv_heads, rep, T, head_dim}).reshape({B, heads, T, head_dim});
  }
  auto scores = torch::matmul(qr, kr.transpose(-2, -1)) / std::sqrt(static_cast<double>(head_dim));
  // Softmax in float32 as HF's eager attention does.
  auto probs = torch::softmax(scores.to(torch::kFloat32) + mask, -1).to(x.scalar_type());  // (B, H, T, T)
  probs = hooks(HookSite::kPattern, layer, probs);
  auto z = torch::matmul(probs, vh).transpose(1, 2).contiguous();  // (B, T, H, dh)
  z = hooks(HookSite::kZ, layer, z);
  return o_proj(z.view({B, T, heads * head_dim}));
}

LlamaMlpImpl::LlamaMlpImpl(const LlamaConfig& c) {
  auto lin = [&](int64_t in, int64_t out) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(c.mlp_bias));
  };
  gate_proj = register_module("gate_proj", lin(c.hidden_size, c.intermediate_size));
  up_proj = register_module("up_proj", lin(c.hidden_size, c.intermediate_size));
  down_proj = register_module("down_proj", lin(c.intermediate_size, c.hidden_size));
}

at::Tensor LlamaMlpImpl::forward(const at::Tensor& x) {
  return down_proj(torch::silu(gate_proj(x)) * up_proj(x));
}

LlamaLayerImpl::LlamaLayerImpl(const LlamaConfig& c) {
  self_attn = register_module("self_attn", LlamaAttention(c));
  mlp = register_module("mlp", LlamaMlp(c));
  input_layernorm = register_module("input_layernorm", RmsNorm(c.hidden_size, c.rms_norm_eps));
  post_attention_layernorm = register_module("post_attention_layernorm", RmsNorm(c.hidden_size, c.rms_norm_eps));
}

at::Tensor LlamaLayerImpl::forward(at::Tensor x, const at::Tensor& cos, const at::Tensor& sin,
                                   const at::Tensor& mask, HookRunner& hooks, int layer) {
  x = hooks(HookSite::kResidPre, layer, x);
  auto attn = hooks(HookSite::kAttnOut, layer, self_attn->forward(input_layernorm(x), cos, sin, mask, hooks, layer));
  x = hooks(HookSite::kResidMid, layer, x + attn);
  auto mlp_out = hooks(HookSite::kMlpOut, layer, mlp(post_attention_layernorm(x)));
  return hooks(HookSite::kResidPost, layer, x + mlp_out);
}

std::pair<at::Tensor, at::Tensor> rope_tables(const LlamaConfig& c, int64_t T, const at::TensorOptions& options) {
  const auto inv = c.rope_inv_freq();
  auto inv_t = torch::tensor(inv, torch::kFloat64).to(torch::kFloat32);               // (dh/2)
  auto pos = torch::arange(T, torch::kFloat32);                                         // (T)
  auto freqs = torch::outer(pos, inv_t);                                                // (T, dh/2)
  auto emb = torch::cat({freqs, freqs}, -1);                                            // (T, dh)
  return {emb.cos().to(options), emb.sin().to(options)};
}

// ---------------------------------------------------------------- CLIP

ClipAttentionImpl::ClipAttentionImpl(const VisionConfig& c)
    : heads(c.num_attention_heads), head_dim(c.hidden_size / c.num_attention_heads) {
  q_proj = register_module("q_proj", torch::nn::Linear(c.hidden_size, c.hidden_size));
  k_proj = register_module("k_proj", torch::nn::Linear(c.hidden_size, c.hidden_size));
  v_proj = register_module("v_proj", torch::nn::Linear(c.hidden_size, c.hidden_size));
  out_proj = register_module("out_proj", torch::nn::Linear(c.hidden_size, c.hidden_size));
}

at::Tensor ClipAttentionImpl::forward(const at::Tensor& x) {
  const int64_t N = x.size(0), P = x.size(1);
  auto split = [&](const at::Tensor& t) { return t.view({N, P, heads, head_dim}).transpose(1, 2); };
  const auto q = split(q_proj(x)), k = split(k_proj(x)), v = split(v_proj(x));  // (N, h, P, dh)
  auto scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(head_dim));
  auto probs = torch::softmax(scores.to(torch::kFloat32), -1).to(x.scalar_type());
  auto o = torch::matmul(probs, v).transpose(1, 2).reshape({N, P, heads * head_dim});
  return out_proj(o);
}

ClipMlpImpl::ClipMlpImpl(const VisionConfig& c) : quick_gelu(c.hidden_act == "quick_gelu") {
  fc1 = register_module("fc1", torch::nn::Linear(c.hidden_size, c.intermediate_size));
  fc2 = register_module("fc2", torch::nn::Linear(c.intermediate_size, c.hidden_size));
}

at::Tensor ClipMlpImpl::forward(const at::Tensor& x) {
  auto h = fc1(x);
  h = quick_gelu ? h * torch::sigmoid(1.702 * h) : torch::gelu(h);
  return fc2(h);
}

ClipLayerImpl::ClipLayerImpl(const VisionConfig& c) {
  self_attn = register_module("self_attn", ClipAttention(c));
  layer_norm1 = register_module(
      "layer_norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
  mlp = register_module("mlp", ClipMlp(c));
  layer_norm2 = register_module(
      "layer_norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
}

at::Tensor ClipLayerImpl::forward(const at::Tensor& x) {
  auto h = x + self_attn(layer_norm1(x));
  return h + mlp(layer_norm2(h));
}

ClipEmbeddingsImpl::ClipEmbeddingsImpl(const VisionConfig& c) {
  class_embedding = register_parameter("class_embedding", torch::randn({c.hidden_size}) * 0.02);
  patch_embedding = register_module(
      "patch_embedding",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(c.num_channels, c.hidden_size, c.patch_size)
                            .stride(c.patch_size)
                            .bias(false)));
  position_embedding = register_module("position_embedding", torch::nn::Embedding(c.num_patches() + 1, c.hidden_size));
  position_embedding->weight.data().normal_(0.0, 0.02);
}

at::Tensor ClipEmbeddingsImpl::forward(const at::Tensor& pixels) {
  const int64_t N = pixels.size(0);
  auto patches = patch_embedding(pixels.to(patch_embedding->weight.scalar_type()));  // (N, C, g, g)
  patches = patches.flatten(2).transpose(1, 2);                                       // (N, P, C), row-major grid
  auto cls = class_embedding.view({1, 1, -1}).expand({N, 1, class_embedding.size(0)});
  auto x = torch::cat({cls, patches}, 1);
  return x + position_embedding->weight.unsqueeze(0);
}

ClipEncoderImpl::ClipEncoderImpl(const VisionConfig& c) {
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(ClipLayer(c));
}

ClipVisionModelImpl::ClipVisionModelImpl(const VisionConfig& c) {
  auto ln = [&]() {
    return torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps));
  };
  embeddings = register_module("embeddings", ClipEmbeddings(c));
  pre_layrnorm = register_module("pre_layrnorm", ln());
  encoder = register_module("encoder", ClipEncoder(c));
  post_layernorm = register_module("post_layernorm", ln());
}

at::Tensor ClipVisionModelImpl::hidden_state(const at::Tensor& pixels, int64_t index) {
  auto x = pre_layrnorm(embeddings(pixels));
  for (int64_t i = 0; i < index; ++i) x = encoder->layers->ptr<ClipLayerImpl>(i)->forward(x);
  return x;
}

ClipTowerImpl::ClipTowerImpl(const VisionConfig& c) {
  vision_model = register_module("vision_model", ClipVisionModel(c));
}
VisionTowerImpl::VisionTowerImpl(const VisionConfig& c) {
  vision_tower = register_module("vision_tower", ClipTower(c));
}

// ---------------------------------------------------------------- the LM

LlamaModelImpl::LlamaModelImpl(const ModelConfig& c) {
  const auto& t = c.text;
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(t.vocab_size, t.hidden_size));
  embed_tokens->weight.data().normal_(0.0, 0.02);
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < t.num_hidden_layers; ++i) layers->push_back(LlamaLayer(t));
  norm = register_module("norm", RmsNorm(t.hidden_size, t.rms_norm_eps));
  if (c.mm.present) {
    if (!c.mm.vision) {
      fail("config '{}': the vision tower '{}' is not described (give --vision DIR with its config.json)",
           c.source, c.mm.vision_tower_name);
    }
    mm_projector = register_module("mm_projector", torch::nn::ModuleList());
    mm_projector->push_back(torch::nn::Linear(c.mm.mm_hidden_size, t.hidden_size));
    mm_projector->push_back(torch::nn::GELU());
    mm_projector->push_back(torch::nn::Linear(t.hidden_size, t.hidden_size));
    vision_tower = register_module("vision_tower", VisionTower(*c.mm.vision));
  }
}

CausalLmImpl::CausalLmImpl(const ModelConfig& c) {
  model = register_module("model", LlamaModel(c));
  if (!c.text.tie_word_embeddings) {
    lm_head = register_module("lm_head",
                              torch::nn::Linear(torch::nn::LinearOptions(c.text.hidden_size, c.text.vocab_size).bias(false)));
  }
}

}  // namespace sightline::detail
