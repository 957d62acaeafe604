// SAE checkpoints: a synthetic LLaMA-Scope release (BF16, non-unit decoder columns, a
// dataset norm) must encode exactly as FORMATS.md's recipe computed here in float64 from
// the raw stored tensors; LLaMA-Scope and SAELens round trips; SAELens semantics on a
// hand-written file; .npy encode / decode; and every bad input names its file and field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/types.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "core/io/json_util.h"
#include "core/io/npy.h"
#include "core/io/safetensors.h"
#include "core/sae/sae.h"
#include "core/sae/sae_io.h"
#include "core/sae/sae_npy.h"
#include "tests/test_sae_util.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace sightline;
using namespace sightline::sae_test;
using ::testing::AllOf;
using ::testing::HasSubstr;

namespace {

constexpr int64_t kIoD = 16, kIoF = 64;

// The release's hyperparams.json keys (FORMATS.md), plus training keys a loader must ignore.
nlohmann::json release_hyperparams(const std::string& act_fn, double norm_in, double norm_out) {
  return {{"hook_point_in", "blocks.5.hook_resid_post"},
          {"hook_point_out", "blocks.5.hook_resid_post"},
          {"d_model", kIoD},
          {"d_sae", kIoF},
          {"expansion_factor", kIoF / kIoD},
          {"act_fn", act_fn},
          {"jump_relu_threshold", 0.35546875},
          {"norm_activation", "dataset-wise"},
          {"dataset_average_activation_norm", {{"in", norm_in}, {"out", norm_out}}},
          {"use_decoder_bias", true},
          {"apply_decoder_bias_to_pre_encoder", false},
          {"sparsity_include_decoder_norm", true},
          {"top_k", 6},
          {"lr", 8e-5},
          {"l1_coefficient", 2.0},
          {"total_training_tokens", 800000000}};
}

// Writes a LLaMA-Scope directory with BF16 tensors whose decoder columns have norms in
// [0.2, 3.2] (not unit) and returns the directory.
std::string write_release(const std::string& tag, const nlohmann::json& hyperparams, uint64_t seed = 1) {
  const std::string dir = test::scratch_dir(tag);
  fs::create_directories(fs::path(dir) / "checkpoints");
  torch::manual_seed(seed);
  const auto w_enc = (torch::randn({kIoF, kIoD}) * 0.3).to(torch::kBFloat16);
  const auto b_enc = (torch::randn({kIoF}) * 0.5).to(torch::kBFloat16);
  const auto w_dec = (torch::randn({kIoD, kIoF}) / 4 * (torch::rand({1, kIoF}) * 3 + 0.2)).to(torch::kBFloat16);
  const auto b_dec = (torch::randn({kIoD}) * 0.7).to(torch::kBFloat16);
  save_safetensors(dir + "/checkpoints/final.safetensors",
                   {{"encoder.weight", w_enc}, {"encoder.bias", b_enc}, {"decoder.weight", w_dec}, {"decoder.bias", b_dec}});
  write_json_file(dir + "/hyperparams.json", hyperparams);
  write_json_file(dir + "/lm_config.json", {{"model_name", "meta-llama/Llama-3.1-8B"}});
  return dir;
}

// FORMATS.md's inference recipe in float64 loops, from the raw stored tensors.
RefSae reference_recipe(const std::string& dir, double norm_in, double norm_out, double threshold) {
  const SafetensorsFile file(dir + "/checkpoints/final.safetensors");
  RefSae r = RefSae::from(file.load("encoder.weight"), file.load("encoder.bias"), file.load("decoder.weight"),
                          file.load("decoder.bias"), {});
  const double s_in = std::sqrt(double(kIoD)) / norm_in, s_out = std::sqrt(double(kIoD)) / norm_out;
  for (auto& v : r.be) v /= s_in;
  for (auto& v : r.bd) v /= s_out;
  for (auto& v : r.wd) v *= s_in / s_out;
  for (int64_t j = 0; j < kIoF; ++j) {
    double n = 0;
    for (int64_t i = 0; i < kIoD; ++i) n += r.wd[i * kIoF + j] * r.wd[i * kIoF + j];
    n = std::sqrt(n);
    for (int64_t i = 0; i < kIoD; ++i) r.wd[i * kIoF + j] /= n;
    for (int64_t i = 0; i < kIoD; ++i) r.we[j * kIoD + i] *= n;
    r.be[j] *= n;
  }
  r.th.assign(kIoF, threshold);
  return r;
}

// f_j = pre_j if pre_j > threshold else 0, skipping features within `margin` of the
// threshold (float32 vs float64 rounding may fall either side there).
void expect_matches_recipe(const Sae& sae, const RefSae& ref, const at::Tensor& x, bool topk, int64_t k) {
  const auto h = sae.encode(x);
  const auto x_hat = sae.decode(h);
  int64_t active = 0;
  for (int64_t n = 0; n < x.size(0); ++n) {
    const auto pre = ref.pre(row_of(x, n));
    const auto f = topk ? RefSae::topk(pre, k) : ref.jumprelu(pre);
    const auto got = row_of(h, n);
    for (int64_t j = 0; j < kIoF; ++j) {
      if (!topk && std::abs(pre[j] - ref.th[j]) < 1e-4) continue;
      EXPECT_NEAR(got[j], f[j], 2e-5 * std::max(1.0, std::abs(f[j]))) << "row " << n << " feature " << j;
      active += f[j] > 0;
    }
    const auto xh = ref.decode(f);
    const auto got_hat = row_of(x_hat, n);
    for (int64_t i = 0; i < kIoD; ++i) EXPECT_NEAR(got_hat[i], xh[i], 1e-4 * std::max(1.0, std::abs(xh[i])));
  }
  EXPECT_GT(active, x.size(0));  // some features fire...
  EXPECT_LT(active, x.size(0) * kIoF * 3 / 4);  // ...and many do not
}

}  // namespace

