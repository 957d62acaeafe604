// Running GUI screenshot tests where an X display may be missing: a test runs in this
// process when a display opens; otherwise the whole suite re-runs once under xvfb-run
// (this binary, filtered to the suite) and each test reports the child's outcome here;
// with neither, it skips. Also what every screenshot test reads back: the PNG's pixels,
// its JSON sidecar, colour counts and a plot's data -> pixel mapping.
#pragma once

#include <gtest/gtest.h>
#include <stb_image.h>

#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/io/json_util.h"
#include "tests/test_util.h"
#include "ui/app.h"
#include "ui/plot/colormap.h"

namespace sightline::test {

inline constexpr const char* kGuiDisplayChildEnv = "SIGHTLINE_GUI_DISPLAY_CHILD";

inline bool gui_display_opens() {
  const char* display = std::getenv("DISPLAY");
  if (!display || !*display) return false;
  if (!glfwInit()) return false;
  glfwTerminate();
  return true;
}

struct GuiChildRun {
  int exit_code = -1;
  std::string output;
  std::map<std::string, std::string> outcome;  // test name -> "OK", "FAILED", "SKIPPED"
};

// Runs `suite`'s tests once under xvfb-run and parses their outcomes (cached per suite).
inline const GuiChildRun& gui_child_run(const std::string& suite) {
  static std::map<std::string, std::unique_ptr<GuiChildRun>> runs;
  auto& run = runs[suite];
  if (run) return *run;
  run = std::make_unique<GuiChildRun>();
  // -n: start the free-display search away from the usual :99 where other sessions sit.
  const int server = 200 + static_cast<int>(getpid() % 700);
  const std::string command = std::string(kGuiDisplayChildEnv) + "=1 xvfb-run -a -n " + std::to_string(server) +
                              " -s '-screen 0 1600x1000x24' /proc/" + std::to_string(getpid()) +
                              "/exe --gtest_filter='" + suite + ".*' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return *run;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) run->output.append(buffer, n);
  run->exit_code = pclose(pipe);
  const std::pair<std::string, const char*> markers[] = {{"[       OK ] " + suite + ".", "OK"},
                                                         {"[  FAILED  ] " + suite + ".", "FAILED"},
                                                         {"[  SKIPPED ] " + suite + ".", "SKIPPED"}};
  for (const auto& [marker, tag] : markers) {
    size_t at = 0;
    while ((at = run->output.find(marker, at)) != std::string::npos) {
      at += marker.size();
      const size_t end = run->output.find_first_of(" \n", at);
      run->outcome[run->output.substr(at, end - at)] = tag;
    }
  }
  return *run;
}

enum class GuiWhere { kHere, kDone, kSkip };

// Where the current test's body runs (see the file comment); reports the child's failures.
inline GuiWhere gui_where_to_run() {
  if (gui_display_opens()) return GuiWhere::kHere;
  if (std::getenv(kGuiDisplayChildEnv)) {
    ADD_FAILURE() << "xvfb-run gave no usable display";
    return GuiWhere::kDone;
  }
  if (std::system("command -v xvfb-run >/dev/null 2>&1") != 0) return GuiWhere::kSkip;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const GuiChildRun& run = gui_child_run(info->test_suite_name());
  const auto it = run.outcome.find(info->name());
  if (it == run.outcome.end()) {
    ADD_FAILURE() << "the xvfb-run child did not report " << info->name() << " (exit " << run.exit_code << "):\n"
                  << run.output;
  } else if (it->second == std::string("FAILED")) {
    ADD_FAILURE() << "failed under xvfb-run:\n" << run.output;
  } else if (it->second == std::string("SKIPPED")) {
    return GuiWhere::kSkip;
  }
  return GuiWhere::kDone;
}

// A screenshot read back: RGBA pixels, top row first, and its sidecar (FILE.png.json).
struct GuiShot {
  int width = 0, height = 0;
  std::vector<uint8_t> rgba;
  nlohmann::json info;
  std::string png;
  const uint8_t* at(int x, int y) const { return rgba.data() + (static_cast<size_t>(y) * width + x) * 4; }
};

// Reads `png` and its sidecar (a failed read is a test failure, and leaves no pixels).
inline GuiShot load_gui_shot(const std::string& png) {
  GuiShot shot;
  shot.png = png;
  int channels = 0;
  unsigned char* pixels = stbi_load(png.c_str(), &shot.width, &shot.height, &channels, 4);
  EXPECT_NE(pixels, nullptr) << png;
  if (pixels) {
    shot.rgba.assign(pixels, pixels + static_cast<size_t>(shot.width) * shot.height * 4);
    stbi_image_free(pixels);
  }
  shot.info = read_json_file(png + ".json");
  return shot;
}

// Runs the explorer's screenshot mode in this process into scratch_dir(dir)/NAME.png and
// reads the result back.
inline GuiShot take_gui_shot(ui::GuiOptions options, const std::string& dir, const std::string& name) {
  options.screenshot = scratch_dir(dir) + "/" + name + ".png";
  ui::run_gui(options);
  return load_gui_shot(options.screenshot);
}

// The explorer on the store at `db`, showing `view` with `select` ("LAYER:FEATURE" or
// "") selected, `frames` frames after the data settled.
inline ui::GuiOptions store_view_options(const std::string& db, const std::string& view, const std::string& select = "",
                                         int frames = 3) {
  ui::GuiOptions o;
  o.db_path = db;
  o.view = view;
  o.select = select;
  o.frames = frames;
  return o;
}

// The built micro world: the ctest fixture's (SIGHTLINE_MICRO_WORLD), else the one beside
// the CLI binary's build tree; "" when neither exists or the binary is missing.
inline std::string gui_micro_world() {
  std::string world = micro_world_dir();
  const std::filesystem::path beside =
      std::filesystem::path(SIGHTLINE_BINARY).parent_path().parent_path() / "test-cache" / "world-micro";
  if (world.empty() && std::filesystem::exists(beside / "manifest.json")) world = beside.string();
  return std::filesystem::exists(SIGHTLINE_BINARY) ? world : "";
}

// Runs `stages` of the pipeline on the micro world through the CLI (a small text-regime
// configuration: 2,000 training tokens, 200 evaluation items) into DIR/run.db and returns
// that path; "" (with the test failed) when the run fails.
inline std::string run_micro_world_stages(const std::string& world, const std::string& dir, const std::string& stages) {
  const std::string config = dir + "/config.json";
  write_bytes(config, R"({"data": {"train_items": 100, "heldout_items": 20, "eval_items": 200},
    "stages": {"adapt": {"train_tokens": 2000, "regimes": ["text"],
                         "train": {"batch_size": 256, "eval_every_tokens": 1000, "shuffle_buffer_mb": 0.5}},
               "diff": {"regime": "text"}}})");
  const std::string db = dir + "/run.db";
  const auto run = run_cli("--threads 1 run --world " + world + " --db " + db + " --config " + config + " --stages " +
                           stages);
  EXPECT_EQ(run.exit_code, 0) << run.out;
  return run.exit_code == 0 ? db : "";
}

