// Streaming training and evaluation: FVU on constructed cases with known answers, a TopK
// SAE recovering the directions of synthetic sparse data, masking, warm starts, options
// JSON, stream errors and cancel.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/types.h>

#include <cmath>
#include <memory>
#include <vector>

#include "core/common/error.h"
#include "core/common/progress.h"
#include "core/sae/sae.h"
#include "core/sae/trainer.h"
#include "tests/test_sae_util.h"

using namespace sightline;
using namespace sightline::sae_test;
using ::testing::AllOf;
using ::testing::HasSubstr;

namespace {

constexpr int64_t kTrainD = 16, kTrainF = 64;

// Rows that are sparse non-negative combinations of `true_features` random unit
// directions (each row uses `active` of them with weights in [0.5, 1.5]) plus an offset.
struct SparseData {
  at::Tensor directions;  // [T, D], unit rows
  at::Tensor offset;      // [D]
  int64_t active = 3;

  SparseData(int64_t true_features, int64_t active_per_row, uint64_t seed) : active(active_per_row) {
    auto gen = at::detail::createCPUGenerator(seed);
    directions = torch::randn({true_features, kTrainD}, gen);
    directions = directions / directions.norm(2, {1}, true);
    offset = torch::randn({kTrainD}, gen) * 0.5;
  }

