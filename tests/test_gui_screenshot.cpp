// Screenshots of the explorer with synthetic data, read back and checked against the data:
// the Fig. 2 categories appear in their colours where the features are, the selection
// ring appears around --select's feature, 1M points switch to the density image, the heat
// maps go through the colormap shader. Needs an X display: with none, the tests re-run
// themselves under xvfb-run (once, all together); with neither, they skip.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "tests/test_gui_display.h"
#include "tests/test_gui_store_util.h"
#include "tests/test_util.h"
#include "ui/adapted_set.h"
#include "ui/app.h"
#include "ui/plot/colormap.h"
#include "ui/scatter_style.h"
#include "ui/snapshot.h"
#include "ui/store_loader.h"
#include "ui/synthetic.h"

using namespace sightline;
using namespace sightline::ui;

namespace {

using Shot = test::GuiShot;
using Mapping = test::PlotMapping;

Shot take(GuiOptions options, const std::string& name) { return test::take_gui_shot(options, "gui-shot", name); }

bool near_color(const uint8_t* px, const Rgb8& c, int tolerance) { return test::near_rgb(px, c, tolerance); }

// Whether a pixel within `radius` of (x, y) has colour c.
bool color_near(const Shot& s, double x, double y, const Rgb8& c, int radius, int tolerance = 10) {
  const double cx = std::lround(x), cy = std::lround(y);
  return test::count_rgb(s, cx - radius, cy - radius, cx + radius + 1, cy + radius + 1, c, tolerance) > 0;
}

Mapping mapping_of(const Shot& s) {
  return test::plot_mapping(s.info.at("scatter").at("area"), s.info.at("scatter").at("view"));
}

GuiOptions scatter_options(size_t n) {
  GuiOptions o;
  o.synthetic = n;
  o.view = "scatter";
  o.frames = 2;
  return o;
}

}  // namespace

