// core/diffing: the Stage 2 arithmetic on constructed cases with known answers.
#include <gtest/gtest.h>
#include <torch/types.h>

#include <cmath>
#include <limits>

#include "core/common/error.h"
#include "core/diffing/positions.h"
#include "core/diffing/selection.h"
#include "core/model/hooks.h"
#include "core/sae/sae.h"

using namespace sightline;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

LayerFeatureScores scores(int layer, std::vector<double> ev, std::vector<double> cos) {
  LayerFeatureScores s;
  s.layer = layer;
  s.visual_energy = std::move(ev);
  s.decoder_cosine = std::move(cos);
  return s;
}

}  // namespace

TEST(DecoderCosine, KnownAnglesPerColumn) {
  // Columns: identical, 90 degrees, 60 degrees (scaled: cosine ignores length), opposite, zero.
  auto base = torch::tensor({{1.0, 1.0, 1.0, 1.0, 1.0}, {0.0, 0.0, 0.0, 0.0, 0.0}}, torch::kFloat64);
  auto adapted = torch::tensor({{1.0, 0.0, 3.0, -2.0, 0.0}, {0.0, 1.0, 3.0 * std::sqrt(3.0), 0.0, 0.0}},
                               torch::kFloat64);
  const auto c = decoder_cosine(base, adapted, "test");
  ASSERT_EQ(c.size(), 5u);
  EXPECT_NEAR(c[0], 1.0, 1e-12);
  EXPECT_NEAR(c[1], 0.0, 1e-12);
  EXPECT_NEAR(c[2], 0.5, 1e-12);
  EXPECT_NEAR(c[3], -1.0, 1e-12);
  EXPECT_EQ(c[4], 0.0);  // a zero column has no direction
  EXPECT_THROW(decoder_cosine(base, adapted.narrow(1, 0, 4), "test"), Error);
}

TEST(DecoderCosine, FromSaesMatchesColumnwiseFormula) {
  torch::manual_seed(3);
  SaeConfig cfg;
  cfg.variant = SaeVariant::ReLU;
  cfg.d_model = 8;
  cfg.d_sae = 12;
  Sae a(cfg), b(cfg);
  const auto c = decoder_cosine(a, b);
  const auto wa = a.w_dec().to(torch::kFloat64), wb = b.w_dec().to(torch::kFloat64);
  for (int64_t f = 0; f < 12; ++f) {
    const auto ca = wa.select(1, f), cb = wb.select(1, f);
    const double expect = (ca * cb).sum().item<double>() / (ca.norm().item<double>() * cb.norm().item<double>());
    EXPECT_NEAR(c[static_cast<size_t>(f)], expect, 1e-6);
  }
  EXPECT_NEAR(finite_mean(decoder_cosine(a, a)), 1.0, 1e-6);
}

TEST(Quantile, MatchesNumpyLinearInterpolation) {
  std::vector<double> v;
  for (int i = 99; i >= 0; --i) v.push_back(i / 100.0);
  // numpy.percentile(np.arange(100) / 100, 25) == 0.2475
  EXPECT_NEAR(quantile(v, 0.25), 0.2475, 1e-12);
  EXPECT_NEAR(quantile(v, 0.0), 0.0, 1e-12);
  EXPECT_NEAR(quantile(v, 1.0), 0.99, 1e-12);
  EXPECT_NEAR(quantile({3.0, kNaN, 1.0, 2.0}, 0.5), 2.0, 1e-12);  // NaN ignored
  EXPECT_THROW(quantile({kNaN}, 0.5), Error);
  EXPECT_THROW(quantile({1.0}, 1.5), Error);
}

TEST(Pearson, KnownValues) {
  EXPECT_NEAR(pearson({1, 2, 3}, {2, 4, 6}), 1.0, 1e-12);
  EXPECT_NEAR(pearson({1, 2, 3}, {3, 2, 1}), -1.0, 1e-12);
  // x = 1..4, y = 1, 3, 2, 4: r = 0.8
  EXPECT_NEAR(pearson({1, 2, 3, 4}, {1, 3, 2, 4}), 0.8, 1e-12);
  EXPECT_TRUE(std::isnan(pearson({1, 1, 1}, {1, 2, 3})));  // no variance
  EXPECT_TRUE(std::isnan(pearson({1}, {2})));
  EXPECT_THROW(pearson({1, 2}, {1}), Error);
}

