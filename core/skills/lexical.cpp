#include "core/skills/lexical.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <map>
#include <set>

#include "core/common/constants.h"
#include "core/common/error.h"

namespace sightline {

LexicalResult lexical_decision(int64_t fired, int64_t runs, double min_fraction) {
  check(fired >= 0 && fired <= runs, "lexical filter: fired on {} of {} runs", fired, runs);
  LexicalResult r;
  r.runs = runs;
  r.fired = fired;
  if (runs > 0) {
    r.fraction = static_cast<double>(fired) / static_cast<double>(runs);
    r.pass = r.fraction >= min_fraction;
  }
  return r;
}

std::vector<std::vector<LexicalResult>> lexical_filter(const VisionLanguageModel& model,
                                                       const std::vector<LayerFeatures>& layers,
                                                       const PromptDataset& dataset,
                                                       const std::vector<std::vector<std::vector<int64_t>>>& samples,
                                                       const std::vector<NeutralPrompt>& prompts,
                                                       const LexicalOptions& options, Progress& progress) {
  check(!prompts.empty(), "lexical filter: no neutral prompts");
  check(options.min_fraction >= 0 && options.min_fraction <= 1, "lexical filter: min_fraction {} is outside [0, 1]",
        options.min_fraction);
  for (size_t p = 0; p < prompts.size(); ++p) {
    int64_t markers = 0;
    for (int64_t id : prompts[p].ids) markers += id == kImageTokenIndex ? 1 : 0;
    check(markers == 1, "lexical filter: neutral prompt {} (\"{}\") holds {} image markers, not 1", p, prompts[p].text,
          markers);
  }
  check(samples.size() == layers.size(), "lexical filter: samples for {} layers, {} given", samples.size(),
        layers.size());
  // The distinct images of every feature's samples, and each feature's own image list.
  std::map<int64_t, int64_t> image_slot;  // dataset image -> index among the distinct images
  std::vector<std::vector<std::vector<int64_t>>> feature_images(layers.size());
  for (size_t l = 0; l < layers.size(); ++l) {
    check(static_cast<int64_t>(samples[l].size()) == layers[l].width(),
          "lexical filter: layer {}: samples for {} features, {} kept", layers[l].layer, samples[l].size(),
          layers[l].width());
    feature_images[l].resize(samples[l].size());
    for (size_t c = 0; c < samples[l].size(); ++c) {
      std::set<int64_t> images;
      for (int64_t i : samples[l][c]) {
        const int64_t image = dataset.item(i).image;
        if (image >= 0) images.insert(image);
      }
      for (int64_t image : images) {
        image_slot.emplace(image, 0);
        feature_images[l][c].push_back(image);
      }
    }
  }
  std::vector<std::vector<LexicalResult>> out(layers.size());
  for (size_t l = 0; l < layers.size(); ++l) out[l].assign(samples[l].size(), lexical_decision(0, 0, 0));
  if (image_slot.empty()) return out;
  int64_t slot = 0;
  for (auto& [image, index] : image_slot) index = slot++;
  // Run items: image-major, one per (image, prompt).
  const auto P = static_cast<int64_t>(prompts.size());
  std::vector<PromptItem> items;
  for (const auto& [image, index] : image_slot) {
    for (int64_t p = 0; p < P; ++p) {
      PromptItem it;
      it.sample_id = fmt::format("image {} neutral {}", image, p);
      it.text = prompts[static_cast<size_t>(p)].text;
      it.ids = prompts[static_cast<size_t>(p)].ids;
      it.image = image;
      items.push_back(std::move(it));
    }
  }
  const DerivedPromptDataset runs(dataset.name() + " with neutral prompts", dataset, std::move(items));
  const auto max = item_max_activations(model, layers, runs, options.positions, options.stream, progress,
                                        "lexical filter (neutral prompts)");
  for (size_t l = 0; l < layers.size(); ++l) {
    const auto acc = max[l].accessor<float, 2>();
    for (size_t c = 0; c < samples[l].size(); ++c) {
      int64_t fired = 0, total = 0;
      for (int64_t image : feature_images[l][c]) {
        const int64_t base = image_slot.at(image) * P;
        for (int64_t p = 0; p < P; ++p) {
          ++total;
          if (acc[base + p][static_cast<int64_t>(c)] > options.min_activation) ++fired;
        }
      }
      out[l][c] = lexical_decision(fired, total, options.min_fraction);
    }
  }
  return out;
}

}  // namespace sightline
