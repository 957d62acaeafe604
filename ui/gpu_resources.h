// GL objects the views keep between frames. Created on first use with a current context,
// destroyed (by AppState) before the context goes away.
#pragma once

#include <memory>

#include "ui/gl/overlay_renderer.h"
#include "ui/gl/scatter_renderer.h"

namespace sightline::ui {

struct GpuResources {
  std::unique_ptr<gl::ScatterRenderer> scatter;
  std::unique_ptr<gl::OverlayRenderer> overlay;  // views 5 and 6
};

}  // namespace sightline::ui
