// `sightline gui`: the explorer's window and main loop, its screenshot mode (render N
// frames with data, write a PNG and a JSON sidecar, exit) and its benchmark mode
// (scripted pan / zoom over synthetic data, frame-time percentiles on stdout).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sightline::ui {

struct GuiOptions {
  std::string db_path;          // --db: the project's store (also remembered in the settings)
  std::string world_dir;        // --world
  std::string screenshot;       // --screenshot FILE.png
  std::string view = "scatter"; // --view: scatter, layers, curves, sweep, heatmaps, heads, overlays, ablation, gallery
  std::string select;           // --select LAYER:FEATURE
  std::string fig9;             // --fig9 SET[:LAYER]: the Fig. 9 view's feature set and layer
  int frames = 3;               // --frames: frames rendered with data before the screenshot
  size_t synthetic = 0;         // --synthetic N features (0 = none)
  bool bench = false;           // --bench
  int bench_frames = 400;       // frames of the scripted camera path
  int width = 0, height = 0;    // window size; 0 = settings (interactive) or 1600 x 1000
  uint64_t seed = 1;            // synthetic data seed
  std::string settings_path;    // "" = default_settings_path(); unused in screenshot / bench modes
  // The live views (overlays, ablation): what they show first.
  int64_t statement = 0;        // --statement: the VSR statement whose image is shown
  std::string image_file;       // --image FILE: open this image file instead
  std::string question;         // --question: ask this instead of the statement's caption
  std::string head;             // --head LAYER:HEAD: the overlay's head ("" = the selected feature's top head)
  double alpha = -1;            // --alpha 0..1: the overlay's colormap weight (-1 = the default)
  int64_t query_token = -1;     // --query-token: prompt position whose attention is shown (-1 = the last)
  std::string ablate;           // --ablate "L:F,hL:H": toggled feature / head ablations; re-evaluated at start
};

// "3:40,h1:0" -> features {(3, 40)} and heads {(1, 0)}; throws Error naming --ablate.
// (Defined with the other live-view options in ui/live_options.cpp.)
struct AblateToggles {
  std::vector<std::pair<int, int64_t>> features;
  std::vector<std::pair<int, int>> heads;
};
AblateToggles parse_ablate(const std::string& text);

// "12:345" -> {12, 345}; throws Error naming --select on anything else.
std::pair<int, int> parse_select(const std::string& text);

// Checks the options (view name, frames, select, sizes) and throws Error naming the flag.
void validate(const GuiOptions& options);

// Opens the window and runs until it closes (interactive), the screenshot is written, or
// the benchmark ends. Returns the exit code (0). Throws Error when no display or GL 3.3
// context can be had, or the screenshot cannot be written.
int run_gui(const GuiOptions& options);

}  // namespace sightline::ui
