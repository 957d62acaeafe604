// The CPU side of the Fig. 2 scatter (x = decoder cosine, y = log10 E_v): a grid index
// over all features for hover picking and box selection, per-point attributes in the
// index's cell order (the order of the GPU vertex buffer), the sorted cosines for the
// p_cos threshold, and the density binning used when too many points are in view.
// Built once per FeatureTable on a worker thread. Pure logic, no GL.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "ui/adapted_set.h"
#include "ui/plot/colormap.h"
#include "ui/plot/spatial_index.h"
#include "ui/snapshot.h"

namespace sightline::ui {

// Which layers are shown: enabled[layer] != 0. An empty mask shows every layer.
using LayerMask = std::vector<uint8_t>;

// Counts per density bin: all shown points, and those of them in A.
struct DensityImage {
  int bins_x = 0, bins_y = 0;
  std::vector<float> counts;  // (bins_y, bins_x, 2): [all, adapted], row 0 = bottom (lowest y)
  float max_all = 0;          // largest "all" count
  size_t binned = 0;          // points that fell inside the view
};

// Colours the bins into RGBA8 (bins_y rows of bins_x, row 0 = lowest y): empty bins are
// transparent, bins holding features of A take `adapted`, the rest the colormap at
// t = 0.25 + 0.75 * log(1 + count) / log(1 + max_all) (the lower quarter is skipped so that
// single points stay visible on a dark background).
void colorize_density(const DensityImage& image, plot::Colormap colormap, const std::array<uint8_t, 3>& adapted,
                      std::vector<uint8_t>& rgba);

class ScatterModel {
 public:
  explicit ScatterModel(std::shared_ptr<const FeatureTable> table);

  const FeatureTable& table() const { return *table_; }
  // Unique per model built in this process (GPU caches key on it, not on the address).
  uint64_t serial() const { return serial_; }
  std::shared_ptr<const FeatureTable> table_ptr() const { return table_; }
  const plot::GridIndex& index() const { return index_; }
  const CosineQuantiles& quantiles() const { return quantiles_; }
  // The y coordinate of each feature: log10(max(E_v, kEnergyFloor)), by row.
  const std::vector<float>& log_energy() const { return log_energy_; }
  // Per sorted position: layer in bits 0-15, FeatureFlag bits in 16-23 (the vertex attribute).
  const std::vector<uint32_t>& sorted_attributes() const { return sorted_attributes_; }
  // Rows with any of the candidate / spatial / analysed flags (drawn as markers on top).
  const std::vector<uint32_t>& marked_rows() const { return marked_rows_; }

  // The shown feature nearest to the data point (qx, qy) within max_pixels, measured in
  // pixels (scale_* = pixels per data unit); -1 when none.
  int64_t pick(double qx, double qy, double scale_x, double scale_y, double max_pixels, const LayerMask& mask) const;
  // Shown features inside the rectangle, ascending by row.
  std::vector<uint32_t> select_box(const plot::ViewRect& rect, const LayerMask& mask) const;
  // Bins the shown points inside `view` into bins_x x bins_y cells; the adapted count
  // uses E_v > eps and c <= cosine_threshold.
  void bin_density(const plot::ViewRect& view, int bins_x, int bins_y, double eps, double cosine_threshold,
                   const LayerMask& mask, DensityImage& out) const;

 private:
  std::shared_ptr<const FeatureTable> table_;
  uint64_t serial_ = 0;
  std::vector<float> log_energy_;
  plot::GridIndex index_;
  CosineQuantiles quantiles_;
  std::vector<uint32_t> sorted_attributes_;
  std::vector<uint32_t> marked_rows_;
};

inline bool layer_shown(const LayerMask& mask, int layer) {
  return mask.empty() || (layer < static_cast<int>(mask.size()) && mask[layer] != 0);
}

}  // namespace sightline::ui
