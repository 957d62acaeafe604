#include "core/attribution/corruption.h"

#include <torch/types.h>

#include <memory>

#include "core/common/error.h"

namespace sightline {

std::string to_string(CorruptionMean mode) {
  return mode == CorruptionMean::kPerPosition ? "per_position" : "global";
}

CorruptionMean parse_corruption_mean(const std::string& name, const std::string& where, const std::string& field) {
  if (name == "per_position") return CorruptionMean::kPerPosition;
  if (name == "global") return CorruptionMean::kGlobal;
  fail("file '{}': field '{}' is '{}', expected one of per_position, global", where, field, name);
}

int64_t MeanImageEmbedding::image_tokens() const {
  return mode == CorruptionMean::kPerPosition && mean.defined() ? mean.size(0) : 0;
}

int64_t MeanImageEmbedding::width() const { return mean.defined() ? mean.size(-1) : 0; }

namespace {

// The image block of sequence b: [first, first + count) with every position an image
// token (sequence assembly inserts one contiguous block); count 0 when there is none.
std::pair<int64_t, int64_t> image_block(const at::Tensor& types_cpu, int64_t b) {
  const auto row = types_cpu[b];
  const auto is_image = row.eq(static_cast<int8_t>(kTokenImage));
  const int64_t count = is_image.sum().item<int64_t>();
  if (count == 0) return {0, 0};
  const int64_t first = is_image.to(torch::kInt64).argmax().item<int64_t>();
  check(first + count <= row.size(0) && is_image.narrow(0, first, count).all().item<bool>(),
        "prepared batch: sequence {} has {} image tokens that do not form one block", b, count);
  return {first, count};
}

}  // namespace

void MeanImageEmbeddingAccumulator::add(const PreparedBatch& batch) {
  check(batch.embeds.defined() && batch.embeds.dim() == 3, "prepared batch: tensor 'embeds' must be [B, T, D]");
  check(batch.token_types.defined() && batch.token_types.sizes() == batch.embeds.sizes().slice(0, 2),
        "prepared batch: tensor 'token_types' has shape {}, expected [B, T] of embeds {}",
        batch.token_types.defined() ? c10::str(batch.token_types.sizes()) : std::string("(undefined)"),
        c10::str(batch.embeds.sizes()));
  torch::NoGradGuard no_grad;
  const auto types = batch.token_types.to(torch::kCPU);
  const auto embeds = batch.embeds.detach();
  const int64_t D = embeds.size(2);
  for (int64_t b = 0; b < embeds.size(0); ++b) {
    const auto [first, count] = image_block(types, b);
    if (count == 0) continue;
    const auto block = embeds[b].narrow(0, first, count).to(torch::kCPU, torch::kFloat64);
    if (!sum_.defined()) {
      sum_ = torch::zeros({count, D}, torch::kFloat64);
    } else {
      check(count == sum_.size(0), "mean image embedding: sequence {} has {} image tokens, earlier images had {}", b,
            count, sum_.size(0));
      check(D == sum_.size(1), "mean image embedding: tensor 'embeds' has width {}, earlier batches had {}", D,
            sum_.size(1));
    }
    sum_ += block;
    ++images_;
  }
}

MeanImageEmbedding MeanImageEmbeddingAccumulator::result(CorruptionMean mode) const {
  check(images_ > 0, "mean image embedding: no image was added");
  MeanImageEmbedding out;
  out.mode = mode;
  out.images = images_;
  const auto per_position = sum_ / static_cast<double>(images_);  // [P, D]
  // Every image has P tokens, so the global mean is the mean of the per-position means.
  out.mean = mode == CorruptionMean::kPerPosition ? per_position : per_position.mean(0);
  return out;
}

MeanImageEmbedding compute_mean_image_embedding(const std::function<bool(PreparedBatch& batch)>& next,
                                                CorruptionMean mode, Progress& progress) {
  progress.begin("mean image embedding", 0);
  MeanImageEmbeddingAccumulator acc;
  PreparedBatch batch;
  while (next(batch)) {
    progress.check_cancel();
    acc.add(batch);
    progress.tick();
  }
  return acc.result(mode);
}

const std::string& corruption_hook() {
  static const std::string name = "hook_embed";
  return name;
}

HookFn mean_embedding_edit(const MeanImageEmbedding& mean, double strength) {
  check(mean.mean.defined(), "mean image embedding: tensor 'mean' is undefined");
  check(mean.mode == CorruptionMean::kPerPosition ? mean.mean.dim() == 2 : mean.mean.dim() == 1,
        "mean image embedding: tensor 'mean' has shape {}, expected {} for the {} mode", c10::str(mean.mean.sizes()),
        mean.mode == CorruptionMean::kPerPosition ? "[P, D]" : "[D]", to_string(mean.mode));
  check(strength >= 0.0 && strength <= 1.0, "corruption strength {} is outside [0, 1]", strength);
  const at::Tensor table = mean.mean.detach();
  const bool per_position = mean.mode == CorruptionMean::kPerPosition;
  return [table, per_position, strength](const at::Tensor& x, const HookContext& context) -> at::Tensor {
    const int64_t B = x.size(0), T = x.size(1), D = x.size(2);
    check(table.size(-1) == D, "hook '{}': the mean image embedding has width {}, the activation has {}",
          hook_name(context.point), table.size(-1), D);
    const auto is_image = context.token_types.eq(static_cast<int8_t>(kTokenImage));  // [B, T]
    at::Tensor target;                                                                // [B, T, D]
    const auto values = table.to(x.device(), x.scalar_type());
    if (per_position) {
      const int64_t P = table.size(0);
      const auto counts = is_image.sum(1).to(torch::kCPU);
      for (int64_t b = 0; b < B; ++b) {
        const int64_t n = counts[b].item<int64_t>();
        check(n == 0 || n == P, "hook '{}': sequence {} has {} image tokens, the per-position mean has {}",
              hook_name(context.point), b, n, P);
      }
      // Index within the image block: the running count of image tokens, minus one.
      const auto index = (is_image.to(torch::kInt64).cumsum(1) - 1).clamp(0, P - 1);
      target = values.index_select(0, index.reshape({-1})).view({B, T, D});
    } else {
      target = values.view({1, 1, D}).expand({B, T, D});
    }
    if (strength != 1.0) target = x + (target - x) * strength;
    return torch::where(is_image.unsqueeze(-1), target, x);
  };
}

}  // namespace sightline
