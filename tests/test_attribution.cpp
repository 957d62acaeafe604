// Stage 4 on a HAND-BUILT two-layer model whose head effects are known by construction
// (float64, GQA: 4 query heads, 2 KV heads, MLPs zero):
//
//   residual dims: 0 anchor (100 everywhere, so RMSNorm is a near-constant scale R),
//   1 image salience (3 at the sample's "object" patch, else 0), 2 image flag, 3 text flag,
//   4 the feature direction, 5 "moved salience", 6 image position code (-1..1, the same
//   in every sample).
//   q / k live in head dim 1, whose RoPE frequency is theta^-1/2 = 1e-6 (no rotation).
//
//   L0 KV group 0: key = salience, values = (flag, salience).
//      L0H0: text queries; writes its image mass to dim 4 (x1)          -> drives f
//      L0H1: text queries; writes attended salience to dim 5 ("mover")  -> drives L1 queries
//   L0 KV group 1: key = position code. L0H2: text queries, image mass -> dim 4 (x1.5);
//      L0H3: nothing. Per-position mean corruption keeps the code: group 1 is ~0 there.
//   L1 KV group 0: key = image flag, value = flag. L1H0 / L1H1: queries = moved salience,
//      image mass -> dim 4 with weights +2 / -1 (so their scores are exactly -2 : 1).
//   L1 KV group 1: key 0. L1H2: nothing; L1H3: query 0 (uniform), writes (+1): both 0.
//
// Corrupting the image (per-position mean over samples with and without objects) flattens
// salience, so the text loses image attention: corrupting a driver lowers the objective
// (Method A < 0) and restoring it raises it (Method B > 0), signs flipped for L1H1.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/types.h>

#include <cmath>
#include <map>
#include <set>

#include "core/attribution/attention_maps.h"
#include "core/attribution/attribution.h"
#include "core/attribution/corruption.h"
#include "core/attribution/head_ranking.h"
#include "core/common/error.h"

using namespace sightline;
using testing::HasSubstr;