class LlamaScopeNorms : public ::testing::TestWithParam<std::pair<double, double>> {};

TEST_P(LlamaScopeNorms, JumpReluReleaseEncodesAsTheRecipe) {
  const auto [norm_in, norm_out] = GetParam();
  const auto dir = write_release("llamascope", release_hyperparams("jumprelu", norm_in, norm_out));
  const Sae sae = load_sae(dir);
  EXPECT_EQ(sae.variant(), SaeVariant::JumpReLU);
  EXPECT_EQ(sae.d_model(), kIoD);
  EXPECT_EQ(sae.d_sae(), kIoF);
  EXPECT_EQ(sae.config().k, 6);
  EXPECT_EQ(sae.config().hook_point, "blocks.5.hook_resid_post");
  EXPECT_EQ(sae.config().hook_point_out, "");
  EXPECT_EQ(sae.dtype(), "float32");
  EXPECT_TRUE(torch::allclose(sae.w_dec().norm(2, {0}), torch::ones({kIoF}), 1e-5, 1e-5));
  const RefSae ref = reference_recipe(dir, norm_in, norm_out, 0.35546875);
  torch::manual_seed(9);
  const auto x = torch::randn({24, kIoD}) * 2.5;
  expect_matches_recipe(sae, ref, x, false, 0);
}

INSTANTIATE_TEST_SUITE_P(Norms, LlamaScopeNorms,
                         ::testing::Values(std::make_pair(10.8125, 10.8125), std::make_pair(2.5, 7.0)));

TEST(LlamaScope, TopKAndReluActFns) {
  auto hp = release_hyperparams("topk", 9.0, 9.0);
  const auto dir = write_release("llamascope-topk", hp);
  const Sae topk = load_llama_scope_sae(dir);
  EXPECT_EQ(topk.variant(), SaeVariant::TopK);
  torch::manual_seed(4);
  const auto x = torch::randn({10, kIoD}) * 2.5;
  expect_matches_recipe(topk, reference_recipe(dir, 9.0, 9.0, 0.0), x, true, 6);

  hp["act_fn"] = "relu";
  write_json_file(dir + "/hyperparams.json", hp);
  const Sae relu = load_llama_scope_sae(dir);
  EXPECT_EQ(relu.variant(), SaeVariant::ReLU);
  // ReLU is the recipe with threshold 0.
  expect_matches_recipe(relu, reference_recipe(dir, 9.0, 9.0, 0.0), x, false, 0);
}

