// GL objects the views keep between frames. Created on first use with a current context,
// destroyed (by AppState) before the context goes away.
#pragma once

#include <memory>

#include "ui/gl/scatter_renderer.h"

namespace sightline::ui {

struct GpuResources {
  std::unique_ptr<gl::ScatterRenderer> scatter;
};

}  // namespace sightline::ui
