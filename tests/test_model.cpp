// The engine against the independent float64 reference of tests/model_fixture.cpp:
// logits and every hook, GQA and llama3 RoPE, sharded and BF16 checkpoints, edits,
// gradients, batching with padding, and bad checkpoints.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/types.h>

#include <filesystem>
#include <fstream>

#include "core/common/error.h"
#include "core/model/model.h"
#include "tests/model_fixture.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace sightline;
using testing::HasSubstr;

namespace {

double rel_err(const at::Tensor& got, const at::Tensor& want) {
  auto g = got.to(at::kDouble), w = want.to(at::kDouble);
  return (g - w).abs().max().item<double>() / std::max(w.abs().max().item<double>(), 1e-12);
}

std::vector<int64_t> sequence_with_image() { return {1, 7, 9, -200, 11, 5, 42, 3}; }

at::Tensor tiny_pixels(int64_t seed) {
  torch::manual_seed(seed);
  return torch::rand({3, 16, 16}, torch::kDouble) * 2 - 1;
}

struct Loaded {
  test::TinyCheckpoint ckpt;
  std::unique_ptr<VisionLanguageModel> model;
};

Loaded load_tiny(const test::TinySpec& spec, const std::string& dtype, int shards) {
  const std::string dir = test::scratch_dir("model");
  auto stored = test::write_tiny_checkpoint(test::make_tiny_checkpoint(spec, 11), dir, dtype, shards);
  LoadOptions options;
  options.model_dir = dir;
  return {stored, VisionLanguageModel::load(options)};
}

void expect_matches_reference(const Loaded& m, const std::vector<int64_t>& ids, const at::Tensor& pixels) {
  ForwardRequest req;
  for (int l = 0; l < m.model->num_layers(); ++l) {
    for (const char* s : {"hook_resid_post", "attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_z",
                          "attn.hook_pattern"}) {
      req.capture.insert("blocks." + std::to_string(l) + "." + s);
    }
  }
  req.capture.insert("hook_embed");
  BatchInput in{{ids}, pixels.defined() ? pixels.unsqueeze(0).to(torch::kFloat) : at::Tensor()};
  const auto out = m.model->forward(in, req);
  const auto ref = test::reference_forward(m.ckpt, ids, pixels);
  EXPECT_LT(rel_err(out.logits[0], ref.logits), 1e-4);
  EXPECT_LT(rel_err(out.at("hook_embed")[0], ref.embeds), 1e-4);
  for (int l = 0; l < m.model->num_layers(); ++l) {
    const std::string b = "blocks." + std::to_string(l) + ".";
    EXPECT_LT(rel_err(out.at(b + "hook_resid_post")[0], ref.resid_post[l]), 1e-4) << "layer " << l;
    EXPECT_LT(rel_err(out.at(b + "attn.hook_q")[0], ref.q[l]), 1e-4) << "layer " << l;
    EXPECT_LT(rel_err(out.at(b + "attn.hook_k")[0], ref.k[l]), 1e-4) << "layer " << l;
    EXPECT_LT(rel_err(out.at(b + "attn.hook_v")[0], ref.v[l]), 1e-4) << "layer " << l;
    EXPECT_LT(rel_err(out.at(b + "attn.hook_z")[0], ref.z[l]), 1e-4) << "layer " << l;
    EXPECT_LT(rel_err(out.at(b + "attn.hook_pattern")[0], ref.pattern[l]), 1e-4) << "layer " << l;
  }
}

}  // namespace

TEST(Model, LlavaSingleFileF32MatchesReference) {
  auto m = load_tiny({}, "F32", 1);
  ASSERT_TRUE(m.model->has_vision());
  EXPECT_EQ(m.model->image_tokens(), 16);
  expect_matches_reference(m, sequence_with_image(), tiny_pixels(3));
}

TEST(Model, ShardedBf16WithGqaMatchesReference) {
  auto m = load_tiny({}, "BF16", 3);
  expect_matches_reference(m, sequence_with_image(), tiny_pixels(4));
}

TEST(Model, PlainLlamaTiedNoScalingMatchesReference) {
  test::TinySpec spec;
  spec.vision = false;
  spec.tie_embeddings = true;
  spec.llama3_rope = false;
  spec.kv_heads = 4;
  auto m = load_tiny(spec, "F32", 1);
  EXPECT_FALSE(m.model->has_vision());
  expect_matches_reference(m, {1, 4, 8, 15, 16, 23, 42}, at::Tensor());
}

