// SAE math: encode / decode / loss of every variant against a float64 reference written
// with plain loops here, the JumpReLU straight-through gradients, decoder renormalisation,
// dead-feature counters, copies and configuration JSON.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/common/error.h"
#include "core/sae/sae.h"
#include "tests/test_sae_util.h"

using namespace sightline;
using namespace sightline::sae_test;
using ::testing::HasSubstr;

namespace {

constexpr int64_t kD = 16, kF = 64;

SaeConfig small_config(SaeVariant variant) {
  SaeConfig c;
  c.variant = variant;
  c.d_model = kD;
  c.d_sae = kF;
  c.k = 5;
  c.l1_coefficient = 0.3;
  c.threshold = 0.2;
  c.jumprelu_bandwidth = 0.5;
  c.hook_point = "blocks.3.hook_resid_post";
  return c;
}

// An SAE with non-unit decoder columns, nonzero biases and per-feature thresholds (some
// negative, which act as 0), so every term of the formulas matters.
Sae random_sae(SaeVariant variant, uint64_t seed) {
  torch::manual_seed(seed);
  auto w_enc = torch::randn({kF, kD}) * 0.5;
  auto b_enc = torch::randn({kF}) * 0.2;
  auto w_dec = torch::randn({kD, kF}) * torch::rand({1, kF}).mul(2).add(0.2);
  auto b_dec = torch::randn({kD}) * 0.3;
  auto threshold = torch::rand({kF}) * 0.8 - 0.1;
  return Sae(small_config(variant), w_enc, b_enc, w_dec, b_dec, threshold);
}

RefSae ref_of(const Sae& sae) {
  return RefSae::from(sae.w_enc(), sae.b_enc(), sae.w_dec(), sae.b_dec(), sae.threshold());
}

// The reference codes of one row's pre-activations under `variant` (TopK: small_config's k).
std::vector<double> ref_codes(const RefSae& ref, const std::vector<double>& pre, SaeVariant variant) {
  switch (variant) {
    case SaeVariant::ReLU: return ref.relu(pre);
    case SaeVariant::TopK: return ref.topk(pre, 5);
    case SaeVariant::JumpReLU: return ref.jumprelu(pre);
  }
  ADD_FAILURE() << "unknown SAE variant";
  return {};
}

}  // namespace

class SaeVariants : public ::testing::TestWithParam<SaeVariant> {};

TEST_P(SaeVariants, EncodeAndDecodeMatchFloat64Reference) {
  const Sae sae = random_sae(GetParam(), 7);
  const RefSae ref = ref_of(sae);
  torch::manual_seed(11);
  const auto x = torch::randn({12, kD}) * 1.5;
  const auto h = sae.encode(x);
  const auto x_hat = sae.decode(h);
  ASSERT_EQ(h.sizes(), (std::vector<int64_t>{12, kF}));
  ASSERT_EQ(x_hat.sizes(), (std::vector<int64_t>{12, kD}));
  EXPECT_TRUE((h >= 0).all().item<bool>());
  int64_t active = 0;
  for (int64_t n = 0; n < x.size(0); ++n) {
    const auto xr = row_of(x, n);
    const auto f = ref_codes(ref, ref.pre(xr), GetParam());
    const auto hr = row_of(h, n);
    for (int64_t j = 0; j < kF; ++j) {
      EXPECT_NEAR(hr[j], f[j], 1e-4) << "row " << n << " feature " << j;
      active += f[j] > 0;
    }
    const auto xh = ref.decode(f);
    const auto got = row_of(x_hat, n);
    for (int64_t i = 0; i < kD; ++i) EXPECT_NEAR(got[i], xh[i], 1e-4) << "row " << n << " dim " << i;
  }
  // The comparison means something only if some features fire and some do not.
  EXPECT_GT(active, 12);
  EXPECT_LT(active, 12 * kF * 3 / 4);
  if (GetParam() == SaeVariant::TopK) {
    EXPECT_EQ(active, 12 * 5);
  }
}

