// Hook points of the engine, named as in TransformerLens / SAE tooling so the same
// strings serve store keys, UI labels and SAE hyperparams ("blocks.15.hook_resid_post").
//
//   hook_embed                  [B, T, D]   layer-0 input after image insertion
//   blocks.L.hook_resid_pre     [B, T, D]   input of block L
//   blocks.L.hook_resid_mid     [B, T, D]   after attention, before the MLP
//   blocks.L.hook_resid_post    [B, T, D]   output of block L (= HF hidden_states[L+1])
//   blocks.L.hook_attn_out      [B, T, D]   o_proj output
//   blocks.L.hook_mlp_out       [B, T, D]   down_proj output
//   blocks.L.attn.hook_q        [B, T, H, dh]    q_proj output (before RoPE)
//   blocks.L.attn.hook_k        [B, T, Hkv, dh]  k_proj output (before RoPE), per KV group
//   blocks.L.attn.hook_v        [B, T, Hkv, dh]
//   blocks.L.attn.hook_z        [B, T, H, dh]    o_proj input per head (head outputs)
//   blocks.L.attn.hook_pattern  [B, H, T, T]     attention probabilities (query, key)
//
// A forward pass captures only what its request names and applies the request's edits
// (interventions) in order; a captured value is the value after that point's edits.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace sightline {

enum class HookSite {
  kEmbed = 0,
  kResidPre,
  kResidMid,
  kResidPost,
  kAttnOut,
  kMlpOut,
  kQ,
  kK,
  kV,
  kZ,
  kPattern,
  kCount
};

struct HookPoint {
  HookSite site = HookSite::kEmbed;
  int layer = -1;  // -1 for hook_embed
  bool operator<(const HookPoint& o) const { return site != o.site ? site < o.site : layer < o.layer; }
  bool operator==(const HookPoint& o) const { return site == o.site && layer == o.layer; }
};

std::string hook_name(const HookPoint& point);
// Parses a hook name; throws Error naming the string when it is not one. With
// num_layers >= 0 the layer must be in range.
HookPoint parse_hook_name(const std::string& name, int num_layers = -1);
// Every hook name of a model with `num_layers` blocks, in forward order.
std::vector<std::string> all_hook_names(int num_layers);

// Token types per position, as recorded by sequence assembly.
enum TokenType : int8_t { kTokenBos = 0, kTokenText = 1, kTokenImage = 2, kTokenPad = 3 };

// What an edit sees besides the activation.
struct HookContext {
  HookPoint point;
  const at::Tensor& token_types;  // [B, T] int8 (TokenType), on the model's device
};

// An edit returns the replacement activation (same shape, dtype, device); it may return
// its input unchanged. Edits run in the order they were added.
using HookFn = std::function<at::Tensor(const at::Tensor& activation, const HookContext& context)>;

enum class LogitsMode { kAll, kLast, kNone };

struct ForwardRequest {
  std::set<std::string> capture;                     // hook names to capture
  std::map<std::string, std::vector<HookFn>> edits;  // hook name -> edits
  // Captured tensors stay in the autograd graph (the layer-0 input requires grad), so
  // gradients of any scalar built from the outputs can be taken w.r.t. any of them.
  bool capture_grad = false;
  // Stop after this block (its hooks included): no later blocks, no logits. -1 = all.
  int stop_after_layer = -1;
  LogitsMode logits = LogitsMode::kAll;  // kLast: each sequence's last real position
  // Run with autograd on (training). capture_grad implies it. Off: under NoGradGuard.
  bool grad = false;
};

struct ForwardOutput {
  at::Tensor logits;  // [B, T, V] (kAll), [B, V] (kLast), undefined (kNone)
  std::map<std::string, at::Tensor> captured;
  const at::Tensor& at(const std::string& hook) const;  // throws naming a hook not captured
};

}  // namespace sightline
