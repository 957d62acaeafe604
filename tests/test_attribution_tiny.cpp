// Stage 4 on the tiny random LLaVA of tests/model_fixture.h (vision tower, GQA 4 / 2
// heads, 2 layers, 16 image tokens), in float64: attribution patching equals exact
// activation patching to first order, and batches come from real prepared images.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/types.h>

#include <cmath>

#include "core/attribution/attention_maps.h"
#include "core/attribution/attribution.h"
#include "core/attribution/corruption.h"
#include "core/attribution/head_ranking.h"
#include "core/common/error.h"
#include "tests/sae_fixture.h"
#include "tests/test_util.h"

using namespace sightline;
using testing::HasSubstr;

namespace {

struct Tiny {
  std::unique_ptr<VisionLanguageModel> model;
  std::unique_ptr<Sae> sae;
  std::vector<PreparedBatch> batches;  // the feature's samples, 2 per batch
  MeanImageEmbedding mean;             // over 8 other images
};

std::vector<std::vector<int64_t>> sample_ids() {
  return {{1, 7, 9, kImageTokenIndex, 11, 5, 42, 3},
          {1, kImageTokenIndex, 13, 8},
          {1, 4, kImageTokenIndex, 21, 22, 23, 24, 25},
          {1, 7, kImageTokenIndex, 30, 6}};
}

at::Tensor pixels(int64_t n, int64_t seed) {
  torch::manual_seed(seed);
  return torch::rand({n, 3, 16, 16}, torch::kFloat64) * 2 - 1;
}

Tiny& tiny() {
  static Tiny t = [] {
    Tiny t;
    t.model = test::load_tiny_model(test::make_tiny_checkpoint({}, 7), "attribution");
    t.model->to("cpu", "float64");
    SaeConfig c;
    c.variant = SaeVariant::TopK;
    c.k = 4;
    c.d_model = 32;
    c.d_sae = 16;
    c.hook_point = "blocks.1.hook_resid_post";
    torch::manual_seed(5);
    t.sae = std::make_unique<Sae>(c);
    t.sae->to("cpu", "float64");
    t.batches = prepare_batches(*t.model, sample_ids(), pixels(4, 11), 2);
    std::vector<std::vector<int64_t>> pool(8, std::vector<int64_t>{1, kImageTokenIndex, 9});
    const auto pool_batches = prepare_batches(*t.model, pool, pixels(8, 12), 3);
    size_t next = 0;
    t.mean = compute_mean_image_embedding(
        [&](PreparedBatch& out) {
          if (next >= pool_batches.size()) return false;
          out = pool_batches[next++];
          return true;
        },
        CorruptionMean::kPerPosition);
    return t;
  }();
  return t;
}

}  // namespace

TEST(AttributionTiny, PrepareBatchesChecksMarkersAndSplits) {
  auto& t = tiny();
  ASSERT_EQ(t.batches.size(), 2u);
  EXPECT_EQ(t.batches[0].batch(), 2);
  EXPECT_FALSE(t.batches[0].embeds.requires_grad());
  EXPECT_EQ(t.mean.images, 8);
  EXPECT_EQ(t.mean.image_tokens(), 16);
  EXPECT_THAT([&] { prepare_batches(*t.model, {{1, 2, 3}}, pixels(1, 1), 1); },
              testing::ThrowsMessage<Error>(HasSubstr("sample 0 holds 0 image markers")));
  EXPECT_THAT([&] { prepare_batches(*t.model, sample_ids(), pixels(3, 1), 1); },
              testing::ThrowsMessage<Error>(HasSubstr("tensor 'pixels' must be [N, 3, S, S] with N = 4")));
}

TEST(AttributionTiny, AttributionEqualsExactPatchingToFirstOrder) {
  auto& t = tiny();
  const FeatureTarget target{t.sae.get(), 1, 3};
  for (const auto activation : {HeadActivation::kQueryKey, HeadActivation::kOutput}) {
    SCOPED_TRACE(to_string(activation));
    AttributionOptions ao;
    ao.activation = activation;
    ao.corruption_strength = 1e-3;
    ExactPatchingOptions eo;
    eo.activation = activation;
    eo.corruption_strength = 1e-3;
    eo.denoising = true;
    const auto attr = attribute_heads(*t.model, target, t.batches, t.mean, ao);
    Progress progress;
    const auto exact = exact_patch_heads(*t.model, target, t.batches, t.mean, eo, progress);
    const int64_t runs = 2 * (4 + (activation == HeadActivation::kQueryKey ? 2 : 0)) * 2;
    EXPECT_EQ(progress.total(), 2 * runs);
    EXPECT_EQ(progress.done(), 2 * runs);
    const auto& noise = exact.noising.effect;
    const double scale = noise.abs().max().item<double>();
    ASSERT_GT(scale, 1e-6);
    const auto agree = compare_with_exact(attr, exact);
    EXPECT_GT(agree.spearman_a, 0.98);
    EXPECT_GT(agree.spearman_b, 0.98);
    EXPECT_LT(agree.max_abs_error_a, 1e-2 * scale);
    EXPECT_LT(agree.max_abs_error_b, 1e-2 * scale);
    // B against the negated noising effect too (its first-order counterpart).
    EXPECT_GT(spearman(attr.method_b.score, -noise), 0.98);
    // Exact patching: with kQueryKey the effect is the q effect plus the split k effect.
    if (activation == HeadActivation::kQueryKey) {
      EXPECT_TRUE(torch::allclose(noise, exact.noising.q + exact.noising.k.repeat_interleave(2, 1) / 2, 1e-12, 1e-15));
    }
  }
}

