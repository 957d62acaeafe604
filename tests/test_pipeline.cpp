// core/pipeline: options, and the adapt + diff stages end to end on the micro world
// (env SIGHTLINE_MICRO_WORLD, built once by the test fixture): results in the store,
// resume after a SIGKILL mid-stage, real-mode data files, and the CLI with its report.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <ATen/Parallel.h>
#include <torch/types.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "core/common/error.h"
#include "core/io/json_util.h"
#include "core/pipeline/options.h"
#include "core/pipeline/pipeline.h"
#include "core/pipeline/report.h"
#include "core/pipeline/stages.h"
#include "core/pipeline/store_keys.h"
#include "core/train/vision_pretrain.h"
#include "core/train/world_recipe.h"
#include "core/world/datasets.h"
#include "tests/test_pipeline_util.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace sightline;

namespace {

#define REQUIRE_MICRO_WORLD()                                                                  \
  do {                                                                                         \
    if (test::micro_world_dir().empty())                                                                 \
      GTEST_SKIP() << "SIGHTLINE_MICRO_WORLD is not set to a built micro world: skipping";     \
  } while (0)

// Small budgets: every regime trains on 4000 of its positions.
nlohmann::json test_config() {
  return nlohmann::json::parse(R"({
    "data": {"train_items": 200, "heldout_items": 30, "eval_items": 80},
    "stages": {"adapt": {"train_tokens": 4000,
                         "train": {"batch_size": 256, "lr": 1e-3, "warmup_steps": 5, "eval_every_tokens": 1000,
                                   "shuffle_buffer_mb": 0.5, "dead_window_tokens": 20000}}}})");
}

PipelineOptions world_options() {
  auto j = test_config();
  j["source"]["world"] = test::micro_world_dir();
  return pipeline_options_from_json(j, "test config");
}

// The micro world's shape, from its manifest: layers and SAE features per layer.
struct WorldShape {
  int layers = 0;
  int64_t d_sae = 0;
};
WorldShape world_shape() {
  const auto manifest = read_json_file(test::micro_world_dir() + "/manifest.json");
  const WorldPreset preset = world_preset_from_json(manifest["preset"], "manifest");
  return {static_cast<int>(preset.lm.num_hidden_layers), preset.sae.expansion * preset.lm.hidden_size};
}

PipelineRunOptions run_options(const std::string& db) {
  PipelineRunOptions r;
  r.db_path = db;
  r.name = "test";
  r.stages = {"diff"};  // this file tests stages 1-2; the later stages have their own files
  return r;
}

// One clean run of the test options, shared by the tests that compare against it.
struct CleanRun {
  std::string db;
  int64_t run = 0;
  RunSnapshot snapshot;
};

const CleanRun& clean_run() {
  static CleanRun c = [] {
    at::set_num_threads(1);
    CleanRun out;
    out.db = test::scratch_dir("pipeline-clean") + "/run.db";
    Pipeline p(world_options(), run_options(out.db));
    out.run = p.run_id();
    out.snapshot = p.run();
    return out;
  }();
  return c;
}

}  // namespace

TEST(PipelineOptions, DefaultsRoundTripThroughJson) {
  const auto defaults = default_pipeline_options();
  const auto j = to_json(defaults);
  EXPECT_EQ(to_json(pipeline_options_from_json(j, "defaults")), j);
  for (const auto& s : stage_definitions()) EXPECT_TRUE(j["stages"].contains(s.name)) << s.name;
  EXPECT_EQ(j["stages"]["diff"]["eps"], 1e-3);
  EXPECT_EQ(j["stages"]["diff"]["p_cos"], 0.25);
  EXPECT_EQ(j["stages"]["diff"]["regime"], "text");
  EXPECT_EQ(j["stages"]["adapt"]["regimes"].size(), 4u);

  const std::string path = test::scratch_dir("pipeline-options") + "/options.json";
  auto o = defaults;
  o.layers = {3, 1};
  o.stages["diff"]["eps"] = 0.5;
  save_pipeline_options(o, path);
  EXPECT_EQ(to_json(load_pipeline_options(path)), to_json(o));
}

