// The shapes world's training pieces: dense patch targets, the next-token loss with
// images, the schedule, determinism of a build, and the micro world's quality.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/types.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/io/json_util.h"
#include "core/model/model.h"
#include "core/sae/sae_io.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/lm_loss.h"
#include "core/train/patch_targets.h"
#include "core/world/relations.h"
#include "core/train/schedule.h"
#include "core/train/world_recipe.h"
#include "tests/model_fixture.h"
#include "tests/test_util.h"
#include "tests/world_fixture.h"

namespace fs = std::filesystem;
using namespace sightline;

namespace {
using test::make_object;

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

TEST(PatchTargets, DominantObjectCellsAndFlags) {
  WorldOptions world;
  Scene scene;
  // A large red square centred in patch (row 2, col 5) = pixels [40,48) x [16,24).
  scene.objects.push_back(make_object(Shape::Square, Colour::Red, SizeClass::Large, 44.f, 20.f, 0));
  const auto t = patch_targets(scene, world, {});
  const int p = 2 * 8 + 5;
  EXPECT_EQ(t.colour[p], 1 + static_cast<int64_t>(Colour::Red));
  EXPECT_EQ(t.shape[p], 1 + static_cast<int64_t>(Shape::Square));
  EXPECT_EQ(t.cell_x[p], 1 + 5);
  EXPECT_EQ(t.cell_y[p], 1 + 2);
  EXPECT_EQ(t.colour[0], 0);  // background patch
  EXPECT_EQ(t.contact[p], 0.f);
  // A blue square drawn overlapping it: overlap and contact appear where they meet.
  scene.objects.push_back(make_object(Shape::Square, Colour::Blue, SizeClass::Large, 52.f, 20.f, 1));
  const auto u = patch_targets(scene, world, {});
  float overlap = 0, contact = 0;
  for (size_t i = 0; i < u.overlap.size(); ++i) {
    overlap += u.overlap[i];
    contact += u.contact[i];
  }
  EXPECT_GT(overlap, 0.f);
  EXPECT_GT(contact, 0.f);
  EXPECT_EQ(u.colours_present[static_cast<size_t>(2 * 8 + 6) * 8 + static_cast<size_t>(Colour::Blue)], 1.f);
}

// The relational targets agree with the datasets' geometry (relations.h): a red square
// far left of a green circle; every patch of the square holds "left of green" true and
// "right of green" false, nothing about colours absent from the scene, and nothing on
// background patches.
TEST(PatchTargets, RelationsOfTheDominantObjectByColour) {
  WorldOptions world;
  Scene scene;
  scene.objects.push_back(make_object(Shape::Square, Colour::Red, SizeClass::Large, 12.f, 32.f, 0));
  scene.objects.push_back(make_object(Shape::Circle, Colour::Green, SizeClass::Large, 52.f, 32.f, 1));
  PatchTargetSpec spec;
  spec.relations = true;
  const auto t = patch_targets(scene, world, spec);
  ASSERT_EQ(t.n_relations, static_cast<int>(relation_table().size()));
  const size_t width = relation_table().size() * static_cast<size_t>(spec.n_colours);
  ASSERT_EQ(t.relation.size(), 64 * width);
  const SceneGeometry geometry(scene, world);
  auto at = [&](const std::vector<float>& v, int p, Relation r, Colour c) {
    return v[static_cast<size_t>(p) * width + static_cast<size_t>(r) * spec.n_colours + static_cast<size_t>(c)];
  };
  int square_patches = 0;
  for (int p = 0; p < 64; ++p) {
    if (t.object[p] == 0) {
      ++square_patches;
      EXPECT_EQ(at(t.relation_known, p, Relation::LeftOf, Colour::Green), 1.f);
      EXPECT_EQ(at(t.relation, p, Relation::LeftOf, Colour::Green), 1.f);
      EXPECT_EQ(at(t.relation_known, p, Relation::RightOf, Colour::Green), 1.f);
      EXPECT_EQ(at(t.relation, p, Relation::RightOf, Colour::Green), 0.f);
      EXPECT_EQ(at(t.relation, p, Relation::FarFrom, Colour::Green), 1.f);
      EXPECT_EQ(at(t.relation_known, p, Relation::LeftOf, Colour::Blue), 0.f);  // no blue object
      for (const auto& info : relation_table()) {
        const Truth truth = geometry.relation(info.relation, 0, 1);
        EXPECT_EQ(at(t.relation_known, p, info.relation, Colour::Green), truth == Truth::Ambiguous ? 0.f : 1.f)
            << info.name;
        if (truth != Truth::Ambiguous) {
          EXPECT_EQ(at(t.relation, p, info.relation, Colour::Green), truth == Truth::True ? 1.f : 0.f) << info.name;
        }
      }
    } else if (t.object[p] == 1) {
      EXPECT_EQ(at(t.relation, p, Relation::RightOf, Colour::Red), 1.f);
    } else {
      for (size_t k = 0; k < width; ++k) EXPECT_EQ(t.relation_known[static_cast<size_t>(p) * width + k], 0.f);
    }
  }
  EXPECT_GT(square_patches, 4);
  // Without the option the targets are empty.
  EXPECT_TRUE(patch_targets(scene, world, {}).relation.empty());
}

TEST(LmLoss, CountsOnlyMarkedTargetsWithImagesExpanded) {
  const std::string dir = test::scratch_dir("lmloss");
  test::write_tiny_checkpoint(test::make_tiny_checkpoint({}, 5), dir, "F32", 1);
  LoadOptions options;
  options.model_dir = dir;
  auto model = VisionLanguageModel::load(options);
  LmBatch batch;
  TokenSequence a;
  a.ids = {1, kImageTokenIndex, 7, 8, 9};
  a.loss = {0, 0, 0, 1, 1};  // predict 8 and 9
  a.image = 0;
  TokenSequence b;
  b.ids = {1, 4, 5};
  b.loss = {0, 1, 0};  // predict 4
  batch.sequences = {a, b};
  torch::manual_seed(2);
  batch.images = torch::randn({1, 3, 16, 16});
  const auto prepared = model->prepare(to_batch_input(batch));
  const auto logits = model->forward(prepared, {}).logits;
  const auto loss = next_token_loss(logits, prepared, batch);
  EXPECT_EQ(loss.targets, 3);
  // Direct: sequence a has 16 image tokens at positions 1..16; 7 at 17, 8 at 18, 9 at 19.
  auto lsm = torch::log_softmax(logits, -1);
  const double direct = -(lsm[0][17][8] + lsm[0][18][9] + lsm[1][0][4]).item<double>() / 3;
  EXPECT_NEAR(loss.loss.item<double>(), direct, 1e-5);
}

TEST(Schedule, WarmupThenCosineToFloor) {
  OptimOptions o;
  o.steps = 100;
  o.lr = 1.0;
  o.warmup_fraction = 0.1;
  o.min_lr_fraction = 0.1;
  EXPECT_NEAR(scheduled_lr(o, 0), 0.1, 1e-12);
  EXPECT_NEAR(scheduled_lr(o, 9), 1.0, 1e-12);
  EXPECT_NEAR(scheduled_lr(o, 99), 0.1, 1e-3);
  EXPECT_GT(scheduled_lr(o, 50), scheduled_lr(o, 80));
}

TEST(WorldBuild, SameSeedSameFilesAndMetrics) {
  WorldPreset p = world_preset("micro");
  for (auto* o : {&p.lm_optim, &p.vision_optim, &p.align_optim, &p.tune_optim}) o->steps = 3;
  p.eval_scenes = 4;
  p.sae.train_tokens = 1500;
  p.sae.eval_tokens = 300;
  p.sae.batch_tokens = 256;
  const std::string a = test::scratch_dir("world-a"), b = test::scratch_dir("world-b");
  nlohmann::json ma, mb;
  {
    ma = build_world(p, a, null_progress(), [](const std::string&) {});
    mb = build_world(p, b, null_progress(), [](const std::string&) {});
  }
  EXPECT_EQ(ma["metrics"], mb["metrics"]);
  EXPECT_EQ(file_bytes(a + "/vlm/model.safetensors"), file_bytes(b + "/vlm/model.safetensors"));
  EXPECT_EQ(file_bytes(a + "/saes/L0R/checkpoints/final.safetensors"),
            file_bytes(b + "/saes/L0R/checkpoints/final.safetensors"));
  p.seed = 2;
  const std::string c = test::scratch_dir("world-c");
  build_world(p, c, null_progress(), [](const std::string&) {});
  EXPECT_NE(file_bytes(a + "/vlm/model.safetensors"), file_bytes(c + "/vlm/model.safetensors"));
}

TEST(MicroWorld, BuiltLoadsThroughTheRealLoaders) {
  const char* dir = std::getenv("SIGHTLINE_MICRO_WORLD");
  if (!dir) GTEST_SKIP() << "SIGHTLINE_MICRO_WORLD not set (run through ctest)";
  const auto manifest = read_json_file(std::string(dir) + "/manifest.json");
  const auto& vlm = manifest["metrics"]["vlm_test"];
  const double existence = vlm["vqa_skill"]["existence"]["accuracy"].get<double>();
  const int64_t n = vlm["vqa_skill"]["existence"]["n"].get<int64_t>();
  std::printf("micro world: existence %.3f (n=%lld), VSR %.3f, shuffled-image VSR %.3f\n", existence,
              static_cast<long long>(n), vlm["vsr"]["accuracy"].get<double>(),
              vlm["control_vsr_shuffled_images"]["accuracy"].get<double>());
  // The micro preset does not yet beat chance (measured 0.50 on existence; see the
  // shapes-world issue): the test checks the build's artefacts, not its quality.
  EXPECT_GE(n, 100);
  EXPECT_TRUE(manifest["metrics"].contains("base_saes"));
  EXPECT_EQ(manifest["metrics"]["base_saes"].size(), 2u);
  // Everything loads through the same loaders as real checkpoints.
  LoadOptions options;
  options.model_dir = std::string(dir) + "/vlm";
  const auto model = VisionLanguageModel::load(options);
  EXPECT_TRUE(model->has_vision());
  const auto tok = load_tokenizer(std::string(dir) + "/tokenizer/vocab.json");
  EXPECT_EQ(tok->vocab_size(), model->config().text.vocab_size);
  for (int l = 0; l < model->num_layers(); ++l) {
    const auto sae = load_sae(std::string(dir) + "/saes/L" + std::to_string(l) + "R");
    EXPECT_EQ(sae.d_model(), model->config().text.hidden_size);
  }
}
