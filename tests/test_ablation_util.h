// A tiny LLaVA (tests/model_fixture) with SAEs on both layers, images and yes/no items,
// shared by the core/ablation tests.
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <vector>

#include "core/ablation/interventions.h"
#include "core/ablation/yes_no_eval.h"
#include "core/model/model.h"
#include "core/sae/sae.h"
#include "tests/model_fixture.h"
#include "tests/test_util.h"

namespace sightline::test {

struct TinyWorld {
  TinyCheckpoint ckpt;  // the float64 tensors the model holds (for reference_forward)
  std::unique_ptr<VisionLanguageModel> model;
  std::map<int, std::unique_ptr<Sae>> saes;
  InterventionResources resources;
  at::Tensor pixels;  // [6, 3, 16, 16] float32
  std::vector<YesNoItem> items;
  AnswerTokens answers{{5}, {6}};
};

// Layer 0: a random TopK SAE (64 features). Layer 1: random, except features 1-4, whose
// unit directions are a, 0.8 a + 0.6 b, 0.6 a + 0.8 c (b, c orthogonal to a) and a again.
// Items: 9 prompts of different lengths; items 4 and 7 are text-only, item i otherwise
// shows image i % 6.
inline TinyWorld make_tiny_world(uint64_t seed) {
  TinyWorld w;
  const std::string dir = scratch_dir("ablation");
  w.ckpt = write_tiny_checkpoint(make_tiny_checkpoint({}, 11 + seed), dir, "F32", 1);
  LoadOptions options;
  options.model_dir = dir;
  w.model = VisionLanguageModel::load(options);
  torch::manual_seed(static_cast<int64_t>(100 + seed));
  for (int layer : {0, 1}) {
    SaeConfig c;
    c.d_model = 32;
    c.d_sae = 64;
    c.k = 8;
    c.hook_point = layer == 0 ? "blocks.0.hook_resid_post" : "";
    c.source = "tiny-sae-" + std::to_string(layer);
    Sae random(c);
    auto w_dec = random.w_dec().clone();
    if (layer == 1) {
      auto a = torch::randn({32});
      a = a / a.norm();
      auto b = torch::randn({32});
      b = b - b.dot(a) * a;
      b = b / b.norm();
      auto cc = torch::randn({32});
      cc = cc - cc.dot(a) * a;
      cc = cc / cc.norm();
      w_dec.select(1, 1).copy_(a);
      w_dec.select(1, 2).copy_(0.8 * a + 0.6 * b);
      w_dec.select(1, 3).copy_(0.6 * a + 0.8 * cc);
      w_dec.select(1, 4).copy_(a);
    }
    w.saes[layer] = std::make_unique<Sae>(c, w_dec.t().contiguous(), random.b_enc().clone(), w_dec,
                                          random.b_dec().clone());
    w.resources.saes[layer] = w.saes[layer].get();
  }
  w.pixels = torch::rand({6, 3, 16, 16}) * 2 - 1;
  const std::vector<std::vector<int64_t>> words = {{7, 8, 9},      {10, 11},         {12, 13, 14, 15}, {16, 17, 18},
                                                   {19, 20, 21},   {22, 23, 24, 25, 26}, {27},          {28, 29},
                                                   {30, 31, 32, 33}};
  for (size_t i = 0; i < words.size(); ++i) {
    YesNoItem it;
    const bool text_only = i == 4 || i == 7;
    it.prompt_ids = {1};
    if (!text_only) it.prompt_ids.push_back(-200);
    it.prompt_ids.insert(it.prompt_ids.end(), words[i].begin(), words[i].end());
    it.prompt_ids.push_back(40);  // "answer :"
    it.image = text_only ? -1 : static_cast<int64_t>(i % 6);
    it.label = i % 2 == 0;
    w.items.push_back(it);
  }
  return w;
}

}  // namespace sightline::test