TEST(LlamaScope, DecoderBiasBeforeTheEncoderIsFolded) {
  auto hp = release_hyperparams("relu", 6.0, 6.0);
  hp["apply_decoder_bias_to_pre_encoder"] = true;
  const auto dir = write_release("llamascope-prebias", hp);
  const Sae sae = load_sae(dir);
  // Reference: pre = W_enc (s x - b_dec) + b_enc in stored units, then the recipe.
  const SafetensorsFile file(dir + "/checkpoints/final.safetensors");
  RefSae raw = RefSae::from(file.load("encoder.weight"), file.load("encoder.bias"), file.load("decoder.weight"),
                            file.load("decoder.bias"), {});
  const double s = std::sqrt(double(kIoD)) / 6.0;
  torch::manual_seed(8);
  const auto x = torch::randn({6, kIoD}) * 2;
  for (int64_t n = 0; n < 6; ++n) {
    auto xr = row_of(x, n);
    for (int64_t i = 0; i < kIoD; ++i) xr[i] = s * xr[i] - raw.bd[i];
    const auto f_stored = RefSae::relu(raw.pre(xr));  // normalised units, stored decoder
    // Decoded and mapped back to raw units: x_hat = (W_dec f + b_dec) / s.
    auto xh = raw.decode(f_stored);
    for (auto& v : xh) v /= s;
    const auto got = row_of(sae.reconstruct(x), n);
    for (int64_t i = 0; i < kIoD; ++i) EXPECT_NEAR(got[i], xh[i], 1e-4 * std::max(1.0, std::abs(xh[i])));
  }
}

class RoundTrip : public ::testing::TestWithParam<SaeVariant> {};

// A trained-looking SAE: random weights, non-unit decoders, per-feature thresholds.
Sae some_sae(SaeVariant v) {
  SaeConfig c;
  c.variant = v;
  c.d_model = kIoD;
  c.d_sae = kIoF;
  c.k = 4;
  c.l1_coefficient = 0.25;
  c.jumprelu_bandwidth = 0.05;
  c.hook_point = "blocks.2.hook_resid_post";
  torch::manual_seed(31);
  return Sae(c, torch::randn({kIoF, kIoD}) * 0.4, torch::randn({kIoF}) * 0.1,
             torch::randn({kIoD, kIoF}) * (torch::rand({1, kIoF}) + 0.5), torch::randn({kIoD}), torch::rand({kIoF}) * 0.5);
}

