#include "ui/scatter_model.h"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "core/common/error.h"

namespace sightline::ui {

ScatterModel::ScatterModel(std::shared_ptr<const FeatureTable> table) : table_(std::move(table)) {
  static std::atomic<uint64_t> next_serial{1};
  serial_ = next_serial.fetch_add(1);
  check(table_ != nullptr, "scatter: no feature table");
  const FeatureTable& t = *table_;
  t.validate();
  log_energy_.resize(t.size());
  for (size_t i = 0; i < t.size(); ++i) log_energy_[i] = ui::log_energy(t.visual_energy[i]);
  index_.build(t.decoder_cosine.data(), log_energy_.data(), t.size());
  quantiles_.build(t.decoder_cosine);
  sorted_attributes_.resize(t.size());
  const auto& ids = index_.ids();
  for (size_t p = 0; p < ids.size(); ++p)
    sorted_attributes_[p] = static_cast<uint32_t>(t.layer[ids[p]]) | (static_cast<uint32_t>(t.flags[ids[p]]) << 16);
  constexpr uint8_t kMarks = kFlagSpatialCandidate | kFlagSpatialFeature | kFlagAnalysed;
  for (size_t i = 0; i < t.size(); ++i)
    if (t.flags[i] & kMarks) marked_rows_.push_back(static_cast<uint32_t>(i));
}

int64_t ScatterModel::pick(double qx, double qy, double scale_x, double scale_y, double max_pixels,
                           const LayerMask& mask) const {
  const auto& layers = table_->layer;
  return index_
      .nearest(qx, qy, scale_x, scale_y, max_pixels, [&](uint32_t id) { return layer_shown(mask, layers[id]); })
      .id;
}

std::vector<uint32_t> ScatterModel::select_box(const plot::ViewRect& rect, const LayerMask& mask) const {
  std::vector<uint32_t> rows;
  const auto& layers = table_->layer;
  index_.query_rect(rect, [&](uint32_t id) { return layer_shown(mask, layers[id]); }, rows);
  std::sort(rows.begin(), rows.end());
  return rows;
}

void ScatterModel::bin_density(const plot::ViewRect& view, int bins_x, int bins_y, double eps,
                               double cosine_threshold, const LayerMask& mask, DensityImage& out) const {
  out.bins_x = std::max(bins_x, 1);
  out.bins_y = std::max(bins_y, 1);
  out.counts.assign(static_cast<size_t>(out.bins_x) * out.bins_y * 2, 0.0f);
  out.max_all = 0;
  out.binned = 0;
  const double kx = out.bins_x / view.x.span(), ky = out.bins_y / view.y.span();
  if (!(kx > 0) || !(ky > 0) || !std::isfinite(kx) || !std::isfinite(ky)) return;
  // log10(E_v) > log10(eps) <=> E_v > eps; compare in the stored coordinate.
  const float log_eps = eps > 0 ? static_cast<float>(std::log10(eps)) : -INFINITY;
  const float cthr = static_cast<float>(cosine_threshold);
  const float* xs = index_.sorted_x().data();
  const float* ys = index_.sorted_y().data();
  const uint32_t* attributes = sorted_attributes_.data();
  const bool all_layers = mask.empty();
  float* counts = out.counts.data();
  size_t binned = 0;
  for (const auto& [begin, end] : index_.runs_in(view)) {
    for (uint32_t p = begin; p < end; ++p) {
      const double fx = (xs[p] - view.x.min) * kx, fy = (ys[p] - view.y.min) * ky;
      if (fx < 0 || fy < 0 || fx >= out.bins_x || fy >= out.bins_y) continue;
      if (!all_layers && !layer_shown(mask, static_cast<int>(attributes[p] & 0xFFFF))) continue;
      const size_t cell = (static_cast<size_t>(fy) * out.bins_x + static_cast<size_t>(fx)) * 2;
      counts[cell] += 1;
      // The stored y is log10(max(E_v, floor)); floor < any sensible eps.
      if (ys[p] > log_eps && xs[p] <= cthr) counts[cell + 1] += 1;
      ++binned;
    }
  }
  out.binned = binned;
  for (size_t c = 0; c < out.counts.size(); c += 2) out.max_all = std::max(out.max_all, counts[c]);
}

void colorize_density(const DensityImage& image, plot::Colormap colormap, const std::array<uint8_t, 3>& adapted,
                      std::vector<uint8_t>& rgba) {
  const size_t bins = static_cast<size_t>(image.bins_x) * image.bins_y;
  rgba.assign(bins * 4, 0);
  const auto& table = plot::colormap_table(colormap);
  const double log_max = std::log1p(std::max(image.max_all, 1.0f));
  for (size_t b = 0; b < bins; ++b) {
    const float all = image.counts[2 * b], in_a = image.counts[2 * b + 1];
    if (all <= 0) continue;
    uint8_t* out = rgba.data() + 4 * b;
    if (in_a > 0) {
      out[0] = adapted[0];
      out[1] = adapted[1];
      out[2] = adapted[2];
    } else {
      const double t = 0.25 + 0.75 * std::log1p(all) / log_max;
      const auto& c = table[std::min(plot::kColormapSize - 1, static_cast<int>(t * (plot::kColormapSize - 1) + 0.5))];
      out[0] = c[0];
      out[1] = c[1];
      out[2] = c[2];
    }
    out[3] = 255;
  }
}

}  // namespace sightline::ui
