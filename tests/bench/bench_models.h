// Random-weight models the benches time: a toy-size Llama, and a VLM the size of a shapes
// world preset's with one SAE per layer. Header-only: each bench_*.cpp is its own
// executable.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/model/config.h"
#include "core/model/hooks.h"
#include "core/sae/sae.h"
#include "core/train/world_recipe.h"

namespace sightline::bench {

// A text-only Llama: vocabulary 512, d_model 256, MLP 768, 4 layers of 8 query / 4 KV heads
// of width 32.
inline ModelConfig toy_llama_config() {
  ModelConfig config;
  config.source = "bench";
  auto& t = config.text;
  t.vocab_size = 512;
  t.hidden_size = 256;
  t.intermediate_size = 768;
  t.num_hidden_layers = 4;
  t.num_attention_heads = 8;
  t.num_key_value_heads = 4;
  t.head_dim = 32;
  return config;
}

// A LLaVA-style VLM with `preset`'s LM and vision tower shapes and the given vocabulary
// size and special token ids.
inline ModelConfig world_vlm_config(const WorldPreset& preset, int64_t vocab_size, int64_t bos_id, int64_t eos_id,
                                    int64_t pad_id) {
  ModelConfig config;
  config.source = "bench";
  config.model_type = "llava_llama";
  config.text = preset.lm;
  config.text.vocab_size = vocab_size;
  config.text.bos_token_id = bos_id;
  config.text.eos_token_ids = {eos_id};
  config.text.pad_token_id = pad_id;
  config.mm.present = true;
  config.mm.mm_hidden_size = preset.vision.hidden_size;
  config.mm.vision_select_layer = preset.vision_select_layer;
  config.mm.vision_select_feature = "patch";
  config.mm.vision = preset.vision;
  return config;
}

// One randomly initialised SAE (torch's RNG) for each of `layers` layers, sized as
// `preset`'s (expansion x d_model features, k active), reading blocks.{l}.hook_resid_post.
inline std::vector<std::unique_ptr<Sae>> world_saes(const WorldPreset& preset, int layers) {
  std::vector<std::unique_ptr<Sae>> saes;
  for (int l = 0; l < layers; ++l) {
    SaeConfig c;
    c.d_model = preset.lm.hidden_size;
    c.d_sae = preset.sae.expansion * preset.lm.hidden_size;
    c.k = preset.sae.k;
    c.hook_point = hook_name({HookSite::kResidPost, l});
    saes.push_back(std::make_unique<Sae>(c));
  }
  return saes;
}

}  // namespace sightline::bench
