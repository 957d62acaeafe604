// Screenshots of the Fig. 9 view and the feature page's token highlights, read back and
// checked against the data: each histogram bar is drawn in its split's colour where the
// counts say, and nowhere else; the token the feature fires on most carries the full
// highlight colour and the tokens it does not fire on carry none. The store is the
// GuiStoreSpec one plus the FindSpec shift statistics and autointerp examples; with a
// built micro world and the CLI, a real shift run goes through the same view. Needs an X
// display: with none, the tests re-run themselves under xvfb-run; with neither, they skip.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/test_gui_display.h"
#include "tests/test_gui_find_util.h"
#include "tests/test_util.h"
#include "ui/app.h"
#include "ui/find_state.h"
#include "ui/firing_histogram.h"
#include "ui/store_loader.h"
#include "ui/top_text.h"

using namespace sightline;
using namespace sightline::ui;

namespace {

// Checks the Fig. 9 (a) histogram of a screenshot against `expected`: every non-empty
// bar has its colour at its middle, an empty half-bin has none, and neither colour
// appears in the plot area outside the bars (the legend's corner aside).
void find_check_histograms(const test::GuiShot& shot, const FiringHistograms& expected) {
  const auto& fig9 = shot.info.at("find").at("fig9");
  ASSERT_TRUE(fig9.at("drawn").get<bool>());
  EXPECT_EQ(fig9.at("base").get<std::vector<int64_t>>(), expected.base);
  EXPECT_EQ(fig9.at("skill").get<std::vector<int64_t>>(), expected.skill);
  const test::PlotMapping m = test::plot_mapping(fig9.at("area"), fig9.at("view"));
  const double lo = fig9.at("lo"), width = fig9.at("width");
  const double zero_y = m.py(0);
  size_t bars = 0;
  for (int k = 0; k < expected.bins; ++k)
    for (int split = 0; split < 2; ++split) {
      const int64_t count = split == 0 ? expected.base[k] : expected.skill[k];
      const Rgb8& color = split == 0 ? kColorFiringBase : kColorFiringSkill;
      const double xa = m.px(lo + k * width + (split == 0 ? 0.1 : 0.55) * width);
      const double xb = m.px(lo + k * width + (split == 0 ? 0.45 : 0.9) * width);
      const double top = m.py(static_cast<double>(count));
      if (xb < m.x0 || xa > m.x1) continue;  // outside the view
      if (count > 0) {
        ++bars;
        ASSERT_GT(zero_y - top, 3) << "bin " << k << ": bar too short to check";
        const size_t hit = test::count_rgb(shot, xa, top + 1, xb, zero_y - 1, color);
        // Whole pixels inside the window (its edges fall between pixels).
        const double area = (std::floor(xb - xa) - 1) * (std::floor(zero_y - top - 2) - 1);
        EXPECT_GE(static_cast<double>(hit), area) << "bin " << k << (split ? " spatial" : " base") << ": " << hit;
      } else {
        // Below the legend (top right), which holds a square of each colour.
        EXPECT_EQ(test::count_rgb(shot, xa, m.y0 + 130, xb, zero_y - 1, color), 0u) << "bin " << k << " is empty";
      }
    }
  EXPECT_GT(bars, 8u);
  // Outside every bar (and the legend, top right, and the mean markers on the top edge):
  // neither colour.
  size_t stray = 0;
  for (int y = static_cast<int>(m.y0) + 13; y < static_cast<int>(m.y1) - 1; ++y)
    for (int x = static_cast<int>(m.x0) + 1; x < static_cast<int>(m.x1) - 1; ++x) {
      if (x > m.x1 - 280 && y < m.y0 + 130) continue;
      const uint8_t* px = shot.at(x, y);
      if (!test::near_rgb(px, kColorFiringBase) && !test::near_rgb(px, kColorFiringSkill)) continue;
      const int k = static_cast<int>(std::floor((((x - m.x0) / (m.x1 - m.x0)) * (m.vx1 - m.vx0) + m.vx0 - lo) / width));
      const bool in_bin = k >= 0 && k < expected.bins &&
                          y >= m.py(static_cast<double>(std::max(expected.base[k], expected.skill[k]))) - 2;
      stray += !in_bin;
    }
  EXPECT_EQ(stray, 0u);
  // The mean markers: each split's colour on the top edge at its mean.
  const bool overlap = std::fabs(m.px(expected.base_mean_log) - m.px(expected.skill_mean_log)) < 12;
  for (int split = overlap ? 1 : 0; split < 2; ++split) {  // D_spatial's is drawn over D_base's
    const double x = m.px(split == 0 ? expected.base_mean_log : expected.skill_mean_log);
    EXPECT_GT(test::count_rgb(shot, x - 2, m.y0 + 1, x + 3, m.y0 + 5, split == 0 ? kColorFiringBase : kColorFiringSkill), 4u)
        << (split == 0 ? "base" : "spatial") << " mean marker";
  }
}

}  // namespace

