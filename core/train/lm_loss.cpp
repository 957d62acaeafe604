#include "core/train/lm_loss.h"

#include <torch/nn/functional/loss.h>
#include <torch/types.h>

#include "core/common/error.h"

namespace sightline {

BatchInput to_batch_input(const LmBatch& batch) {
  BatchInput input;
  std::vector<int64_t> order;
  for (const auto& s : batch.sequences) {
    input.ids.push_back(s.ids);
    if (s.image >= 0) order.push_back(s.image);
  }
  if (!order.empty()) {
    check(batch.images.defined(), "a training batch references images but holds none");
    input.pixels = batch.images.index_select(0, torch::tensor(order, torch::kInt64));
  }
  return input;
}

LmLoss next_token_loss(const at::Tensor& logits, const PreparedBatch& prepared, const LmBatch& batch) {
  const int64_t B = prepared.batch(), T = logits.size(1);
  // targets[b][t] = id predicted from position t - 1, or -100 when it does not count.
  auto targets = torch::full({B, T}, -100, torch::kInt64);
  auto ta = targets.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const auto& seq = batch.sequences[b];
    check(seq.loss.size() == seq.ids.size(), "sequence {}: {} loss flags for {} ids", b, seq.loss.size(),
          seq.ids.size());
    int64_t t = 0;
    for (size_t i = 0; i < seq.ids.size(); ++i) {
      if (seq.ids[i] == kImageTokenIndex) {
        const int64_t off = prepared.image_offsets[b];
        t = off + (prepared.lengths[b] - static_cast<int64_t>(seq.ids.size()) + 1);
        continue;
      }
      if (seq.loss[i] && t > 0) ta[b][t] = seq.ids[i];
      ++t;
    }
  }
  targets = targets.to(logits.device());
  // Position t - 1 predicts target t.
  auto pred = logits.narrow(1, 0, T - 1).reshape({-1, logits.size(2)});
  auto tgt = targets.narrow(1, 1, T - 1).reshape({-1});
  LmLoss out;
  const auto counted = tgt.ne(-100);
  out.targets = counted.sum().item<int64_t>();
  if (out.targets == 0) {
    out.loss = (pred.sum() * 0.0);
    return out;
  }
  out.loss = torch::nn::functional::cross_entropy(
      pred.to(torch::kFloat32), tgt, torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100));
  out.correct = (pred.argmax(-1).eq(tgt) & counted).sum().item<int64_t>();
  return out;
}

}  // namespace sightline
