// Screenshots of the last explorer figures, read back and checked against the data: the
// heads view's exact-vs-attributed scatter has each head's point where its scores put it
// (and its per-layer curve its markers), and every sweep heat map cell has its value's
// colour, so the hottest and coldest cells are where the counts say, with the current
// thresholds framed. Needs an X display: with none, the tests re-run themselves under
// xvfb-run; with neither, they skip.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/test_gui_display.h"
#include "tests/test_gui_store_util.h"
#include "tests/test_util.h"
#include "ui/adapted_set.h"
#include "ui/app.h"
#include "ui/head_stats.h"
#include "ui/plot/colormap.h"
#include "ui/store_loader.h"
#include "ui/threshold_sweep.h"

using namespace sightline;
using namespace sightline::ui;
using S = test::GuiStoreSpec;

namespace {

// Whether a pixel within `radius` of (x, y) has colour c.
bool figs_color_near(const test::GuiShot& s, double x, double y, const Rgb8& c, int radius, int tolerance = 12) {
  const double cx = std::lround(x), cy = std::lround(y);
  return test::count_rgb(s, cx - radius, cy - radius, cx + radius + 1, cy + radius + 1, c, tolerance) > 0;
}

int figs_distance(const uint8_t* px, const plot::Rgba8& c) {
  return std::abs(px[0] - c[0]) + std::abs(px[1] - c[1]) + std::abs(px[2] - c[2]);
}

// Checks one sweep map of the screenshot against `values` (rows x cols): every cell,
// sampled away from its centred label, has the colour of its value's place in the map's
// range, and the cells of the largest (smallest) value are the hottest (coldest) on
// screen: no other cell sits higher (lower) on the colormap.
void figs_check_sweep_map(const test::GuiShot& shot, const nlohmann::json* map, const std::vector<double>& values) {
  ASSERT_NE(map, nullptr);
  SCOPED_TRACE(map->at("key").get<std::string>());
  ASSERT_TRUE(map->at("drawn").get<bool>());
  const int rows = map->at("rows"), cols = map->at("cols");
  ASSERT_EQ(values.size(), static_cast<size_t>(rows * cols));
  const auto colormap = plot::colormap_from_name(map->at("colormap"));
  ASSERT_TRUE(colormap.has_value());
  const double lo = map->at("range")[0], hi = map->at("range")[1];
  const test::PlotMapping m = test::plot_mapping(map->at("area"), map->at("view"));
  const double vmax = *std::max_element(values.begin(), values.end());
  const double vmin = *std::min_element(values.begin(), values.end());
  ASSERT_LT(vmin, vmax);
  std::vector<int> index(values.size());
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const size_t cell = static_cast<size_t>(r * cols + c);
      // Near the cell's lower left corner: clear of the label and of the threshold frame.
      const double x = m.px(c + 0.2), y = m.py(r + 0.2);
      ASSERT_TRUE(m.inside(x, y, 1)) << r << "," << c;
      const uint8_t* px = shot.at(static_cast<int>(std::lround(x)), static_cast<int>(std::lround(y)));
      const plot::Rgba8 want = plot::colormap_sample(*colormap, (values[cell] - lo) / (hi - lo));
      EXPECT_LE(figs_distance(px, want), 24) << "cell " << r << "," << c << " value " << values[cell];
      index[cell] = test::nearest_colormap_index(px, *colormap);
    }
  size_t hottest = 0, coldest = 0;
  for (size_t a = 0; a < values.size(); ++a) {
    hottest += values[a] == vmax;
    coldest += values[a] == vmin;
    for (size_t b = 0; b < values.size(); ++b) {
      if (values[a] == vmax && values[b] != vmax) {
        EXPECT_GT(index[a], index[b]) << "hottest cell " << a << " vs cell " << b;
      }
      if (values[a] == vmin && values[b] != vmin) {
        EXPECT_LT(index[a], index[b]) << "coldest cell " << a << " vs cell " << b;
      }
    }
  }
  EXPECT_GE(hottest, 1u);
  EXPECT_GE(coldest, 1u);
}

