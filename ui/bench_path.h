// The benchmark's scripted camera and its statistics (`sightline gui --bench`). Pure
// logic: the path is a function of the frame number, so every run sees the same views.
#pragma once

#include <cstddef>
#include <vector>

#include "ui/plot/transform.h"

namespace sightline::ui {

// The view at `frame` of `frames` (>= 4): four equal phases over the data's full view -
// pan in a small circle while zoomed out, zoom in geometrically toward (focus_x, focus_y)
// down to 1/zoom of each span, pan in a circle while zoomed in, zoom back out.
plot::ViewRect bench_camera(const plot::ViewRect& full, double focus_x, double focus_y, int frame, int frames,
                            double zoom = 40.0);

struct Percentiles {
  double p50 = 0, p90 = 0, p99 = 0, mean = 0, max = 0;
  size_t count = 0;
};

// Nearest-rank percentiles (p-th: the ceil(p * n)-th smallest sample); zeros when empty.
Percentiles percentiles(std::vector<double> samples);

}  // namespace sightline::ui
