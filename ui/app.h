// `sightline gui`: the explorer's window and main loop, its screenshot mode (render N
// frames with data, write a PNG and a JSON sidecar, exit) and its benchmark mode
// (scripted pan / zoom over synthetic data, frame-time percentiles on stdout).
#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace sightline::ui {

struct GuiOptions {
  std::string db_path;          // --db: the project's store (also remembered in the settings)
  std::string world_dir;        // --world
  std::string screenshot;       // --screenshot FILE.png
  std::string view = "scatter"; // --view: scatter, layers, curves, heatmaps, gallery
  std::string select;           // --select LAYER:FEATURE
  int frames = 3;               // --frames: frames rendered with data before the screenshot
  size_t synthetic = 0;         // --synthetic N features (0 = none)
  bool bench = false;           // --bench
  int bench_frames = 400;       // frames of the scripted camera path
  int width = 0, height = 0;    // window size; 0 = settings (interactive) or 1600 x 1000
  uint64_t seed = 1;            // synthetic data seed
  std::string settings_path;    // "" = default_settings_path(); unused in screenshot / bench modes
};

// "12:345" -> {12, 345}; throws Error naming --select on anything else.
std::pair<int, int> parse_select(const std::string& text);

// Checks the options (view name, frames, select, sizes) and throws Error naming the flag.
void validate(const GuiOptions& options);

// Opens the window and runs until it closes (interactive), the screenshot is written, or
// the benchmark ends. Returns the exit code (0). Throws Error when no display or GL 3.3
// context can be had, or the screenshot cannot be written.
int run_gui(const GuiOptions& options);

}  // namespace sightline::ui
