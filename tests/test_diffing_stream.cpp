// core/diffing on a tiny random VLM: the streaming statistics pass equals a direct
// all-at-once computation and its memory is bounded by the chunk, and SAE adaptation
// trains each regime on its own positions with the budget it was given.
#include <gtest/gtest.h>
#include <torch/types.h>

#include <cmath>

#include "core/common/error.h"
#include "core/diffing/adaptation.h"
#include "core/diffing/feature_stats.h"
#include "core/diffing/prompt_dataset.h"
#include "core/model/hooks.h"
#include "tests/sae_fixture.h"
#include "tests/test_util.h"

using namespace sightline;

namespace {

test::TinySaeModel& tiny() {
  static test::TinySaeModel t = test::load_tiny_with_saes(test::make_tiny_checkpoint({}, 21), "diffing-tiny", 64, 100);
  return t;
}

// `n` items: BOS, image (all but every fourth item), 2..7 text tokens.
InMemoryPromptDataset make_dataset(int64_t n, uint64_t seed) {
  return test::make_tiny_prompts(n, seed, [](int64_t i, int64_t t, int64_t) { return 4 + (i * 7 + t * 13) % 57; });
}

std::vector<LayerSae> layer_saes() {
  std::vector<LayerSae> out;
  for (int l = 0; l < 2; ++l) out.push_back({l, tiny().saes[static_cast<size_t>(l)].get()});
  return out;
}

// The same statistics item by item, every row of an item encoded at once, in float64.
std::vector<LayerFeatureStats> direct_stats(const PromptDataset& ds, Positions positions) {
  const auto& model = *tiny().model;
  std::vector<LayerFeatureStats> out(2);
  for (int l = 0; l < 2; ++l) {
    const int64_t F = tiny().saes[static_cast<size_t>(l)]->d_sae();
    out[static_cast<size_t>(l)].layer = l;
    out[static_cast<size_t>(l)].sum_squares.assign(static_cast<size_t>(F), 0.0);
    out[static_cast<size_t>(l)].fire_text.assign(static_cast<size_t>(F), 0);
    out[static_cast<size_t>(l)].fire_image.assign(static_cast<size_t>(F), 0);
    out[static_cast<size_t>(l)].max_activation.assign(static_cast<size_t>(F), 0.0);
  }
  ForwardRequest req;
  req.logits = LogitsMode::kNone;
  req.capture = {residual_hook(0), residual_hook(1)};
  for (int64_t i = 0; i < ds.size(); ++i) {
    const auto prepared = model.prepare(make_prompt_batch(ds, i, 1));
    const auto out_i = model.forward(prepared, req);
    const auto types = prepared.token_types[0];
    for (int l = 0; l < 2; ++l) {
      auto& s = out[static_cast<size_t>(l)];
      const auto h = tiny().saes[static_cast<size_t>(l)]->encode(out_i.at(residual_hook(l))[0]).to(torch::kFloat64);
      for (int64_t t = 0; t < types.size(0); ++t) {
        const int type = types[t].item<int>();
        if (type != kTokenText && type != kTokenImage) continue;
        const bool selected = positions == Positions::kAll || (positions == Positions::kText && type == kTokenText) ||
                              (positions == Positions::kImage && type == kTokenImage);
        s.selected_positions += selected;
        (type == kTokenText ? s.text_positions : s.image_positions) += 1;
        for (int64_t f = 0; f < h.size(1); ++f) {
          const double v = h[t][f].item<double>();
          if (selected) s.sum_squares[static_cast<size_t>(f)] += v * v;
          if (v > 0) (type == kTokenText ? s.fire_text : s.fire_image)[static_cast<size_t>(f)] += 1;
          s.max_activation[static_cast<size_t>(f)] = std::max(s.max_activation[static_cast<size_t>(f)], v);
        }
      }
    }
  }
  return out;
}

}  // namespace