TEST(SelectAdapted, PercentileIsGlobalOverLayersAndEnergyIsStrict) {
  // Layer 0 rotated a lot (low cosines), layer 1 barely: the bottom half of ALL cosines is
  // layer 0's, so a per-layer percentile would wrongly select half of layer 1 too.
  const std::vector<LayerFeatureScores> s{
      scores(3, {1.0, 1.0, 1e-3, 0.0}, {0.10, 0.20, 0.30, 0.40}),
      scores(7, {1.0, 1.0, 1.0, 1.0}, {0.90, 0.91, 0.92, 0.93}),
  };
  const auto a = select_adapted(s, {1e-3, 0.5});
  // 8 cosines, q = 0.5 -> position 3.5 between 0.40 and 0.90 -> 0.65.
  EXPECT_NEAR(a.cosine_threshold, 0.65, 1e-12);
  EXPECT_EQ(a.layers, (std::vector<int>{3, 7}));
  // Feature 2 has E_v == eps (not strictly above), feature 3 has E_v 0.
  EXPECT_EQ(a.selected[0], (std::vector<uint8_t>{1, 1, 0, 0}));
  EXPECT_EQ(a.selected[1], (std::vector<uint8_t>{0, 0, 0, 0}));
  EXPECT_EQ(a.layer_counts, (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(a.count, 2);

  // A NaN (unmeasured) score is never selected.
  const auto b = select_adapted({scores(0, {1.0, kNaN, 1.0}, {0.1, 0.1, kNaN})}, {0.0, 1.0});
  EXPECT_EQ(b.selected[0], (std::vector<uint8_t>{1, 0, 0}));
  EXPECT_THROW(select_adapted({scores(0, {1.0}, {0.1, 0.2})}, {}), Error);
  EXPECT_THROW(select_adapted(s, {1e-3, 1.5}), Error);
}

TEST(SelectAdapted, JaccardOfKnownSets) {
  const std::vector<LayerFeatureScores> s{scores(0, {1, 1, 1, 1}, {0.1, 0.2, 0.3, 0.4})};
  const auto a = select_adapted(s, {0.0, 0.5});   // threshold 0.25: {0, 1}
  const auto b = select_adapted(s, {0.0, 1.0});   // threshold 0.40: {0, 1, 2, 3}
  EXPECT_EQ(a.count, 2);
  EXPECT_EQ(b.count, 4);
  EXPECT_NEAR(jaccard(a, b), 0.5, 1e-12);
  EXPECT_NEAR(jaccard(a, a), 1.0, 1e-12);
  const auto none = select_adapted(s, {10.0, 0.5});
  EXPECT_NEAR(jaccard(none, none), 1.0, 1e-12);  // both empty
  EXPECT_NEAR(jaccard(none, a), 0.0, 1e-12);
  const auto other = select_adapted({scores(1, {1, 1, 1, 1}, {0.1, 0.2, 0.3, 0.4})}, {0.0, 0.5});
  EXPECT_THROW(jaccard(a, other), Error);  // different layers
}

TEST(ThresholdSweep, CountsJaccardAndLayerCorrelation) {
  // Three layers; E_v 0 marks inactive features.
  const std::vector<LayerFeatureScores> s{
      scores(0, {1, 1, 0, 1}, {0.1, 0.5, 0.2, 0.9}),
      scores(1, {1, 1, 1, 1}, {0.3, 0.4, 0.6, 0.7}),
      scores(2, {0.5, 0.01, 1, 1}, {0.8, 0.15, 0.95, 0.99}),
  };
  const auto ref = select_adapted(s, {1e-3, 0.25});
  const auto sweep = threshold_sweep(s, ref, {1e-3, 0.1}, {0.25, 0.5});
  ASSERT_EQ(sweep.size(), 4u);  // eps-major
  EXPECT_EQ(sweep[0].eps, 1e-3);
  EXPECT_EQ(sweep[0].p_cos, 0.25);
  EXPECT_EQ(sweep[1].p_cos, 0.5);
  EXPECT_EQ(sweep[2].eps, 0.1);
  // The reference cell reproduces A exactly.
  EXPECT_EQ(sweep[0].count, ref.count);
  EXPECT_NEAR(sweep[0].jaccard, 1.0, 1e-12);
  EXPECT_NEAR(sweep[0].layer_correlation, 1.0, 1e-12);
  EXPECT_NEAR(sweep[0].cosine_threshold, ref.cosine_threshold, 1e-12);
  // 12 cosines sorted: .1 .15 .2 .3 .4 .5 .6 .7 .8 .9 .95 .99; q=.25 -> pos 2.75 -> .275.
  EXPECT_NEAR(ref.cosine_threshold, 0.275, 1e-12);
  // A: cos <= .275 and E_v > 1e-3: L0 f0 (.1), L2 f1 (.15, E_v .01); L0 f2 has E_v 0.
  EXPECT_EQ(ref.layer_counts, (std::vector<int64_t>{1, 0, 1}));
  // q=.5 -> pos 5.5 -> .55: L0 {f0, f1}, L1 {f0, f1}, L2 {f1} -> 5, Jaccard 2/5.
  EXPECT_EQ(sweep[1].count, 5);
  EXPECT_NEAR(sweep[1].jaccard, 0.4, 1e-12);
  // counts (2, 2, 1) vs (1, 0, 1): r = -0.5
  EXPECT_NEAR(sweep[1].layer_correlation, -0.5, 1e-12);
  // eps 0.1 drops L2 f1 (E_v .01): A' = {L0 f0} -> Jaccard 1/2, counts (1,0,0) vs (1,0,1).
  EXPECT_EQ(sweep[2].count, 1);
  EXPECT_NEAR(sweep[2].jaccard, 0.5, 1e-12);
  EXPECT_NEAR(sweep[2].layer_correlation, pearson({1, 0, 0}, {1, 0, 1}), 1e-12);
  // Every cell is select_adapted with its own thresholds.
  for (const auto& p : sweep) {
    const auto direct = select_adapted(s, {p.eps, p.p_cos});
    EXPECT_EQ(p.count, direct.count);
    EXPECT_NEAR(p.jaccard, jaccard(direct, ref), 1e-12);
  }
}

TEST(LayerSelectionStats, CountsAndMeans) {
  const std::vector<LayerFeatureScores> s{scores(0, {1, 0, 2, 0}, {0.1, 0.2, 0.9, 1.0}),
                                          scores(1, {0, 0}, {0.5, 0.7})};
  const auto a = select_adapted(s, {1e-3, 0.5});  // 6 cosines: q .5 -> (.5 + .7) / 2 = .6
  const auto st = layer_selection_stats(s, a);
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[0].features, 4);
  EXPECT_EQ(st[0].selected, 1);  // f0 only (f1 inactive)
  EXPECT_EQ(st[0].active, 2);
  EXPECT_NEAR(st[0].mean_cosine_all, 0.55, 1e-12);
  EXPECT_NEAR(st[0].mean_cosine_selected, 0.1, 1e-12);
  EXPECT_NEAR(st[0].mean_visual_energy, 0.75, 1e-12);
  EXPECT_EQ(st[1].selected, 0);
  EXPECT_TRUE(std::isnan(st[1].mean_cosine_selected));
}

TEST(Positions, MasksExcludeBosAndPadding) {
  const auto types = torch::tensor({int{kTokenBos}, int{kTokenText}, int{kTokenImage}, int{kTokenImage},
                                    int{kTokenText}, int{kTokenPad}})
                         .to(torch::kInt8);
  auto as_vec = [](const at::Tensor& m) {
    std::vector<int> v;
    for (int64_t i = 0; i < m.numel(); ++i) v.push_back(m[i].item<bool>() ? 1 : 0);
    return v;
  };
  EXPECT_EQ(as_vec(position_mask(types, Positions::kText)), (std::vector<int>{0, 1, 0, 0, 1, 0}));
  EXPECT_EQ(as_vec(position_mask(types, Positions::kImage)), (std::vector<int>{0, 0, 1, 1, 0, 0}));
  EXPECT_EQ(as_vec(position_mask(types, Positions::kAll)), (std::vector<int>{0, 1, 1, 1, 1, 0}));
  EXPECT_EQ(parse_positions("image", "f", "positions"), Positions::kImage);
  EXPECT_THROW(parse_positions("pixels", "f", "positions"), Error);
  EXPECT_EQ(parse_regime("random", "f", "regimes"), Regime::kRandom);
  EXPECT_THROW(parse_regime("bogus", "f", "regimes"), Error);
  EXPECT_EQ(regime_positions(Regime::kRandom), Positions::kAll);
  EXPECT_EQ(regime_positions(Regime::kText), Positions::kText);
  EXPECT_FALSE(regime_warm_start(Regime::kRandom));
}