  at::Tensor sample(int64_t n, at::Generator& gen) const {
    const int64_t T = directions.size(0);
    const auto idx = std::get<1>(torch::rand({n, T}, gen).topk(active, 1));
    const auto weights = torch::rand({n, active}, gen) + 0.5;
    const auto coeff = torch::zeros({n, T}).scatter(1, idx, weights);
    return torch::matmul(coeff, directions) + offset;
  }
};

// A stream of `batches` batches of `rows` rows. With `garbage`, every other row is huge
// noise and masked out.
ActivationStream stream_of(std::shared_ptr<const SparseData> data, int64_t batches, int64_t rows, uint64_t seed,
                           bool garbage = false) {
  auto gen = std::make_shared<at::Generator>(at::detail::createCPUGenerator(seed));
  auto left = std::make_shared<int64_t>(batches);
  return [=](ActivationBatch& batch) {
    if (*left == 0) return false;
    --*left;
    batch.x = data->sample(rows, *gen);
    if (garbage) {
      batch.mask = torch::arange(rows) % 2 == 0;
      const auto noise = torch::randn({rows, kTrainD}, *gen) * 1e4;
      batch.x = torch::where(batch.mask.unsqueeze(1), batch.x, noise);
    }
    return true;
  };
}

// A fixed set of rows as a stream, cut into batches of the given sizes.
ActivationStream fixed_stream(const at::Tensor& x, std::vector<int64_t> sizes, at::Tensor mask = {}) {
  auto pos = std::make_shared<size_t>(0);
  auto offset = std::make_shared<int64_t>(0);
  return [=](ActivationBatch& batch) {
    if (*pos == sizes.size()) return false;
    const int64_t n = sizes[(*pos)++];
    batch.x = x.narrow(0, *offset, n);
    if (mask.defined()) batch.mask = mask.narrow(0, *offset, n);
    *offset += n;
    return true;
  };
}

SaeConfig topk_config(int64_t k) {
  SaeConfig c;
  c.variant = SaeVariant::TopK;
  c.d_model = kTrainD;
  c.d_sae = kTrainF;
  c.k = k;
  return c;
}

SaeTrainOptions fast_options() {
  SaeTrainOptions o;
  o.batch_size = 128;
  o.lr = 5e-3;
  o.warmup_steps = 20;
  o.shuffle_buffer_mb = 0.05;  // ~800 rows of 16 floats: several batches mixed per drain
  o.dead_window_tokens = 20000;
  return o;
}

// Fraction of the true directions matched by some decoder column with cosine > 0.9.
double recovered_fraction(const Sae& sae, const SparseData& data) {
  const auto cos = torch::matmul(data.directions, sae.decoder_directions());  // [T, F]
  return (std::get<0>(cos.max(1)) > 0.9).to(torch::kFloat64).mean().item<double>();
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Evaluation on constructed cases.

// A ReLU SAE with decoder [I, -I] and encoder its transpose reconstructs x exactly:
// relu(x) - relu(-x) = x.
Sae identity_sae(int64_t d, double encoder_scale = 1.0) {
  SaeConfig c;
  c.variant = SaeVariant::ReLU;
  c.d_model = d;
  c.d_sae = 2 * d;
  const auto eye = torch::eye(d);
  const auto w_dec = torch::cat({eye, -eye}, 1);  // [d, 2d]
  return Sae(c, w_dec.t() * encoder_scale, torch::zeros({2 * d}), w_dec, torch::zeros({d}));
}

TEST(SaeEvaluate, PerfectReconstructionHasFvuZero) {
  torch::manual_seed(1);
  const auto x = torch::randn({50, 4}) * 3 + 2;
  const auto e = evaluate(identity_sae(4), fixed_stream(x, {20, 0, 30}));
  EXPECT_EQ(e.rows, 50);
  EXPECT_NEAR(e.fvu, 0.0, 1e-12);
  EXPECT_NEAR(e.mse, 0.0, 1e-10);
  EXPECT_NEAR(e.l0, 4.0, 1e-12);  // no exact zeros: one of +e_i / -e_i per dimension
}

TEST(SaeEvaluate, ReconstructingTheMeanHasFvuOneEvenUnderALargeOffset) {
  torch::manual_seed(2);
  // A large common offset: a one-pass sum(x^2) - n mean^2 would lose the variance.
  const auto x = (torch::randn({300, 4}, torch::kFloat64) + 1e6);
  SaeConfig c;
  c.variant = SaeVariant::ReLU;
  c.d_model = 4;
  c.d_sae = 8;
  const Sae mean_sae(c, torch::zeros({8, 4}, torch::kFloat64), torch::zeros({8}, torch::kFloat64),
                     torch::randn({4, 8}, torch::kFloat64), x.mean(0));
  const auto e = evaluate(mean_sae, fixed_stream(x, {7, 100, 1, 192}));
  EXPECT_EQ(e.rows, 300);
  EXPECT_NEAR(e.fvu, 1.0, 1e-9);
  EXPECT_EQ(e.l0, 0.0);
  EXPECT_EQ(e.dead_fraction, 1.0);
}

TEST(SaeEvaluate, HalfReconstructionAndMaskHaveTheirKnownAnswers) {
  torch::manual_seed(3);
  auto x = torch::randn({40, 4}, torch::kFloat64) + 0.5;
  auto mask = torch::rand({40}) < 0.6;
  x.index_put_({~mask}, 1e8);  // excluded rows would dominate every sum
  // Encoder scaled by 1/2: x_hat = x / 2, so FVU = sum ||x/2||^2 / sum ||x - mean||^2.
  const auto sae = identity_sae(4, 0.5);
  const auto e = evaluate(sae, fixed_stream(x, {13, 27}, mask));
  const auto kept = x.index({mask});
  const double expected =
      (kept / 2).pow(2).sum().item<double>() / (kept - kept.mean(0)).pow(2).sum().item<double>();
  EXPECT_EQ(e.rows, mask.sum().item<int64_t>());
  EXPECT_NEAR(e.fvu, expected, 1e-5 * expected);
  // Dead features: with every kept x_0 > 0 the -e_0 feature never fires.
  const auto positive = torch::ones({10, 4}, torch::kFloat64);
  EXPECT_NEAR(evaluate(sae, fixed_stream(positive, {10})).dead_fraction, 4.0 / 8.0, 1e-12);
}

TEST(SaeEvaluate, StreamErrorsNameTheBatch) {
  const auto sae = identity_sae(4);
  EXPECT_THAT(error_of([&] { evaluate(sae, fixed_stream(torch::zeros({5, 3}), {5})); }),
              AllOf(HasSubstr("batch 0"), HasSubstr("[5, 3]"), HasSubstr("[..., 4]")));
  EXPECT_THAT(error_of([&] {
                evaluate(sae, fixed_stream(torch::zeros({5, 4}), {2, 3}, torch::ones({5}, torch::kInt64)));
              }),
              HasSubstr("mask must be bool"));
  int calls = 0;
  const ActivationStream bad_mask = [&](ActivationBatch& b) {
    if (calls++ > 1) return false;
    b.x = torch::zeros({2, 3, 4});
    b.mask = torch::ones({3, 2}, torch::kBool);
    return true;
  };
  EXPECT_THAT(error_of([&] { evaluate(sae, bad_mask); }), AllOf(HasSubstr("batch 0"), HasSubstr("[3, 2]")));
}

// ---------------------------------------------------------------------------------------
// Training.

TEST(SaeTrainer, TopKRecoversSyntheticSparseDirections) {
  // 24 directions in 16 dimensions, 3 per row: overcomplete, so a matched-filter encoder
  // alone reaches only FVU ~0.35; the SAE must learn the directions and its encoder.
  const auto data = std::make_shared<const SparseData>(24, 3, 100);
  torch::manual_seed(101);
  Sae sae(topk_config(4));
  auto options = fast_options();
  options.init_b_dec_to_mean = true;
  options.total_tokens = 250 * 1000;
  options.eval_every_tokens = 80000;
  std::vector<double> curve;
  std::vector<int64_t> at_tokens;
  const auto stats = train_sae(sae, stream_of(data, 250, 1000, 102), options, null_progress(),
                               [&](const Sae& s, const SaeTrainStats& st) {
                                 curve.push_back(evaluate(s, stream_of(data, 2, 1000, 103)).fvu);
                                 at_tokens.push_back(st.tokens);
                               });
  EXPECT_EQ(stats.tokens, 250 * 1000);
  EXPECT_GE(stats.steps, 250 * 1000 / 128);
  EXPECT_LE(stats.steps, 250 * 1000 / 128 + 2);
  ASSERT_GE(curve.size(), 4u);
  EXPECT_EQ(at_tokens.front(), 0);
  EXPECT_EQ(at_tokens.back(), 250 * 1000);
  EXPECT_GT(curve.front(), 0.5);
  const double fvu = evaluate(sae, stream_of(data, 4, 1000, 104)).fvu;
  EXPECT_LT(fvu, 0.1);
  EXPECT_NEAR(curve.back(), fvu, 0.02);
  EXPECT_GE(recovered_fraction(sae, *data), 0.8);
  // Training keeps the decoder unit-norm and switches grads off again.
  EXPECT_TRUE(torch::allclose(sae.w_dec().norm(2, {0}), torch::ones({kTrainF}), 1e-4, 1e-4));
  EXPECT_FALSE(sae.w_enc().requires_grad());
  EXPECT_GT(stats.l0, 3.0);
  EXPECT_LE(stats.l0, 4.0);
}

TEST(SaeTrainer, MaskedOutRowsNeverReachTheLoss) {
  // Every other row is noise of scale 1e4, masked out: a trainer that let it in would
  // spend the whole budget on it and never fit the clean rows.
  const auto data = std::make_shared<const SparseData>(24, 3, 200);
  auto options = fast_options();
  options.init_b_dec_to_mean = true;
  options.total_tokens = 100 * 1000;
  const auto held_out = [&] { return stream_of(data, 2, 1000, 203); };

  torch::manual_seed(201);
  Sae sae(topk_config(4));
  const double start = evaluate(sae, held_out()).fvu;
  Progress progress;
  const auto stats = train_sae(sae, stream_of(data, 200, 1000, 202, /*garbage=*/true), options, progress);
  EXPECT_EQ(stats.tokens, 100 * 1000);  // exactly the masked-in half
  EXPECT_EQ(progress.done(), 100 * 1000);
  EXPECT_EQ(progress.total(), 100 * 1000);
  const double fvu = evaluate(sae, held_out()).fvu;
  EXPECT_GT(start, 0.5);
  EXPECT_LT(fvu, 0.1);

  // Control: the same stream with the mask dropped does not fit the clean rows.
  torch::manual_seed(201);
  Sae unmasked(topk_config(4));
  auto garbage = stream_of(data, 60, 1000, 202, true);
  const ActivationStream no_mask = [&](ActivationBatch& b) {
    if (!garbage(b)) return false;
    b.mask = at::Tensor();
    return true;
  };
  train_sae(unmasked, no_mask, options);
  EXPECT_GT(evaluate(unmasked, held_out()).fvu, 0.3);
}

TEST(SaeTrainer, WarmStartBeginsAtTheBaseFvu) {
  const auto data = std::make_shared<const SparseData>(24, 3, 300);
  const auto held_out = [&] { return stream_of(data, 2, 1000, 303); };
  auto options = fast_options();
  options.init_b_dec_to_mean = true;
  torch::manual_seed(301);
  Sae base(topk_config(4));
  train_sae(base, stream_of(data, 150, 1000, 302), options);
  const double base_fvu = evaluate(base, held_out()).fvu;
  ASSERT_LT(base_fvu, 0.2);
  const auto base_w_dec = base.w_dec().clone();

  // Fine-tune a copy with a smaller learning rate (no b_dec re-initialisation).
  Sae tuned = base.clone();
  auto tune = fast_options();
  tune.lr = 1e-3;
  tune.eval_every_tokens = 20000;
  std::vector<double> curve;
  train_sae(tuned, stream_of(data, 40, 1000, 304), tune, null_progress(),
            [&](const Sae& s, const SaeTrainStats&) { curve.push_back(evaluate(s, held_out()).fvu); });
  ASSERT_GE(curve.size(), 3u);
  EXPECT_NEAR(curve.front(), base_fvu, 1e-9);
  for (double f : curve) EXPECT_LT(f, base_fvu + 0.05);
  EXPECT_TRUE(torch::equal(base.w_dec(), base_w_dec));  // the base is untouched
  EXPECT_FALSE(torch::equal(tuned.w_dec(), base_w_dec));

  // A random initialisation starts far above.
  torch::manual_seed(305);
  Sae fresh(topk_config(4));
  std::vector<double> fresh_curve;
  auto once = fast_options();
  once.eval_every_tokens = 0;
  train_sae(fresh, stream_of(data, 1, 500, 306), once, null_progress(),
            [&](const Sae& s, const SaeTrainStats&) { fresh_curve.push_back(evaluate(s, held_out()).fvu); });
  ASSERT_EQ(fresh_curve.size(), 2u);  // at 0 and at the end
  EXPECT_GT(fresh_curve.front(), base_fvu + 0.4);
}

TEST(SaeTrainer, ReluAndJumpReluTrainingReduceFvu) {
  const auto data = std::make_shared<const SparseData>(24, 3, 400);
  const auto held_out = [&] { return stream_of(data, 2, 1000, 403); };
  for (SaeVariant v : {SaeVariant::ReLU, SaeVariant::JumpReLU}) {
    SaeConfig c = topk_config(4);
    c.variant = v;
    // ReLU: L1 weight; JumpReLU: L0 weight. Without them L0 stays near 30 of 64.
    c.l1_coefficient = v == SaeVariant::ReLU ? 0.1 : 0.05;
    c.threshold = 0.1;
    c.jumprelu_bandwidth = 0.1;
    torch::manual_seed(401);
    Sae sae(c);
    const auto initial_threshold = sae.threshold().clone();
    const double start = evaluate(sae, held_out()).fvu;
    auto options = fast_options();
    options.init_b_dec_to_mean = true;
    train_sae(sae, stream_of(data, 100, 1000, 402), options);
    const auto e = evaluate(sae, held_out());
    EXPECT_LT(e.fvu, 0.25 * start) << to_string(v);
    EXPECT_LT(e.fvu, 0.15) << to_string(v);
    EXPECT_GT(e.l0, 0.5) << to_string(v);
    EXPECT_LT(e.l0, v == SaeVariant::ReLU ? 22.0 : 10.0) << to_string(v);
    if (v == SaeVariant::JumpReLU) {
      EXPECT_TRUE((sae.threshold() >= 0).all().item<bool>());
      EXPECT_FALSE(torch::allclose(sae.threshold(), initial_threshold));  // thresholds learn
    }
  }
}

TEST(SaeTrainer, CancelStopsTrainingAndRestoresGradFlags) {
  const auto data = std::make_shared<const SparseData>(24, 3, 500);
  torch::manual_seed(501);
  Sae sae(topk_config(4));
  Progress progress;
  int calls = 0;
  EXPECT_THROW(train_sae(sae, stream_of(data, 100, 1000, 502), fast_options(), progress,
                         [&](const Sae&, const SaeTrainStats&) {
                           ++calls;
                           progress.cancel();
                         }),
               Cancelled);
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(sae.w_enc().requires_grad());
}

TEST(SaeTrainer, StreamErrorsNameTheBatch) {
  torch::manual_seed(1);
  Sae sae(topk_config(4));
  int calls = 0;
  const ActivationStream bad = [&](ActivationBatch& b) {
    if (calls++ == 3) {
      b.x = torch::zeros({4, 12});
      return true;
    }
    b.x = torch::zeros({4, kTrainD});
    return calls < 10;
  };
  EXPECT_THAT(error_of([&] { train_sae(sae, bad, fast_options()); }),
              AllOf(HasSubstr("batch 3"), HasSubstr("[4, 12]"), HasSubstr("[..., 16]")));
}

TEST(SaeTrainOptions, JsonRoundTripAndErrors) {
  SaeTrainOptions o;
  o.batch_size = 77;
  o.lr = 1.5e-3;
  o.total_tokens = 123456;
  o.shuffle_buffer_mb = 12.5;
  o.aux_k = 9;
  o.init_b_dec_to_mean = true;
  o.seed = 42;
  const auto back = sae_train_options_from_json(to_json(o), "train.json");
  EXPECT_EQ(to_json(back), to_json(o));
  EXPECT_EQ(back.batch_size, 77);
  EXPECT_EQ(back.seed, 42u);
  // Defaults fill in for missing keys.
  EXPECT_EQ(to_json(sae_train_options_from_json(nlohmann::json::object(), "train.json")), to_json(SaeTrainOptions{}));
  EXPECT_THAT(error_of([&] { sae_train_options_from_json({{"batch_size", 0}}, "train.json"); }),
              HasSubstr("file 'train.json': field 'batch_size'"));
  EXPECT_THAT(error_of([&] { sae_train_options_from_json({{"lr", "fast"}}, "train.json"); }),
              HasSubstr("file 'train.json': field 'lr' must be a number"));
  EXPECT_THAT(error_of([&] { sae_train_options_from_json({{"decay_fraction", 2.0}}, "train.json"); }),
              HasSubstr("field 'decay_fraction'"));
}
