#include "ui/snapshot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "core/common/error.h"

namespace sightline::ui {

void FeatureTable::validate() const {
  const size_t n = layer.size();
  check(feature.size() == n, "feature table '{}': field 'feature' has {} rows, 'layer' has {}", source,
        feature.size(), n);
  check(visual_energy.size() == n, "feature table '{}': field 'visual_energy' has {} rows, 'layer' has {}",
        source, visual_energy.size(), n);
  check(decoder_cosine.size() == n, "feature table '{}': field 'decoder_cosine' has {} rows, 'layer' has {}",
        source, decoder_cosine.size(), n);
  check(flags.size() == n, "feature table '{}': field 'flags' has {} rows, 'layer' has {}", source, flags.size(),
        n);
  check(num_layers > 0 || n == 0, "feature table '{}': field 'num_layers' is {}", source, num_layers);
  for (size_t i = 0; i < n; ++i) {
    check(layer[i] < num_layers, "feature table '{}': row {}: field 'layer' = {} is not below num_layers {}",
          source, i, layer[i], num_layers);
    check(std::isfinite(visual_energy[i]) && visual_energy[i] >= 0,
          "feature table '{}': row {}: field 'visual_energy' = {} is not a finite value >= 0", source, i,
          visual_energy[i]);
    check(std::isfinite(decoder_cosine[i]) && std::fabs(decoder_cosine[i]) <= 1.0f + 1e-4f,
          "feature table '{}': row {}: field 'decoder_cosine' = {} is outside [-1, 1]", source, i,
          decoder_cosine[i]);
  }
}

int64_t FeatureTable::find(int layer_index, int feature_index) const {
  for (size_t i = 0; i < layer.size(); ++i)
    if (layer[i] == layer_index && feature[i] == feature_index) return static_cast<int64_t>(i);
  return -1;
}

float log_energy(float visual_energy) {
  return static_cast<float>(std::log10(std::max<double>(visual_energy, kEnergyFloor)));
}

}  // namespace sightline::ui

namespace sightline::ui {

const FeatureDetail* RunResults::find(int layer, int feature) const {
  const auto it = features.find(FeatureRef{layer, feature});
  return it == features.end() ? nullptr : &it->second;
}

HeatMap head_heat_map(const std::vector<HeadScore>& scores, const std::string& title) {
  HeatMap map;
  map.title = title;
  map.x_label = "head";
  map.y_label = "layer";
  for (const HeadScore& s : scores) {
    map.rows = std::max(map.rows, s.head_layer + 1);
    map.cols = std::max(map.cols, s.head + 1);
  }
  map.values.assign(static_cast<size_t>(map.rows) * map.cols, 0.0f);
  for (const HeadScore& s : scores) {
    if (s.head_layer < 0 || s.head < 0) continue;  // not a head: nothing to place
    map.values[static_cast<size_t>(s.head_layer) * map.cols + s.head] = static_cast<float>(s.score);
    if (s.score < 0) map.diverging = true;
  }
  return map;
}

std::vector<HeatMap> run_head_heat_maps(const RunResults& results) {
  std::vector<HeatMap> maps;
  for (const char* method : {"A", "B", "exact"}) {
    // Sum per (head_layer, head) and the number of features scored there.
    std::map<std::pair<int32_t, int32_t>, std::pair<double, int>> cells;
    int features = 0;
    for (const auto& [ref, detail] : results.features) {
      const auto it = detail.heads.find(method);
      if (it == detail.heads.end() || it->second.empty()) continue;
      ++features;
      for (const HeadScore& s : it->second) {
        auto& cell = cells[{s.head_layer, s.head}];
        cell.first += s.score;
        ++cell.second;
      }
    }
    if (features == 0) continue;
    std::vector<HeadScore> mean;
    for (const auto& [key, cell] : cells) {
      HeadScore s;
      s.head_layer = key.first;
      s.head = key.second;
      s.method = method;
      s.score = cell.first / cell.second;
      mean.push_back(s);
    }
    maps.push_back(head_heat_map(mean, fmt::format("Head attribution, method {}: mean over {} feature{}", method,
                                                    features, features == 1 ? "" : "s")));
  }
  return maps;
}

std::vector<HeadScore> rank_heads(std::vector<HeadScore> scores) {
  std::stable_sort(scores.begin(), scores.end(), [](const HeadScore& a, const HeadScore& b) {
    const double ma = std::fabs(a.score), mb = std::fabs(b.score);
    if (ma != mb) return ma > mb;
    return a.head_layer != b.head_layer ? a.head_layer < b.head_layer : a.head < b.head;
  });
  return scores;
}

}  // namespace sightline::ui