// The CLI's own screenshot (`sightline gui --db DB --view VIEW --screenshot PNG --frames 2`,
// then `extra` arguments, e.g. "--select 1:7") read back; no pixels (and the test failed)
// when the command fails.
inline GuiShot cli_screenshot(const std::string& db, const std::string& view, const std::string& png,
                              const std::string& extra = "") {
  const auto gui = run_cli("gui --db " + db + " --view " + view + " --screenshot " + png + " --frames 2" +
                           (extra.empty() ? "" : " " + extra));
  EXPECT_EQ(gui.exit_code, 0) << gui.out;
  return gui.exit_code == 0 ? load_gui_shot(png) : GuiShot{};
}

// Whether an RGB(A) pixel is within `tolerance` of c in every channel.
inline bool near_rgb(const uint8_t* px, const std::array<uint8_t, 3>& c, int tolerance = 6) {
  return std::abs(px[0] - c[0]) <= tolerance && std::abs(px[1] - c[1]) <= tolerance &&
         std::abs(px[2] - c[2]) <= tolerance;
}

// Pixels of colour c inside [x0, x1) x [y0, y1), clipped to the image.
inline size_t count_rgb(const GuiShot& s, double x0, double y0, double x1, double y1, const std::array<uint8_t, 3>& c,
                        int tolerance = 6) {
  size_t n = 0;
  for (int y = std::max(0, static_cast<int>(std::ceil(y0))); y < std::min(s.height, static_cast<int>(y1)); ++y)
    for (int x = std::max(0, static_cast<int>(std::ceil(x0))); x < std::min(s.width, static_cast<int>(x1)); ++x)
      n += near_rgb(s.at(x, y), c, tolerance);
  return n;
}

// The entry of `map`'s table nearest to an RGB pixel (squared distance): which value the
// colormap shader drew there.
inline int nearest_colormap_index(const uint8_t* px, plot::Colormap map) {
  const auto& table = plot::colormap_table(map);
  int best = 0, best_d = 1 << 30;
  for (int k = 0; k < plot::kColormapSize; ++k) {
    const int dr = px[0] - table[k][0], dg = px[1] - table[k][1], db = px[2] - table[k][2];
    if (dr * dr + dg * dg + db * db < best_d) {
      best_d = dr * dr + dg * dg + db * db;
      best = k;
    }
  }
  return best;
}

// A plot's data -> pixel mapping from a sidecar's "area" [x0, y0, x1, y1] and "view"
// {"x": [min, max], "y": [min, max]} (screen y grows downwards).
struct PlotMapping {
  double x0, y0, x1, y1;  // area
  double vx0, vx1, vy0, vy1;
  double px(double x) const { return x0 + (x - vx0) / (vx1 - vx0) * (x1 - x0); }
  double py(double y) const { return y0 + (vy1 - y) / (vy1 - vy0) * (y1 - y0); }
  bool inside(double x, double y, double margin) const {
    return x > x0 + margin && x < x1 - margin && y > y0 + margin && y < y1 - margin;
  }
};

inline PlotMapping plot_mapping(const nlohmann::json& area, const nlohmann::json& view) {
  return {area[0], area[1], area[2], area[3], view.at("x")[0], view.at("x")[1], view.at("y")[0], view.at("y")[1]};
}

}  // namespace sightline::test

// A screenshot test starts with this: run here, or report the child's outcome, or skip.
#define SIGHTLINE_GUI_TEST_NEEDS_DISPLAY()                                                   \
  do {                                                                                       \
    const ::sightline::test::GuiWhere where_ = ::sightline::test::gui_where_to_run();        \
    if (where_ == ::sightline::test::GuiWhere::kSkip)                                        \
      GTEST_SKIP() << "no X display can be opened and xvfb-run is absent (or the child "     \
                      "skipped): skipping the screenshot test";                              \
    if (where_ == ::sightline::test::GuiWhere::kDone) return;                                \
  } while (0)