const nlohmann::json* figs_find_map(const nlohmann::json& sweep, const std::string& key) {
  for (const auto& m : sweep.at("maps"))
    if (m.at("key") == key) return &m;
  return nullptr;
}

// The live sweep the view must show for the store at `db`, on the store's own grid.
LiveSweep figs_expected_live(const std::string& db) {
  const StoreData data = read_store(db);
  CosineQuantiles q;
  q.build(data.features.decoder_cosine);
  return sweep_feature_table(data.features, q, data.sweep.eps, data.sweep.p_cos);
}

std::vector<double> figs_doubles(const std::vector<int64_t>& v, double scale = 1) {
  std::vector<double> out;
  for (int64_t x : v) out.push_back(static_cast<double>(x) * scale);
  return out;
}

}  // namespace

TEST(GuiFigsScreenshot, ExactVsAttributedPointsAreWhereTheScoresSay) {
  SIGHTLINE_GUI_TEST_NEEDS_DISPLAY();
  const std::string db = test::scratch_dir("gui-figs-heads") + "/project.db";
  test::write_gui_store(db);
  const test::GuiShot shot =
      test::take_gui_shot(test::store_view_options(db, "heads", "3:40"), "gui-figs-shot", "heads-fig14");
  const auto& h = shot.info.at("heads");
  ASSERT_TRUE(h.at("drawn").get<bool>());
  ASSERT_TRUE(h.at("scatter").at("drawn").get<bool>());
  ASSERT_TRUE(h.at("curve").at("drawn").get<bool>());

  // The spec's scores, not the loader's: exact (method 2) on x, A (0) and B (1) on y.
  struct Point {
    int method;
    double x, y;
  };
  std::vector<Point> points;
  for (int method = 0; method < 2; ++method)
    for (int hl = 0; hl < 4; ++hl)
      for (int hd = 0; hd < 4; ++hd) points.push_back({method, S::head_score(2, hl, hd), S::head_score(method, hl, hd)});
  // Spearman over the 16 heads, without ties: 1 - 6 sum d^2 / (n (n^2 - 1)).
  ASSERT_EQ(h.at("series").size(), 2u);
  for (int method = 0; method < 2; ++method) {
    std::vector<double> x, y;
    for (const Point& p : points)
      if (p.method == method) {
        x.push_back(p.x);
        y.push_back(p.y);
      }
    double d2 = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      int rx = 0, ry = 0;
      for (size_t j = 0; j < x.size(); ++j) {
        rx += x[j] < x[i];
        ry += y[j] < y[i];
      }
      d2 += (rx - ry) * (rx - ry);
    }
    const double n = static_cast<double>(x.size());
    const auto& series = h.at("series")[method];
    EXPECT_EQ(series.at("method"), S::method(method));
    EXPECT_EQ(series.at("points"), 16);
    EXPECT_NEAR(series.at("spearman").get<double>(), 1 - 6 * d2 / (n * (n * n - 1)), 1e-9);
  }
  EXPECT_GT(h.at("series")[0].at("spearman").get<double>(), 0.5) << "A agrees with exact patching";
  EXPECT_LT(h.at("series")[1].at("spearman").get<double>(), -0.5) << "B disagrees";

  const test::PlotMapping m = test::plot_mapping(h.at("scatter").at("area"), h.at("scatter").at("view"));
  size_t checked[2] = {0, 0}, found[2] = {0, 0};
  for (const Point& p : points) {
    const double x = m.px(p.x), y = m.py(p.y);
    ASSERT_TRUE(m.inside(x, y, 0)) << "every point is in the fitted view";
    if (x > m.x1 - 160 && y < m.y0 + 60) continue;  // the legend
    // A point of the other series drawn within reach would cover it.
    bool crowded = false;
    for (const Point& q : points)
      crowded = crowded || (q.method != p.method && std::hypot(m.px(q.x) - x, m.py(q.y) - y) < 9);
    if (crowded) continue;
    ++checked[p.method];
    found[p.method] += figs_color_near(shot, x, y, p.method == 0 ? kColorMethodA : kColorMethodB, 1);
  }
  for (int method = 0; method < 2; ++method) {
    EXPECT_GE(checked[method], 12u) << S::method(method);
    EXPECT_EQ(found[method], checked[method]) << S::method(method);
  }
  // Neither colour away from the points (the legend aside).
  size_t stray = 0;
  for (int y = static_cast<int>(m.y0) + 1; y < static_cast<int>(m.y1); ++y)
    for (int x = static_cast<int>(m.x0) + 1; x < static_cast<int>(m.x1); ++x) {
      if (x > m.x1 - 160 && y < m.y0 + 60) continue;
      const uint8_t* px = shot.at(x, y);
      if (!test::near_rgb(px, kColorMethodA, 12) && !test::near_rgb(px, kColorMethodB, 12)) continue;
      bool near_point = false;
      for (const Point& p : points) near_point = near_point || std::hypot(m.px(p.x) - x, m.py(p.y) - y) < 6;
      stray += !near_point;
    }
  EXPECT_EQ(stray, 0u);

  // The per-layer curve: max and mean |A score| of each head layer at their markers.
  const test::PlotMapping c = test::plot_mapping(h.at("curve").at("area"), h.at("curve").at("view"));
  for (int hl = 0; hl < 4; ++hl) {
    double max_abs = 0, sum_abs = 0;
    for (int hd = 0; hd < 4; ++hd) {
      max_abs = std::max(max_abs, std::fabs(S::head_score(0, hl, hd)));
      sum_abs += std::fabs(S::head_score(0, hl, hd));
    }
    EXPECT_TRUE(figs_color_near(shot, c.px(hl), c.py(max_abs), kColorLayerMax, 2)) << "layer " << hl << " max";
    if (std::fabs(c.py(max_abs) - c.py(sum_abs / 4)) > 6) {
      EXPECT_TRUE(figs_color_near(shot, c.px(hl), c.py(sum_abs / 4), kColorLayerMean, 2)) << "layer " << hl << " mean";
    }
  }
}