namespace {

constexpr int64_t kD = 16, kH = 4, kKv = 2, kDh = 4, kP = 16, kGrid = 4;
constexpr double kAnchor = 100.0, kSalience = 3.0;
const double kR = std::sqrt((kAnchor * kAnchor + 1.0) / kD);  // RMS of a text token

ModelConfig hand_config() {
  ModelConfig c;
  c.source = "hand-built";
  c.model_type = "llama";
  auto& t = c.text;
  t.vocab_size = 8;
  t.hidden_size = kD;
  t.intermediate_size = 4;
  t.num_hidden_layers = 2;
  t.num_attention_heads = kH;
  t.num_key_value_heads = kKv;
  t.head_dim = kDh;
  t.rms_norm_eps = 1e-6;
  t.rope_theta = 1e12;
  t.bos_token_id = 1;
  return c;
}

std::unique_ptr<VisionLanguageModel> hand_model() {
  auto m = std::make_unique<VisionLanguageModel>(hand_config());
  m->to("cpu", "float64");
  torch::NoGradGuard no_grad;
  std::map<std::string, at::Tensor> p;
  for (auto& [name, value] : m->named_parameters()) {
    if (name.find("norm") != std::string::npos) value.fill_(1.0);
    else value.zero_();
    p[name] = value;
  }
  const double alpha = 2.0, kappa = 1.0, kappa_pos = 2.0, gamma = 2.0, kappa1 = 1.0;
  auto w = [&](int layer, const char* proj) -> at::Tensor& {
    return p.at("model.layers." + std::to_string(layer) + ".self_attn." + proj + ".weight");
  };
  // Layer 0. Rows of q/k/v are head * dh + i, columns residual dims.
  for (int h : {0, 1, 2}) w(0, "q_proj")[h * kDh + 1][3] = kR * alpha;
  w(0, "k_proj")[0 * kDh + 1][1] = kR * kappa;
  w(0, "k_proj")[1 * kDh + 1][6] = kR * kappa_pos;
  w(0, "v_proj")[0 * kDh + 0][2] = kR;
  w(0, "v_proj")[0 * kDh + 2][1] = kR;
  w(0, "v_proj")[1 * kDh + 0][2] = kR;
  w(0, "o_proj")[4][0 * kDh + 0] = 1.0;
  w(0, "o_proj")[5][1 * kDh + 2] = 1.0;
  w(0, "o_proj")[4][2 * kDh + 0] = 1.5;
  // Layer 1.
  for (int h : {0, 1}) w(1, "q_proj")[h * kDh + 1][5] = kR * gamma;
  w(1, "k_proj")[0 * kDh + 1][2] = kR * kappa1;
  w(1, "v_proj")[0 * kDh + 0][2] = kR;
  w(1, "v_proj")[1 * kDh + 0][2] = kR;
  w(1, "o_proj")[4][0 * kDh + 0] = 2.0;
  w(1, "o_proj")[4][1 * kDh + 0] = -1.0;
  w(1, "o_proj")[4][3 * kDh + 0] = 1.0;
  return m;
}

struct HandSample {
  int object = -1;  // image patch holding the salient object, -1 = none
  int text = 3;     // text tokens after the image
};

double position_code(int64_t p) { return -1.0 + 2.0 * static_cast<double>(p) / static_cast<double>(kP - 1); }

// [BOS, 16 image tokens, text...], right-padded, built directly as a PreparedBatch.
PreparedBatch hand_batch(const std::vector<HandSample>& samples) {
  const int64_t B = static_cast<int64_t>(samples.size());
  int64_t T = 0;
  for (const auto& s : samples) T = std::max<int64_t>(T, 1 + kP + s.text);
  PreparedBatch batch;
  auto x = torch::zeros({B, T, kD}, torch::kFloat64);
  auto types = torch::full({B, T}, static_cast<int8_t>(kTokenPad), torch::kInt8);
  auto ids = torch::zeros({B, T}, torch::kInt64);
  for (int64_t b = 0; b < B; ++b) {
    const auto& s = samples[static_cast<size_t>(b)];
    x[b].select(1, 0).fill_(kAnchor);
    x[b][0][3] = 1.0;
    types[b][0] = kTokenBos;
    ids[b][0] = 1;
    for (int64_t p = 0; p < kP; ++p) {
      x[b][1 + p][2] = 1.0;
      x[b][1 + p][6] = position_code(p);
      if (p == s.object) x[b][1 + p][1] = kSalience;
      types[b][1 + p] = kTokenImage;
      ids[b][1 + p] = kImageTokenIndex;
    }
    for (int64_t j = 0; j < s.text; ++j) {
      x[b][1 + kP + j][3] = 1.0;
      types[b][1 + kP + j] = kTokenText;
      ids[b][1 + kP + j] = 2 + j;
    }
    batch.lengths.push_back(1 + kP + s.text);
    batch.image_offsets.push_back(1);
  }
  batch.embeds = x;
  batch.token_types = types;
  batch.input_ids = ids;
  return batch;
}

std::vector<HandSample> feature_samples() {
  return {{0, 3}, {3, 4}, {5, 2}, {6, 3}, {9, 3}, {10, 5}, {12, 2}, {15, 3}};
}

// The mean over the feature's samples and as many object-free images (a broader pool,
// as the mean over "many VQA samples" is).
MeanImageEmbedding hand_mean(CorruptionMean mode) {
  MeanImageEmbeddingAccumulator acc;
  acc.add(hand_batch(feature_samples()));
  acc.add(hand_batch(std::vector<HandSample>(8, HandSample{-1, 2})));
  return acc.result(mode);
}

// An SAE on layer `layer` whose feature 1 has decoder column 2 e4 (unit direction e4) and
// encoder row e4 with bias 50 (ReLU always active at text positions: h_1 = x4 + 50).
Sae hand_sae(int layer) {
  SaeConfig c;
  c.variant = SaeVariant::ReLU;
  c.d_model = kD;
  c.d_sae = 3;
  c.hook_point = "blocks." + std::to_string(layer) + ".hook_resid_post";
  c.source = "hand-sae";
  torch::manual_seed(3);
  auto w_dec = torch::randn({kD, 3}, torch::kFloat64);
  w_dec.select(1, 1).zero_();
  w_dec[4][1] = 2.0;
  auto w_enc = torch::randn({3, kD}, torch::kFloat64);
  w_enc[1].zero_();
  w_enc[1][4] = 1.0;
  auto b_enc = torch::tensor({0.0, 50.0, 0.0}, torch::kFloat64);
  return Sae(c, w_enc, b_enc, w_dec, torch::zeros({kD}, torch::kFloat64));
}

double at2(const at::Tensor& m, int64_t l, int64_t h) { return m[l][h].item<double>(); }

// ----------------------------------------------------------- float64 layer-0 reference

// Layer 0 of the hand model for one unpadded sequence x [T, D], written from the weights
// with plain ATen ops (no engine code), with optional overrides of one KV head's keys or
// one head's output. Returns the objective: sum over text positions of
// (x + attn_out) . e4 (the MLP is zero, so this is resid_post_0 . v).
struct Overrides {
  int k_group = -1;
  at::Tensor k_source;  // [T, Hkv, dh]
  int z_head = -1;
  at::Tensor z_source;  // [T, H, dh]
};

struct Layer0 {
  at::Tensor k, z;  // [T, Hkv, dh], [T, H, dh]
  double objective = 0;
};

Layer0 reference_layer0(const VisionLanguageModel& m, const at::Tensor& x, const at::Tensor& types,
                        const Overrides& o = {}) {
  std::map<std::string, at::Tensor> p;
  for (const auto& [name, value] : m.named_parameters()) p[name] = value.detach();
  const std::string pre = "model.layers.0.";
  const int64_t T = x.size(0);
  const auto n = x / torch::sqrt(x.pow(2).mean(-1, true) + 1e-6) * p.at(pre + "input_layernorm.weight");
  auto q = torch::matmul(n, p.at(pre + "self_attn.q_proj.weight").t()).view({T, kH, kDh});
  auto k = torch::matmul(n, p.at(pre + "self_attn.k_proj.weight").t()).view({T, kKv, kDh});
  const auto v = torch::matmul(n, p.at(pre + "self_attn.v_proj.weight").t()).view({T, kKv, kDh});
  if (o.k_group >= 0) {
    k = k.clone();
    k.select(1, o.k_group).copy_(o.k_source.select(1, o.k_group));
  }
  const auto inv = hand_config().text.rope_inv_freq();
  auto rope = [&](const at::Tensor& a) {  // rotate-half RoPE, explicit per pair
    auto out = a.clone();
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t j = 0; j < kDh / 2; ++j) {
        const double c = std::cos(static_cast<double>(t) * inv[j]), s = std::sin(static_cast<double>(t) * inv[j]);
        const auto a0 = a[t].select(-1, j), a1 = a[t].select(-1, j + kDh / 2);
        out[t].select(-1, j).copy_(a0 * c - a1 * s);
        out[t].select(-1, j + kDh / 2).copy_(a1 * c + a0 * s);
      }
    }
    return out;
  };
  const auto qr = rope(q), kr = rope(k);
  auto z = torch::zeros({T, kH, kDh}, torch::kFloat64);
  for (int64_t h = 0; h < kH; ++h) {
    const int64_t g = h / (kH / kKv);
    for (int64_t t = 0; t < T; ++t) {
      const auto scores = torch::matmul(kr.narrow(0, 0, t + 1).select(1, g), qr[t][h]) / std::sqrt(double(kDh));
      z[t][h] = torch::matmul(torch::softmax(scores, 0), v.narrow(0, 0, t + 1).select(1, g));
    }
  }
  if (o.z_head >= 0) z.select(1, o.z_head).copy_(o.z_source.select(1, o.z_head));
  const auto attn = torch::matmul(z.reshape({T, kH * kDh}), p.at(pre + "self_attn.o_proj.weight").t());
  const auto resid = x + attn;
  Layer0 out;
  out.k = k;
  out.z = z;
  out.objective = (resid.select(1, 4) * types.eq(static_cast<int8_t>(kTokenText)).to(torch::kFloat64))
                      .sum()
                      .item<double>();
  return out;
}