TEST_P(SaeVariants, LossMatchesReferenceOnMaskedRows) {
  const Sae sae = random_sae(GetParam(), 3);
  const RefSae ref = ref_of(sae);
  torch::manual_seed(5);
  auto x = torch::randn({10, kD});
  auto mask = torch::zeros({10}, torch::kBool);
  for (int64_t i : {0, 2, 3, 7, 9}) mask[i] = true;
  x[1].fill_(1e6);  // masked out: would dominate every term if it counted
  const auto loss = sae.loss(x, mask);
  EXPECT_EQ(loss.rows, 5);
  double mse = 0, sparsity = 0;
  const auto norms = ref.decoder_norms();
  for (int64_t n : {0, 2, 3, 7, 9}) {
    const auto xr = row_of(x, n);
    const auto f = ref_codes(ref, ref.pre(xr), GetParam());
    const auto xh = ref.decode(f);
    for (int64_t i = 0; i < kD; ++i) mse += (xr[i] - xh[i]) * (xr[i] - xh[i]);
    for (int64_t j = 0; j < kF; ++j) {
      if (GetParam() == SaeVariant::ReLU) sparsity += f[j] * norms[j];
      if (GetParam() == SaeVariant::JumpReLU) sparsity += f[j] > 0 ? 1.0 : 0.0;
    }
  }
  mse /= 5;
  sparsity = 0.3 * sparsity / 5;
  EXPECT_NEAR(loss.mse.item<double>(), mse, 1e-4 * std::max(1.0, mse));
  EXPECT_NEAR(loss.sparsity.item<double>(), sparsity, 1e-4 * std::max(1.0, sparsity));
  EXPECT_NEAR(loss.total.item<double>(), mse + sparsity, 1e-4 * std::max(1.0, mse + sparsity));
  EXPECT_EQ(loss.h.sizes(), (std::vector<int64_t>{5, kF}));
}

INSTANTIATE_TEST_SUITE_P(All, SaeVariants,
                         ::testing::Values(SaeVariant::ReLU, SaeVariant::TopK, SaeVariant::JumpReLU),
                         [](const auto& info) { return to_string(info.param); });

TEST(Sae, LossWithNoRowsIsZero) {
  const Sae sae = random_sae(SaeVariant::ReLU, 1);
  const auto loss = sae.loss(torch::randn({4, kD}), torch::zeros({4}, torch::kBool));
  EXPECT_EQ(loss.rows, 0);
  EXPECT_EQ(loss.total.item<double>(), 0.0);
  EXPECT_EQ(loss.h.size(0), 0);
}

TEST(Sae, JumpReluThresholdGradientIsTheRectangleKernelEstimator) {
  Sae sae = random_sae(SaeVariant::JumpReLU, 21);
  const RefSae ref = ref_of(sae);
  const double eps = 0.5, l1 = 0.3;
  torch::manual_seed(22);
  const auto x = torch::randn({8, kD});
  sae.set_requires_grad(true);
  sae.loss(x).total.backward();
  const auto grad = sae.threshold().grad();
  ASSERT_TRUE(grad.defined());
  // d total / d theta_f = sum_n dL/dh_nf * (-(theta_f/eps) K_nf) + l1/N sum_n (-(1/eps) K_nf),
  // with dL/dh_nf = (2/N) (x_hat_n - x_n) . W_dec[:, f] and K_nf = 1{|pre_nf - theta_f| < eps/2}.
  std::vector<double> expected(kF, 0.0);
  int64_t in_kernel = 0;
  const double N = 8;
  for (int64_t n = 0; n < 8; ++n) {
    const auto xr = row_of(x, n);
    const auto pre = ref.pre(xr);
    const auto f = ref.jumprelu(pre);
    const auto xh = ref.decode(f);
    for (int64_t j = 0; j < kF; ++j) {
      const double kernel = std::abs(pre[j] - ref.th[j]) < eps / 2 ? 1.0 : 0.0;
      in_kernel += kernel > 0;
      double dl_dh = 0;
      for (int64_t i = 0; i < kD; ++i) dl_dh += 2.0 / N * (xh[i] - xr[i]) * ref.wd[i * kF + j];
      expected[j] += dl_dh * (-(ref.th[j] / eps) * kernel) + l1 / N * (-(1.0 / eps) * kernel);
    }
  }
  EXPECT_GT(in_kernel, 10);
  const auto g = row_of(grad.unsqueeze(0), 0);
  for (int64_t j = 0; j < kF; ++j) EXPECT_NEAR(g[j], expected[j], 1e-4 * std::max(1.0, std::abs(expected[j]))) << j;
  // h w.r.t. pre passes the gradient only where a feature is active (the L0 term reaches
  // only thresholds): an encoder row whose feature never fired on these rows gets none.
  std::vector<bool> fired(kF, false);
  for (int64_t n = 0; n < 8; ++n) {
    const auto f = ref.jumprelu(ref.pre(row_of(x, n)));
    for (int64_t j = 0; j < kF; ++j) fired[j] = fired[j] || f[j] > 0;
  }
  const auto enc_grad_norm = sae.w_enc().grad().norm(2, {1});
  int64_t silent = 0;
  for (int64_t j = 0; j < kF; ++j) {
    if (fired[j]) {
      EXPECT_GT(enc_grad_norm[j].item<double>(), 0.0) << j;
    } else {
      EXPECT_EQ(enc_grad_norm[j].item<double>(), 0.0) << j;
      ++silent;
    }
  }
  EXPECT_GT(silent, 0);
  sae.set_requires_grad(false);
}