TEST(PipelineOptions, OverridesMergeAndTyposAreErrors) {
  const auto o = pipeline_options_from_json(
      nlohmann::json::parse(R"({"stages": {"adapt": {"train": {"lr": 0.01}}}, "data": {"eval_items": 7}})"), "cfg");
  EXPECT_EQ(o.stage("adapt")["train"]["lr"], 0.01);
  EXPECT_EQ(o.stage("adapt")["train"]["batch_size"], 1024);  // untouched neighbours keep their defaults
  EXPECT_EQ(o.data.eval_items, 7);
  EXPECT_EQ(o.data.train_items, 50000);
  const auto expect_error = &test::expect_options_error;
  expect_error(R"({"stages": {"adapt": {"epoch": 2}}})", "epoch");
  expect_error(R"({"stages": {"adapt": {"train": {"learning_rate": 2}}}})", "learning_rate");
  expect_error(R"({"stages": {"shfit": {}}})", "shfit");
  expect_error(R"({"stages": {"diff": {"positions": "pixels"}}})", "positions");
  expect_error(R"({"stages": {"adapt": {"regimes": ["text", "text"]}}})", "regimes");
  expect_error(R"({"stages": {"diff": {"p_cos": 2}}})", "p_cos");
  expect_error(R"({"data": {"train_items": -1}})", "train_items");
  expect_error(R"({"sources": {}})", "sources");
}

TEST(PipelineStages, ClosureAddsDependenciesInOrder) {
  EXPECT_EQ(stage_closure({"diff"}), (std::vector<std::string>{"adapt", "diff"}));
  EXPECT_EQ(stage_closure({}), (std::vector<std::string>{"adapt", "diff", "shift", "topk", "lexical", "autointerp", "attrib", "ablate"}));
  EXPECT_EQ(stage_closure({"ablate"}), (std::vector<std::string>{"adapt", "diff", "shift", "topk", "lexical", "ablate"}));
  EXPECT_EQ(stage_closure({"lexical"}), (std::vector<std::string>{"adapt", "diff", "shift", "topk", "lexical"}));
  EXPECT_EQ(stage_closure({"shift"}), (std::vector<std::string>{"adapt", "diff", "shift"}));
  EXPECT_EQ(stage_closure({"adapt"}), (std::vector<std::string>{"adapt"}));
  EXPECT_THROW(stage_closure({"nope"}), Error);
}

TEST(PipelineSources, MissingOrBadSourcesAreNamed) {
  auto o = default_pipeline_options();
  const std::string db = test::scratch_dir("pipeline-sources") + "/run.db";
  try {
    Pipeline p(o, run_options(db));
    ADD_FAILURE() << "no error without a source";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--world"), std::string::npos) << e.what();
  }
  o.source.world = test::scratch_dir("pipeline-empty-world");
  try {
    Pipeline p(o, run_options(db));
    ADD_FAILURE() << "no error for a world without a manifest";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("manifest.json"), std::string::npos) << e.what();
  }
}