TEST_P(RoundTrip, LlamaScopeSaveLoadReproducesEncode) {
  const Sae sae = some_sae(GetParam());
  Sae unit = sae.clone();
  unit.normalize_decoder();
  torch::manual_seed(32);
  const auto x = torch::randn({16, kIoD}) * 2;
  const auto dir = test::scratch_dir("ls-roundtrip");
  save_llama_scope_sae(sae, dir);
  const Sae back = load_sae(dir);
  EXPECT_EQ(back.variant(), GetParam());
  EXPECT_EQ(back.config().k, 4);
  EXPECT_DOUBLE_EQ(back.config().l1_coefficient, 0.25);
  EXPECT_DOUBLE_EQ(back.config().jumprelu_bandwidth, 0.05);
  EXPECT_EQ(back.config().hook_point, "blocks.2.hook_resid_post");
  // The saver writes the unit-decoder form of the SAE (for ReLU and JumpReLU the same
  // function; TopK's selection sees the rescaled pre).
  EXPECT_TRUE(torch::allclose(back.encode(x), unit.encode(x), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(back.reconstruct(x), unit.reconstruct(x), 1e-4, 1e-4));
  if (GetParam() != SaeVariant::TopK) {
    EXPECT_TRUE(torch::allclose(back.reconstruct(x), sae.reconstruct(x), 1e-4, 1e-4));
  }
  if (GetParam() == SaeVariant::JumpReLU) {
    EXPECT_TRUE(torch::allclose(back.threshold(), unit.threshold(), 1e-6, 1e-6));
  }

  // BF16 storage: the same weights within bf16 rounding (2^-8 relative).
  const auto dir16 = test::scratch_dir("ls-roundtrip-bf16");
  save_llama_scope_sae(sae, dir16, "bfloat16");
  EXPECT_EQ(SafetensorsFile(dir16 + "/checkpoints/final.safetensors").entry("encoder.weight").dtype, "BF16");
  const Sae back16 = load_sae(dir16);
  EXPECT_TRUE(torch::allclose(back16.w_enc(), unit.w_enc(), 1e-2, 1e-2));
  EXPECT_TRUE(torch::allclose(back16.w_dec(), unit.w_dec(), 1e-2, 1e-2));
  EXPECT_TRUE(torch::allclose(back16.b_dec(), unit.b_dec(), 1e-2, 1e-2));
}

TEST_P(RoundTrip, SaeLensSaveLoadReproducesEncode) {
  const Sae sae = some_sae(GetParam());
  Sae unit = sae.clone();
  unit.normalize_decoder();
  torch::manual_seed(33);
  const auto x = torch::randn({16, kIoD}) * 2;
  const auto dir = test::scratch_dir("saelens-roundtrip");
  save_saelens_sae(sae, dir);
  EXPECT_EQ(detect_sae_format(dir), SaeFormat::SaeLens);
  const SafetensorsFile file(dir + "/sae_weights.safetensors");
  EXPECT_EQ(file.entry("W_enc").shape, (std::vector<int64_t>{kIoD, kIoF}));
  EXPECT_EQ(file.entry("W_dec").shape, (std::vector<int64_t>{kIoF, kIoD}));
  EXPECT_EQ(file.contains("threshold"), GetParam() == SaeVariant::JumpReLU);
  const Sae back = load_sae(dir);
  EXPECT_EQ(back.variant(), GetParam());
  EXPECT_EQ(back.config().hook_point, "blocks.2.hook_resid_post");
  EXPECT_TRUE(torch::allclose(back.w_enc(), unit.w_enc(), 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(back.w_dec(), unit.w_dec(), 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(back.encode(x), unit.encode(x), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(back.reconstruct(x), unit.reconstruct(x), 1e-4, 1e-4));
}

INSTANTIATE_TEST_SUITE_P(All, RoundTrip, ::testing::Values(SaeVariant::ReLU, SaeVariant::TopK, SaeVariant::JumpReLU),
                         [](const auto& info) { return to_string(info.param); });

TEST(SaeLens, HandWrittenJumpReluFileBehavesAsSaeLensDoes) {
  // SAELens: pre = (x - b_dec) W_enc + b_enc; f = relu(pre) * (pre > threshold);
  // x_hat = f W_dec + b_dec, with decoder rows of any norm.
  const auto dir = test::scratch_dir("saelens-hand");
  torch::manual_seed(41);
  const auto W_enc = torch::randn({kIoD, kIoF}) * 0.4, W_dec = torch::randn({kIoF, kIoD}) * (torch::rand({kIoF, 1}) * 2 + 0.3);
  const auto b_enc = torch::randn({kIoF}) * 0.2, b_dec = torch::randn({kIoD}) * 0.5, threshold = torch::rand({kIoF}) * 0.6;
  save_safetensors(dir + "/sae_weights.safetensors",
                   {{"W_enc", W_enc}, {"W_dec", W_dec}, {"b_enc", b_enc}, {"b_dec", b_dec}, {"threshold", threshold}});
  write_json_file(dir + "/cfg.json", {{"architecture", "jumprelu"},
                                      {"d_in", kIoD},
                                      {"d_sae", kIoF},
                                      {"apply_b_dec_to_input", true},
                                      {"normalize_activations", "none"},
                                      {"metadata", {{"hook_name", "blocks.7.hook_resid_post"}}},
                                      {"dtype", "float32"}});
  const Sae sae = load_sae(dir);
  EXPECT_EQ(sae.variant(), SaeVariant::JumpReLU);
  EXPECT_EQ(sae.config().hook_point, "blocks.7.hook_resid_post");
  const RefSae ref = RefSae::from(W_enc.t(), b_enc, W_dec.t(), b_dec, threshold);
  const auto norms = ref.decoder_norms();
  const auto x = torch::randn({12, kIoD}) * 2;
  const auto h = sae.encode(x), x_hat = sae.reconstruct(x);
  int64_t active = 0;
  for (int64_t n = 0; n < 12; ++n) {
    auto xr = row_of(x, n);
    for (int64_t i = 0; i < kIoD; ++i) xr[i] -= ref.bd[i];
    const auto f = ref.jumprelu(ref.pre(xr));
    const auto got = row_of(h, n);
    // Loaded activations are in residual units: SAELens's f times its decoder row norm.
    for (int64_t j = 0; j < kIoF; ++j) {
      EXPECT_NEAR(got[j], f[j] * norms[j], 1e-4 * std::max(1.0, f[j] * norms[j]));
      active += f[j] > 0;
    }
    const auto xh = ref.decode(f);
    const auto got_hat = row_of(x_hat, n);
    for (int64_t i = 0; i < kIoD; ++i) EXPECT_NEAR(got_hat[i], xh[i], 1e-4 * std::max(1.0, std::abs(xh[i])));
  }
  EXPECT_GT(active, 12);
}

TEST(SaeLens, TopKWithNonUnitDecoderRowsIsRefused) {
  const auto dir = test::scratch_dir("saelens-topk");
  save_safetensors(dir + "/sae_weights.safetensors", {{"W_enc", torch::randn({kIoD, kIoF})},
                                                      {"W_dec", torch::randn({kIoF, kIoD}) * 3},
                                                      {"b_enc", torch::zeros({kIoF})},
                                                      {"b_dec", torch::zeros({kIoD})}});
  write_json_file(dir + "/cfg.json", {{"architecture", "standard"},
                                      {"activation_fn_str", "topk"},
                                      {"activation_fn_kwargs", {{"k", 8}}},
                                      {"d_in", kIoD},
                                      {"d_sae", kIoF}});
  EXPECT_THAT(error_of([&] { load_sae(dir); }), AllOf(HasSubstr(dir + "/sae_weights.safetensors"), HasSubstr("W_dec")));
}

TEST(SaeLens, BadConfigsNameTheField) {
  const auto dir = test::scratch_dir("saelens-bad");
  save_saelens_sae(some_sae(SaeVariant::ReLU), dir);
  auto cfg = read_json_file(dir + "/cfg.json");
  auto bad = cfg;
  bad["normalize_activations"] = "expected_average_only_in";
  write_json_file(dir + "/cfg.json", bad);
  EXPECT_THAT(error_of([&] { load_sae(dir); }),
              AllOf(HasSubstr(dir + "/cfg.json"), HasSubstr("normalize_activations")));
  bad = cfg;
  bad["architecture"] = "gated";
  write_json_file(dir + "/cfg.json", bad);
  EXPECT_THAT(error_of([&] { load_sae(dir); }), AllOf(HasSubstr(dir + "/cfg.json"), HasSubstr("architecture")));
  bad = cfg;
  bad["d_in"] = 12;
  write_json_file(dir + "/cfg.json", bad);
  EXPECT_THAT(error_of([&] { load_sae(dir); }),
              AllOf(HasSubstr(dir + "/sae_weights.safetensors"), HasSubstr("W_enc"), HasSubstr("[16, 64]"),
                    HasSubstr("[12, 64]")));
}

// ---------------------------------------------------------------------------------------
// Bad LLaMA-Scope directories: each error names the file and the field or tensor.

TEST(LlamaScopeErrors, MissingHyperparams) {
  const auto dir = write_release("ls-nohp", release_hyperparams("jumprelu", 5, 5));
  fs::remove(dir + "/hyperparams.json");
  EXPECT_THAT(error_of([&] { load_sae(dir); }), HasSubstr("file '" + dir + "/hyperparams.json'"));
  EXPECT_THAT(error_of([&] { load_llama_scope_sae(dir); }), HasSubstr("file '" + dir + "/hyperparams.json'"));
  const auto empty = test::scratch_dir("ls-empty");
  EXPECT_THAT(error_of([&] { load_sae(empty); }), AllOf(HasSubstr(empty), HasSubstr("hyperparams.json"),
                                                        HasSubstr("cfg.json")));
}

TEST(LlamaScopeErrors, MissingWeightsFileOrTensor) {
  const auto dir = write_release("ls-notensor", release_hyperparams("jumprelu", 5, 5));
  const std::string weights = dir + "/checkpoints/final.safetensors";
  {
    const SafetensorsFile file(weights);
    std::vector<std::pair<std::string, at::Tensor>> kept;
    for (const auto& name : file.names())
      if (name != "decoder.bias") kept.emplace_back(name, file.load(name));
    save_safetensors(weights + ".new", kept);
  }
  fs::rename(weights + ".new", weights);
  EXPECT_THAT(error_of([&] { load_sae(dir); }), AllOf(HasSubstr(weights), HasSubstr("decoder.bias")));
  fs::remove(weights);
  EXPECT_THAT(error_of([&] { load_sae(dir); }), HasSubstr("file '" + weights + "'"));
}

TEST(LlamaScopeErrors, ShapeDisagreesWithHyperparams) {
  auto hp = release_hyperparams("jumprelu", 5, 5);
  const auto dir = write_release("ls-shape", hp);
  hp["d_model"] = 12;
  write_json_file(dir + "/hyperparams.json", hp);
  EXPECT_THAT(error_of([&] { load_sae(dir); }),
              AllOf(HasSubstr(dir + "/checkpoints/final.safetensors"), HasSubstr("encoder.weight"),
                    HasSubstr("[64, 16]"), HasSubstr("[64, 12]")));
  hp["d_model"] = kIoD;
  hp["d_sae"] = 32;
  write_json_file(dir + "/hyperparams.json", hp);
  EXPECT_THAT(error_of([&] { load_sae(dir); }), AllOf(HasSubstr("encoder.weight"), HasSubstr("[32, 16]")));
}

TEST(LlamaScopeErrors, CorruptJson) {
  const auto dir = write_release("ls-corrupt", release_hyperparams("jumprelu", 5, 5));
  {
    std::ofstream out(dir + "/hyperparams.json", std::ios::trunc);
    out << "{\n  \"d_model\": 16,\n  \"d_sae\": 64,\n  \"act_fn\": \"jumprelu\"\n  \"top_k\": 50\n}\n";
  }
  EXPECT_THAT(error_of([&] { load_sae(dir); }), AllOf(HasSubstr(dir + "/hyperparams.json"), HasSubstr("line 5")));
}

TEST(LlamaScopeErrors, BadFields) {
  const auto base = release_hyperparams("jumprelu", 5, 5);
  const auto dir = write_release("ls-fields", base);
  const std::string hp_path = dir + "/hyperparams.json";
  auto expect_field = [&](nlohmann::json hp, const std::string& field) {
    write_json_file(hp_path, hp);
    EXPECT_THAT(error_of([&] { load_sae(dir); }), AllOf(HasSubstr("file '" + hp_path + "'"), HasSubstr(field)))
        << hp.dump();
  };
  auto hp = base;
  hp["d_model"] = "4096";
  expect_field(hp, "field 'd_model' must be an integer");
  hp = base;
  hp.erase("d_model");
  expect_field(hp, "field 'd_model' missing");
  hp = base;
  hp["act_fn"] = "gelu";
  expect_field(hp, "field 'act_fn'");
  hp = base;
  hp.erase("jump_relu_threshold");
  expect_field(hp, "field 'jump_relu_threshold' missing");
  hp = base;
  hp["norm_activation"] = "token-wise";
  expect_field(hp, "field 'norm_activation'");
  hp = base;
  hp["dataset_average_activation_norm"] = {{"in", 5.0}};
  expect_field(hp, "dataset_average_activation_norm.out");
  hp = base;
  hp["dataset_average_activation_norm"] = {{"in", 5.0}, {"out", -1.0}};
  expect_field(hp, "dataset_average_activation_norm.out");
  hp = base;
  hp["act_fn"] = "topk";
  hp["top_k"] = 1000;
  expect_field(hp, "field 'k'");
}

// ---------------------------------------------------------------------------------------
// .npy encode / decode (what `sightline inspect sae-encode / sae-decode` runs).

TEST(SaeNpy, EncodeAndDecodeFiles) {
  const auto dir = write_release("npy-sae", release_hyperparams("jumprelu", 7.0, 7.0));
  const Sae sae = load_sae(dir);
  const auto work = test::scratch_dir("npy-io");
  torch::manual_seed(12);
  const auto x = torch::randn({37, kIoD}).to(torch::kFloat64) * 2;  // float64 input is accepted
  write_npy(work + "/x.npy", x);
  const auto shape = encode_npy_file(sae, dir, work + "/x.npy", work + "/f.npy", 8);
  EXPECT_EQ(shape, (std::vector<int64_t>{37, kIoF}));
  const auto f = read_npy(work + "/f.npy");
  EXPECT_EQ(f.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(f, sae.encode(x.to(torch::kFloat32)), 1e-6, 1e-6));
  decode_npy_file(sae, dir, work + "/f.npy", work + "/x_hat.npy", 5);
  const auto x_hat = read_npy(work + "/x_hat.npy");
  EXPECT_EQ(x_hat.sizes(), (std::vector<int64_t>{37, kIoD}));
  EXPECT_TRUE(torch::allclose(x_hat, sae.decode(f), 1e-6, 1e-6));

  write_npy(work + "/bad.npy", torch::zeros({5, 12}));
  EXPECT_THAT(error_of([&] { encode_npy_file(sae, dir, work + "/bad.npy", work + "/o.npy"); }),
              AllOf(HasSubstr("file '" + work + "/bad.npy'"), HasSubstr("[5, 12]"), HasSubstr("[N, 16]"),
                    HasSubstr(dir)));
  EXPECT_THAT(error_of([&] { decode_npy_file(sae, dir, work + "/bad.npy", work + "/o.npy"); }),
              AllOf(HasSubstr("file '" + work + "/bad.npy'"), HasSubstr("[5, 12]"), HasSubstr("[N, 64]")));
  EXPECT_FALSE(fs::exists(work + "/o.npy"));
}