TEST(GuiFindScreenshot, Fig9BarsAndTheHottestTokenAreWhereTheDataSays) {
  SIGHTLINE_GUI_TEST_NEEDS_DISPLAY();
  const std::string db = test::scratch_dir("gui-find-shot-db") + "/project.db";
  test::write_find_extras(db, test::write_gui_store(db));
  {
    Store store = Store::open(db);
    Bookmark b;
    b.name = "starred";
    b.layer = 3;
    b.feature = 40;
    store.add_bookmark(b);
  }
  const test::GuiShot shot = test::take_gui_shot(test::store_view_options(db, "fig9", "3:40"), "gui-find-shot", "fig9");
  const ShiftTable table = read_store(db).shift;
  find_check_histograms(shot, firing_histograms(table, FiringSet::kAdapted, -1));
  const auto& fig9 = shot.info.at("find").at("fig9");
  EXPECT_EQ(fig9.at("set"), "adapted set A");
  EXPECT_EQ(fig9.at("features"), 40);
  EXPECT_TRUE(fig9.at("scatter_drawn").get<bool>());
  EXPECT_EQ(fig9.at("scatter_points"), 12u) << "the spatial candidates: 0, 10, 20, 40, 60, 80 of both layers";

  // The feature page: (3, 40), row 40 of the store's 200, its description, and the token
  // highlights of its three top samples.
  const auto& page = shot.info.at("find").at("page");
  ASSERT_TRUE(page.at("drawn").get<bool>());
  EXPECT_EQ(page.at("position"), "41 / 200");
  EXPECT_EQ(page.at("description"), "objects to the left of the red cube");
  const auto& tokens = page.at("tokens");
  size_t expected_tokens = 0;
  for (int k = 0; k < 3; ++k) expected_tokens += test::FindSpec::tokens(k).size();
  ASSERT_EQ(tokens.size(), expected_tokens);
  int hottest = -1;
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i].at("intensity").get<double>() >= 0.999) {
      EXPECT_EQ(hottest, -1) << "one token holds the feature's max";
      hottest = static_cast<int>(i);
    }
  ASSERT_EQ(hottest, 3) << "sample 0's ' left' (activation 2.0)";
  EXPECT_EQ(tokens[hottest].at("text"), " left");
  ASSERT_TRUE(tokens[hottest].at("visible").get<bool>()) << "the page shows its top samples without scrolling";
  // Its box is the highlight colour (apart from the glyphs' dark pixels).
  const auto& r = tokens[hottest].at("rect");
  const double box = (r[2].get<double>() - r[0].get<double>()) * (r[3].get<double>() - r[1].get<double>());
  const size_t hot = test::count_rgb(shot, r[0], r[1], r[2], r[3], kColorTokenHot, 4);
  EXPECT_GT(hot, box * 0.45) << hot << " of " << box;
  // Tokens the feature does not fire on have no highlight; weaker ones a lighter one.
  size_t checked_zero = 0;
  for (const auto& t : tokens) {
    if (!t.at("visible").get<bool>()) continue;
    const auto& q = t.at("rect");
    const size_t n = test::count_rgb(shot, q[0], q[1], q[2], q[3], kColorTokenHot, 4);
    if (t.at("intensity").get<double>() == 0) {
      ++checked_zero;
      EXPECT_EQ(n, 0u) << t.at("text");
    } else if (t.at("intensity").get<double>() < 0.8) {
      EXPECT_LT(n, 3u) << t.at("text") << ": a weaker activation, a lighter colour";
    }
  }
  EXPECT_GT(checked_zero, 5u);
  // No full-colour highlight anywhere else on the screen.
  EXPECT_EQ(test::count_rgb(shot, 0, 0, shot.width, shot.height, kColorTokenHot, 4), hot);
  // (3, 40) is in the list "starred": a filled star.
  EXPECT_TRUE(page.at("starred").get<bool>());
  const auto& star = page.at("star");
  const double star_area = (star[2].get<double>() - star[0].get<double>()) * (star[3].get<double>() - star[1].get<double>());
  EXPECT_GT(test::count_rgb(shot, star[0], star[1], star[2], star[3], kColorBookmark, 8), star_area * 0.12);
}

