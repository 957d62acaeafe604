#include "core/pipeline/datasets.h"

#include <torch/types.h>

#include <fmt/format.h>

#include <filesystem>
#include <map>

#include "core/common/error.h"
#include "core/train/vision_pretrain.h"

namespace fs = std::filesystem;

namespace sightline {

namespace {

class WorldPromptDataset final : public PromptDataset {
 public:
  WorldPromptDataset(const WorldDataOptions& data, WorldSplit split, bool vsr, int64_t max_items,
                     const PromptBuilder& prompt, const VisionConfig& vision)
      : world_(data.world), vision_(vision),
        name_(fmt::format("world {} split ({})", split_name(split), vsr ? "VSR statements" : "VQA questions")) {
    const int64_t scenes = split_size(data, split);
    for (int64_t s = 0; s < scenes && static_cast<int64_t>(items_.size()) < max_items; ++s) {
      const SceneRecord r = make_scene_record(data, split, s);
      const int64_t image = static_cast<int64_t>(scenes_.size());
      bool used = false;
      auto add = [&](PromptItem item) {
        if (static_cast<int64_t>(items_.size()) >= max_items) return;
        item.image = image;
        items_.push_back(std::move(item));
        used = true;
      };
      if (vsr) {
        if (r.vsr) {
          PromptItem it;
          it.sample_id = fmt::format("world-{}:{}:vsr", split_name(split), s);
          it.text = r.vsr->caption;
          it.answer = r.vsr->label ? "yes" : "no";
          it.relation = r.vsr->relation;
          it.answer_type = "yes/no";
          it.ids = prompt(it.text);
          add(std::move(it));
        }
      } else {
        for (size_t q = 0; q < r.questions.size(); ++q) {
          const auto& wq = r.questions[q];
          PromptItem it;
          it.sample_id = fmt::format("world-{}:{}:{}", split_name(split), s, q);
          it.text = wq.question;
          it.answer = wq.answer;
          it.relation = wq.relation;
          it.answer_type = wq.answer_type;
          it.ids = prompt(it.text);
          add(std::move(it));
        }
      }
      if (used) scenes_.push_back(r.scene);
    }
  }
  int64_t size() const override { return static_cast<int64_t>(items_.size()); }
  const PromptItem& item(int64_t i) const override {
    check(i >= 0 && i < size(), "dataset '{}': item {} is out of range [0, {})", name_, i, size());
    return items_[static_cast<size_t>(i)];
  }
  at::Tensor pixels(int64_t image) const override {
    check(image >= 0 && image < static_cast<int64_t>(scenes_.size()), "dataset '{}': image {} is out of range",
          name_, image);
    return scene_pixels({scenes_[static_cast<size_t>(image)]}, world_, vision_)[0];
  }
  std::string name() const override { return name_; }

 private:
  WorldOptions world_;
  VisionConfig vision_;
  std::string name_;
  std::vector<PromptItem> items_;
  std::vector<Scene> scenes_;
};

// Items whose images are files of one folder.
class FilePromptDataset final : public PromptDataset {
 public:
  FilePromptDataset(std::string name, std::string image_dir, ClipPreprocess preprocess)
      : name_(std::move(name)), image_dir_(std::move(image_dir)), preprocess_(preprocess) {}

  void add(PromptItem item, const std::string& image_file) {
    auto [it, inserted] = image_index_.emplace(image_file, static_cast<int64_t>(files_.size()));
    if (inserted) files_.push_back(image_file);
    item.image = it->second;
    items_.push_back(std::move(item));
  }
  int64_t size() const override { return static_cast<int64_t>(items_.size()); }
  const PromptItem& item(int64_t i) const override {
    check(i >= 0 && i < size(), "dataset '{}': item {} is out of range [0, {})", name_, i, size());
    return items_[static_cast<size_t>(i)];
  }
  at::Tensor pixels(int64_t image) const override {
    check(image >= 0 && image < static_cast<int64_t>(files_.size()), "dataset '{}': image {} is out of range", name_,
          image);
    const std::string path = (fs::path(image_dir_) / files_[static_cast<size_t>(image)]).string();
    return preprocess_clip(load_image(path), preprocess_);
  }
  std::string name() const override { return name_; }

 private:
  std::string name_;
  std::string image_dir_;
  ClipPreprocess preprocess_;
  std::vector<PromptItem> items_;
  std::vector<std::string> files_;
  std::map<std::string, int64_t> image_index_;
};

}  // namespace

std::unique_ptr<PromptDataset> make_world_dataset(const WorldDataOptions& data, WorldSplit split, bool vsr,
                                                  int64_t max_items, const PromptBuilder& prompt,
                                                  const VisionConfig& vision) {
  return std::make_unique<WorldPromptDataset>(data, split, vsr, max_items, prompt, vision);
}

std::unique_ptr<PromptDataset> make_vqa_dataset(std::string name, const std::vector<VqaItem>& items,
                                                const std::string& image_dir, const PromptBuilder& prompt,
                                                const ClipPreprocess& preprocess) {
  auto ds = std::make_unique<FilePromptDataset>(std::move(name), image_dir, preprocess);
  for (const auto& q : items) {
    PromptItem it;
    it.sample_id = fmt::format("vqa:{}", q.question_id);
    it.text = q.question;
    it.answer = q.multiple_choice_answer;
    it.answer_type = q.answer_type;
    it.ids = prompt(q.question);
    ds->add(std::move(it), q.image_file);
  }
  return ds;
}

std::unique_ptr<PromptDataset> make_vsr_dataset(std::string name, const std::vector<VsrItem>& items,
                                                const std::string& image_dir, const PromptBuilder& prompt,
                                                const ClipPreprocess& preprocess) {
  auto ds = std::make_unique<FilePromptDataset>(std::move(name), image_dir, preprocess);
  for (size_t i = 0; i < items.size(); ++i) {
    const auto& v = items[i];
    PromptItem it;
    it.sample_id = fmt::format("vsr:{}", v.line > 0 ? v.line : static_cast<int64_t>(i) + 1);
    it.text = v.caption;
    it.answer = v.label ? "yes" : "no";
    it.relation = v.relation;
    it.answer_type = "yes/no";
    it.ids = prompt(v.caption);
    ds->add(std::move(it), v.image);
  }
  return ds;
}

std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  uint64_t state = seed;
  auto next = [&state] {
    // splitmix64 (Steele et al. 2014)
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  };
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(next() % static_cast<uint64_t>(i + 1));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

}  // namespace sightline