TEST(Sae, NormalizeDecoderKeepsTheFunctionAndMakesUnitColumns) {
  for (SaeVariant v : {SaeVariant::ReLU, SaeVariant::JumpReLU}) {
    Sae sae = random_sae(v, 9);
    torch::manual_seed(10);
    const auto x = torch::randn({20, kD});
    const auto before_hat = sae.reconstruct(x);
    const auto before_norms = sae.w_dec().norm(2, {0});
    const auto before_h = sae.encode(x);
    sae.normalize_decoder();
    EXPECT_TRUE(torch::allclose(sae.w_dec().norm(2, {0}), torch::ones({kF}), 1e-5, 1e-5));
    EXPECT_TRUE(torch::allclose(sae.reconstruct(x), before_hat, 1e-4, 1e-4)) << to_string(v);
    // h_f moves into residual units: the old h_f times the old column norm.
    EXPECT_TRUE(torch::allclose(sae.encode(x), before_h * before_norms, 1e-4, 1e-4)) << to_string(v);
  }
}

TEST(Sae, DecoderDirectionsAreUnitColumns) {
  const Sae sae = random_sae(SaeVariant::ReLU, 4);
  const auto dirs = sae.decoder_directions();
  EXPECT_TRUE(torch::allclose(dirs.norm(2, {0}), torch::ones({kF}), 1e-5, 1e-5));
  const auto cos = (dirs * sae.w_dec()).sum(0) / sae.w_dec().norm(2, {0});
  EXPECT_TRUE(torch::allclose(cos, torch::ones({kF}), 1e-5, 1e-5));
}

TEST(Sae, RandomInitHasUnitDecoderAndTiedEncoder) {
  torch::manual_seed(1);
  const Sae sae(small_config(SaeVariant::TopK));
  EXPECT_TRUE(torch::allclose(sae.w_dec().norm(2, {0}), torch::ones({kF}), 1e-5, 1e-5));
  EXPECT_TRUE(torch::equal(sae.w_enc(), sae.w_dec().t()));
  EXPECT_EQ(sae.b_enc().abs().sum().item<double>(), 0.0);
  EXPECT_EQ(sae.dtype(), "float32");
  EXPECT_EQ(sae.device(), "cpu");
}