// The corrupt embeddings of one sequence, written directly: image row p <- mean[p].
at::Tensor corrupt_rows(const at::Tensor& x, const at::Tensor& types, const at::Tensor& mean_pd) {
  auto y = x.clone();
  int64_t p = 0;
  for (int64_t t = 0; t < x.size(0); ++t) {
    if (types[t].item<int8_t>() == kTokenImage) y[t].copy_(mean_pd[p++]);
  }
  return y;
}

}  // namespace

// ------------------------------------------------------------------ corruption

TEST(AttributionCorruption, MeanIsPerPositionOrGlobalInFloat64) {
  const auto a = hand_batch({{2, 3}, {-1, 2}});
  auto b = hand_batch({{7, 1}});
  MeanImageEmbeddingAccumulator acc;
  acc.add(a);
  acc.add(b);
  // A text-only sequence is skipped.
  auto text_only = hand_batch({{-1, 2}});
  text_only.token_types.narrow(1, 1, kP).fill_(static_cast<int8_t>(kTokenText));
  acc.add(text_only);
  EXPECT_EQ(acc.images(), 3);
  const auto per_pos = acc.result(CorruptionMean::kPerPosition);
  ASSERT_EQ(per_pos.mean.sizes(), (std::vector<int64_t>{kP, kD}));
  EXPECT_EQ(per_pos.mean.scalar_type(), torch::kFloat64);
  EXPECT_EQ(per_pos.image_tokens(), kP);
  const auto manual = (a.embeds[0].narrow(0, 1, kP) + a.embeds[1].narrow(0, 1, kP) + b.embeds[0].narrow(0, 1, kP)) / 3;
  EXPECT_TRUE(torch::allclose(per_pos.mean, manual, 0, 1e-12));
  // Salience: 3 at patches 2 and 7 in one image of three.
  EXPECT_NEAR(per_pos.mean[2][1].item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(per_pos.mean[7][1].item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(per_pos.mean[4][1].item<double>(), 0.0, 1e-12);
  const auto global = acc.result(CorruptionMean::kGlobal);
  ASSERT_EQ(global.mean.sizes(), (std::vector<int64_t>{kD}));
  EXPECT_EQ(global.image_tokens(), 0);
  EXPECT_TRUE(torch::allclose(global.mean, manual.mean(0), 0, 1e-12));
  // The position code survives per position and averages out globally.
  EXPECT_NEAR(per_pos.mean[kP - 1][6].item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(global.mean[6].item<double>(), 0.0, 1e-12);

  // The streaming form gives the same mean.
  std::vector<PreparedBatch> stream{a, b};
  size_t next = 0;
  Progress progress;
  const auto streamed = compute_mean_image_embedding(
      [&](PreparedBatch& out) {
        if (next >= stream.size()) return false;
        out = stream[next++];
        return true;
      },
      CorruptionMean::kPerPosition, progress);
  EXPECT_TRUE(torch::allclose(streamed.mean, manual, 0, 1e-12));
  EXPECT_EQ(progress.done(), 2);
}

TEST(AttributionCorruption, AccumulatorRejectsOtherBlockLengthsAndEmptyStreams) {
  MeanImageEmbeddingAccumulator acc;
  EXPECT_THAT([&] { acc.result(CorruptionMean::kGlobal); },
              testing::ThrowsMessage<Error>(HasSubstr("no image was added")));
  acc.add(hand_batch({{1, 2}}));
  auto shorter = hand_batch({{1, 2}});
  shorter.token_types[0][kP] = kTokenText;  // a 15-token block
  EXPECT_THAT([&] { acc.add(shorter); }, testing::ThrowsMessage<Error>(HasSubstr("has 15 image tokens")));
}

TEST(AttributionCorruption, EditReplacesOnlyImagePositions) {
  auto model = hand_model();
  const auto batch = hand_batch({{4, 3}, {-1, 1}});
  auto embed_after = [&](const HookFn& edit) {
    ForwardRequest r;
    r.capture.insert("hook_embed");
    r.edits["hook_embed"] = {edit};
    r.stop_after_layer = 0;
    r.logits = LogitsMode::kNone;
    return model->forward(batch, r).at("hook_embed");
  };
  const auto per_pos = hand_mean(CorruptionMean::kPerPosition);
  const auto global = hand_mean(CorruptionMean::kGlobal);
  const auto x = batch.embeds;
  const auto e1 = embed_after(mean_embedding_edit(per_pos));
  const auto e2 = embed_after(mean_embedding_edit(global));
  const auto e3 = embed_after(mean_embedding_edit(per_pos, 0.25));
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t t = 0; t < x.size(1); ++t) {
      const bool image = t >= 1 && t <= kP;
      const auto want1 = image ? per_pos.mean[t - 1] : x[b][t];
      const auto want2 = image ? global.mean : x[b][t];
      const auto want3 = image ? x[b][t] + 0.25 * (per_pos.mean[t - 1] - x[b][t]) : x[b][t];
      EXPECT_TRUE(torch::allclose(e1[b][t], want1, 0, 1e-12)) << b << " " << t;
      EXPECT_TRUE(torch::allclose(e2[b][t], want2, 0, 1e-12)) << b << " " << t;
      EXPECT_TRUE(torch::allclose(e3[b][t], want3, 0, 1e-12)) << b << " " << t;
    }
  }
  // Per position the image rows differ from each other (the position code); globally not.
  EXPECT_GT((e1[0][1] - e1[0][kP]).abs().max().item<double>(), 1.0);
  EXPECT_LT((e2[0][1] - e2[0][kP]).abs().max().item<double>(), 1e-12);

  // A block of another length cannot take a per-position mean, and bad arguments throw.
  MeanImageEmbeddingAccumulator acc;
  auto shorter = hand_batch({{1, 2}});
  shorter.token_types[0][kP] = kTokenText;
  acc.add(shorter);
  const auto short_mean = acc.result(CorruptionMean::kPerPosition);
  EXPECT_THAT([&] { embed_after(mean_embedding_edit(short_mean)); },
              testing::ThrowsMessage<Error>(HasSubstr("hook 'hook_embed': sequence 0 has 16 image tokens")));
  EXPECT_THAT([&] { mean_embedding_edit(per_pos, 1.5); },
              testing::ThrowsMessage<Error>(HasSubstr("strength 1.5")));
  EXPECT_EQ(parse_corruption_mean("global", "s.json", "mean"), CorruptionMean::kGlobal);
  EXPECT_THAT([] { parse_corruption_mean("median", "s.json", "corruption"); },
              testing::ThrowsMessage<Error>(HasSubstr("file 's.json': field 'corruption' is 'median'")));
}

// ------------------------------------------------------------------ attribution

TEST(AttributionHandBuilt, BothMethodsGiveTheKnownSignsAndRanking) {
  auto model = hand_model();
  const auto sae = hand_sae(1);
  const FeatureTarget target{&sae, 1, 1};
  const std::vector<PreparedBatch> batches{hand_batch(feature_samples())};
  Progress progress;
  const auto res = attribute_heads(*model, target, batches, hand_mean(CorruptionMean::kPerPosition), {}, progress);
  EXPECT_EQ(res.samples, 8);
  EXPECT_EQ(res.forward_passes, 2);
  EXPECT_EQ(res.backward_passes, 2);
  EXPECT_EQ(progress.done(), 1);
  EXPECT_EQ(progress.total(), 1);
  // Corruption removes the salient object: the feature drops.
  EXPECT_LT((res.objective_corrupt - res.objective_clean).max().item<double>(), -0.1);
  const auto& A = res.method_a.score;
  const auto& B = res.method_b.score;
  ASSERT_EQ(A.sizes(), (std::vector<int64_t>{2, kH}));
  ASSERT_EQ(res.method_a.per_sample.sizes(), (std::vector<int64_t>{8, 2, kH}));
  const double scale = A.abs().max().item<double>();
  ASSERT_GT(scale, 0.05);

  // L0 group 0 (salience key): text queries never change at layer 0, so the q terms are 0
  // and both heads get half of the key's term; it drives f.
  EXPECT_EQ(res.method_a.q_term[0].abs().max().item<double>(), 0.0);
  EXPECT_DOUBLE_EQ(at2(A, 0, 0), at2(A, 0, 1));
  EXPECT_LT(at2(A, 0, 0), -1e-3 * scale);
  EXPECT_GT(at2(B, 0, 0), 1e-3 * scale);
  // L0 group 1 (position-code key) is nearly untouched by a per-position mean.
  EXPECT_LT(std::abs(at2(A, 0, 2)), 1e-2 * scale);
  EXPECT_LT(std::abs(at2(B, 0, 2)), 1e-2 * scale);
  // L1H0 (+2) and L1H1 (-1) read the same attention, so their scores are exactly -2 : 1.
  EXPECT_LT(at2(A, 1, 0), -1e-3 * scale);
  EXPECT_GT(at2(B, 1, 0), 1e-3 * scale);
  EXPECT_GT(at2(A, 1, 1), 0.0);
  EXPECT_LT(at2(B, 1, 1), 0.0);
  // Their q terms are exactly -2 : 1; the scores add the (tiny, RMS-driven) key term that
  // the two heads share evenly.
  EXPECT_NEAR(at2(res.method_a.q_term, 1, 0) / at2(res.method_a.q_term, 1, 1), -2.0, 1e-9);
  EXPECT_NEAR(at2(res.method_b.q_term, 1, 0) / at2(res.method_b.q_term, 1, 1), -2.0, 1e-9);
  EXPECT_NEAR(at2(A, 1, 0) / at2(A, 1, 1), -2.0, 1e-3);
  EXPECT_NEAR(at2(B, 1, 0) / at2(B, 1, 1), -2.0, 1e-3);
  // L1H2 (no output) and L1H3 (no query, no key) are exactly zero.
  for (int h : {2, 3}) {
    EXPECT_EQ(at2(A, 1, h), 0.0);
    EXPECT_EQ(at2(B, 1, h), 0.0);
  }
  // Ranking: the top four heads are the drivers, in both methods, in the same order.
  const std::set<HeadId> drivers{{0, 0}, {0, 1}, {1, 0}, {1, 1}};
  for (const auto* map : {&A, &B}) {
    std::set<HeadId> top;
    for (const auto& s : top_heads(*map, 4)) top.insert(s.head);
    EXPECT_EQ(top, drivers);
    const auto bottom = bottom_heads(*map, 2);
    for (const auto& s : bottom) EXPECT_EQ(s.head.layer, 1) << to_string(s.head);
  }
  EXPECT_EQ(top_k_overlap(A, B, 4).shared, 4);
  EXPECT_GT(spearman(A, -B), 0.8);

  // Exact patching agrees in sign on every driver, with the same -2 : 1 ratio.
  ExactPatchingOptions eo;
  eo.denoising = true;
  const auto exact = exact_patch_heads(*model, target, batches, hand_mean(CorruptionMean::kPerPosition), eo);
  const auto& N = exact.noising.effect;
  const auto& Dn = exact.denoising.effect;
  EXPECT_LT(at2(N, 0, 0), 0.0);
  EXPECT_GT(at2(Dn, 0, 0), 0.0);
  EXPECT_LT(at2(N, 1, 0), 0.0);
  EXPECT_GT(at2(N, 1, 1), 0.0);
  EXPECT_NEAR(at2(exact.noising.q, 1, 0) / at2(exact.noising.q, 1, 1), -2.0, 1e-9);
  EXPECT_NEAR(at2(N, 1, 0) / at2(N, 1, 1), -2.0, 1e-3);
  EXPECT_EQ(at2(N, 1, 2), 0.0);
  EXPECT_EQ(at2(N, 1, 3), 0.0);
  EXPECT_EQ(exact.forward_passes, 2 + 2 * 2 * (kH + kKv));
  const auto agree = compare_with_exact(res, exact);
  EXPECT_GT(agree.spearman_a, 0.8);
  EXPECT_GT(agree.spearman_b, 0.8);
}

TEST(AttributionHandBuilt, HeadOutputOptionScalesWithTheWriteWeight) {
  auto model = hand_model();
  const auto sae = hand_sae(1);
  AttributionOptions o;
  o.activation = HeadActivation::kOutput;
  const auto res = attribute_heads(*model, {&sae, 1, 1}, {hand_batch(feature_samples())},
                                   hand_mean(CorruptionMean::kPerPosition), o);
  EXPECT_FALSE(res.method_a.q_term.defined());
  const auto& A = res.method_a.score;
  const auto& B = res.method_b.score;
  // z: L1H0 and L1H1 have identical z, written with +2 and -1.
  EXPECT_NEAR(at2(A, 1, 0) / at2(A, 1, 1), -2.0, 1e-9);
  EXPECT_LT(at2(A, 1, 0), 0.0);
  EXPECT_GT(at2(B, 1, 0), 0.0);
  // L0H0's output drives f directly; L0H3 and L1H2 write nothing.
  EXPECT_LT(at2(A, 0, 0), 0.0);
  EXPECT_GT(at2(B, 0, 0), 0.0);
  EXPECT_EQ(at2(A, 0, 3), 0.0);
  EXPECT_EQ(at2(A, 1, 2), 0.0);
}

TEST(AttributionHandBuilt, LayerZeroExactPatchingMatchesADirectComputation) {
  // With the feature at layer 0 every effect is one attention layer, computed here from
  // the weights by reference_layer0.
  auto model = hand_model();
  const auto sae = hand_sae(0);
  const FeatureTarget target{&sae, 0, 1};
  const auto samples = feature_samples();
  const auto batch = hand_batch(samples);
  const auto mean = hand_mean(CorruptionMean::kPerPosition);
  const int64_t N = static_cast<int64_t>(samples.size());
  auto want_k = torch::zeros({kKv}, torch::kFloat64);
  auto want_z = torch::zeros({kH}, torch::kFloat64);
  for (int64_t b = 0; b < N; ++b) {
    const int64_t len = batch.lengths[static_cast<size_t>(b)];
    const auto x = batch.embeds[b].narrow(0, 0, len);
    const auto types = batch.token_types[b].narrow(0, 0, len);
    const auto clean = reference_layer0(*model, x, types);
    const auto corrupt = reference_layer0(*model, corrupt_rows(x, types, mean.mean), types);
    for (int g = 0; g < kKv; ++g) {
      want_k[g] += reference_layer0(*model, x, types, {g, corrupt.k, -1, {}}).objective - clean.objective;
    }
    for (int h = 0; h < kH; ++h) {
      want_z[h] += reference_layer0(*model, x, types, {-1, {}, h, corrupt.z}).objective - clean.objective;
    }
  }
  want_k /= static_cast<double>(N);
  want_z /= static_cast<double>(N);
  ASSERT_GT(want_k.abs().max().item<double>(), 0.05);

  const auto qk = exact_patch_heads(*model, target, {batch}, mean, {});
  ASSERT_EQ(qk.noising.effect.sizes(), (std::vector<int64_t>{1, kH}));
  EXPECT_EQ(qk.noising.q.abs().max().item<double>(), 0.0);  // text queries do not change at layer 0
  // The engine normalises (RMSNorm) in float32 even for a float64 model: ~1e-7 relative.
  EXPECT_TRUE(torch::allclose(qk.noising.k[0], want_k, 1e-5, 1e-6)) << qk.noising.k << want_k;
  for (int h = 0; h < kH; ++h) EXPECT_NEAR(at2(qk.noising.effect, 0, h), want_k[h / 2].item<double>() / 2, 1e-6);

  ExactPatchingOptions zo;
  zo.activation = HeadActivation::kOutput;
  const auto z = exact_patch_heads(*model, target, {batch}, mean, zo);
  EXPECT_TRUE(torch::allclose(z.noising.effect[0], want_z, 1e-5, 1e-6)) << z.noising.effect << want_z;
  // Closed form: L0H0 writes its image mass with weight 1, L0H2 with 1.5, the others not at all.
  EXPECT_LT(want_z[0].item<double>(), 0.0);
  EXPECT_EQ(want_z[1].item<double>(), 0.0);
  EXPECT_EQ(want_z[3].item<double>(), 0.0);

  // The objective is linear in z at layer 0, so attribution is exact there: A = noising, B = -noising.
  AttributionOptions ao;
  ao.activation = HeadActivation::kOutput;
  const auto attr = attribute_heads(*model, target, {batch}, mean, ao);
  EXPECT_TRUE(torch::allclose(attr.method_a.score, z.noising.effect, 1e-9, 1e-12));
  EXPECT_TRUE(torch::allclose(attr.method_b.score, -z.noising.effect, 1e-9, 1e-12));
}

TEST(AttributionHandBuilt, GqaKeySplitSumsToTheKvHeadTotal) {
  auto model = hand_model();
  const auto sae = hand_sae(1);
  const FeatureTarget target{&sae, 1, 1};
  const auto batch = hand_batch(feature_samples());
  const auto mean = hand_mean(CorruptionMean::kGlobal);
  const auto res = attribute_heads(*model, target, {batch}, mean, {});
  for (const auto* m : {&res.method_a, &res.method_b}) {
    ASSERT_EQ(m->k_term.sizes(), (std::vector<int64_t>{2, kKv}));
    const auto k_split = m->score - m->q_term;  // [L + 1, H]
    for (int l = 0; l < 2; ++l) {
      for (int g = 0; g < kKv; ++g) {
        EXPECT_NEAR(at2(k_split, l, 2 * g) + at2(k_split, l, 2 * g + 1), at2(m->k_term, l, g), 1e-12);
        EXPECT_NEAR(at2(k_split, l, 2 * g), at2(k_split, l, 2 * g + 1), 1e-12);
      }
    }
  }
  // The KV total is (k_corr - k_clean) . dobj/dk at the clean run, computed here by hand.
  ForwardRequest r;
  r.capture = {"blocks.0.attn.hook_k", "blocks.1.hook_resid_post"};
  r.capture_grad = true;
  r.stop_after_layer = 1;
  r.logits = LogitsMode::kNone;
  const auto clean = model->forward(batch, r);
  const auto obj = feature_objective(clean.at("blocks.1.hook_resid_post"), batch.token_types, target,
                                     AttributionObjective::kProjection);
  const auto grad = torch::autograd::grad({obj.sum()}, {clean.at("blocks.0.attn.hook_k")})[0];
  ForwardRequest rc;
  rc.capture = {"blocks.0.attn.hook_k"};
  rc.edits["hook_embed"] = {mean_embedding_edit(mean)};
  rc.stop_after_layer = 0;
  rc.logits = LogitsMode::kNone;
  const auto k_corr = model->forward(batch, rc).at("blocks.0.attn.hook_k");
  const auto want = ((k_corr - clean.at("blocks.0.attn.hook_k").detach()) * grad).sum({1, 3}).mean(0);
  EXPECT_TRUE(torch::allclose(res.method_a.k_term[0], want, 1e-9, 1e-12)) << res.method_a.k_term << want;
}

TEST(AttributionHandBuilt, PerPositionAndGlobalMeansDifferAsExpected) {
  // Group 1's key is the image position code: a per-position mean keeps it (score ~0),
  // a global mean erases it, and the text loses its preferred patches (score < 0).
  auto model = hand_model();
  const auto sae = hand_sae(1);
  const FeatureTarget target{&sae, 1, 1};
  const std::vector<PreparedBatch> batches{hand_batch(feature_samples())};
  const auto per_pos = attribute_heads(*model, target, batches, hand_mean(CorruptionMean::kPerPosition), {});
  const auto global = attribute_heads(*model, target, batches, hand_mean(CorruptionMean::kGlobal), {});
  const double pp = std::abs(at2(per_pos.method_a.k_term, 0, 1));
  const double gl = at2(global.method_a.k_term, 0, 1);
  EXPECT_LT(gl, 0.0);
  EXPECT_GT(std::abs(gl), 100.0 * pp);
  EXPECT_GT(std::abs(gl), 1e-2);
  // Group 0 (salience) is corrupted either way.
  EXPECT_LT(at2(per_pos.method_a.k_term, 0, 0), 0.0);
  EXPECT_LT(at2(global.method_a.k_term, 0, 0), 0.0);
}

TEST(AttributionHandBuilt, SaeActivationObjectiveOption) {
  // h_1 = x . e4 + 50 at every text position: the same gradients and differences as the
  // projection, so the same scores; objective values shifted by 50 per text token.
  auto model = hand_model();
  const auto sae = hand_sae(1);
  const FeatureTarget target{&sae, 1, 1};
  const std::vector<PreparedBatch> batches{hand_batch(feature_samples())};
  const auto mean = hand_mean(CorruptionMean::kPerPosition);
  AttributionOptions o;
  o.objective = AttributionObjective::kSaeActivation;
  const auto act = attribute_heads(*model, target, batches, mean, o);
  const auto proj = attribute_heads(*model, target, batches, mean, {});
  EXPECT_TRUE(torch::allclose(act.method_a.score, proj.method_a.score, 1e-9, 1e-12));
  EXPECT_TRUE(torch::allclose(act.method_b.score, proj.method_b.score, 1e-9, 1e-12));
  auto text_tokens = torch::zeros({8}, torch::kFloat64);
  const auto samples = feature_samples();
  for (size_t i = 0; i < samples.size(); ++i) text_tokens[static_cast<int64_t>(i)] = samples[i].text;
  EXPECT_TRUE(torch::allclose(act.objective_clean, proj.objective_clean + 50.0 * text_tokens, 1e-12, 1e-9));
  // Only method A: one backward.
  o.method_b = false;
  const auto only_a = attribute_heads(*model, target, batches, mean, o);
  EXPECT_FALSE(only_a.method_b.defined());
  EXPECT_EQ(only_a.backward_passes, 1);
  EXPECT_TRUE(torch::allclose(only_a.method_a.score, act.method_a.score, 1e-12, 1e-14));
  EXPECT_EQ(parse_attribution_objective("sae_activation", "s.json", "objective"),
            AttributionObjective::kSaeActivation);
  EXPECT_EQ(parse_head_activation("z", "s.json", "activation"), HeadActivation::kOutput);
  EXPECT_THAT([] { parse_head_activation("v", "s.json", "activation"); },
              testing::ThrowsMessage<Error>(HasSubstr("file 's.json': field 'activation' is 'v'")));
}

TEST(AttributionHandBuilt, BatchingAndPaddingDoNotChangeTheScores) {
  auto model = hand_model();
  const auto sae = hand_sae(1);
  const FeatureTarget target{&sae, 1, 1};
  const auto samples = feature_samples();
  const auto mean = hand_mean(CorruptionMean::kPerPosition);
  const auto together = attribute_heads(*model, target, {hand_batch(samples)}, mean, {});
  std::vector<PreparedBatch> singles;
  for (const auto& s : samples) singles.push_back(hand_batch({s}));
  const auto apart = attribute_heads(*model, target, singles, mean, {});
  EXPECT_TRUE(torch::allclose(together.method_a.per_sample, apart.method_a.per_sample, 1e-9, 1e-12));
  EXPECT_TRUE(torch::allclose(together.method_b.score, apart.method_b.score, 1e-9, 1e-12));
  EXPECT_EQ(apart.forward_passes, 16);
}

TEST(AttributionHandBuilt, BadTargetsAndSamplesThrow) {
  auto model = hand_model();
  const auto sae = hand_sae(1);
  const auto mean = hand_mean(CorruptionMean::kPerPosition);
  const std::vector<PreparedBatch> batches{hand_batch({{1, 2}})};
  auto expect_throw = [&](const FeatureTarget& t, const std::vector<PreparedBatch>& b, const std::string& what) {
    EXPECT_THAT([&] { attribute_heads(*model, t, b, mean, {}); }, testing::ThrowsMessage<Error>(HasSubstr(what)));
  };
  expect_throw({nullptr, 1, 1}, batches, "no SAE");
  expect_throw({&sae, 2, 1}, batches, "layer 2 is outside model 'hand-built'");
  expect_throw({&sae, 1, 3}, batches, "SAE 'hand-sae': feature 3 is outside [0, 3)");
  expect_throw({&sae, 0, 1}, batches, "field 'hook_point' is 'blocks.1.hook_resid_post'");
  expect_throw({&sae, 1, 1}, {}, "no samples");
  auto no_image = hand_batch({{1, 2}, {2, 2}});
  no_image.token_types[1].narrow(0, 1, kP).fill_(static_cast<int8_t>(kTokenText));
  expect_throw({&sae, 1, 1}, {no_image}, "batch 0: sequence 1 has no image tokens");
  SaeConfig wide;
  wide.variant = SaeVariant::ReLU;
  wide.d_model = 8;
  wide.d_sae = 2;
  wide.source = "wide.safetensors";
  const Sae other(wide);
  expect_throw({&other, 1, 0}, batches, "SAE 'wide.safetensors': field 'd_model' is 8");
  Progress cancelled;
  cancelled.cancel();
  EXPECT_THROW(attribute_heads(*model, {&sae, 1, 1}, batches, mean, {}, cancelled), Cancelled);
}

// ------------------------------------------------------------------ attention maps

TEST(AttributionAttention, GridsSumToTheImageMassAndFindTheObject) {
  auto model = hand_model();
  const auto samples = feature_samples();
  const auto batch = hand_batch(samples);
  const auto grids = attention_grids(*model, batch, {{0, 0}, {1, 0}, {0, 3}});
  ASSERT_EQ(grids.size(), 3u);
  ForwardRequest r;
  r.capture = {"blocks.0.attn.hook_pattern", "blocks.1.attn.hook_pattern"};
  r.logits = LogitsMode::kNone;
  const auto out = model->forward(batch, r);
  for (const auto& g : grids) {
    ASSERT_EQ(g.grids.sizes(), (std::vector<int64_t>{8, kGrid, kGrid}));
    const auto pattern = out.at("blocks." + std::to_string(g.head.layer) + ".attn.hook_pattern");
    for (int64_t b = 0; b < 8; ++b) {
      // Independent: the mean pattern row of the question's text tokens, summed over image keys.
      const int64_t first_text = 1 + kP, len = batch.lengths[static_cast<size_t>(b)];
      const auto rows = pattern[b][g.head.head].narrow(0, first_text, len - first_text);
      const double mass = rows.narrow(1, 1, kP).sum().item<double>() / static_cast<double>(len - first_text);
      EXPECT_NEAR(g.image_mass[b].item<double>(), mass, 1e-12);
      EXPECT_NEAR(g.grids[b].sum().item<double>(), mass, 1e-6);
      EXPECT_GT(mass, 0.0);
      EXPECT_LT(mass, 1.0);
    }
  }
  // L0H0 keys on salience: its hottest cell is the object's patch (row-major on the grid).
  for (int64_t b = 0; b < 8; ++b) {
    const int64_t hot = grids[0].grids[b].reshape({-1}).argmax().item<int64_t>();
    EXPECT_EQ(hot, samples[static_cast<size_t>(b)].object);
    const int obj = samples[static_cast<size_t>(b)].object;
    EXPECT_EQ(grids[0].grids[b][obj / kGrid][obj % kGrid].item<float>(), grids[0].grids[b].max().item<float>());
  }
  // L0H3 has no query: uniform over its prefix, so a flat grid.
  EXPECT_NEAR((grids[2].grids[0] - grids[2].grids[0].mean()).abs().max().item<double>(), 0.0, 1e-7);

  // The last position and a chosen token.
  AttentionMapOptions last;
  last.query = AttentionQuery::kLast;
  const auto g_last = attention_grids(*model, batch, {{0, 0}}, last)[0];
  AttentionMapOptions token;
  token.query = AttentionQuery::kToken;
  for (int64_t b = 0; b < 8; ++b) {
    const int64_t end = batch.lengths[static_cast<size_t>(b)] - 1;
    const auto row = out.at("blocks.0.attn.hook_pattern")[b][0][end];
    EXPECT_TRUE(torch::allclose(g_last.grids[b].to(torch::kFloat64), row.narrow(0, 1, kP).reshape({kGrid, kGrid}),
                                1e-6, 1e-7));
    token.positions.push_back(1 + kP);
  }
  const auto g_token = attention_grids(*model, batch, {{0, 0}}, token)[0];
  EXPECT_NEAR(g_token.grids[0].sum().item<double>(),
              out.at("blocks.0.attn.hook_pattern")[0][0][1 + kP].narrow(0, 1, kP).sum().item<double>(), 1e-6);
  token.positions = {0};
  EXPECT_THAT([&] { attention_grids(*model, batch, {{0, 0}}, token); },
              testing::ThrowsMessage<Error>(HasSubstr("1 query positions given for a batch of 8")));
  EXPECT_THAT([&] { attention_grids(*model, batch, {{2, 0}}); },
              testing::ThrowsMessage<Error>(HasSubstr("head L2H0 is outside model 'hand-built'")));
  // Position mapping: raw index 2 of [1, -200, 5, 6] is the first token after the image.
  EXPECT_EQ(prepared_position(batch, {1, kImageTokenIndex, 5, 6}, 0, 2), 1 + kP);
  EXPECT_EQ(prepared_position(batch, {1, kImageTokenIndex, 5, 6}, 0, 0), 0);
  EXPECT_THROW(prepared_position(batch, {1, kImageTokenIndex, 5, 6}, 0, 1), Error);
}

// ------------------------------------------------------------------ ranking helpers

TEST(AttributionRanking, CurvesTopBottomOverlapRecurringAndSpearman) {
  const auto a = torch::tensor({{0.1, -0.5, 0.0}, {2.0, 0.3, -0.05}}, torch::kFloat64);
  const auto curve = layer_curve(a);
  ASSERT_EQ(curve.size(), 2u);
  EXPECT_NEAR(curve[0], -0.4, 1e-12);
  EXPECT_NEAR(curve[1], 2.25, 1e-12);
  const auto top = top_heads(a, 2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(to_string(top[0].head), "L1H0");
  EXPECT_EQ(to_string(top[1].head), "L0H1");
  EXPECT_DOUBLE_EQ(top[1].score, -0.5);
  const auto top_signed = top_heads(a, 2, RankBy::kSigned);
  EXPECT_EQ(to_string(top_signed[1].head), "L1H1");
  const auto bottom = bottom_heads(a, 1);
  EXPECT_EQ(to_string(bottom[0].head), "L0H2");
  EXPECT_EQ(to_string(bottom_heads(a, 1, RankBy::kSigned)[0].head), "L0H1");
  EXPECT_EQ(top_heads(a, 99).size(), 6u);

  const auto b = torch::tensor({{0.0, 0.4, 0.0}, {-3.0, 0.0, 0.2}}, torch::kFloat64);
  const auto ov = top_k_overlap(a, b, 2);  // {L1H0, L0H1} vs {L1H0, L0H1}
  EXPECT_EQ(ov.shared, 2);
  EXPECT_DOUBLE_EQ(ov.fraction, 1.0);
  const auto ov3 = top_k_overlap(a, b, 3);  // + L1H1 vs + L1H2
  EXPECT_EQ(ov3.shared, 2);
  EXPECT_NEAR(ov3.jaccard, 0.5, 1e-12);

  // Maps of different depth: L1H0 recurs in all three.
  const auto c = torch::tensor({{0.0, 0.0, 0.0}, {0.9, 0.0, 0.0}, {0.0, 5.0, 0.0}}, torch::kFloat64);
  const auto rec = recurring_heads({a, b, c}, 2, 2);
  ASSERT_EQ(rec.size(), 2u);
  EXPECT_EQ(to_string(rec[0].head), "L1H0");
  EXPECT_EQ(rec[0].count, 3);
  EXPECT_EQ(rec[0].features, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_NEAR(rec[0].mean_score, (2.0 - 3.0 + 0.9) / 3, 1e-12);
  EXPECT_EQ(to_string(rec[1].head), "L0H1");
  EXPECT_EQ(rec[1].count, 2);

  // Spearman: monotone -> 1, reversed -> -1, ties get mean ranks (known value), constant -> NaN.
  const auto x = torch::tensor({1.0, 2.0, 3.0, 4.0, 5.0}, torch::kFloat64);
  EXPECT_NEAR(spearman(x, x.exp()), 1.0, 1e-12);
  EXPECT_NEAR(spearman(x, -x), -1.0, 1e-12);
  // ranks of y: 1, 2.5, 2.5, 4, 5 -> r = 9.5 / sqrt(10 * 9.5)
  const auto y = torch::tensor({0.0, 1.0, 1.0, 2.0, 3.0}, torch::kFloat64);
  EXPECT_NEAR(spearman(x, y), 9.5 / std::sqrt(10.0 * 9.5), 1e-12);
  EXPECT_TRUE(std::isnan(spearman(x, torch::ones({5}, torch::kFloat64))));
  EXPECT_THROW(spearman(x, torch::ones({4})), Error);
  EXPECT_THAT([&] { top_heads(torch::ones({3}), 1); },
              testing::ThrowsMessage<Error>(HasSubstr("must be [layers, heads]")));
}
