// The tiny random VLM of tests/model_fixture.h loaded through the engine, random SAEs on
// its residual stream, and small prompt datasets for it: the shared setup of the tests
// that stream prompts through a model (core/diffing, core/skills, core/attribution).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/diffing/prompt_dataset.h"
#include "core/model/model.h"
#include "core/sae/sae.h"
#include "tests/model_fixture.h"

namespace sightline::test {

// Writes `ckpt` (float32, one shard) to a fresh scratch directory named after `tag` and
// loads it on the CPU in float32.
std::unique_ptr<VisionLanguageModel> load_tiny_model(const TinyCheckpoint& ckpt, const std::string& tag);

struct TinySaeModel {
  std::unique_ptr<VisionLanguageModel> model;
  std::vector<std::unique_ptr<Sae>> saes;  // one per layer: layer 0 ReLU, the others TopK (k 6)
};

// Sets torch to one thread, loads `ckpt` as load_tiny_model does and adds one random SAE
// of `d_sae` features per layer l, reading blocks.{l}.hook_resid_post, initialised after
// torch::manual_seed(seed + l), with encoder biases drawn from U(-0.2, 0.6) so that the
// ReLU SAE fires on a good share of rows.
TinySaeModel load_tiny_with_saes(const TinyCheckpoint& ckpt, const std::string& tag, int64_t d_sae, int64_t seed);

// Token t (of `len`) of item i's text.
using TinyTextToken = std::function<int64_t(int64_t i, int64_t t, int64_t len)>;

// `n` items named "item<i>" (dataset "tiny"): BOS (1), an image for all but every fourth
// item (randn [3, 16, 16] pixels after torch::manual_seed(seed)), then 2..7 text tokens
// from `text_token`.
InMemoryPromptDataset make_tiny_prompts(int64_t n, uint64_t seed, const TinyTextToken& text_token);

}  // namespace sightline::test