TEST(GuiFindScreenshot, Fig9SwitchesToTheSpatialCandidatesOfOneLayer) {
  SIGHTLINE_GUI_TEST_NEEDS_DISPLAY();
  const std::string db = test::scratch_dir("gui-find-shot-db2") + "/project.db";
  test::write_find_extras(db, test::write_gui_store(db));
  GuiOptions o = test::store_view_options(db, "fig9", "", 2);
  o.fig9 = "candidates:7";
  const test::GuiShot shot = test::take_gui_shot(o, "gui-find-shot", "fig9-candidates");
  const auto& fig9 = shot.info.at("find").at("fig9");
  EXPECT_EQ(fig9.at("set"), "spatial candidates");
  EXPECT_EQ(fig9.at("layer"), 7);
  EXPECT_EQ(fig9.at("features"), 6) << "0, 10, 20, 40, 60, 80";
  find_check_histograms(shot, firing_histograms(read_store(db).shift, FiringSet::kCandidates, 7));
  EXPECT_TRUE(shot.info.at("find").at("page").at("tokens").empty()) << "nothing selected";
  EXPECT_EQ(test::count_rgb(shot, 0, 0, shot.width, shot.height, kColorBookmark, 8), 0u) << "no star drawn";
}

// A real shift + topk run on the micro world (the ctest fixture's, or the one beside the
// CLI binary's build tree) through the CLI, then the CLI's own screenshot of Fig. 9 with
// the feature page of a feature with top samples: no autointerp endpoint, so the page's
// words come from the run's own data (ui/top_text.h), not numbered positions.
TEST(GuiFindScreenshot, Fig9OfAMicroWorldShiftRun) {
  SIGHTLINE_GUI_TEST_NEEDS_DISPLAY();
  const std::string world = test::gui_micro_world();
  if (world.empty()) GTEST_SKIP() << "no built micro world or sightline binary: skipping";
  const std::string dir = test::scratch_dir("gui-find-micro");
  const std::string db = test::run_micro_world_stages(world, dir, "topk");
  ASSERT_FALSE(db.empty());
  const StoreData data = read_store(db);
  const FeatureDetail* detail = nullptr;
  for (const auto& [ref, d] : data.results.features)
    if (!d.top.empty() && !d.top.front().token_acts.empty()) {
      detail = &d;
      break;
    }
  ASSERT_NE(detail, nullptr) << "the micro run stored no top activations";
  const std::string select = std::to_string(detail->ref.layer) + ":" + std::to_string(detail->ref.feature);
  const test::GuiShot shot = test::cli_screenshot(db, "fig9", dir + "/fig9.png", "--select " + select);
  ASSERT_GT(shot.width, 0);
  const ShiftTable table = read_store(db).shift;
  ASSERT_GT(table.size(), 0u);
  const FiringHistograms h = firing_histograms(table, FiringSet::kAdapted, -1);
  ASSERT_GT(h.features, 0) << "the micro run's adapted set is empty";
  find_check_histograms(shot, h);

  // The feature page: every top sample's words from the run's data, none numbered.
  const auto& page = shot.info.at("find").at("page");
  ASSERT_TRUE(page.at("drawn").get<bool>());
  const auto sources = page.at("sample_sources").get<std::vector<std::string>>();
  ASSERT_EQ(sources.size(), detail->top.size());
  for (const std::string& source : sources) EXPECT_EQ(source, "data");
  EXPECT_EQ(page.at("positions_reason"), "");
  // The drawn words are the resolved ones, in order (the sample texts concatenated).
  RunResults resolved = data.results;
  Progress progress;
  resolve_top_texts(resolved, data.run_options_json, "", "test", progress);
  ASSERT_EQ(resolved.top_text_error, "");
  std::vector<std::string> expected;
  for (const TokenExample& e : resolved.features.at(detail->ref).top_text)
    for (const std::string& piece : e.tokens) expected.push_back(piece);
  const auto& tokens = page.at("tokens");
  ASSERT_EQ(tokens.size(), expected.size());
  size_t words = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string text = tokens[i].at("text");
    // A wrapped line drops its first token's leading space.
    EXPECT_TRUE(text == expected[i] || " " + text == expected[i]) << i << ": '" << text << "'";
    bool letter = false;
    for (char c : text) letter |= std::isalpha(static_cast<unsigned char>(c)) != 0;
    words += letter;
  }
  EXPECT_GT(words, tokens.size() / 2) << "words, not numbered positions";
}