TEST(PipelineWorld, AdaptAndDiffEndToEnd) {
  REQUIRE_MICRO_WORLD();
  const CleanRun& c = clean_run();
  ASSERT_TRUE(c.snapshot.ok()) << (c.snapshot.stages.size() > 0 ? c.snapshot.stages[0].error : "");
  Store store = Store::open(c.db, Store::Mode::kReadOnly);
  const WorldShape shape = world_shape();
  std::vector<int32_t> all_layers;
  for (int l = 0; l < shape.layers; ++l) all_layers.push_back(l);
  ASSERT_EQ(store.feature_layers(c.run), all_layers);

  // Stage 1: every (layer, regime) has a held-out curve and a saved SAE.
  const RunSummary summary = run_summary(store, c.run);
  EXPECT_EQ(summary.regimes, (std::vector<std::string>{"full", "image", "text", "random"}));
  for (const auto& s : summary.layers) {
    for (const auto& r : summary.regimes) {
      EXPECT_TRUE(std::isfinite(s.fvu.at(r))) << "layer " << s.layer << " " << r;
      EXPECT_TRUE(fs::exists(store.tensor(c.run, store_keys::sae_tensor_key(s.layer, r))->path));
    }
    // The paper's Fig. 1 ordering at equal token budgets: the warm-started text SAE
    // reconstructs its positions better than a randomly initialised one.
    EXPECT_LT(s.fvu.at("text"), s.fvu.at("random")) << "layer " << s.layer;
    EXPECT_GT(s.decoder_cosine.at("text"), 0.9);
    EXPECT_LT(std::abs(s.decoder_cosine.at("random")), 0.2);
    // The same comparison on one ruler: every regime's SAE scored on the held-out text
    // positions (the random regime trains on all positions, so its own FVU is not on
    // the text positions alone).
    std::map<std::string, double> on_text;
    for (const auto& r : summary.regimes) {
      CurveQuery t;
      t.name = store_keys::kFvu;
      t.key = store_keys::kHeldoutText;
      t.regime = r;
      t.layer = s.layer;
      const auto points = store.curve_points(c.run, t);
      ASSERT_FALSE(points.empty()) << r;
      on_text[r] = points.back().value;
    }
    EXPECT_DOUBLE_EQ(on_text.at("text"), s.fvu.at("text"));
    EXPECT_LT(on_text.at("text"), on_text.at("random")) << "layer " << s.layer;
    std::printf("layer %d, held-out FVU on text positions: full %.3f image %.3f text %.3f random %.3f\n", s.layer,
                on_text.at("full"), on_text.at("image"), on_text.at("text"), on_text.at("random"));
  }
  CurveQuery q;
  q.name = store_keys::kFvu;
  q.regime = "text";
  q.layer = 0;
  const auto curve = store.curve_points(c.run, q);
  ASSERT_GE(curve.size(), 4u);
  EXPECT_EQ(curve.front().tokens, 0);
  EXPECT_EQ(curve.back().tokens, 4000);

  // Stage 2: one row per feature, A consistent with its definition and the selection.
  const auto rows = store.features(c.run);
  ASSERT_EQ(static_cast<int64_t>(rows.size()), shape.layers * shape.d_sae);
  const auto diff = nlohmann::json::parse(store.stage(c.run, "diff")->result_json);
  const double threshold = diff["cosine_threshold"];
  std::vector<FeatureRef> adapted;
  int64_t active = 0;
  for (const auto& r : rows) {
    ASSERT_TRUE(std::isfinite(r.visual_energy));
    ASSERT_TRUE(std::isfinite(r.decoder_cosine));
    EXPECT_LE(std::abs(r.decoder_cosine), 1.0 + 1e-9);
    EXPECT_EQ(r.adapted == 1.0, r.visual_energy > 1e-3 && r.decoder_cosine <= threshold);
    if (r.adapted == 1.0) adapted.push_back(r.ref());
    active += r.visual_energy > 0;
    EXPECT_TRUE(r.extra.count(store_keys::kFireRateText));
  }
  EXPECT_GT(adapted.size(), 0u);
  EXPECT_LT(adapted.size(), rows.size() / 4 + 1);
  EXPECT_EQ(store.selection(c.run, store_keys::kAdaptedSelection), adapted);
  EXPECT_EQ(diff["adapted"], adapted.size());
  q = CurveQuery{};
  q.name = store_keys::kSweep;
  q.key = "count";
  EXPECT_EQ(store.curve_points(c.run, q).size(), 6u * 8u);
  EXPECT_TRUE(store.integrity_ok());
}

