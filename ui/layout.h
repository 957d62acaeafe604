// The explorer's fixed layout (Dear ImGui 1.86 has no docking): one window covering the
// viewport with the menu bar; feature list | tabbed views | feature page on top, jobs |
// log below, separated by draggable splitters whose positions live in Settings.
#pragma once

#include "ui/app_state.h"

namespace sightline::ui {

// The centre tab names (`--view`), in tab order.
inline constexpr const char* kViewNames[] = {"scatter", "layers",   "curves",   "sweep", "heatmaps",
                                             "heads",   "overlays", "ablation", "fig9"};

struct LayoutEvents {
  bool quit = false;              // File > Quit
  bool generate_synthetic = false;
  size_t synthetic_features = 0;  // File > Synthetic data > N
};

// Draws the whole frame's UI (menu, panes, debug windows).
LayoutEvents draw_main_window(AppState& state);

}  // namespace sightline::ui
