// Screenshots of the live views on the micro world, read back and checked against the
// engine: the overlay colours are the colormap of the head's attention (hottest cell =
// the attention's maximum, every cell's colour = its value's place in the range), the
// top head's overlay differs from the bottom head's, alpha blends the map over the image
// the right way up, the ablation view re-evaluates the toggles and draws its bars, and a
// missing world is one line in the pane. Needs an X display (else xvfb-run, else skip)
// and the micro world (ctest's fixture; else skip).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "core/io/json_util.h"
#include "tests/test_gui_display.h"
#include "tests/test_gui_live_util.h"
#include "tests/test_util.h"
#include "ui/app.h"
#include "ui/plot/colormap.h"

using namespace sightline;
using namespace sightline::ui;

namespace {

// The panel's pixel at the centre of patch cell (r, c).
const uint8_t* overlay_cell_pixel(const test::GuiShot& shot, const nlohmann::json& panel, int r, int c) {
  const auto area = panel.at("area").get<std::vector<double>>();
  const int grid = panel.at("grid");
  const double x = area[0] + (c + 0.5) * (area[2] - area[0]) / grid;
  const double y = area[1] + (r + 0.5) * (area[3] - area[1]) / grid;
  return shot.at(static_cast<int>(x), static_cast<int>(y));
}

// The colour the shader's colormap lookup gives for t in [0, 1] (linear between entries).
std::array<double, 3> overlay_colormap_color(plot::Colormap map, double t) {
  const auto& table = plot::colormap_table(map);
  const double x = std::clamp(t, 0.0, 1.0) * 255.0;
  const int i = std::min(254, static_cast<int>(x));
  const double f = x - i;
  return {table[i][0] * (1 - f) + table[i + 1][0] * f, table[i][1] * (1 - f) + table[i + 1][1] * f,
          table[i][2] * (1 - f) + table[i + 1][2] * f};
}

// Options for the overlays view of statement 0 with feature (1, feature) selected.
GuiOptions overlay_options(const std::string& world, const std::string& db, int feature) {
  GuiOptions o = test::store_view_options(db, "overlays", "1:" + std::to_string(feature));
  o.world_dir = world;
  o.statement = 0;
  return o;
}

#define SIGHTLINE_OVERLAY_NEEDS_WORLD(world)                                                  \
  const std::string world = test::micro_world_dir();                                          \
  if (world.empty()) GTEST_SKIP() << "no micro world (SIGHTLINE_MICRO_WORLD): run through ctest"

}  // namespace

