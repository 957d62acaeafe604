// Internal to core/model: the torch::nn modules behind VisionLanguageModel. Included only
// by core/model/*.cpp (which have torch via the precompiled header); never by other code.
// Submodule names mirror the HF tensor names so named_parameters() gives them directly.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <vector>

#include "core/model/config.h"
#include "core/model/hooks.h"

namespace sightline::detail {

// Dispatches a forward pass's hooks: captures and edits by (site, layer), precomputed
// from the request so that a pass with no hooks costs one vector lookup per site.
class HookRunner {
 public:
  HookRunner(const ForwardRequest& request, int num_layers, const at::Tensor& token_types, ForwardOutput& out);
  // Applies the edits for (site, layer), captures if asked, returns the (edited) value.
  at::Tensor operator()(HookSite site, int layer, at::Tensor x);
  bool active(HookSite site, int layer) const;

 private:
  size_t index(HookSite site, int layer) const;
  int num_layers_;
  const at::Tensor& token_types_;
  ForwardOutput& out_;
  bool keep_graph_;
  std::vector<char> capture_;
  std::vector<const std::vector<HookFn>*> edits_;
};

// Llama RMSNorm: normalise in float32, then weight * x cast back (FORMATS.md).
struct RmsNormImpl : torch::nn::Module {
  RmsNormImpl(int64_t dim, double eps);
  at::Tensor forward(const at::Tensor& x);
  at::Tensor weight;
  double eps;
};
TORCH_MODULE(RmsNorm);

struct LlamaAttentionImpl : torch::nn::Module {
  explicit LlamaAttentionImpl(const LlamaConfig& c);
  // x [B, T, D]; cos/sin [T, dh]; mask [T, T] additive causal mask.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& mask,
                     HookRunner& hooks, int layer);
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  int64_t heads, kv_heads, head_dim;
};
TORCH_MODULE(LlamaAttention);

struct LlamaMlpImpl : torch::nn::Module {
  explicit LlamaMlpImpl(const LlamaConfig& c);
  at::Tensor forward(const at::Tensor& x);
  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(LlamaMlp);

struct LlamaLayerImpl : torch::nn::Module {
  explicit LlamaLayerImpl(const LlamaConfig& c);
  at::Tensor forward(at::Tensor x, const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& mask,
                     HookRunner& hooks, int layer);
  RmsNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  LlamaAttention self_attn{nullptr};
  LlamaMlp mlp{nullptr};
};
TORCH_MODULE(LlamaLayer);

// CLIP vision transformer, HF layout (vision_model.*).
struct ClipAttentionImpl : torch::nn::Module {
  explicit ClipAttentionImpl(const VisionConfig& c);
  at::Tensor forward(const at::Tensor& x);
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};
  int64_t heads, head_dim;
};
TORCH_MODULE(ClipAttention);

struct ClipMlpImpl : torch::nn::Module {
  explicit ClipMlpImpl(const VisionConfig& c);
  at::Tensor forward(const at::Tensor& x);
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  bool quick_gelu;
};
TORCH_MODULE(ClipMlp);

struct ClipLayerImpl : torch::nn::Module {
  explicit ClipLayerImpl(const VisionConfig& c);
  at::Tensor forward(const at::Tensor& x);
  ClipAttention self_attn{nullptr};
  torch::nn::LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};
  ClipMlp mlp{nullptr};
};
TORCH_MODULE(ClipLayer);

struct ClipEmbeddingsImpl : torch::nn::Module {
  explicit ClipEmbeddingsImpl(const VisionConfig& c);
  at::Tensor forward(const at::Tensor& pixels);  // [N, 3, S, S] -> [N, 1 + P, C]
  at::Tensor class_embedding;
  torch::nn::Conv2d patch_embedding{nullptr};
  torch::nn::Embedding position_embedding{nullptr};
};
TORCH_MODULE(ClipEmbeddings);

struct ClipEncoderImpl : torch::nn::Module {
  explicit ClipEncoderImpl(const VisionConfig& c);
  torch::nn::ModuleList layers;
};
TORCH_MODULE(ClipEncoder);

struct ClipVisionModelImpl : torch::nn::Module {
  explicit ClipVisionModelImpl(const VisionConfig& c);
  // Hidden state `index` in HF's hidden_states numbering (0 = after pre_layrnorm).
  at::Tensor hidden_state(const at::Tensor& pixels, int64_t index);
  ClipEmbeddings embeddings{nullptr};
  torch::nn::LayerNorm pre_layrnorm{nullptr};  // sic, as HF names it
  ClipEncoder encoder{nullptr};
  torch::nn::LayerNorm post_layernorm{nullptr};
};
TORCH_MODULE(ClipVisionModel);

// LLaVA nests the CLIP model twice: model.vision_tower.vision_tower.vision_model.*
struct ClipTowerImpl : torch::nn::Module {
  explicit ClipTowerImpl(const VisionConfig& c);
  ClipVisionModel vision_model{nullptr};
};
TORCH_MODULE(ClipTower);
struct VisionTowerImpl : torch::nn::Module {
  explicit VisionTowerImpl(const VisionConfig& c);
  ClipTower vision_tower{nullptr};
};
TORCH_MODULE(VisionTower);

// "model.*" of a Llama / LLaVA checkpoint.
struct LlamaModelImpl : torch::nn::Module {
  explicit LlamaModelImpl(const ModelConfig& c);
  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers;
  RmsNorm norm{nullptr};
  torch::nn::ModuleList mm_projector{nullptr};  // {0: Linear, 1: GELU, 2: Linear}; null without vision
  VisionTower vision_tower{nullptr};            // null without vision
};
TORCH_MODULE(LlamaModel);

struct CausalLmImpl : torch::nn::Module {
  explicit CausalLmImpl(const ModelConfig& c);
  LlamaModel model{nullptr};
  torch::nn::Linear lm_head{nullptr};  // null when tied to embed_tokens
};
TORCH_MODULE(CausalLm);

// rotate-half RoPE tables for positions [0, T): cos, sin [T, dh] in `dtype`.
std::pair<at::Tensor, at::Tensor> rope_tables(const LlamaConfig& c, int64_t T, const at::TensorOptions& options);

}  // namespace sightline::detail
