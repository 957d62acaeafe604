#include "core/diffing/prompt_dataset.h"

#include <torch/types.h>

#include "core/common/constants.h"
#include "core/common/error.h"

namespace sightline {

InMemoryPromptDataset::InMemoryPromptDataset(std::string name, std::vector<PromptItem> items,
                                             std::vector<at::Tensor> images)
    : name_(std::move(name)), items_(std::move(items)), images_(std::move(images)) {
  for (size_t i = 0; i < items_.size(); ++i) {
    const auto& it = items_[i];
    check(it.image < static_cast<int64_t>(images_.size()), "dataset '{}': item {} refers to image {} of {}", name_, i,
          it.image, images_.size());
  }
}

const PromptItem& InMemoryPromptDataset::item(int64_t i) const {
  check(i >= 0 && i < size(), "dataset '{}': item {} is out of range [0, {})", name_, i, size());
  return items_[static_cast<size_t>(i)];
}

at::Tensor InMemoryPromptDataset::pixels(int64_t image) const {
  check(image >= 0 && image < static_cast<int64_t>(images_.size()), "dataset '{}': image {} is out of range [0, {})",
        name_, image, images_.size());
  return images_[static_cast<size_t>(image)];
}

BatchInput make_prompt_batch(const PromptDataset& dataset, int64_t first, int64_t count) {
  BatchInput batch;
  std::vector<at::Tensor> pixels;
  for (int64_t i = first; i < first + count; ++i) {
    const auto& it = dataset.item(i);
    int64_t markers = 0;
    for (int64_t id : it.ids) markers += id == kImageTokenIndex ? 1 : 0;
    check(markers == (it.image >= 0 ? 1 : 0),
          "dataset '{}': item {} ('{}') has {} image markers in its prompt but {} image", dataset.name(), i,
          it.sample_id, markers, it.image >= 0 ? "an" : "no");
    if (it.image >= 0) pixels.push_back(dataset.pixels(it.image));
    batch.ids.push_back(it.ids);
  }
  if (!pixels.empty()) batch.pixels = torch::stack(pixels, 0);
  return batch;
}

PositionCounts count_positions(const PromptItem& item, int64_t bos_id, int64_t image_tokens) {
  PositionCounts c;
  for (size_t t = 0; t < item.ids.size(); ++t) {
    const int64_t id = item.ids[t];
    if (id == kImageTokenIndex) {
      c.image += image_tokens;
    } else if (!(t == 0 && id == bos_id)) {
      ++c.text;
    }
  }
  return c;
}

}  // namespace sightline