TEST(PipelineWorld, SecondRunReusesBothStages) {
  REQUIRE_MICRO_WORLD();
  const CleanRun& c = clean_run();
  ASSERT_TRUE(c.snapshot.ok());
  int64_t curves = 0;
  {
    Store reader = Store::open(c.db, Store::Mode::kReadOnly);
    curves = reader.count_rows("curves", c.run);
  }
  {
    Pipeline again(world_options(), run_options(c.db));
    EXPECT_TRUE(again.resumed());
    EXPECT_EQ(again.run_id(), c.run);
    const auto snap = again.run();
    ASSERT_TRUE(snap.ok());
    EXPECT_TRUE(snap.find("adapt")->reused);
    EXPECT_TRUE(snap.find("diff")->reused);
    EXPECT_EQ(again.store().count_rows("curves", c.run), curves);
  }  // one writer per store at a time

  // Other options: a new run of the same name.
  auto changed = world_options();
  changed.stages["diff"]["eps"] = 0.01;
  Pipeline other(changed, run_options(c.db));
  EXPECT_FALSE(other.resumed());
  EXPECT_NE(other.run_id(), c.run);
}

TEST(PipelineWorld, KilledMidStageResumesToTheSameResults) {
  REQUIRE_MICRO_WORLD();
  const CleanRun& c = clean_run();
  ASSERT_TRUE(c.snapshot.ok());
  const std::string db = test::scratch_dir("pipeline-kill") + "/run.db";
  int64_t run = 0;
  {
    Pipeline p(world_options(), run_options(db));  // creates the run; closed before fork()
    run = p.run_id();
  }
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    alarm(60);
    try {
      at::set_num_threads(1);
      Pipeline p(world_options(), run_options(db));
      p.run();
    } catch (...) {
    }
    _exit(3);
  }
  // Kill the child once adapt has streamed some curve points but is not done.
  bool killed = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    try {
      Store reader = Store::open(db, Store::Mode::kReadOnly);
      const auto st = reader.stage(run, "adapt");
      if (st && st->status == StageStatus::kRunning && reader.count_rows("curves", run) > 8) {
        kill(child, SIGKILL);
        killed = true;
        break;
      }
      if (st && st->status == StageStatus::kDone) break;
    } catch (const Error&) {
      // The writer may still be creating the schema.
    }
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(killed) << "adapt finished before it could be killed";
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_EQ(WTERMSIG(status), SIGKILL);

  Pipeline resumed(world_options(), run_options(db));
  EXPECT_TRUE(resumed.resumed());
  EXPECT_EQ(resumed.run_id(), run);
  EXPECT_EQ(resumed.store().recovered_stages(), 1);
  const auto snap = resumed.run();
  for (const auto& st : snap.stages) ASSERT_EQ(st.status, StageStatus::kDone) << st.name << ": " << st.error;
  EXPECT_FALSE(snap.find("adapt")->reused);

  Store& store = resumed.store();
  EXPECT_EQ(store.integrity_report(), (std::vector<std::string>{"ok"}));
  Store reference = Store::open(c.db, Store::Mode::kReadOnly);
  // No row of the killed attempt survives twice: the same row counts as the clean run...
  for (const char* table : {"curves", "features", "feature_metrics", "selections", "tensors"})
    EXPECT_EQ(store.count_rows(table, run), reference.count_rows(table, c.run)) << table;
  // ...and, training being deterministic, the same values.
  const auto got = store.features(run);
  const auto want = reference.features(c.run);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].ref(), want[i].ref());
    EXPECT_NEAR(got[i].visual_energy, want[i].visual_energy, 1e-9 * (1 + want[i].visual_energy));
    EXPECT_NEAR(got[i].decoder_cosine, want[i].decoder_cosine, 1e-9);
    EXPECT_EQ(got[i].adapted, want[i].adapted);
  }
}

