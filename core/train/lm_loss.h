// Next-token training on token sequences that may hold one image each: the batch type
// the shapes-world recipes produce, and the loss the engine is trained with.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "core/model/model.h"

namespace sightline {

// One training sequence: ids (kImageTokenIndex once where the image goes) and, per id,
// whether predicting that id counts in the loss (the first id never does).
struct TokenSequence {
  std::vector<int64_t> ids;
  std::vector<uint8_t> loss;
  int64_t image = -1;  // index into the batch's images, -1 for none
};

struct LmBatch {
  std::vector<TokenSequence> sequences;
  at::Tensor images;  // [N, 3, S, S] images referenced by TokenSequence::image
};

struct LmLoss {
  at::Tensor loss;       // 0-dim: mean cross-entropy over the counted targets
  int64_t targets = 0;   // how many targets counted
  int64_t correct = 0;   // argmax hits among them
};

// Builds the engine's input (images in sequence order) from a batch.
BatchInput to_batch_input(const LmBatch& batch);

// Mean next-token cross-entropy over the marked targets, with image positions expanded
// exactly as VisionLanguageModel::prepare does. logits [B, T, V] of that prepared batch.
LmLoss next_token_loss(const at::Tensor& logits, const PreparedBatch& prepared, const LmBatch& batch);

}  // namespace sightline