TEST(Model, Llama3ScalingChangesTheResult) {
  // Guards against the scaling being silently ignored: the same weights without it differ.
  auto m = load_tiny({}, "F32", 1);
  auto ckpt = m.ckpt;
  ckpt.config["rope_scaling"] = nullptr;
  const auto ids = std::vector<int64_t>{1, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22};
  const auto plain = test::reference_forward(ckpt, ids, at::Tensor());
  const auto out = m.model->forward(BatchInput{{ids}, {}}, ForwardRequest{});
  EXPECT_GT(rel_err(out.logits[0], plain.logits), 1e-3);
}

TEST(Model, BatchWithPaddingMatchesSingleRuns) {
  auto m = load_tiny({}, "F32", 1);
  const std::vector<std::vector<int64_t>> seqs{{1, 7, -200, 9}, {1, 4, 5}, {1, -200, 2, 3, 4, 5, 6, 7, 8}};
  const auto p0 = tiny_pixels(5), p2 = tiny_pixels(6);
  BatchInput in{seqs, torch::stack({p0, p2}).to(torch::kFloat)};
  ForwardRequest req;
  req.logits = LogitsMode::kLast;
  const auto batched = m.model->forward(in, req);
  const auto prepared = m.model->prepare(in);
  EXPECT_EQ(prepared.lengths, (std::vector<int64_t>{19, 3, 24}));
  EXPECT_EQ(prepared.image_offsets, (std::vector<int64_t>{2, -1, 1}));
  EXPECT_EQ(prepared.token_types[0][0].item<int>(), kTokenBos);
  EXPECT_EQ(prepared.token_types[0][2].item<int>(), kTokenImage);
  EXPECT_EQ(prepared.token_types[1][5].item<int>(), kTokenPad);
  const at::Tensor pix[3] = {p0, {}, p2};
  for (int b = 0; b < 3; ++b) {
    const auto ref = test::reference_forward(m.ckpt, seqs[b], pix[b]);
    EXPECT_LT(rel_err(batched.logits[b], ref.logits[ref.logits.size(0) - 1]), 1e-4) << "sequence " << b;
  }
}

TEST(Model, EditZeroingAHeadMatchesReference) {
  auto m = load_tiny({}, "F32", 1);
  const auto ids = sequence_with_image();
  const auto pixels = tiny_pixels(7);
  ForwardRequest req;
  req.edits["blocks.1.attn.hook_z"].push_back([](const at::Tensor& z, const HookContext& ctx) {
    EXPECT_EQ(ctx.point.layer, 1);
    auto out = z.clone();
    out.select(2, 2).zero_();
    return out;
  });
  const auto out = m.model->forward(BatchInput{{ids}, pixels.unsqueeze(0).to(torch::kFloat)}, req);
  const auto ref = test::reference_forward(m.ckpt, ids, pixels, {1, 2});
  const auto clean = test::reference_forward(m.ckpt, ids, pixels);
  EXPECT_LT(rel_err(out.logits[0], ref.logits), 1e-4);
  EXPECT_GT(rel_err(out.logits[0], clean.logits), 1e-3);
}

TEST(Model, EditSeesTokenTypesAndCaptureSeesEditedValue) {
  auto m = load_tiny({}, "F32", 1);
  ForwardRequest req;
  req.capture.insert("blocks.0.hook_resid_post");
  req.edits["blocks.0.hook_resid_post"].push_back([](const at::Tensor& x, const HookContext& ctx) {
    auto text = (ctx.token_types == kTokenText).unsqueeze(-1).to(x.scalar_type());
    return x * (1 - text);  // zero text positions only
  });
  const auto out = m.model->forward(BatchInput{{sequence_with_image()}, tiny_pixels(8).unsqueeze(0).to(torch::kFloat)}, req);
  const auto r = out.at("blocks.0.hook_resid_post")[0];
  EXPECT_EQ(r[1].abs().sum().item<double>(), 0.0);  // text
  EXPECT_GT(r[0].abs().sum().item<double>(), 0.0);  // BOS untouched
  EXPECT_GT(r[3].abs().sum().item<double>(), 0.0);  // image untouched
}

