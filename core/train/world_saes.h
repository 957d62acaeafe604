// The shapes world's "LLaMA-Scope stage": one TopK SAE per layer on the base LM's
// residual stream (blocks.L.hook_resid_post) over the text corpus, BOS and padding
// excluded, saved in the LLaMA-Scope layout so that the real-SAE loader reads them.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/common/progress.h"
#include "core/model/model.h"
#include "core/tokenizer/word_tokenizer.h"
#include "core/train/world_recipe.h"

namespace sightline {

// Trains and writes out_dir/saes/L{l}R/ for every layer; returns per-layer FVU, L0 and
// dead fraction on the corpus validation split.
nlohmann::json train_world_base_saes(const VisionLanguageModel& base, const WordTokenizer& tok,
                                     const WorldPreset& preset, const std::string& out_dir, Progress& progress,
                                     const LogFn& log);

// Directory name of layer `layer`'s base SAE under a world's saes/ folder.
std::string world_sae_dir_name(int layer);

}  // namespace sightline