TEST(GuiOverlayShot, TopAndBottomHeadsDifferAndTheHottestCellIsTheAttentionMax) {
  SIGHTLINE_GUI_TEST_NEEDS_DISPLAY();
  SIGHTLINE_OVERLAY_NEEDS_WORLD(world);
  test::MicroEngine engine(world);
  const int feature = static_cast<int>(engine.strongest_text_feature(0, 1));
  const std::string db = test::scratch_dir("overlay-store") + "/project.db";
  test::write_live_store(db, world, feature);
  GuiOptions o = overlay_options(world, db, feature);
  o.alpha = 1.0;  // pure colormap: every pixel's colour names its value
  const test::GuiShot shot = test::take_gui_shot(o, "gui-overlay", "overlays-top-bottom");
  const auto& live = shot.info.at("live");
  ASSERT_EQ(live.at("status"), "ready");
  ASSERT_TRUE(live.at("overlays_drawn").get<bool>());
  EXPECT_EQ(live.at("statement"), 0);
  EXPECT_EQ(live.at("rows"), "last");
  EXPECT_EQ(live.at("prompt").get<std::vector<int64_t>>(), engine.statement(0).ids);
  EXPECT_FALSE(live.at("answer").is_null());
  const auto& panels = live.at("panels");
  // The main overlay follows the selection to its top head; then the top 2 and bottom 2.
  ASSERT_EQ(panels.size(), 5u) << panels.dump();
  const std::vector<std::tuple<std::string, int, int>> expected = {
      {"main", 1, 1}, {"top", 1, 1}, {"top", 0, 0}, {"bottom", 0, 1}, {"bottom", 1, 0}};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(panels[i].at("role"), std::get<0>(expected[i])) << i;
    EXPECT_EQ(panels[i].at("layer"), std::get<1>(expected[i])) << i;
    EXPECT_EQ(panels[i].at("head"), std::get<2>(expected[i])) << i;
  }
  EXPECT_NEAR(panels[1].at("score").get<double>(), 0.9, 1e-12);
  EXPECT_NEAR(panels[4].at("score").get<double>(), 0.1, 1e-12);

  std::vector<std::vector<int>> indices;  // colour index per cell, per panel
  for (const auto& panel : panels) {
    const int grid = panel.at("grid");
    ASSERT_EQ(grid, 8);
    const auto values = panel.at("values").get<std::vector<float>>();
    // The values are the engine's attention from the last position.
    const std::vector<float> direct = engine.last_row_attention(0, panel.at("layer"), panel.at("head"));
    ASSERT_EQ(values.size(), direct.size());
    for (size_t p = 0; p < direct.size(); ++p) EXPECT_NEAR(values[p], direct[p], 1e-5);
    const auto range = panel.at("range").get<std::vector<double>>();
    const auto top = std::max_element(values.begin(), values.end());
    EXPECT_NEAR(range[1], *top, 1e-6) << "per-map scale: the hottest value is the colormap's end";
    std::vector<int> idx;
    for (int r = 0; r < grid; ++r)
      for (int c = 0; c < grid; ++c) {
        const int k = test::nearest_colormap_index(overlay_cell_pixel(shot, panel, r, c), plot::Colormap::kInferno);
        idx.push_back(k);
        // Each cell's colour is its value's place in the range (one entry of slack for rounding).
        const double t = (values[static_cast<size_t>(r * grid + c)] - range[0]) / (range[1] - range[0]);
        EXPECT_NEAR(k, t * 255.0, 1.5) << panel.at("role") << " cell " << r << "," << c;
      }
    indices.push_back(idx);
    // The hottest overlay cell is where the attention is largest.
    const int hottest = static_cast<int>(std::max_element(idx.begin(), idx.end()) - idx.begin());
    const int argmax = static_cast<int>(top - values.begin());
    EXPECT_EQ(idx[static_cast<size_t>(argmax)], idx[static_cast<size_t>(hottest)]);
    EXPECT_GE(values[static_cast<size_t>(hottest)], *top - 1.5 * (range[1] - range[0]) / 255.0);
    EXPECT_GE(idx[static_cast<size_t>(hottest)], 254);
  }
  // The top head's overlay differs from the bottom head's, in values and on screen.
  int differing_cells = 0;
  for (size_t k = 0; k < indices[1].size(); ++k) differing_cells += std::abs(indices[1][k] - indices[3][k]) > 20;
  EXPECT_GT(differing_cells, 8) << "top L1 H1 vs bottom L0 H1";
  const auto hot = [](const std::vector<int>& v) { return std::max_element(v.begin(), v.end()) - v.begin(); };
  EXPECT_TRUE(hot(indices[1]) != hot(indices[3]) || differing_cells > 16);
}