TEST(GuiScreenshot, ScatterShowsTheCategoriesWhereTheDataSays) {
  SIGHTLINE_GUI_TEST_NEEDS_DISPLAY();
  const size_t n = 32768;
  const Shot shot = take(scatter_options(n), "scatter");
  ASSERT_EQ(shot.width, 1600);
  ASSERT_EQ(shot.height, 1000);
  ASSERT_TRUE(shot.info.at("scatter").at("drawn").get<bool>());
  EXPECT_FALSE(shot.info.at("scatter").at("density").get<bool>()) << "32k points are drawn as points";
  EXPECT_TRUE(shot.info.at("selected").is_null());
  const Mapping m = mapping_of(shot);
  const double eps = shot.info.at("scatter").at("eps"), cthr = shot.info.at("scatter").at("cosine_threshold");

  SyntheticOptions so;
  so.features = n;
  const FeatureTable t = make_synthetic_features(so);
  // Pixels covered by markers (drawn on top), the legend (top right) or the status text.
  std::vector<std::pair<double, double>> marks;
  for (size_t i = 0; i < t.size(); ++i)
    if (t.flags[i] & (kFlagSpatialCandidate | kFlagSpatialFeature | kFlagAnalysed))
      marks.emplace_back(m.px(t.decoder_cosine[i]), m.py(log_energy(t.visual_energy[i])));
  auto covered = [&](double x, double y) {
    if (x > m.x1 - 280 && y < m.y0 + 130) return true;  // legend
    if (x < m.x0 + 260 && y > m.y1 - 30) return true;   // status line
    if (std::fabs(y - m.py(std::log10(eps))) < 4 || std::fabs(x - m.px(cthr)) < 4) return true;  // drag lines
    for (const auto& [mx, my] : marks)
      if (std::fabs(mx - x) < 8 && std::fabs(my - y) < 8) return true;
    return false;
  };
  size_t adapted_checked = 0, adapted_found = 0, grey_checked = 0, grey_found = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    const double x = m.px(t.decoder_cosine[i]), y = m.py(log_energy(t.visual_energy[i]));
    if (!m.inside(x, y, 3) || covered(x, y)) continue;
    if (is_adapted(t.visual_energy[i], t.decoder_cosine[i], eps, cthr)) {
      ++adapted_checked;
      adapted_found += color_near(shot, x, y, kColorAdapted, 1);
    } else if (i % 7 == 0) {
      ++grey_checked;
      // Grey unless an adapted point was drawn over it.
      grey_found += color_near(shot, x, y, kColorAll, 1) || color_near(shot, x, y, kColorAdapted, 1);
    }
  }
  ASSERT_GT(adapted_checked, 500u);
  EXPECT_GT(adapted_found, adapted_checked * 97 / 100) << adapted_found << " of " << adapted_checked;
  ASSERT_GT(grey_checked, 1000u);
  EXPECT_GT(grey_found, grey_checked * 97 / 100) << grey_found << " of " << grey_checked;

  // A's colour only where A can be: above the eps line and left of the p_cos line.
  size_t pink_outside = 0, pink_inside = 0;
  for (int y = static_cast<int>(m.y0) + 1; y < static_cast<int>(m.y1); ++y)
    for (int x = static_cast<int>(m.x0) + 1; x < static_cast<int>(m.x1); ++x) {
      if (!near_color(shot.at(x, y), kColorAdapted, 10) || covered(x, y)) continue;
      const bool possible = y < m.py(std::log10(eps)) + 3 && x < m.px(cthr) + 3;
      (possible ? pink_inside : pink_outside) += 1;
    }
  EXPECT_EQ(pink_outside, 0u);
  EXPECT_GT(pink_inside, 2000u);
  // Markers: spatial features (filled blue) and analysed (red crosses) are on screen.
  size_t blue = 0, red = 0, gold = 0;
  for (int y = static_cast<int>(m.y0); y < static_cast<int>(m.y1); ++y)
    for (int x = static_cast<int>(m.x0); x < static_cast<int>(m.x1); ++x) {
      if (x > m.x1 - 280 && y < m.y0 + 130) continue;
      blue += near_color(shot.at(x, y), kColorSpatial, 10);
      red += near_color(shot.at(x, y), kColorAnalysed, 10);
      gold += near_color(shot.at(x, y), kColorSelected, 10);
    }
  EXPECT_GT(blue, 100u);
  EXPECT_GT(red, 20u);
  EXPECT_EQ(gold, 0u) << "nothing is selected: no highlight colour";
}

TEST(GuiScreenshot, SelectDrawsTheHighlightRingOnThatFeature) {
  SIGHTLINE_GUI_TEST_NEEDS_DISPLAY();
  GuiOptions o = scatter_options(32768);
  o.select = "12:100";
  const Shot shot = take(o, "select");
  ASSERT_FALSE(shot.info.at("selected").is_null());
  EXPECT_EQ(shot.info.at("selected").at("layer"), 12);
  EXPECT_EQ(shot.info.at("selected").at("feature"), 100);
  SyntheticOptions so;
  so.features = 32768;
  const FeatureTable t = make_synthetic_features(so);
  const int64_t row = t.find(12, 100);
  ASSERT_GE(row, 0);
  EXPECT_EQ(shot.info.at("selected").at("row"), row);
  const Mapping m = mapping_of(shot);
  const double x = m.px(t.decoder_cosine[row]), y = m.py(log_energy(t.visual_energy[row]));
  ASSERT_TRUE(m.inside(x, y, 0));
  size_t gold_near = 0, gold_far = 0;
  for (int py = static_cast<int>(m.y0); py < static_cast<int>(m.y1); ++py)
    for (int px = static_cast<int>(m.x0); px < static_cast<int>(m.x1); ++px) {
      if (!near_color(shot.at(px, py), kColorSelected, 10)) continue;
      (std::hypot(px - x, py - y) <= 14 ? gold_near : gold_far) += 1;
    }
  EXPECT_GT(gold_near, 30u);
  EXPECT_EQ(gold_far, 0u);
  // The feature page names it.
  EXPECT_EQ(shot.info.at("features"), 32768);
}