TEST(PipelineReal, WorldDatasetFilesThroughRealMode) {
  REQUIRE_MICRO_WORLD();
  at::set_num_threads(1);
  const std::string world = test::micro_world_dir();
  const auto manifest = read_json_file(world + "/manifest.json");
  WorldDataOptions data = world_preset_from_json(manifest["preset"], "manifest").data;
  data.n_train = 24;
  data.n_val = 8;
  data.n_test = 2;
  data.n_corpus_train = 1;
  data.n_corpus_val = 1;
  const std::string dir = test::scratch_dir("pipeline-real-data");
  write_world_dataset(dir, data, null_progress());

  auto j = test_config();
  const int last = world_shape().layers - 1;  // one layer keeps it quick
  j["layers"] = {last};
  j["data"] = {{"train_items", 100}, {"heldout_items", 20}, {"eval_items", 40}};
  j["stages"]["adapt"]["regimes"] = {"text", "random"};
  j["stages"]["adapt"]["train_tokens"] = 1000;
  j["source"] = {{"model", world + "/vlm"},
                 {"sae", world + "/saes"},
                 {"tokenizer", world + "/tokenizer/vocab.json"},
                 {"vqa_questions", dir + "/vqa_train_questions.json"},
                 {"vqa_annotations", dir + "/vqa_train_annotations.json"},
                 {"images", dir + "/images"}};
  const auto options = pipeline_options_from_json(j, "real-mode test");
  Pipeline p(options, run_options(test::scratch_dir("pipeline-real") + "/run.db"));
  const auto snap = p.run();
  for (const auto& st : snap.stages) ASSERT_EQ(st.status, StageStatus::kDone) << st.name << ": " << st.error;
  EXPECT_EQ(static_cast<int64_t>(p.store().features(p.run_id()).size()), world_shape().d_sae);
  EXPECT_EQ(p.store().feature_layers(p.run_id()), (std::vector<int32_t>{last}));

  // Splits are disjoint cuts of the shuffled items, and a PNG read from the image folder
  // gives the pixels the world renders in memory.
  auto& ctx = p.context();
  std::set<std::string> ids;
  for (DataSplit s : {DataSplit::kTrain, DataSplit::kHeldout, DataSplit::kEval}) {
    const auto& ds = ctx.dataset(s);
    for (int64_t i = 0; i < ds.size(); ++i) EXPECT_TRUE(ids.insert(ds.item(i).sample_id).second);
  }
  EXPECT_EQ(ctx.dataset(DataSplit::kTrain).size(), 100);
  const auto& eval = ctx.dataset(DataSplit::kEval);
  const auto& item = eval.item(0);
  const int64_t question_id = std::stoll(item.sample_id.substr(4));
  const int64_t index = (question_id / 1000) % 100000000;
  const auto record = make_scene_record(data, WorldSplit::Train, index);
  const auto& vision = *ctx.model().config().mm.vision;
  const auto rendered = scene_pixels({record.scene}, data.world, vision)[0];
  EXPECT_TRUE(torch::allclose(eval.pixels(item.image), rendered, 1e-5, 1e-5));
}

TEST(PipelineCli, RunThenReportWritesTheCsvFiles) {
  REQUIRE_MICRO_WORLD();
  const std::string dir = test::scratch_dir("pipeline-cli");
  const std::string config = dir + "/config.json";
  write_json_file(config, test_config());
  const auto printed = test::run_cli("run --print-config --world " + test::micro_world_dir() + " --config " + config);
  ASSERT_EQ(printed.exit_code, 0) << printed.out;
  const auto j = nlohmann::json::parse(printed.out);
  EXPECT_EQ(j["stages"]["adapt"]["train_tokens"], 4000);
  EXPECT_EQ(j["source"]["world"], fs::absolute(test::micro_world_dir()).lexically_normal().string());

  const auto run = test::run_cli("--threads 1 run --world " + test::micro_world_dir() + " --db " + dir + "/run.db --config " +
                                 config + " --stages diff");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_NE(run.out.find("stage adapt: done"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("fvu text"), std::string::npos) << run.out;  // the summary table

  const auto report = test::run_cli("report --db " + dir + "/run.db --out " + dir + "/report");
  ASSERT_EQ(report.exit_code, 0) << report.out;
  EXPECT_EQ(test::first_line(dir + "/report/features.csv").rfind("layer,feature,visual_energy,decoder_cosine,adapted,", 0),
            0u);
  EXPECT_EQ(test::first_line(dir + "/report/fvu.csv"), "layer,regime,tokens,fvu,l0");
  EXPECT_EQ(test::first_line(dir + "/report/sweep.csv"), "eps,p_cos,cosine_threshold,count,jaccard,layer_correlation");
  EXPECT_EQ(test::first_line(dir + "/report/layers.csv").rfind("layer,features,fvu_full,fvu_image,fvu_text,fvu_random,", 0),
            0u);
  int64_t lines = 0;
  std::ifstream features(dir + "/report/features.csv");
  for (std::string line; std::getline(features, line);) ++lines;
  EXPECT_EQ(lines, 1 + world_shape().layers * world_shape().d_sae);

  const auto bad = test::run_cli("run --world " + test::micro_world_dir() + " --db " + dir + "/x.db --stages nope");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.out.find("unknown stage 'nope'"), std::string::npos) << bad.out;
}

