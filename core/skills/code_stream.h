// The model passes of Stage 3: run the VLM over a prompt dataset, capture every listed
// layer's residual stream in one forward per batch, encode it with the layer's SAE and
// hand the activations of chosen features to a consumer, chunk by chunk. Memory is bounded
// by batch_size x T x D (residuals) + chunk_rows x d_sae (codes), as in feature_stats.h.
// BOS and padding positions never reach a consumer.
//
// On top of the stream: firing counts per group of items (count_group_firing) and each
// item's largest activation per feature (stream_item_max / item_max_activations).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/common/progress.h"
#include "core/diffing/positions.h"
#include "core/diffing/prompt_dataset.h"
#include "core/model/model.h"
#include "core/sae/sae.h"
#include "core/skills/firing.h"

namespace sightline {

// An SAE reading blocks.{layer}.hook_resid_post, and the features of it a pass keeps.
struct LayerFeatures {
  int layer = 0;
  const Sae* sae = nullptr;
  std::vector<int64_t> features;  // dictionary columns kept, in this order; empty = all
  // Columns a chunk holds: features.size(), or d_sae when `features` is empty.
  int64_t width() const;
};

struct StreamOptions {
  int64_t batch_size = 8;     // sequences per VLM forward
  int64_t chunk_rows = 4096;  // rows encoded at once per layer
};

// One chunk of one layer's activations. Rows are data positions (text or image) of the
// batch's items: item by item in ascending item order, in sequence order within each.
struct CodeChunk {
  size_t layer = 0;        // index into the LayerFeatures list
  int64_t first_item = 0;  // the batch: dataset items [first_item, first_item + batch_items)
  int64_t batch_items = 0;
  at::Tensor codes;       // [rows, C] float32, the SAE's device: h of the kept features
  at::Tensor item;        // [rows] int64 dataset item index (same device)
  at::Tensor position;    // [rows] int64 position in the item's model sequence (0 = first id)
  at::Tensor token_type;  // [rows] int8 TokenType: kTokenText or kTokenImage
};

struct CodeStreamCallbacks {
  std::function<void(const CodeChunk&)> on_chunk;
  // After every layer's chunks of items [first, first + count).
  std::function<void(int64_t first, int64_t count)> on_batch_end;
};

// Streams the whole dataset. `layers` must name distinct layers of `model` with SAEs of
// its hidden size and features inside [0, d_sae). Progress: begin(label, items), a tick
// per item; check_cancel() per batch (throws Cancelled).
void stream_feature_codes(const VisionLanguageModel& model, const std::vector<LayerFeatures>& layers,
                          const PromptDataset& dataset, const StreamOptions& options, Progress& progress,
                          const std::string& label, const CodeStreamCallbacks& callbacks);

// Firing counts of each layer's kept features over groups of the dataset's items:
// group_items[g][i] != 0 when item i belongs to group g (every vector of size()
// items), counting the positions of `positions`. Throws on a wrong-sized group.
std::vector<GroupFiring> count_group_firing(const VisionLanguageModel& model, const std::vector<LayerFeatures>& layers,
                                            const PromptDataset& dataset,
                                            const std::vector<std::vector<uint8_t>>& group_items, Positions positions,
                                            const StreamOptions& options, Progress& progress,
                                            const std::string& label = "firing counts");

// For each batch and layer: max [count, C] float32 on the CPU, the largest activation of
// each kept feature over the item's positions of `positions` (0 when it has none, or the
// feature never fires there: activations are >= 0).
using ItemMaxCallback = std::function<void(size_t layer, int64_t first, const at::Tensor& max)>;
void stream_item_max(const VisionLanguageModel& model, const std::vector<LayerFeatures>& layers,
                     const PromptDataset& dataset, Positions positions, const StreamOptions& options,
                     Progress& progress, const std::string& label, const ItemMaxCallback& on_batch);

// stream_item_max collected: per layer [items, C] float32 on the CPU (for small datasets).
std::vector<at::Tensor> item_max_activations(const VisionLanguageModel& model, const std::vector<LayerFeatures>& layers,
                                             const PromptDataset& dataset, Positions positions,
                                             const StreamOptions& options, Progress& progress,
                                             const std::string& label = "item maxima");

// Items built over another dataset's images: item.image indexes `base`'s images, which
// pixels() delegates to. For re-running a dataset's images with other prompts (the
// lexical filter) or a subset of its items.
class DerivedPromptDataset final : public PromptDataset {
 public:
  // Throws naming `name` when an item refers to an image index `base` may not hold (< -1).
  DerivedPromptDataset(std::string name, const PromptDataset& base, std::vector<PromptItem> items);
  int64_t size() const override { return static_cast<int64_t>(items_.size()); }
  const PromptItem& item(int64_t i) const override;
  at::Tensor pixels(int64_t image) const override { return base_.pixels(image); }
  std::string name() const override { return name_; }

 private:
  std::string name_;
  const PromptDataset& base_;
  std::vector<PromptItem> items_;
};

// Items `indices` of `dataset` (in that order) as a dataset of their own.
DerivedPromptDataset subset_dataset(const PromptDataset& dataset, const std::vector<int64_t>& indices);

}  // namespace sightline
