// The corrupt run of Stage 4 (METHOD.md "Stage 4", paper 5.2): layer-0 embeddings at
// image positions replaced by the mean image embedding over many samples. The mean is
// either per position of the image block ([P, D]: position p of every image averaged,
// the default) or one global vector ([D]: every image position of every image averaged).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>

#include "core/common/progress.h"
#include "core/model/hooks.h"
#include "core/model/model.h"

namespace sightline {

enum class CorruptionMean { kPerPosition, kGlobal };

// "per_position", "global".
std::string to_string(CorruptionMean mode);
// Parses the names above; throws "file '<where>': field '<field>' ..." otherwise.
CorruptionMean parse_corruption_mean(const std::string& name, const std::string& where, const std::string& field);

struct MeanImageEmbedding {
  CorruptionMean mode = CorruptionMean::kPerPosition;
  at::Tensor mean;      // float64 CPU: [P, D] (kPerPosition) or [D] (kGlobal)
  int64_t images = 0;   // images averaged
  int64_t image_tokens() const;  // P for kPerPosition, 0 for kGlobal (any block length)
  int64_t width() const;         // D
};

// Streaming float64 sums of layer-0 image embeddings, per position of the image block.
// Every image must have the same number of tokens P (the first batch fixes it).
class MeanImageEmbeddingAccumulator {
 public:
  // Adds every image block of `batch` (sequences without image tokens are skipped).
  // Throws when a block's length or the width differs from the earlier ones.
  void add(const PreparedBatch& batch);
  int64_t images() const { return images_; }
  // The mean in `mode`; throws when no image was added.
  MeanImageEmbedding result(CorruptionMean mode) const;

 private:
  at::Tensor sum_;  // [P, D] float64 CPU
  int64_t images_ = 0;
};

// Runs `next` until it returns false, adding each batch it fills in. Progress:
// begin("mean image embedding", 0) and one tick per batch; check_cancel() per batch.
MeanImageEmbedding compute_mean_image_embedding(const std::function<bool(PreparedBatch& batch)>& next,
                                                CorruptionMean mode, Progress& progress = null_progress());

// An edit for "hook_embed" that moves image positions (token_types == kTokenImage)
// toward the mean: x <- x + strength * (mean - x); strength 1 replaces them (the paper's
// corrupt run); a small strength gives a small corruption for first-order checks. Text,
// BOS and padding positions are returned unchanged. A per-position mean needs every
// sequence's image block to hold exactly P tokens (throws naming the sequence otherwise).
HookFn mean_embedding_edit(const MeanImageEmbedding& mean, double strength = 1.0);

// The hook name the edit belongs to ("hook_embed").
const std::string& corruption_hook();

}  // namespace sightline