TEST(Model, GradientsOfCapturedActivationsMatchReferenceAutograd) {
  auto m = load_tiny({}, "F32", 1);
  const auto ids = sequence_with_image();
  const auto pixels = tiny_pixels(9);
  ForwardRequest req;
  req.capture_grad = true;
  req.logits = LogitsMode::kNone;
  req.stop_after_layer = 1;
  req.capture = {"blocks.0.attn.hook_q", "blocks.0.attn.hook_z", "blocks.1.hook_resid_post"};
  const auto out = m.model->forward(BatchInput{{ids}, pixels.unsqueeze(0).to(torch::kFloat)}, req);
  torch::manual_seed(1);
  const auto direction = torch::randn({out.at("blocks.1.hook_resid_post").size(-1)});
  const auto objective = (out.at("blocks.1.hook_resid_post")[0] * direction).sum();
  const auto grads = torch::autograd::grad({objective}, {out.at("blocks.0.attn.hook_z")});
  // Finite differences through edits that nudge z: the directional derivative along a
  // random perturbation equals <grad, perturbation>.
  const auto delta = torch::randn_like(out.at("blocks.0.attn.hook_z")) * 1e-3;
  auto objective_with = [&](double sign) {
    ForwardRequest r2;
    r2.logits = LogitsMode::kNone;
    r2.stop_after_layer = 1;
    r2.capture = {"blocks.1.hook_resid_post"};
    r2.edits["blocks.0.attn.hook_z"].push_back(
        [&, sign](const at::Tensor& z, const HookContext&) { return z + sign * delta; });
    auto o = m.model->forward(BatchInput{{ids}, pixels.unsqueeze(0).to(torch::kFloat)}, r2);
    return (o.at("blocks.1.hook_resid_post")[0].to(torch::kDouble) * direction.to(torch::kDouble)).sum().item<double>();
  };
  const double numeric = (objective_with(1) - objective_with(-1)) / 2;
  const double analytic = (grads[0] * delta).sum().item<double>();
  EXPECT_NEAR(analytic, numeric, 1e-3 * std::max(1.0, std::abs(numeric)));
  EXPECT_GT(std::abs(analytic), 1e-6);
}

TEST(Model, SaveAndReloadRoundTrips) {
  auto m = load_tiny({}, "F32", 1);
  const std::string dir = test::scratch_dir("model-save");
  m.model->save(dir);
  LoadOptions options;
  options.model_dir = dir;
  auto again = VisionLanguageModel::load(options);
  BatchInput in{{sequence_with_image()}, tiny_pixels(10).unsqueeze(0).to(torch::kFloat)};
  EXPECT_TRUE(torch::equal(m.model->forward(in, {}).logits, again->forward(in, {}).logits));
}

TEST(Model, SeparateVisionDirectory) {
  // A LLaVA checkpoint without the tower + an HF CLIP directory (vision_model.* names).
  auto ckpt = test::make_tiny_checkpoint({}, 12);
  test::TinyCheckpoint lm = ckpt, clip;
  const std::string prefix = "model.vision_tower.vision_tower.";
  for (auto it = lm.tensors.begin(); it != lm.tensors.end();) {
    if (it->first.rfind(prefix, 0) == 0) {
      clip.tensors[it->first.substr(prefix.size())] = it->second;
      it = lm.tensors.erase(it);
    } else {
      ++it;
    }
  }
  clip.config = {{"model_type", "clip"}, {"vision_config", lm.config["vision_config"]}};
  lm.config.erase("vision_config");
  lm.config["mm_vision_tower"] = "my-clip";
  const std::string lm_dir = test::scratch_dir("lm"), clip_dir = test::scratch_dir("clip");
  test::write_tiny_checkpoint(lm, lm_dir, "F32", 2);
  test::write_tiny_checkpoint(clip, clip_dir, "F32", 1);
  LoadOptions options;
  options.model_dir = lm_dir;
  try {
    VisionLanguageModel::load(options);
    ADD_FAILURE() << "loading without --vision should fail";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("my-clip"));
  }
  options.vision_dir = clip_dir;
  // The config alone (no weights read) is the config the loaded model runs with.
  const ModelConfig config_only = VisionLanguageModel::load_config(options);
  auto model = VisionLanguageModel::load(options);
  ASSERT_TRUE(config_only.mm.vision.has_value());
  EXPECT_EQ(config_only.mm.vision->image_size, model->config().mm.vision->image_size);
  EXPECT_EQ(config_only.mm.vision->patch_size, model->config().mm.vision->patch_size);
  EXPECT_EQ(model_image_tokens(config_only), model->image_tokens());
  EXPECT_GT(model->image_tokens(), 0);
  options.vision_dir.clear();
  EXPECT_EQ(model_image_tokens(VisionLanguageModel::load_config(options)), 0) << "no tower config without --vision";
  Loaded m{ckpt, std::move(model)};
  expect_matches_reference(m, sequence_with_image(), tiny_pixels(13));
}

