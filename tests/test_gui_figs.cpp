// The logic behind the last explorer figures, without GL: the live threshold sweep
// (against a brute-force count per cell), the sweep axes, the stored sweep read back
// from a store (and a malformed one refused), the final-FVU table, and the heads view's
// per-layer curve, exact-vs-attributed pairs and Spearman's rho.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "core/pipeline/store_keys.h"
#include "core/store/store.h"
#include "tests/test_gui_store_util.h"
#include "tests/test_util.h"
#include "ui/adapted_set.h"
#include "ui/fvu_summary.h"
#include "ui/head_stats.h"
#include "ui/store_loader.h"
#include "ui/threshold_sweep.h"

using namespace sightline;
using namespace sightline::ui;
using S = test::GuiStoreSpec;

namespace {

// A table with ties on purpose: cosines and energies drawn from a few values each, and
// some energies equal to grid values (E_v > eps is strict).
FeatureTable random_table(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  const float energies[] = {0.0f, 1e-5f, 1e-4f, 5e-4f, 1e-3f, 0.02f, 0.1f, 0.3f};
  FeatureTable t;
  t.num_layers = 4;
  for (size_t i = 0; i < n; ++i) {
    t.layer.push_back(static_cast<uint16_t>(rng() % 4));
    t.feature.push_back(static_cast<int32_t>(i));
    t.visual_energy.push_back(energies[rng() % 8]);
    t.decoder_cosine.push_back(static_cast<float>(static_cast<int>(rng() % 41) - 20) / 20.0f);
    t.flags.push_back(rng() % 5 == 0 ? kFlagSpatialCandidate : 0);
  }
  return t;
}

}  // namespace

TEST(GuiFigs, LiveSweepMatchesABruteForceCountInEveryCell) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const FeatureTable t = random_table(3000, seed);
    CosineQuantiles q;
    q.build(t.decoder_cosine);
    // Unsorted grids with a duplicate, 0, 1 and values equal to energies in the table.
    const std::vector<double> eps = {1e-3, 0.0, 0.1, 1e-4, 1e-3, 1.0};
    const std::vector<double> p_cos = {0.5, 0.0, 0.05, 1.0, 0.25, 0.25, 0.731};
    const LiveSweep s = sweep_feature_table(t, q, eps, p_cos);
    ASSERT_EQ(s.rows(), 6);
    ASSERT_EQ(s.cols(), 7);
    ASSERT_EQ(s.adapted.size(), 42u);
    int64_t candidates = 0;
    for (uint8_t f : t.flags) candidates += (f & kFlagSpatialCandidate) ? 1 : 0;
    EXPECT_EQ(s.candidates, candidates);
    bool some_empty = false, some_full = false;
    for (size_t r = 0; r < eps.size(); ++r)
      for (size_t c = 0; c < p_cos.size(); ++c) {
        const double threshold = q.threshold_for(p_cos[c]);
        EXPECT_EQ(s.cosine_threshold[c], threshold);
        int64_t adapted = 0, kept = 0;
        for (size_t i = 0; i < t.size(); ++i)
          if (is_adapted(t.visual_energy[i], t.decoder_cosine[i], eps[r], threshold)) {
            ++adapted;
            kept += (t.flags[i] & kFlagSpatialCandidate) ? 1 : 0;
          }
        EXPECT_EQ(s.adapted[r * p_cos.size() + c], adapted) << "eps " << eps[r] << ", p_cos " << p_cos[c];
        EXPECT_EQ(s.candidates_in[r * p_cos.size() + c], kept) << "eps " << eps[r] << ", p_cos " << p_cos[c];
        some_empty = some_empty || adapted == 0;
        some_full = some_full || adapted > static_cast<int64_t>(t.size() / 2);
      }
    EXPECT_TRUE(some_empty) << "p_cos 0 and eps 1 select nothing";
    EXPECT_TRUE(some_full);
  }
  // The explorer's own count at a grid point agrees (the Per-layer view's |A|).
  const FeatureTable t = random_table(500, 9);
  CosineQuantiles q;
  q.build(t.decoder_cosine);
  const LiveSweep s = sweep_feature_table(t, q, {1e-3}, {0.25});
  EXPECT_EQ(s.adapted[0], count_adapted(t, 1e-3, q.threshold_for(0.25)).adapted_total);
  // Empty grids and an empty table.
  EXPECT_TRUE(sweep_feature_table(t, q, {}, {0.25}).adapted.empty());
  FeatureTable none;
  CosineQuantiles q0;
  const LiveSweep z = sweep_feature_table(none, q0, {0.0}, {0.5});
  EXPECT_EQ(z.adapted, std::vector<int64_t>{0});
  EXPECT_EQ(z.candidates, 0);
}

