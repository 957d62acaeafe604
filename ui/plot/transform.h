// Data <-> pixel transforms of a 2D plot, and the view edits that zoom and pan do. Pure
// logic, no ImGui: pixel coordinates are screen space with y growing downwards.
#pragma once

namespace sightline::plot {

struct Range {
  double min = 0;
  double max = 1;
  double span() const { return max - min; }
  bool contains(double v) const { return v >= min && v <= max; }
};

// The part of data space a plot shows.
struct ViewRect {
  Range x;
  Range y;
};

// A rectangle in screen pixels; x0 < x1, y0 < y1 (y0 is the top edge).
struct PixelRect {
  double x0 = 0, y0 = 0, x1 = 1, y1 = 1;
  double width() const { return x1 - x0; }
  double height() const { return y1 - y0; }
  bool contains(double x, double y) const { return x >= x0 && x <= x1 && y >= y0 && y <= y1; }
};

// Maps a ViewRect onto a PixelRect: view.x.min -> x0, view.y.max -> y0 (top).
class Transform {
 public:
  Transform() = default;
  Transform(const PixelRect& pixels, const ViewRect& view) : pixels_(pixels), view_(view) {}

  double to_pixel_x(double x) const { return pixels_.x0 + (x - view_.x.min) * scale_x(); }
  double to_pixel_y(double y) const { return pixels_.y0 + (view_.y.max - y) * scale_y(); }
  double to_data_x(double px) const { return view_.x.min + (px - pixels_.x0) / scale_x(); }
  double to_data_y(double py) const { return view_.y.max - (py - pixels_.y0) / scale_y(); }
  // Pixels per data unit along each axis (> 0 for a valid view).
  double scale_x() const { return pixels_.width() / view_.x.span(); }
  double scale_y() const { return pixels_.height() / view_.y.span(); }

  const PixelRect& pixels() const { return pixels_; }
  const ViewRect& view() const { return view_; }

 private:
  PixelRect pixels_;
  ViewRect view_;
};

// Scales `view` about the data point (cx, cy), which stays fixed on screen; factor < 1
// zooms in. Spans never shrink below min_span (guards against a degenerate view).
ViewRect zoom_about(const ViewRect& view, double cx, double cy, double factor_x, double factor_y,
                    double min_span = 1e-9);

// Moves the view so that content follows a mouse drag of (dx, dy) pixels.
ViewRect pan_by_pixels(const ViewRect& view, const Transform& t, double dx, double dy);

// A view holding [x.min, x.max] x [y.min, y.max] with `pad` of each span added on every
// side; an empty or degenerate range is widened to +-0.5 around its centre.
ViewRect fit_view(Range x, Range y, double pad = 0.04);

// Linear interpolation between two views (t = 0 -> a, t = 1 -> b); for animated cameras.
ViewRect lerp_view(const ViewRect& a, const ViewRect& b, double t);

}  // namespace sightline::plot
