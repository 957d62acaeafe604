// The torch side of core/ablation/live_query.h: what a LiveQueryService is built from (the
// model, the SAEs, the answer tokens), the tensor inside a ModelImage, and the attention
// of a LiveResult as a tensor again. For core and the tests; the explorer's UI includes
// only live_query.h.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>

#include "core/ablation/interventions.h"
#include "core/ablation/live_query.h"
#include "core/ablation/yes_no_eval.h"
#include "core/model/model.h"

namespace sightline {

struct LiveServiceConfig {
  const VisionLanguageModel* model = nullptr;  // must outlive the service
  InterventionResources resources;             // SAEs for ablation, steering and watched features
  AnswerTokens answers;
  // The tokenizer's token_text, for answer and top-k texts; empty: "<id>".
  std::function<std::string(int64_t)> token_text;
  // Re-evaluation batching. One batch is also the longest a live query waits behind a
  // running re-evaluation: 16 keeps that under ~100 ms on 2 CPU cores for the world's VLM.
  EvalOptions eval{16};
  int64_t max_reeval_items = 500;
  int64_t image_cache_bytes = int64_t{256} << 20;  // encoded pool images kept across re-evaluations
};

struct ModelImage {
  at::Tensor pixels;  // [3, S, S] or [1, 3, S, S] float32, as preprocess_clip makes it
};

// A handle on `pixels` (not copied); null when pixels is undefined.
ModelImagePtr model_image(at::Tensor pixels);

// `patterns` as a [layers, heads, queries, patches] float32 CPU tensor (a copy); an
// undefined tensor when the patterns are not defined().
at::Tensor attention_tensor(const AttentionPatterns& patterns);

}  // namespace sightline