TEST(GuiOverlayShot, AlphaBlendsTheMapOverTheImageTheRightWayUp) {
  SIGHTLINE_GUI_TEST_NEEDS_DISPLAY();
  SIGHTLINE_OVERLAY_NEEDS_WORLD(world);
  test::MicroEngine engine(world);
  GuiOptions o;
  o.world_dir = world;
  o.view = "overlays";
  o.statement = 5;
  o.head = "0:1";
  o.alpha = 0.5;
  const test::GuiShot shot = test::take_gui_shot(o, "gui-overlay", "overlays-alpha");
  const auto& live = shot.info.at("live");
  ASSERT_EQ(live.at("status"), "ready");
  const auto& panels = live.at("panels");
  // No feature selected: the main overlay and every head of its layer.
  ASSERT_EQ(panels.size(), 3u) << panels.dump();
  EXPECT_EQ(panels[1].at("role"), "layer");
  const auto& main = panels[0];
  EXPECT_EQ(main.at("layer"), 0);
  EXPECT_EQ(main.at("head"), 1);
  // The scene as rendered (what the model saw, un-normalised).
  const PromptItem& item = engine.statement(5);
  const auto px = engine.pixels(5);
  const auto& vision = *engine.model().config().mm.vision;
  const int S = static_cast<int>(vision.image_size);
  const auto values = main.at("values").get<std::vector<float>>();
  const auto range = main.at("range").get<std::vector<double>>();
  const auto area = main.at("area").get<std::vector<double>>();
  const int grid = main.at("grid");
  int checked = 0, far = 0;
  for (int r = 0; r < grid; ++r)
    for (int c = 0; c < grid; ++c) {
      // A pixel inside the cell, away from its edges; the image pixel under it.
      const double fx = (c + 0.3) / grid, fy = (r + 0.7) / grid;
      const int x = static_cast<int>(area[0] + fx * (area[2] - area[0]));
      const int y = static_cast<int>(area[1] + fy * (area[3] - area[1]));
      const double u = (x + 0.5 - area[0]) / (area[2] - area[0]), v = (y + 0.5 - area[1]) / (area[3] - area[1]);
      const int ix = std::min(S - 1, static_cast<int>(u * S)), iy = std::min(S - 1, static_cast<int>(v * S));
      std::array<double, 3> image{};
      for (int ch = 0; ch < 3; ++ch) {
        const double x01 = px[ch][iy][ix].item<double>() * vision.image_std[static_cast<size_t>(ch)] +
                           vision.image_mean[static_cast<size_t>(ch)];
        image[static_cast<size_t>(ch)] = std::round(std::clamp(x01, 0.0, 1.0) * 255.0);
      }
      const double t = (values[static_cast<size_t>(r * grid + c)] - range[0]) / (range[1] - range[0]);
      const auto heat = overlay_colormap_color(plot::Colormap::kInferno, t);
      const uint8_t* got = shot.at(x, y);
      for (int ch = 0; ch < 3; ++ch) {
        const double want = 0.5 * image[static_cast<size_t>(ch)] + 0.5 * heat[static_cast<size_t>(ch)];
        far += std::abs(got[ch] - want) > 3;
      }
      ++checked;
    }
  EXPECT_EQ(checked, 64);
  EXPECT_EQ(far, 0) << "pixel = (image + colormap(attention)) / 2 at alpha 0.5; statement '" << item.text << "'";
}

TEST(GuiOverlayShot, AblationViewReevaluatesTheToggledInterventions) {
  SIGHTLINE_GUI_TEST_NEEDS_DISPLAY();
  SIGHTLINE_OVERLAY_NEEDS_WORLD(world);
  test::MicroEngine engine(world);
  const int feature = static_cast<int>(engine.strongest_text_feature(0, 1));
  const std::string db = test::scratch_dir("ablation-store") + "/project.db";
  test::write_live_store(db, world, feature);
  GuiOptions o = overlay_options(world, db, feature);
  o.view = "ablation";
  o.ablate = "1:" + std::to_string(feature) + ",h1:0,h1:1";
  const test::GuiShot shot = test::take_gui_shot(o, "gui-overlay", "ablation-live");
  const auto& live = shot.info.at("live");
  ASSERT_EQ(live.at("status"), "ready");
  EXPECT_TRUE(live.at("ablation_drawn").get<bool>());
  EXPECT_EQ(live.at("toggles").get<std::vector<std::string>>(),
            (std::vector<std::string>{"L1 #" + std::to_string(feature), "L1 H0", "L1 H1"}));
  const auto& groups = live.at("groups");
  ASSERT_GE(groups.size(), 3u);
  EXPECT_EQ(groups.back().at("name"), "VQA yes/no (control)");
  EXPECT_EQ(groups[groups.size() - 2].at("name"), "all VSR");
  for (const auto& g : groups) {
    EXPECT_GT(g.at("n").get<int64_t>(), 0);
    EXPECT_GE(g.at("accuracy").get<double>(), 0.0);
    EXPECT_LE(g.at("accuracy_toggled").get<double>(), 100.0);
  }
  // The bar chart's "with the toggles" bars are on screen.
  size_t orange = 0;
  for (int y = 0; y < shot.height; ++y)
    for (int x = 0; x < shot.width; ++x) {
      const uint8_t* p = shot.at(x, y);
      orange += p[0] == 240 && p[1] == 160 && p[2] == 60;
    }
  EXPECT_GT(orange, 200u);
}

TEST(GuiOverlayShot, WithoutAWorldThePaneSaysSo) {
  SIGHTLINE_GUI_TEST_NEEDS_DISPLAY();
  GuiOptions o;
  o.view = "overlays";
  o.frames = 2;
  const test::GuiShot shot = test::take_gui_shot(o, "gui-overlay", "overlays-no-world");
  const auto& live = shot.info.at("live");
  EXPECT_FALSE(live.at("overlays_drawn").get<bool>());
  EXPECT_NE(live.at("status").get<std::string>().find("no world: start the explorer with --world DIR"),
            std::string::npos)
      << live.dump();
}