TEST(GuiFigsScreenshot, SweepHottestAndColdestCellsAreWhereTheCountsSay) {
  SIGHTLINE_GUI_TEST_NEEDS_DISPLAY();
  const std::string db = test::scratch_dir("gui-figs-sweep-shot") + "/project.db";
  test::write_gui_store(db);
  const test::GuiShot shot = test::take_gui_shot(test::store_view_options(db, "sweep"), "gui-figs-shot", "sweep");
  const auto& sweep = shot.info.at("sweep");
  ASSERT_TRUE(sweep.at("drawn").get<bool>());
  ASSERT_EQ(sweep.at("maps").size(), 5u) << sweep.dump();
  // The stored maps: the spec's values.
  std::vector<double> count, jaccard, correlation;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 3; ++c) {
      count.push_back(S::sweep_count(r, c));
      jaccard.push_back(S::sweep_jaccard(r, c));
      correlation.push_back(S::sweep_correlation(r, c));
    }
  const nlohmann::json* stored = figs_find_map(sweep, "count");
  ASSERT_NE(stored, nullptr);
  EXPECT_EQ(stored->at("range")[0], 40.0) << "the data's range: (0.01, 0.1)";
  EXPECT_EQ(stored->at("range")[1], 160.0) << "(0, 0.5)";
  figs_check_sweep_map(shot, stored, count);
  figs_check_sweep_map(shot, figs_find_map(sweep, "jaccard"), jaccard);
  figs_check_sweep_map(shot, figs_find_map(sweep, "layer_correlation"), correlation);
  // The live maps: counted again here, by brute force, from the store's features.
  const LiveSweep live = figs_expected_live(db);
  ASSERT_EQ(live.candidates, 12);
  std::vector<double> adapted, kept;
  const StoreData data = read_store(db);
  CosineQuantiles q;
  q.build(data.features.decoder_cosine);
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 3; ++c) {
      int64_t n = 0, k = 0;
      for (size_t i = 0; i < data.features.size(); ++i)
        if (is_adapted(data.features.visual_energy[i], data.features.decoder_cosine[i], S::kSweepEps[r],
                       q.threshold_for(S::kSweepPcos[c]))) {
          ++n;
          k += (data.features.flags[i] & kFlagSpatialCandidate) ? 1 : 0;
        }
      adapted.push_back(static_cast<double>(n));
      kept.push_back(100.0 * static_cast<double>(k) / 12);
    }
  EXPECT_EQ(adapted, figs_doubles(live.adapted));
  EXPECT_EQ(adapted[2], 100) << "(0, 0.5): the bottom half of 200 cosines, all above eps 0";
  figs_check_sweep_map(shot, figs_find_map(sweep, "live_count"), adapted);
  figs_check_sweep_map(shot, figs_find_map(sweep, "live_candidates"), kept);

  // The current thresholds (eps 1e-3, p_cos 0.25) are framed: cell (2, 1) of every map.
  EXPECT_DOUBLE_EQ(sweep.at("marker")[0].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(sweep.at("marker")[1].get<double>(), 2.5);
  const test::PlotMapping m = test::plot_mapping(stored->at("area"), stored->at("view"));
  for (double t : {0.3, 0.5, 0.7}) {
    EXPECT_TRUE(figs_color_near(shot, m.px(1), m.py(2 + t), kColorSweepMarker, 2, 4)) << "left edge";
    EXPECT_TRUE(figs_color_near(shot, m.px(1 + t), m.py(3), kColorSweepMarker, 2, 4)) << "top edge";
    EXPECT_FALSE(figs_color_near(shot, m.px(2), m.py(0 + t), kColorSweepMarker, 2, 4)) << "no frame at (0, 1)";
  }
}

