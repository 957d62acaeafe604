// Tiny random LLaVA / Llama checkpoints written with the exact HF / LLaVA-MORE tensor
// names, and an independent float64 reference forward pass built from the same tensors
// (plain ATen ops, its own RoPE and GQA code), for testing the engine.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sightline::test {

struct TinySpec {
  bool vision = true;
  bool tie_embeddings = false;
  bool llama3_rope = true;
  int64_t kv_heads = 2;  // of 4 query heads: GQA
};

// Config JSON and tensors (float64 master copies) of a tiny model.
struct TinyCheckpoint {
  nlohmann::json config;
  std::map<std::string, at::Tensor> tensors;  // HF names, float64
};

TinyCheckpoint make_tiny_checkpoint(const TinySpec& spec, uint64_t seed);

// Writes config.json and the tensors in `dtype` ("F32" | "BF16"); `shards` > 1 writes
// model-0000k-of-0000n.safetensors + model.safetensors.index.json. Returns the
// checkpoint with its tensors rounded to what was stored (float64).
TinyCheckpoint write_tiny_checkpoint(const TinyCheckpoint& ckpt, const std::string& dir, const std::string& dtype,
                                     int shards);

// Reference intermediates of one sequence (batch of 1), float64.
struct ReferenceRun {
  at::Tensor logits;                   // [T, V]
  std::vector<at::Tensor> resid_post;  // per layer [T, D]
  std::vector<at::Tensor> q, k, v, z;  // per layer [T, H(kv), dh]
  std::vector<at::Tensor> pattern;     // per layer [H, T, T]
  at::Tensor embeds;                   // [T, D]
};

// ids may hold -200 once; pixels [3, S, S] float64 when it does. zero_head = {layer, head}
// zeroes that head's z (for checking edits); {-1, -1} = none.
ReferenceRun reference_forward(const TinyCheckpoint& ckpt, const std::vector<int64_t>& ids, const at::Tensor& pixels,
                               std::pair<int, int> zero_head = {-1, -1});

}  // namespace sightline::test