TEST(GuiFigs, SweepAxisPositionPutsGridValuesAtCellCentres) {
  const std::vector<double> eps = {0, 1e-4, 1e-3, 1e-2};
  for (size_t i = 0; i < eps.size(); ++i) EXPECT_DOUBLE_EQ(sweep_axis_position(eps, eps[i]), i + 0.5);
  // log10 between positive values: 10^-3.5 halfway between 1e-4 and 1e-3.
  EXPECT_NEAR(sweep_axis_position(eps, std::pow(10.0, -3.5)), 2.0, 1e-12);
  // Linear from 0.
  EXPECT_NEAR(sweep_axis_position(eps, 2.5e-5), 0.75, 1e-12);
  EXPECT_TRUE(std::isnan(sweep_axis_position(eps, 0.02)));
  EXPECT_TRUE(std::isnan(sweep_axis_position(eps, -1)));
  EXPECT_TRUE(std::isnan(sweep_axis_position({}, 0)));
  EXPECT_TRUE(std::isnan(sweep_axis_position({0.5, 0.1}, 0.2))) << "not ascending";
  EXPECT_DOUBLE_EQ(sweep_axis_position({0.25}, 0.25), 0.5);
  EXPECT_NEAR(sweep_axis_position({0.1, 0.25, 0.5}, 0.375), 1.0 + 0.5 + std::log10(1.5) / std::log10(2.0), 1e-12);
}

TEST(GuiFigs, StoredSweepIsReadBackOnItsGrid) {
  const std::string db = test::scratch_dir("gui-figs-sweep") + "/project.db";
  test::write_gui_store(db);
  const StoreData data = read_store(db);
  const SweepTable& t = data.sweep;
  EXPECT_EQ(t.regime, "text");
  ASSERT_EQ(t.rows(), 4);
  ASSERT_EQ(t.cols(), 3);
  for (int r = 0; r < 4; ++r) EXPECT_DOUBLE_EQ(t.eps[r], S::kSweepEps[r]);
  for (int c = 0; c < 3; ++c) EXPECT_DOUBLE_EQ(t.p_cos[c], S::kSweepPcos[c]);
  ASSERT_EQ(t.metrics.size(), 3u);
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 3; ++c) {
      EXPECT_FLOAT_EQ(t.metrics.at("count")[r * 3 + c], static_cast<float>(S::sweep_count(r, c)));
      EXPECT_FLOAT_EQ(t.metrics.at("jaccard")[r * 3 + c], static_cast<float>(S::sweep_jaccard(r, c)));
      EXPECT_FLOAT_EQ(t.metrics.at("layer_correlation")[r * 3 + c], static_cast<float>(S::sweep_correlation(r, c)));
    }
  // Published ready; a cell without p_cos is refused naming the file and the cell.
  Snapshot snapshot;
  publish_store_data(snapshot, data);
  ASSERT_EQ(snapshot.sweep.status().state, DataState::kReady);
  EXPECT_EQ(snapshot.sweep.data()->metrics.at("count").size(), 12u);
  {
    Store store = Store::open(db);
    const int64_t run = store.runs().front().id;
    store.put_curve_points(run, {{store_keys::kSweep, -1, "text", 99, 0, "eps", 0.5},
                                 {store_keys::kSweep, -1, "text", 99, 0, "count", 3}});
  }
  const std::string message = test::error_of([&] { read_store(db); });
  EXPECT_NE(message.find(db), std::string::npos) << message;
  EXPECT_NE(message.find("sweep cell 99"), std::string::npos) << message;
  EXPECT_NE(message.find("p_cos"), std::string::npos) << message;
}