TEST(Sae, RecordFiringCountsTokensSinceLastFired) {
  SaeConfig c = small_config(SaeVariant::ReLU);
  c.d_sae = 3;
  torch::manual_seed(0);
  Sae sae(c);
  // Rows: feature 0 fires at rows 0 and 2, feature 1 at row 0, feature 2 never.
  auto h = torch::zeros({4, 3});
  h[0][0] = 1;
  h[2][0] = 0.5;
  h[0][1] = 2;
  sae.record_firing(h);
  auto t = sae.tokens_since_fired();
  EXPECT_EQ(t[0].item<int64_t>(), 1);  // rows 3 after its last firing at row 2
  EXPECT_EQ(t[1].item<int64_t>(), 3);
  EXPECT_EQ(t[2].item<int64_t>(), 4);
  sae.record_firing(torch::zeros({5, 3}));
  t = sae.tokens_since_fired();
  EXPECT_EQ(t[0].item<int64_t>(), 6);
  EXPECT_EQ(t[2].item<int64_t>(), 9);
  EXPECT_NEAR(sae.dead_fraction(7), 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(sae.dead_fraction(10), 0.0, 1e-12);
  sae.reset_firing();
  EXPECT_EQ(sae.tokens_since_fired().sum().item<int64_t>(), 0);
}

TEST(Sae, CloneIsIndependent) {
  Sae sae = random_sae(SaeVariant::ReLU, 2);
  Sae copy = sae.clone();
  const auto original = sae.w_enc().clone();
  {
    torch::NoGradGuard no_grad;
    at::Tensor w = copy.w_enc();
    w.add_(1.0);
  }
  EXPECT_TRUE(torch::equal(sae.w_enc(), original));
  EXPECT_FALSE(torch::equal(copy.w_enc(), original));
}

TEST(Sae, AsVariantKeepsWeightsAndChangesTheActivation) {
  const Sae jump = random_sae(SaeVariant::JumpReLU, 12);
  const Sae topk = jump.as_variant(SaeVariant::TopK, 7);
  EXPECT_EQ(topk.variant(), SaeVariant::TopK);
  EXPECT_EQ(topk.config().k, 7);
  EXPECT_TRUE(torch::equal(topk.w_enc(), jump.w_enc()));
  EXPECT_TRUE(torch::equal(topk.w_dec(), jump.w_dec()));
  torch::manual_seed(3);
  const auto h = topk.encode(torch::randn({6, kD}));
  EXPECT_EQ(((h > 0).sum(1) <= 7).all().item<bool>(), true);
  const Sae back = topk.as_variant(SaeVariant::JumpReLU, 7, 0.25);
  EXPECT_TRUE(torch::allclose(back.threshold(), torch::full({kF}, 0.25)));
  EXPECT_THROW(jump.as_variant(SaeVariant::TopK, kF + 1), Error);
}

TEST(Sae, ToChangesDtypeAndKeepsTheFunction) {
  Sae sae = random_sae(SaeVariant::TopK, 14);
  torch::manual_seed(15);
  const auto x = torch::randn({5, kD});
  const auto h32 = sae.encode(x);
  sae.to("cpu", "float64");
  EXPECT_EQ(sae.dtype(), "float64");
  EXPECT_EQ(sae.encode(x).scalar_type(), torch::kFloat64);
  EXPECT_TRUE(torch::allclose(sae.encode(x).to(torch::kFloat32), h32, 1e-5, 1e-5));
  EXPECT_THROW(sae.to("cpu", "int8"), Error);
}

TEST(Sae, ShapeErrorsNameTheShapes) {
  const Sae sae = random_sae(SaeVariant::ReLU, 1);
  EXPECT_THAT(error_of([&] { sae.encode(torch::zeros({3, 8})); }), HasSubstr("[3, 8], expected [N, 16]"));
  EXPECT_THAT(error_of([&] { sae.decode(torch::zeros({3, 8})); }), HasSubstr("[3, 8], expected [N, 64]"));
  SaeConfig c = small_config(SaeVariant::ReLU);
  c.source = "/x/sae";
  EXPECT_THAT(error_of([&] { Sae(c, torch::zeros({kF, 8}), torch::zeros({kF}), torch::zeros({kD, kF}), torch::zeros({kD})); }),
              HasSubstr("file '/x/sae': tensor 'W_enc' has shape [64, 8], expected [64, 16]"));
}

TEST(SaeConfig, JsonRoundTripAndErrors) {
  SaeConfig c = small_config(SaeVariant::JumpReLU);
  c.hook_point_out = "blocks.3.hook_mlp_out";
  const auto back = sae_config_from_json(to_json(c), "cfg.json");
  EXPECT_EQ(back.variant, c.variant);
  EXPECT_EQ(back.d_model, c.d_model);
  EXPECT_EQ(back.d_sae, c.d_sae);
  EXPECT_EQ(back.k, c.k);
  EXPECT_DOUBLE_EQ(back.l1_coefficient, c.l1_coefficient);
  EXPECT_DOUBLE_EQ(back.threshold, c.threshold);
  EXPECT_DOUBLE_EQ(back.jumprelu_bandwidth, c.jumprelu_bandwidth);
  EXPECT_EQ(back.hook_point, c.hook_point);
  EXPECT_EQ(back.hook_point_out, c.hook_point_out);

  auto j = to_json(c);
  j["variant"] = "gated";
  EXPECT_THAT(error_of([&] { sae_config_from_json(j, "cfg.json"); }),
              HasSubstr("file 'cfg.json': field 'variant' is 'gated'"));
  j = to_json(small_config(SaeVariant::TopK));
  j["k"] = 1000;
  EXPECT_THAT(error_of([&] { sae_config_from_json(j, "cfg.json"); }), HasSubstr("file 'cfg.json': field 'k'"));
  j.erase("d_sae");
  EXPECT_THAT(error_of([&] { sae_config_from_json(j, "cfg.json"); }),
              HasSubstr("file 'cfg.json': field 'd_sae' missing"));
}