TEST(GuiScreenshot, OneMillionPointsUseTheDensityImage) {
  SIGHTLINE_GUI_TEST_NEEDS_DISPLAY();
  const Shot shot = take(scatter_options(1048576), "density");
  const auto& sc = shot.info.at("scatter");
  EXPECT_TRUE(sc.at("density").get<bool>());
  EXPECT_EQ(sc.at("points_in_view").get<size_t>(), 1048576u);
  const Mapping m = mapping_of(shot);
  const double eps = sc.at("eps"), cthr = sc.at("cosine_threshold");
  const double eps_y = m.py(std::log10(eps)), cos_x = m.px(cthr);
  const auto& viridis = plot::colormap_table(plot::Colormap::kViridis);
  size_t pink_inside = 0, pink_outside = 0, mapped_below = 0;
  for (int y = static_cast<int>(m.y0) + 1; y < static_cast<int>(m.y1); ++y)
    for (int x = static_cast<int>(m.x0) + 1; x < static_cast<int>(m.x1); ++x) {
      if ((x > m.x1 - 280 && y < m.y0 + 130) || (x < m.x0 + 260 && y > m.y1 - 30)) continue;
      const uint8_t* px = shot.at(x, y);
      if (near_color(px, kColorAdapted, 10)) {
        // Bins are 2x2 pixels: allow one bin of slack at the thresholds.
        (y < eps_y + 3 && x < cos_x + 3 ? pink_inside : pink_outside) += 1;
      } else if (y > eps_y + 10) {
        for (int k = 64; k < 256; k += 8)
          if (near_color(px, {viridis[k][0], viridis[k][1], viridis[k][2]}, 6)) {
            ++mapped_below;
            break;
          }
      }
    }
  EXPECT_EQ(pink_outside, 0u);
  EXPECT_GT(pink_inside, 10000u);
  EXPECT_GT(mapped_below, 20000u) << "the colormap shows the density below eps";
}

TEST(GuiScreenshot, HeatMapsGoThroughTheColormapShader) {
  SIGHTLINE_GUI_TEST_NEEDS_DISPLAY();
  GuiOptions o;
  o.synthetic = 4096;
  o.view = "heatmaps";
  o.frames = 2;
  const Shot shot = take(o, "heatmaps");
  // Red and blue cells of the coolwarm map (the grey UI has neither); the two colour bars
  // alone hold fewer than ~5000 such pixels each.
  size_t warm_px = 0, cool_px = 0;
  for (int y = 60; y < 760; ++y)
    for (int x = 320; x < 1240; ++x) {
      const uint8_t* px = shot.at(x, y);
      warm_px += px[0] > px[2] + 60;
      cool_px += px[2] > px[0] + 60;
    }
  EXPECT_GT(warm_px, 12000u);
  EXPECT_GT(cool_px, 12000u);
}

