// sightline gui ...: the explorer (ImGui), its screenshot mode and its benchmark.
#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "app/commands.h"
#include "core/common/error.h"
#ifdef SIGHTLINE_HAVE_GUI
#include "ui/app.h"
#endif

namespace sightline::app {

namespace {

// The flags, kept here so that a build without the GUI still parses (and explains) them.
struct GuiFlags {
  std::string db, world, screenshot, view = "scatter", select, fig9;
  int frames = 3;
  size_t synthetic = 0;
  bool bench = false;
  int bench_frames = 400;
  int width = 0, height = 0;
  uint64_t seed = 1;
  int64_t statement = 0, query_token = -1;
  std::string image_file, question, head, ablate;
  double alpha = -1;
};

}  // namespace

void register_gui(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("gui", "Open the explorer; or write a screenshot; or benchmark the scatter");
  auto f = std::make_shared<GuiFlags>();
  cmd->add_option("--db", f->db, "Project database (SQLite store)");
  cmd->add_option("--world", f->world, "World directory");
  cmd->add_option("--screenshot", f->screenshot, "Render --frames frames once the data is ready, write this PNG "
                                                  "(and FILE.png.json describing it), exit");
  cmd->add_option("--view", f->view, "Centre view to show: scatter, layers, curves, sweep, heatmaps, heads, overlays, ablation, fig9, gallery");
  cmd->add_option("--select", f->select, "Select a feature as LAYER:FEATURE");
  cmd->add_option("--fig9", f->fig9, "Fig. 9 view: feature set all|adapted|candidates|spatial, optionally :LAYER");
  cmd->add_option("--frames", f->frames, "Frames rendered before the screenshot")->check(CLI::Range(1, 100000));
  cmd->add_option("--synthetic", f->synthetic, "Explore N synthetic features over 32 layers");
  cmd->add_flag("--bench", f->bench, "Pan and zoom the scatter along a scripted path and print frame-time "
                                     "percentiles (default --synthetic 1048576)");
  cmd->add_option("--bench-frames", f->bench_frames, "Frames of the benchmark path")->check(CLI::Range(8, 100000));
  cmd->add_option("--width", f->width, "Window width (default: last size, 1600 for screenshots)");
  cmd->add_option("--height", f->height, "Window height (default: last size, 1000 for screenshots)");
  cmd->add_option("--seed", f->seed, "Synthetic data seed");
  cmd->add_option("--statement", f->statement, "Overlays / ablation: the VSR statement whose image is shown");
  cmd->add_option("--image", f->image_file, "Overlays / ablation: open this image file instead");
  cmd->add_option("--question", f->question, "Overlays / ablation: the question asked (default: the statement)");
  cmd->add_option("--head", f->head, "Overlays: the head shown large, LAYER:HEAD (default: the selected feature's top head)");
  cmd->add_option("--alpha", f->alpha, "Overlays: colormap weight over the image, 0..1");
  cmd->add_option("--query-token", f->query_token, "Overlays: prompt position whose attention is shown (default: the last)");
  cmd->add_option("--ablate", f->ablate, "Ablation: toggle these, e.g. 3:40,h1:0 (feature L3 #40, head L1 H0), and "
                                         "re-evaluate at start");
  cmd->callback([f, &action] {
    action = [f] {
#ifdef SIGHTLINE_HAVE_GUI
      ui::GuiOptions o;
      o.db_path = f->db;
      o.world_dir = f->world;
      o.screenshot = f->screenshot;
      o.view = f->view;
      o.select = f->select;
      o.fig9 = f->fig9;
      o.frames = f->frames;
      o.synthetic = f->synthetic;
      o.bench = f->bench;
      o.bench_frames = f->bench_frames;
      o.width = f->width;
      o.height = f->height;
      o.seed = f->seed;
      o.statement = f->statement;
      o.image_file = f->image_file;
      o.question = f->question;
      o.head = f->head;
      o.alpha = f->alpha;
      o.query_token = f->query_token;
      o.ablate = f->ablate;
      ui::run_gui(o);
#else
      (void)f;
      fail("gui: this sightline was built without the explorer; configure with -DSIGHTLINE_BUILD_GUI=ON "
           "(needs libimgui-dev, libglfw3-dev)");
#endif
    };
  });
}

}  // namespace sightline::app