TEST(FeatureStats, StreamingEqualsDirectComputation) {
  const auto ds = make_dataset(9, 5);
  for (Positions positions : {Positions::kText, Positions::kImage}) {
    FeatureStatsOptions o;
    o.positions = positions;
    o.batch_size = 4;  // padding in every batch: item lengths differ
    o.chunk_rows = 7;  // chunks straddle items
    const auto got = compute_feature_stats(*tiny().model, layer_saes(), ds, o);
    const auto want = direct_stats(ds, positions);
    ASSERT_EQ(got.layers.size(), 2u);
    EXPECT_EQ(got.items, 9);
    for (size_t l = 0; l < 2; ++l) {
      const auto& g = got.layers[l];
      const auto& w = want[l];
      EXPECT_EQ(g.layer, w.layer);
      EXPECT_EQ(g.selected_positions, w.selected_positions);
      EXPECT_EQ(g.text_positions, w.text_positions);
      EXPECT_EQ(g.image_positions, w.image_positions);
      EXPECT_GT(g.text_positions, 0);
      EXPECT_GT(g.image_positions, 0);
      int64_t firing = 0;
      for (size_t f = 0; f < g.sum_squares.size(); ++f) {
        EXPECT_NEAR(g.sum_squares[f], w.sum_squares[f], 1e-4 * (1 + w.sum_squares[f])) << "layer " << l << " f " << f;
        EXPECT_EQ(g.fire_text[f], w.fire_text[f]) << "layer " << l << " f " << f;
        EXPECT_EQ(g.fire_image[f], w.fire_image[f]) << "layer " << l << " f " << f;
        EXPECT_NEAR(g.max_activation[f], w.max_activation[f], 1e-4 * (1 + w.max_activation[f]));
        firing += g.fire_text[f] + g.fire_image[f];
      }
      EXPECT_GT(firing, 0) << "the test SAEs must fire for the comparison to mean anything";
      const auto ev = g.visual_energy();
      for (size_t f = 0; f < ev.size(); ++f)
        EXPECT_NEAR(ev[f], w.sum_squares[f] / static_cast<double>(w.selected_positions), 1e-4 * (1 + ev[f]));
    }
  }
}

TEST(FeatureStats, ChunkMemoryDoesNotGrowWithTheDataset) {
  FeatureStatsOptions o;
  o.positions = Positions::kAll;
  o.batch_size = 2;
  o.chunk_rows = 5;
  const auto small = compute_feature_stats(*tiny().model, layer_saes(), make_dataset(3, 1), o);
  const auto large = compute_feature_stats(*tiny().model, layer_saes(), make_dataset(24, 1), o);
  const int64_t F = tiny().saes[0]->d_sae();
  EXPECT_EQ(small.peak_chunk_rows, 5);
  EXPECT_EQ(large.peak_chunk_rows, 5);
  EXPECT_EQ(small.peak_code_elements, 5 * F);
  EXPECT_EQ(large.peak_code_elements, 5 * F);
  // ...while the data really is eight times larger.
  EXPECT_GT(large.layers[0].selected_positions, 6 * small.layers[0].selected_positions);
  // No selected position: NaN energies, not zeros.
  FeatureStatsOptions image_only = o;
  image_only.positions = Positions::kImage;
  std::vector<PromptItem> text_items{make_dataset(4, 2).item(3)};
  const InMemoryPromptDataset text_only("text only", text_items, {});
  const auto none = compute_feature_stats(*tiny().model, layer_saes(), text_only, image_only);
  EXPECT_EQ(none.layers[0].selected_positions, 0);
  EXPECT_TRUE(std::isnan(none.layers[0].visual_energy()[0]));
}

TEST(FeatureStats, RejectsBadInput) {
  const auto ds = make_dataset(2, 1);
  EXPECT_THROW(compute_feature_stats(*tiny().model, {}, ds, {}), Error);
  EXPECT_THROW(compute_feature_stats(*tiny().model, {{5, tiny().saes[0].get()}}, ds, {}), Error);
  EXPECT_THROW(compute_feature_stats(*tiny().model, {{0, tiny().saes[0].get()}, {0, tiny().saes[1].get()}}, ds, {}),
               Error);
  FeatureStatsOptions zero;
  zero.chunk_rows = 0;
  EXPECT_THROW(compute_feature_stats(*tiny().model, layer_saes(), ds, zero), Error);
}

namespace {

AdaptOptions small_adapt() {
  AdaptOptions o;
  o.batch_size = 3;
  o.train.batch_size = 32;
  o.train.lr = 1e-3;
  o.train.warmup_steps = 2;
  o.train.shuffle_buffer_mb = 0.01;
  o.train.eval_every_tokens = 64;
  o.train.dead_window_tokens = 10000;
  o.queue_batches = 2;
  return o;
}

}  // namespace

