#include "ui/adapted_set.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sightline::ui {

void CosineQuantiles::build(const std::vector<float>& cosines) {
  sorted_ = cosines;
  std::sort(sorted_.begin(), sorted_.end());
}

double CosineQuantiles::threshold_for(double p) const {
  const size_t n = sorted_.size();
  if (n == 0 || !(p > 0)) return -std::numeric_limits<double>::infinity();
  const double k = std::ceil(std::min(p, 1.0) * static_cast<double>(n) - 1e-9);
  const size_t index = static_cast<size_t>(std::clamp(k, 1.0, static_cast<double>(n))) - 1;
  return sorted_[index];
}

double CosineQuantiles::fraction_at_or_below(double cosine) const {
  if (sorted_.empty()) return 0;
  const auto it = std::upper_bound(sorted_.begin(), sorted_.end(), cosine,
                                   [](double c, float v) { return c < static_cast<double>(v); });
  return static_cast<double>(it - sorted_.begin()) / static_cast<double>(sorted_.size());
}

LayerCounts count_adapted(const FeatureTable& table, double eps, double cosine_threshold) {
  LayerCounts counts;
  const size_t layers = static_cast<size_t>(std::max(table.num_layers, 0));
  counts.adapted.assign(layers, 0);
  counts.total.assign(layers, 0);
  counts.mean_cosine.assign(layers, 0);
  counts.mean_cosine_adapted.assign(layers, 0);
  for (size_t i = 0; i < table.size(); ++i) {
    const size_t l = table.layer[i];
    const float c = table.decoder_cosine[i];
    ++counts.total[l];
    counts.mean_cosine[l] += c;
    if (is_adapted(table.visual_energy[i], c, eps, cosine_threshold)) {
      ++counts.adapted[l];
      counts.mean_cosine_adapted[l] += c;
    }
  }
  for (size_t l = 0; l < layers; ++l) {
    if (counts.total[l] > 0) counts.mean_cosine[l] /= static_cast<double>(counts.total[l]);
    if (counts.adapted[l] > 0) counts.mean_cosine_adapted[l] /= static_cast<double>(counts.adapted[l]);
    counts.adapted_total += counts.adapted[l];
  }
  return counts;
}

}  // namespace sightline::ui
