// PromptDataset implementations the pipeline context builds: the shapes world's splits
// regenerated in memory, and real VQAv2 / VSR items with images from a folder.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/data/vqa.h"
#include "core/data/vsr.h"
#include "core/diffing/prompt_dataset.h"
#include "core/image/image.h"
#include "core/model/config.h"
#include "core/world/datasets.h"

namespace sightline {

// Builds a prompt from a question / statement text, with the image placeholder.
using PromptBuilder = std::function<std::vector<int64_t>(const std::string& text)>;

// Scenes 0, 1, ... of `split`: with vsr = false one item per VQA question of each scene
// (template order), with vsr = true one item per VSR statement (free scenes have none),
// until `max_items` items. Pixels are rendered on demand (scene_pixels).
std::unique_ptr<PromptDataset> make_world_dataset(const WorldDataOptions& data, WorldSplit split, bool vsr,
                                                  int64_t max_items, const PromptBuilder& prompt,
                                                  const VisionConfig& vision);

// VQA items (questions asked of their images) with images read from `image_dir` and
// preprocessed for the tower. Items sharing an image file share an image index.
std::unique_ptr<PromptDataset> make_vqa_dataset(std::string name, const std::vector<VqaItem>& items,
                                                const std::string& image_dir, const PromptBuilder& prompt,
                                                const ClipPreprocess& preprocess);

// VSR items (captions asked as statements about their images).
std::unique_ptr<PromptDataset> make_vsr_dataset(std::string name, const std::vector<VsrItem>& items,
                                                const std::string& image_dir, const PromptBuilder& prompt,
                                                const ClipPreprocess& preprocess);

// Fisher-Yates order of [0, n) from a splitmix64 stream of `seed` (the same on every
// platform, unlike std::shuffle).
std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed);

}  // namespace sightline