TEST(GuiFigs, FvuSummaryHoldsEachLayersLastFiniteFvuPerRegime) {
  std::vector<CurveSet> sets(4);
  sets[0].log_y = true;
  sets[0].fvu_layer = 7;
  sets[0].curves = {{"text", {1, 2, 3}, {-1.0f, -1.5f, NAN}}, {"image", {1, 2}, {-0.5f, std::log10(0.25f)}}};
  sets[1].fvu_layer = 3;  // linear FVU
  sets[1].curves = {{"text", {10, 20}, {0.4f, 0.3f}}};
  sets[2].curves = {{"text", {1}, {123.0f}}};  // not an FVU set
  sets[3].fvu_layer = 5;
  sets[3].curves = {{"text", {1}, {NAN}}};  // nothing finite: no row
  const FvuSummary s = fvu_summary(sets);
  EXPECT_EQ(s.layers, (std::vector<int>{3, 7}));
  EXPECT_EQ(s.regimes, (std::vector<std::string>{"image", "text"}));
  ASSERT_EQ(s.final_fvu.size(), 4u);
  EXPECT_TRUE(std::isnan(s.at(0, 0))) << "layer 3 has no image curve";
  EXPECT_NEAR(s.at(0, 1), 0.3, 1e-6);
  EXPECT_NEAR(s.at(1, 0), 0.25, 1e-6);
  EXPECT_NEAR(s.at(1, 1), std::pow(10.0, -1.5), 1e-6) << "the last finite point, back from log10";
  EXPECT_DOUBLE_EQ(s.final_x[1 * 2 + 1], 2.0);
  EXPECT_TRUE(fvu_summary({}).empty());
  // The store's curves: the last of four steps, for both layers and regimes.
  const std::string db = test::scratch_dir("gui-figs-fvu") + "/project.db";
  test::write_gui_store(db);
  const FvuSummary stored = fvu_summary(read_store(db).curves);
  ASSERT_EQ(stored.layers, (std::vector<int>{3, 7}));
  ASSERT_EQ(stored.regimes, (std::vector<std::string>{"image", "text"}));
  for (size_t l = 0; l < 2; ++l)
    for (int r = 0; r < 2; ++r)
      EXPECT_NEAR(stored.at(l, r == 0 ? 0 : 1), S::fvu(S::kLayers[l], r, 3), 1e-5);
}

TEST(GuiFigs, HeadLayerCurveAndExactPairs) {
  const std::vector<HeadScore> scores = {{0, 0, "A", 1, 0, -0.5}, {0, 0, "A", 1, 1, 0.25}, {0, 0, "A", 0, 2, 0.1},
                                         {0, 0, "A", 3, 0, NAN}};
  const HeadLayerCurve c = head_layer_curve(scores);
  EXPECT_EQ(c.layer, (std::vector<float>{0, 1}));
  EXPECT_EQ(c.heads, (std::vector<int>{1, 2}));
  EXPECT_FLOAT_EQ(c.mean_abs[1], 0.375f);
  EXPECT_FLOAT_EQ(c.max_abs[1], 0.5f);
  EXPECT_FLOAT_EQ(c.max_abs[0], 0.1f);
  const std::vector<HeadScore> exact = {{0, 0, "exact", 1, 1, 2.0}, {0, 0, "exact", 1, 0, 1.0},
                                        {0, 0, "exact", 2, 2, 3.0}, {0, 0, "exact", 3, 0, 4.0}};
  const HeadPairs p = pair_with_exact(exact, scores);
  ASSERT_EQ(p.size(), 2u) << "(0, 2) has no exact score, (2, 2) no A score, (3, 0) a NaN";
  EXPECT_EQ(p.head_layer, (std::vector<int>{1, 1}));
  EXPECT_EQ(p.head, (std::vector<int>{0, 1}));
  EXPECT_EQ(p.exact, (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(p.attributed, (std::vector<float>{-0.5f, 0.25f}));
  EXPECT_EQ(head_name(3, 12), "L3:H12");
}

TEST(GuiFigs, SpearmanRhoRanksWithTiesAveraged) {
  EXPECT_DOUBLE_EQ(spearman_rho({1, 2, 3, 4}, {10, 20, 35, 90}), 1.0);
  EXPECT_DOUBLE_EQ(spearman_rho({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0);
  // Ranks (1, 2.5, 2.5, 4) and (1, 3, 2, 4): r = 4.5 / sqrt(4.5 * 5) (scipy.stats.spearmanr).
  EXPECT_NEAR(spearman_rho({1, 2, 2, 3}, {1, 3, 2, 4}), 4.5 / std::sqrt(22.5), 1e-12);
  // Without ties, 1 - 6 sum d^2 / (n (n^2 - 1)): d = (0, 2, -1, -1, 0) -> 1 - 36 / 120.
  EXPECT_NEAR(spearman_rho({1, 2, 3, 4, 5}, {1, 4, 2, 3, 5}), 0.7, 1e-12);
  EXPECT_TRUE(std::isnan(spearman_rho({1}, {2})));
  EXPECT_TRUE(std::isnan(spearman_rho({1, 1, 1}, {1, 2, 3}))) << "a constant series";
  EXPECT_TRUE(std::isnan(spearman_rho({1, 2}, {1, 2, 3})));
}
