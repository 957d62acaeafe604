// A dataset of (image, prompt) items as the analysis passes read it: prompt ids already
// built for the model's tokenizer (one kImageTokenIndex where the image goes) and the
// image's preprocessed pixels on demand. The pipeline adapts the shapes world and real
// VQA / VSR files to this interface; tests build one in memory.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/model/model.h"

namespace sightline {

struct PromptItem {
  std::string sample_id;     // stable id, e.g. "vqa:262148000" or "world-test:17:2"
  std::string text;          // the question or caption the prompt was built from
  std::string answer;        // ground-truth answer word ("" when unknown)
  std::string relation;      // VSR relation of a spatial item, else ""
  std::string answer_type;   // "yes/no", "number", "other", or ""
  int64_t image = -1;        // the dataset's image index; -1 = text only
  std::vector<int64_t> ids;  // the prompt; holds kImageTokenIndex once iff image >= 0
};

class PromptDataset {
 public:
  virtual ~PromptDataset() = default;
  virtual int64_t size() const = 0;
  // Item i in [0, size()); throws Error naming the dataset and index when out of range.
  virtual const PromptItem& item(int64_t i) const = 0;
  // Preprocessed pixels [3, S, S] (float32, CHW, normalised for the model's tower) of
  // image `image`. Throws Error naming the file at fault when it cannot be read.
  virtual at::Tensor pixels(int64_t image) const = 0;
  // For messages: "world test split", "vqa file '...'".
  virtual std::string name() const = 0;
};

// Items and images held in memory (tests, small custom sets).
class InMemoryPromptDataset final : public PromptDataset {
 public:
  InMemoryPromptDataset(std::string name, std::vector<PromptItem> items, std::vector<at::Tensor> images);
  int64_t size() const override { return static_cast<int64_t>(items_.size()); }
  const PromptItem& item(int64_t i) const override;
  at::Tensor pixels(int64_t image) const override;
  std::string name() const override { return name_; }

 private:
  std::string name_;
  std::vector<PromptItem> items_;
  std::vector<at::Tensor> images_;
};

// Items [first, first + count) as a model batch: ids per sequence and the pixels of each
// image item stacked in order. Throws when an item's ids and image disagree.
BatchInput make_prompt_batch(const PromptDataset& dataset, int64_t first, int64_t count);

// Number of text and image positions item i occupies in the model (BOS excluded, as
// PreparedBatch marks it: the first id when it equals `bos_id`). `image_tokens` is the
// model's tokens per image.
struct PositionCounts {
  int64_t text = 0;
  int64_t image = 0;
};
PositionCounts count_positions(const PromptItem& item, int64_t bos_id, int64_t image_tokens);

}  // namespace sightline
