#include "ui/plot/spatial_index.h"

#include <algorithm>

#include "core/common/error.h"

namespace sightline::plot {

void GridIndex::build(const float* xs, const float* ys, size_t n, double points_per_cell) {
  check(n < UINT32_MAX, "spatial index: {} points exceed the 32-bit id range", n);
  Range bx{0, 1}, by{0, 1};
  for (size_t i = 0; i < n; ++i) {
    check(std::isfinite(xs[i]) && std::isfinite(ys[i]), "spatial index: point {} is not finite ({}, {})", i,
          xs[i], ys[i]);
    if (i == 0) {
      bx = {xs[i], xs[i]};
      by = {ys[i], ys[i]};
    }
    bx.min = std::min<double>(bx.min, xs[i]);
    bx.max = std::max<double>(bx.max, xs[i]);
    by.min = std::min<double>(by.min, ys[i]);
    by.max = std::max<double>(by.max, ys[i]);
  }
  // A zero-span axis still gets a cell of width 1 so cell arithmetic stays finite.
  if (bx.span() <= 0) bx.max = bx.min + 1;
  if (by.span() <= 0) by.max = by.min + 1;
  bounds_ = {bx, by};
  const int side = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(n) / std::max(points_per_cell, 1e-3))));
  nx_ = ny_ = std::clamp(side, 1, 2048);
  // The last cell's upper edge sits just above the max so the max point falls inside it.
  cell_w_ = bx.span() / nx_ * (1 + 1e-9);
  cell_h_ = by.span() / ny_ * (1 + 1e-9);

  // Counting sort by row-major cell id.
  const size_t cells = static_cast<size_t>(nx_) * ny_;
  std::vector<uint32_t> cell_of(n);
  cell_start_.assign(cells + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    cell_of[i] = static_cast<uint32_t>(cell_y(ys[i]) * nx_ + cell_x(xs[i]));
    ++cell_start_[cell_of[i] + 1];
  }
  for (size_t c = 0; c < cells; ++c) cell_start_[c + 1] += cell_start_[c];
  std::vector<uint32_t> fill(cell_start_.begin(), cell_start_.end() - 1);
  ids_.resize(n);
  sx_.resize(n);
  sy_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const uint32_t p = fill[cell_of[i]]++;
    ids_[p] = static_cast<uint32_t>(i);
    sx_[p] = xs[i];
    sy_[p] = ys[i];
  }
}

int GridIndex::cell_x(double x) const {
  const double c = std::floor((x - bounds_.x.min) / cell_w_);
  return static_cast<int>(std::clamp(c, 0.0, static_cast<double>(nx_ - 1)));
}

int GridIndex::cell_y(double y) const {
  const double c = std::floor((y - bounds_.y.min) / cell_h_);
  return static_cast<int>(std::clamp(c, 0.0, static_cast<double>(ny_ - 1)));
}

GridIndex::CellBox GridIndex::cells_overlapping(const ViewRect& rect) const {
  CellBox box;
  if (nx_ == 0 || rect.x.max < bounds_.x.min || rect.x.min > bounds_.x.max || rect.y.max < bounds_.y.min ||
      rect.y.min > bounds_.y.max || !(rect.x.min <= rect.x.max) || !(rect.y.min <= rect.y.max))
    return box;
  box.cx0 = cell_x(rect.x.min);
  box.cx1 = cell_x(rect.x.max);
  box.cy0 = cell_y(rect.y.min);
  box.cy1 = cell_y(rect.y.max);
  return box;
}

std::vector<std::pair<uint32_t, uint32_t>> GridIndex::runs_in(const ViewRect& view) const {
  std::vector<std::pair<uint32_t, uint32_t>> runs;
  const CellBox box = cells_overlapping(view);
  for (int cy = box.cy0; cy <= box.cy1; ++cy) {
    const uint32_t b = cell_begin(box.cx0, cy), e = cell_end(box.cx1, cy);
    if (e <= b) continue;
    if (!runs.empty() && runs.back().second == b)
      runs.back().second = e;  // whole rows visible: merge
    else
      runs.emplace_back(b, e);
  }
  return runs;
}

size_t GridIndex::count_in(const ViewRect& view) const {
  size_t total = 0;
  for (const auto& [b, e] : runs_in(view)) total += e - b;
  return total;
}

}  // namespace sightline::plot