TEST(GuiScreenshot, StoreScatterShowsTheAdaptedColourWhereTheStoreSays) {
  SIGHTLINE_GUI_TEST_NEEDS_DISPLAY();
  const std::string db = test::scratch_dir("gui-shot-db") + "/project.db";
  test::write_gui_store(db);
  const Shot shot = take(test::store_view_options(db, "scatter", "", 2), "store");
  ASSERT_TRUE(shot.info.at("scatter").at("drawn").get<bool>());
  EXPECT_EQ(shot.info.at("features"), 200);
  const Mapping m = mapping_of(shot);
  // The store's values, as the loader reads them (test_gui_store checks those against
  // what was written).
  const FeatureTable t = read_store(db).features;
  ASSERT_EQ(t.size(), 200u);
  std::vector<std::pair<double, double>> marks;
  for (size_t i = 0; i < t.size(); ++i)
    if (t.flags[i] & (kFlagSpatialCandidate | kFlagSpatialFeature | kFlagAnalysed))
      marks.emplace_back(m.px(t.decoder_cosine[i]), m.py(log_energy(t.visual_energy[i])));
  auto covered = [&](double x, double y) {
    if (x > m.x1 - 280 && y < m.y0 + 130) return true;  // legend
    if (x < m.x0 + 260 && y > m.y1 - 30) return true;   // status line
    for (const auto& [mx, my] : marks)
      if (std::fabs(mx - x) < 8 && std::fabs(my - y) < 8) return true;
    return false;
  };
  size_t adapted_checked = 0, adapted_found = 0, other_checked = 0, other_pink = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    const double x = m.px(t.decoder_cosine[i]), y = m.py(log_energy(t.visual_energy[i]));
    if (!m.inside(x, y, 3) || covered(x, y)) continue;
    if (t.flags[i] & kFlagAdapted) {
      ++adapted_checked;
      adapted_found += color_near(shot, x, y, kColorAdapted, 1);
    } else {
      ++other_checked;
      other_pink += color_near(shot, x, y, kColorAdapted, 1);
    }
  }
  EXPECT_GE(adapted_checked, 25u) << "most of the store's 40 adapted features are on screen, unmarked";
  EXPECT_EQ(adapted_found, adapted_checked);
  EXPECT_GE(other_checked, 150u);
  EXPECT_EQ(other_pink, 0u);
  // No pink pixel far from a stored adapted feature.
  size_t stray = 0;
  for (int y = static_cast<int>(m.y0) + 1; y < static_cast<int>(m.y1); ++y)
    for (int x = static_cast<int>(m.x0) + 1; x < static_cast<int>(m.x1); ++x) {
      if (!near_color(shot.at(x, y), kColorAdapted, 10) || covered(x, y)) continue;
      bool near_adapted = false;
      for (size_t i = 0; i < t.size() && !near_adapted; ++i)
        near_adapted = (t.flags[i] & kFlagAdapted) &&
                       std::hypot(m.px(t.decoder_cosine[i]) - x, m.py(log_energy(t.visual_energy[i])) - y) < 8;
      stray += !near_adapted;
    }
  EXPECT_EQ(stray, 0u);
}

TEST(GuiScreenshot, HeadsViewsHottestCellIsTheTopHead) {
  SIGHTLINE_GUI_TEST_NEEDS_DISPLAY();
  const std::string db = test::scratch_dir("gui-shot-heads") + "/project.db";
  test::write_gui_store(db);
  const Shot shot = take(test::store_view_options(db, "heads", "3:40"), "heads");
  const auto& h = shot.info.at("heads");
  ASSERT_TRUE(h.at("drawn").get<bool>());
  EXPECT_EQ(h.at("method"), "A");
  ASSERT_EQ(h.at("rows"), 4);
  ASSERT_EQ(h.at("cols"), 4);
  const Mapping m = test::plot_mapping(h.at("area"), h.at("view"));
  // Method A's scores are signed: the coolwarm map, its top end at the largest score.
  const plot::Rgba8 hot = plot::colormap_sample(plot::Colormap::kCoolWarm, 1.0);
  int best_row = -1, best_col = -1, best_distance = 1 << 30, second_distance = 1 << 30;
  for (int row = 0; row < 4; ++row)
    for (int col = 0; col < 4; ++col) {
      const double x = m.px(col + 0.5), y = m.py(row + 0.5);  // row 0 at the bottom
      ASSERT_TRUE(m.inside(x, y, 2)) << row << "," << col;
      const uint8_t* px = shot.at(static_cast<int>(std::lround(x)), static_cast<int>(std::lround(y)));
      const int distance = std::abs(px[0] - hot[0]) + std::abs(px[1] - hot[1]) + std::abs(px[2] - hot[2]);
      if (distance < best_distance) {
        second_distance = best_distance;
        best_distance = distance;
        best_row = row;
        best_col = col;
      } else {
        second_distance = std::min(second_distance, distance);
      }
    }
  const std::vector<HeadScore> ranked = rank_heads(read_store(db).results.find(3, 40)->heads.at("A"));
  EXPECT_EQ(best_row, ranked.front().head_layer);
  EXPECT_EQ(best_col, ranked.front().head);
  EXPECT_LE(best_distance, 30) << "the top head's cell has the colormap's top colour";
  EXPECT_GT(second_distance, 100) << "no other cell is near it";
}