// ---------------------------------------------------------------- bad input

namespace {
std::string load_error(const std::string& dir, const std::string& vision = "") {
  LoadOptions options;
  options.model_dir = dir;
  options.vision_dir = vision;
  try {
    VisionLanguageModel::load(options);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}
}  // namespace

TEST(ModelBadInput, TensorShapeDisagreesWithConfig) {
  auto ckpt = test::make_tiny_checkpoint({}, 1);
  ckpt.tensors["model.layers.1.mlp.up_proj.weight"] = torch::zeros({47, 32}, torch::kDouble);
  const std::string dir = test::scratch_dir("bad");
  test::write_tiny_checkpoint(ckpt, dir, "F32", 1);
  const auto msg = load_error(dir);
  EXPECT_THAT(msg, HasSubstr("model.layers.1.mlp.up_proj.weight"));
  EXPECT_THAT(msg, HasSubstr("[47, 32]"));
}

TEST(ModelBadInput, MissingTensor) {
  auto ckpt = test::make_tiny_checkpoint({}, 1);
  ckpt.tensors.erase("model.norm.weight");
  const std::string dir = test::scratch_dir("bad");
  test::write_tiny_checkpoint(ckpt, dir, "F32", 1);
  EXPECT_THAT(load_error(dir), HasSubstr("'model.norm.weight' is missing"));
}

TEST(ModelBadInput, MissingShard) {
  const std::string dir = test::scratch_dir("bad");
  test::write_tiny_checkpoint(test::make_tiny_checkpoint({}, 1), dir, "F32", 2);
  fs::remove(fs::path(dir) / "model-00002-of-00002.safetensors");
  EXPECT_THAT(load_error(dir), HasSubstr("model-00002-of-00002.safetensors"));
}

TEST(ModelBadInput, MalformedConfig) {
  const std::string dir = test::scratch_dir("bad");
  test::write_tiny_checkpoint(test::make_tiny_checkpoint({}, 1), dir, "F32", 1);
  std::ofstream((fs::path(dir) / "config.json").string()) << "{\"vocab_size\": 61, \"hidden_size\": ";
  EXPECT_THAT(load_error(dir), HasSubstr("config.json"));
}

TEST(ModelBadInput, ConfigFieldOfWrongType) {
  auto ckpt = test::make_tiny_checkpoint({}, 1);
  ckpt.config["num_hidden_layers"] = "two";
  const std::string dir = test::scratch_dir("bad");
  test::write_tiny_checkpoint(ckpt, dir, "F32", 1);
  const auto msg = load_error(dir);
  EXPECT_THAT(msg, HasSubstr("config.json"));
  EXPECT_THAT(msg, HasSubstr("num_hidden_layers"));
}

TEST(ModelBadInput, KvHeadsDoNotDivideHeads) {
  auto ckpt = test::make_tiny_checkpoint({}, 1);
  ckpt.config["num_key_value_heads"] = 3;
  const std::string dir = test::scratch_dir("bad");
  test::write_tiny_checkpoint(ckpt, dir, "F32", 1);
  EXPECT_THAT(load_error(dir), HasSubstr("num_key_value_heads"));
}

TEST(ModelBadInput, NoConfigOrNoDirectory) {
  EXPECT_THAT(load_error("/nonexistent/model"), HasSubstr("/nonexistent/model"));
  const std::string dir = test::scratch_dir("bad");
  EXPECT_THAT(load_error(dir), HasSubstr("no config.json"));
}

TEST(ModelBadInput, UnknownTokenIdAndImageMismatch) {
  auto m = load_tiny({}, "F32", 1);
  try {
    m.model->forward(BatchInput{{{1, 2, 999}}, {}}, {});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("token id 999"));
  }
  try {
    m.model->forward(BatchInput{{{1, -200, 4}}, {}}, {});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("1 image markers but 0 images"));
  }
}

TEST(ModelBadInput, UnknownHookName) {
  auto m = load_tiny({}, "F32", 1);
  ForwardRequest req;
  req.capture.insert("blocks.7.hook_resid_post");
  try {
    m.model->forward(BatchInput{{{1, 2}}, {}}, req);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("blocks.7.hook_resid_post"));
    EXPECT_THAT(e.what(), HasSubstr("2 layers"));
  }
  EXPECT_THROW(parse_hook_name("blocks.x.hook_resid_post"), Error);
  EXPECT_EQ(hook_name(parse_hook_name("blocks.12.attn.hook_z")), "blocks.12.attn.hook_z");
}