// A real stage 2 run on the micro world (the ctest fixture's) through the CLI, then the
// CLI's own screenshot of the sweep view: the stored |A| map holds what stage 2 stored and
// the live map what the features give, each hottest and coldest where the counts say.
TEST(GuiFigsScreenshot, SweepOfAMicroWorldDiffRun) {
  SIGHTLINE_GUI_TEST_NEEDS_DISPLAY();
  const std::string world = test::gui_micro_world();
  if (world.empty()) GTEST_SKIP() << "no built micro world or sightline binary: skipping";
  const std::string dir = test::scratch_dir("gui-figs-micro");
  const std::string db = test::run_micro_world_stages(world, dir, "diff");
  ASSERT_FALSE(db.empty());
  const test::GuiShot shot = test::cli_screenshot(db, "sweep", dir + "/sweep.png");
  ASSERT_GT(shot.width, 0);
  const StoreData data = read_store(db);
  ASSERT_EQ(data.sweep.rows(), 6) << "stage 2's default eps grid";
  ASSERT_EQ(data.sweep.cols(), 8) << "stage 2's default p_cos grid";
  const std::vector<float>& stored = data.sweep.metrics.at("count");
  figs_check_sweep_map(shot, figs_find_map(shot.info.at("sweep"), "count"),
                       std::vector<double>(stored.begin(), stored.end()));
  const LiveSweep live = figs_expected_live(db);
  figs_check_sweep_map(shot, figs_find_map(shot.info.at("sweep"), "live_count"), figs_doubles(live.adapted));
  // (The two need not agree here: the micro world's cosines all lie within 2e-7 of 1,
  // which the explorer's float32 table cannot tell apart, while stage 2 counted doubles.)
}
