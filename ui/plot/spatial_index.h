// A uniform grid over 2D points in data coordinates: hover picking under an anisotropic
// pixel metric, exact box queries, and the cell order that the GPU scatter's vertex
// buffer uses (points sorted by row-major cell, so one row of visible cells is one
// contiguous run of vertices). Pure logic, no GL.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "ui/plot/transform.h"

namespace sightline::plot {

struct PickHit {
  int64_t id = -1;        // the point's index in the arrays given to build(); -1 = none
  double distance = 0;    // in the metric of the query (pixels for the scatter)
};

class GridIndex {
 public:
  // Indexes n points (xs[i], ys[i]), all finite (throws Error naming the point otherwise),
  // with about `points_per_cell` points per cell on average and at most 2048 x 2048 cells.
  void build(const float* xs, const float* ys, size_t n, double points_per_cell = 4.0);

  size_t size() const { return ids_.size(); }
  int cells_x() const { return nx_; }
  int cells_y() const { return ny_; }
  // The bounding box of the points.
  const ViewRect& bounds() const { return bounds_; }

  // Point ids in cell order: position p of the sorted arrays holds point ids()[p].
  const std::vector<uint32_t>& ids() const { return ids_; }
  const std::vector<float>& sorted_x() const { return sx_; }
  const std::vector<float>& sorted_y() const { return sy_; }

  // Half-open runs [begin, end) of sorted positions covering every cell that overlaps
  // `view` (one run per cell row); a superset of the points inside the view.
  std::vector<std::pair<uint32_t, uint32_t>> runs_in(const ViewRect& view) const;
  // Number of points in the cells that overlap `view` (an upper bound of those inside).
  size_t count_in(const ViewRect& view) const;

  // The accepted point nearest to (qx, qy) under distance sqrt((dx*scale_x)^2 +
  // (dy*scale_y)^2) (pixels when the scales are a plot's pixels per data unit), within
  // max_distance; id -1 when none. accept(id) filters points (e.g. by layer).
  template <typename Accept>
  PickHit nearest(double qx, double qy, double scale_x, double scale_y, double max_distance,
                  Accept&& accept) const;

  // Appends the ids of accepted points with x in [x0, x1] and y in [y0, y1].
  template <typename Accept>
  void query_rect(const ViewRect& rect, Accept&& accept, std::vector<uint32_t>& out) const;

 private:
  struct CellBox {
    int cx0 = 0, cy0 = 0, cx1 = -1, cy1 = -1;  // inclusive; empty when cx1 < cx0
  };
  int cell_x(double x) const;
  int cell_y(double y) const;
  CellBox cells_overlapping(const ViewRect& rect) const;
  uint32_t cell_begin(int cx, int cy) const { return cell_start_[static_cast<size_t>(cy) * nx_ + cx]; }
  uint32_t cell_end(int cx, int cy) const { return cell_start_[static_cast<size_t>(cy) * nx_ + cx + 1]; }

  ViewRect bounds_;
  double cell_w_ = 1, cell_h_ = 1;
  int nx_ = 0, ny_ = 0;
  std::vector<uint32_t> cell_start_;  // nx*ny + 1 offsets into the sorted arrays
  std::vector<uint32_t> ids_;
  std::vector<float> sx_, sy_;
};

// ---------------------------------------------------------------------------------------
// Template implementations.

template <typename Accept>
PickHit GridIndex::nearest(double qx, double qy, double scale_x, double scale_y, double max_distance,
                           Accept&& accept) const {
  PickHit hit;
  if (ids_.empty() || !(scale_x > 0) || !(scale_y > 0) || !(max_distance >= 0)) return hit;
  const ViewRect reach{{qx - max_distance / scale_x, qx + max_distance / scale_x},
                       {qy - max_distance / scale_y, qy + max_distance / scale_y}};
  const CellBox box = cells_overlapping(reach);
  if (box.cx1 < box.cx0 || box.cy1 < box.cy0) return hit;
  const int qcx = cell_x(qx), qcy = cell_y(qy);
  const double cell_px = std::min(cell_w_ * scale_x, cell_h_ * scale_y);
  double best2 = max_distance * max_distance;
  bool found = false;
  const int max_ring = std::max({qcx - box.cx0, box.cx1 - qcx, qcy - box.cy0, box.cy1 - qcy});
  for (int ring = 0; ring <= max_ring; ++ring) {
    // Every cell of ring r lies at least (r - 1) whole cells from the query along x or y.
    const double ring_bound = (ring - 1) * cell_px;
    if (ring >= 1 && ring_bound * ring_bound > best2) break;
    for (int cy = std::max(box.cy0, qcy - ring); cy <= std::min(box.cy1, qcy + ring); ++cy) {
      const bool edge_row = cy == qcy - ring || cy == qcy + ring;
      const int step = edge_row ? 1 : 2 * ring;
      for (int cx = qcx - ring; cx <= qcx + ring; cx += std::max(step, 1)) {
        if (cx < box.cx0 || cx > box.cx1) continue;
        const double x0 = bounds_.x.min + cx * cell_w_, y0 = bounds_.y.min + cy * cell_h_;
        const double gx = std::max({0.0, x0 - qx, qx - (x0 + cell_w_)}) * scale_x;
        const double gy = std::max({0.0, y0 - qy, qy - (y0 + cell_h_)}) * scale_y;
        if (gx * gx + gy * gy > best2) continue;
        for (uint32_t p = cell_begin(cx, cy), e = cell_end(cx, cy); p < e; ++p) {
          const double dx = (sx_[p] - qx) * scale_x, dy = (sy_[p] - qy) * scale_y;
          const double d2 = dx * dx + dy * dy;
          if (d2 <= best2 && (!found || d2 < best2 || ids_[p] < hit.id) && accept(ids_[p])) {
            best2 = d2;
            hit.id = ids_[p];
            found = true;
          }
        }
      }
    }
  }
  if (found) hit.distance = std::sqrt(best2);
  return hit;
}

template <typename Accept>
void GridIndex::query_rect(const ViewRect& rect, Accept&& accept, std::vector<uint32_t>& out) const {
  const CellBox box = cells_overlapping(rect);
  for (int cy = box.cy0; cy <= box.cy1; ++cy) {
    for (uint32_t p = cell_begin(box.cx0, cy), e = cell_end(box.cx1, cy); p < e; ++p) {
      if (sx_[p] >= rect.x.min && sx_[p] <= rect.x.max && sy_[p] >= rect.y.min && sy_[p] <= rect.y.max &&
          accept(ids_[p]))
        out.push_back(ids_[p]);
    }
  }
}

}  // namespace sightline::plot