namespace sightline {
namespace {

int64_t csv_rows(const std::string& path) {
  std::ifstream in(path);
  int64_t lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  return lines - 1;  // the header
}

// Every stage from the command line, the way a user runs it, then the report: the late
// stages' files agree with the spatial selection the lexical stage chose.
TEST(PipelineCli, AllStagesThenReportAgreeWithTheSpatialSelection) {
  REQUIRE_MICRO_WORLD();
  const std::string dir = test::scratch_dir("pipeline-cli-all");
  const std::string config = dir + "/config.json";
  write_json_file(config, test_config());
  const auto run = test::run_cli("--threads 1 run --world " + test::micro_world_dir() + " --db " + dir + "/run.db --config " + config);
  ASSERT_EQ(run.exit_code, 0) << run.out;
  for (const char* stage : {"adapt", "diff", "shift", "topk", "lexical", "autointerp", "attrib", "ablate"})
    EXPECT_NE(run.out.find(std::string("stage ") + stage + ": done"), std::string::npos) << stage << "\n" << run.out;
  EXPECT_NE(run.out.find("autointerp: skipped: no endpoint configured"), std::string::npos) << run.out;

  const auto report = test::run_cli("report --db " + dir + "/run.db --out " + dir + "/report");
  ASSERT_EQ(report.exit_code, 0) << report.out;
  Store store = Store::open(dir + "/run.db", Store::Mode::kReadOnly);
  const int64_t id = store.runs().front().id;
  const auto spatial = store.selection(id, store_keys::kSpatialSelection);
  std::printf("micro world, test config: %zu spatial features\n", spatial.size());
  for (const char* png : {"fvu.png", "scatter_ev_cosine.png", "layers.png", "sweep.png"})
    EXPECT_TRUE(fs::exists(dir + "/report/" + png)) << png << "\n" << report.out;
  if (spatial.empty()) {
    EXPECT_FALSE(fs::exists(dir + "/report/ablation.csv"));
    return;
  }
  const auto shape = world_preset("micro").lm;
  // A feature of layer L is scored on the heads of layers 0..L (the ones upstream of it).
  int64_t head_rows = 0;
  for (const auto& f : spatial) head_rows += 3 * (f.layer + 1) * shape.num_attention_heads;  // A, B, exact
  EXPECT_EQ(csv_rows(dir + "/report/ablation.csv"), static_cast<int64_t>(spatial.size()));
  EXPECT_EQ(csv_rows(dir + "/report/patching.csv"), static_cast<int64_t>(spatial.size()));
  EXPECT_EQ(csv_rows(dir + "/report/heads.csv"), head_rows);
  EXPECT_TRUE(fs::exists(dir + "/report/ablation.md"));
  EXPECT_TRUE(fs::exists(dir + "/report/heads.png"));
}

}  // namespace
}  // namespace sightline
