// How the shapes world's models are made, LLaVA-style, on the engine's own classes:
//   1. tokenizer   a word-level vocabulary of the world's text
//   2. base LM     a Llama-architecture decoder pretrained on the text corpus, where scenes
//                  are described in words (grid cells, sizes, layers) and questions about
//                  them are answered ("the Llama stage"); part of the steps give the scene
//                  as a grid of per-cell word bags (soft tokens made of word embeddings)
//   3. vision      a CLIP-style ViT pretrained on rendered scenes with dense per-patch
//                  targets, then frozen ("the CLIP stage")
//   4. align       projector-only training: each patch token regresses onto the LM
//                  embeddings of the words it stands for (patch_words.h), and from the
//                  image the frozen LM writes the scene's description
//   5. tune        projector + LM on the VQA- and VSR-style training items (answer loss),
//                  with some description sequences mixed in
//   6. evaluate    held-out test split, with image-shuffle and blank-image controls
//   7. base SAEs   one per layer on the base LM's residual stream ("the LLaMA-Scope stage")
// Everything is written in the real on-disk formats (HF / LLaVA-MORE / LLaMA-Scope).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/progress.h"
#include "core/model/config.h"
#include "core/train/schedule.h"
#include "core/world/datasets.h"

namespace sightline {

struct WorldSaeOptions {
  int64_t expansion = 8;        // d_sae = expansion * d_model
  int64_t k = 16;               // TopK active features
  int64_t train_tokens = 400000;
  int64_t eval_tokens = 20000;
  int64_t batch_tokens = 1024;
  double lr = 2e-3;
};

struct WorldPreset {
  std::string name = "default";
  uint64_t seed = 1;
  WorldDataOptions data;
  LlamaConfig lm;
  VisionConfig vision;
  int64_t vision_select_layer = -1;
  OptimOptions lm_optim, vision_optim, align_optim, tune_optim;
  double tune_caption_fraction = 0.15;  // share of description sequences in tuning batches
  double tune_vsr_fraction = 0.4;       // share of a scene's VSR statement among its tuning items
  // Question skills tuned on ("colour", "existence", ...; empty = all), e.g. for a curriculum
  // or a diagnosis of one skill. VSR statements are kept unless tune_vsr_fraction is 0.
  std::vector<std::string> tune_skills;
  // Question-answer turns per tuning sequence (LLaVA-style multi-turn, one image): 1 = one.
  int64_t tune_items_per_sequence = 1;
  double align_dense_weight = 1.0;      // weight of the patch-word regression in alignment
  double lm_grid_fraction = 0.5;        // share of base-LM steps on grid documents (word bags)
  // The tower also learns each object's relations to the others, by colour (patch_targets.h).
  bool vision_relation_targets = false;
  int64_t eval_scenes = 500;
  WorldSaeOptions sae;
  // A world directory whose base LM (and base SAEs) to reuse instead of training them:
  // for iterating on the multimodal stages. Empty = train from scratch.
  std::string reuse_base_from;
};

// "default" (the shipped world) or "micro" (tests: builds in well under a minute).
WorldPreset world_preset(const std::string& name);
nlohmann::json to_json(const WorldPreset& preset);
// Starts from world_preset(j["name"]) and overrides what j holds. Throws Error naming
// `where` and the key for a key to_json() does not write, or for "lm" / "vision" /
// "vision_select_layer" values other than the preset's (the preset fixes the shapes).
WorldPreset world_preset_from_json(const nlohmann::json& j, const std::string& where);

using LogFn = std::function<void(const std::string&)>;

// How (not what) to build: where the training runs. Not part of the preset, so a world
// built on a GPU and one built on the CPU share the recipe in their manifests.
struct WorldBuildOptions {
  std::string device = "cpu";  // "cpu" or "cuda[:N]" where the LibTorch build has CUDA
};

// Builds everything into `out_dir`:
//   manifest.json   preset, stage timings, metrics (also metrics.json)
//   tokenizer/vocab.json
//   base_lm/        config.json + model.safetensors (LlamaForCausalLM)
//   vlm/            config.json + model.safetensors (LlavaLlamaForCausalLM, tower inside)
//   saes/L{l}R/     hyperparams.json + checkpoints/final.safetensors (LLaMA-Scope layout)
// The datasets are not written: they are regenerated from the manifest's options.
nlohmann::json build_world(const WorldPreset& preset, const std::string& out_dir, Progress& progress,
                           const LogFn& log, const WorldBuildOptions& build = {});

}  // namespace sightline