TEST(Adaptation, EachRegimeTrainsOnItsOwnPositions) {
  const auto train = make_dataset(10, 7);
  const auto heldout = make_dataset(4, 8);
  AdaptOptions o = small_adapt();
  o.epochs = 2;
  std::vector<AdaptEvalPoint> evals;
  std::vector<std::unique_ptr<AdaptOutcome>> done;
  AdaptCallbacks cb;
  cb.on_eval = [&](const std::vector<AdaptEvalPoint>& p) { evals.insert(evals.end(), p.begin(), p.end()); };
  cb.on_done = [&](AdaptOutcome& out) { done.push_back(std::make_unique<AdaptOutcome>(std::move(out))); };
  adapt_saes(*tiny().model, layer_saes(), train, heldout, o, null_progress(), cb);

  PositionCounts train_pos, held_pos;
  for (int64_t i = 0; i < train.size(); ++i) {
    const auto c = count_positions(train.item(i), 1, tiny().model->image_tokens());
    train_pos.text += c.text;
    train_pos.image += c.image;
  }
  for (int64_t i = 0; i < heldout.size(); ++i) {
    const auto c = count_positions(heldout.item(i), 1, tiny().model->image_tokens());
    held_pos.text += c.text;
    held_pos.image += c.image;
  }
  ASSERT_EQ(done.size(), 8u);  // 2 layers x 4 regimes, in (layer, regime) order
  for (size_t i = 0; i < done.size(); ++i) {
    const auto& out = *done[i];
    EXPECT_EQ(out.layer, static_cast<int>(i / 4));
    EXPECT_EQ(out.regime, all_regimes()[i % 4]);
    const Positions p = regime_positions(out.regime);
    const int64_t train_rows = p == Positions::kText    ? train_pos.text
                               : p == Positions::kImage ? train_pos.image
                                                        : train_pos.text + train_pos.image;
    const int64_t held_rows = p == Positions::kText    ? held_pos.text
                              : p == Positions::kImage ? held_pos.image
                                                       : held_pos.text + held_pos.image;
    // The trainer counts only masked-in rows: the regime saw exactly its positions, twice.
    EXPECT_EQ(out.stats.tokens, 2 * train_rows) << to_string(out.regime);
    EXPECT_EQ(out.final_eval.rows, held_rows) << to_string(out.regime);
    EXPECT_EQ(out.final_eval.tokens, out.stats.tokens);
    EXPECT_TRUE(std::isfinite(out.final_eval.fvu));
    EXPECT_EQ(out.sae.config().variant, SaeVariant::TopK);
    EXPECT_EQ(out.sae.config().k, out.layer == 0 ? 50 : 6);  // ReLU base -> k 50; TopK keeps its k
    EXPECT_EQ(out.decoder_cosine.size(), 64u);
    if (regime_warm_start(out.regime)) {
      EXPECT_GT(out.mean_decoder_cosine, 0.5) << "warm start stays near the base dictionary";
    } else {
      EXPECT_LT(std::abs(out.mean_decoder_cosine), 0.3) << "random init is unrelated to it";
    }
  }
  // Evaluations at tokens 0 (the starting SAE), every 64 training rows, and at the end.
  int64_t at_zero = 0;
  for (const auto& e : evals) at_zero += e.tokens == 0;
  EXPECT_EQ(at_zero, 8);
  EXPECT_GT(evals.size(), 8u * 3);
}

TEST(Adaptation, TokenBudgetIsExactForEveryRegime) {
  const auto train = make_dataset(6, 9);
  const auto heldout = make_dataset(3, 10);
  AdaptOptions o = small_adapt();
  o.train_tokens = 300;  // more text positions than one pass holds: cycles over the items
  o.regimes = {Regime::kText, Regime::kImage};
  o.layers_per_pass = 1;
  std::vector<int64_t> tokens;
  AdaptCallbacks cb;
  cb.on_done = [&](AdaptOutcome& out) { tokens.push_back(out.stats.tokens); };
  adapt_saes(*tiny().model, layer_saes(), train, heldout, o, null_progress(), cb);
  EXPECT_EQ(tokens, (std::vector<int64_t>{300, 300, 300, 300}));
}

TEST(Adaptation, CancelStopsEveryTrainer) {
  const auto train = make_dataset(12, 11);
  const auto heldout = make_dataset(3, 12);
  AdaptOptions o = small_adapt();
  o.epochs = 50;
  Progress progress;
  AdaptCallbacks cb;
  int done = 0;
  cb.on_eval = [&](const std::vector<AdaptEvalPoint>& p) {
    for (const auto& e : p)
      if (e.tokens > 0) progress.cancel();
  };
  cb.on_done = [&](AdaptOutcome&) { ++done; };
  EXPECT_THROW(adapt_saes(*tiny().model, layer_saes(), train, heldout, o, progress, cb), Cancelled);
  EXPECT_EQ(done, 0);
}

TEST(Adaptation, RejectsARegimeWithoutPositions) {
  std::vector<PromptItem> text_items{make_dataset(4, 2).item(3)};
  const InMemoryPromptDataset text_only("text only", text_items, {});
  AdaptOptions o = small_adapt();
  o.regimes = {Regime::kImage};
  EXPECT_THROW(adapt_saes(*tiny().model, layer_saes(), text_only, text_only, o, null_progress(), {}), Error);
}