TEST(AttributionTiny, FullCorruptionSharesTheCleanAndCorruptRuns) {
  // With the full mean-image corruption first order is only an approximation (this random
  // model is far from linear): the agreement is printed, not asserted; the clean and
  // corrupt runs of both procedures must be the same.
  auto& t = tiny();
  const FeatureTarget target{t.sae.get(), 1, 3};
  const auto attr = attribute_heads(*t.model, target, t.batches, t.mean, {});
  const auto exact = exact_patch_heads(*t.model, target, t.batches, t.mean, {});
  const auto agree = compare_with_exact(attr, exact);
  std::printf("full corruption: spearman A %.3f, B %.3f (%lld heads)\n", agree.spearman_a, agree.spearman_b,
              static_cast<long long>(exact.noising.effect.numel()));
  EXPECT_TRUE(std::isfinite(agree.spearman_a) && std::isfinite(agree.spearman_b));
  EXPECT_GT((exact.objective_clean - exact.objective_corrupt).abs().max().item<double>(), 1e-3);
  EXPECT_TRUE(torch::allclose(exact.objective_clean, attr.objective_clean, 1e-12, 1e-12));
  EXPECT_TRUE(torch::allclose(exact.objective_corrupt, attr.objective_corrupt, 1e-12, 1e-12));
}

TEST(AttributionTiny, ObjectiveSkipsBosImageAndPadding) {
  auto& t = tiny();
  const FeatureTarget target{t.sae.get(), 1, 3};
  const auto& batch = t.batches[0];
  ForwardRequest r;
  r.capture = {"blocks.1.hook_resid_post"};
  r.logits = LogitsMode::kNone;
  const auto resid = t.model->forward(batch, r).at("blocks.1.hook_resid_post");
  const auto obj = feature_objective(resid, batch.token_types, target, AttributionObjective::kProjection);
  const auto act = feature_objective(resid, batch.token_types, target, AttributionObjective::kSaeActivation);
  const auto v = t.sae->decoder_directions().select(1, 3);
  for (int64_t b = 0; b < batch.batch(); ++b) {
    double want = 0, want_act = 0;
    for (int64_t i = 0; i < resid.size(1); ++i) {
      if (batch.token_types[b][i].item<int8_t>() != kTokenText) continue;
      want += torch::dot(resid[b][i], v).item<double>();
      want_act += t.sae->encode(resid[b][i].unsqueeze(0))[0][3].item<double>();
    }
    // decoder_directions() normalises in float32.
    EXPECT_NEAR(obj[b].item<double>(), want, 1e-6);
    EXPECT_NEAR(act[b].item<double>(), want_act, 1e-9);
  }
}

TEST(AttributionTiny, AttentionGridsOnRealImages) {
  auto& t = tiny();
  const auto grids = attention_grids(*t.model, t.batches[1], {{1, 3}, {0, 1}});
  ASSERT_EQ(grids.size(), 2u);
  for (const auto& g : grids) {
    ASSERT_EQ(g.grids.sizes(), (std::vector<int64_t>{2, 4, 4}));
    for (int64_t b = 0; b < 2; ++b) {
      EXPECT_NEAR(g.grids[b].sum().item<double>(), g.image_mass[b].item<double>(), 1e-6);
      EXPECT_GT(g.image_mass[b].item<double>(), 0.0);
      EXPECT_LE(g.image_mass[b].item<double>(), 1.0 + 1e-9);
    }
  }
  // A chosen raw token maps into prepared coordinates after the image block.
  const auto ids = sample_ids();
  AttentionMapOptions o;
  o.query = AttentionQuery::kToken;
  o.positions = {prepared_position(t.batches[1], ids[2], 0, 4), prepared_position(t.batches[1], ids[3], 1, 3)};
  EXPECT_EQ(o.positions[0], 4 + 15);
  EXPECT_EQ(o.positions[1], 3 + 15);
  const auto chosen = attention_grids(*t.model, t.batches[1], {{1, 3}}, o)[0];
  EXPECT_EQ(chosen.grids.size(0), 2);
}
