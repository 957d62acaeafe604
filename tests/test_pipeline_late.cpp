// core/pipeline stages attrib and ablate (METHOD.md Stages 4-5) on the micro world (env
// SIGHTLINE_MICRO_WORLD): adapt and diff run for real, then a stand-in for the topk stage
// (which lands from another branch) writes a "spatial" selection (the adapted features
// that fire most) and their strongest VQA / VSR samples computed with the real model;
// attrib and ablate then run through the job runner as pipeline.cpp runs stages. Checks
// the stored rows, an independent recomputation of one feature, the overlay file and the
// report files. Also: the two stages' options.
#include <gtest/gtest.h>
#include <ATen/Parallel.h>
#include <torch/types.h>

#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "core/attribution/attribution.h"
#include "core/attribution/corruption.h"
#include "core/common/error.h"
#include "core/io/json_util.h"
#include "core/io/safetensors.h"
#include "core/jobs/job_runner.h"
#include "core/pipeline/context.h"
#include "core/pipeline/feature_samples.h"
#include "core/pipeline/options.h"
#include "core/pipeline/pipeline.h"
#include "core/pipeline/report.h"
#include "core/pipeline/stages.h"
#include "core/pipeline/store_keys.h"
#include "core/store/store.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace sightline;

namespace {

namespace k = store_keys;

#define REQUIRE_LATE_MICRO_WORLD()                                                             \
  do {                                                                                         \
    if (test::micro_world_dir().empty())                                                            \
      GTEST_SKIP() << "SIGHTLINE_MICRO_WORLD is not set to a built micro world: skipping";     \
  } while (0)

constexpr int kSpatialFeatures = 3;  // stand-in selection size
constexpr int kTopPerDataset = 4;    // stand-in top samples per dataset and feature

// Small budgets; the text regime alone (the one diff reads). Stages 4-5 options are added
// by hand: they are not in stage_definitions() until the topk stage is merged.
PipelineOptions late_options() {
  auto j = nlohmann::json::parse(R"({
    "data": {"train_items": 200, "heldout_items": 30, "eval_items": 80, "vsr_items": 60},
    "stages": {"adapt": {"regimes": ["text"], "train_tokens": 4000,
                         "train": {"batch_size": 256, "lr": 1e-3, "warmup_steps": 5, "eval_every_tokens": 2000,
                                   "shuffle_buffer_mb": 0.5, "dead_window_tokens": 20000}}}})");
  j["source"]["world"] = test::micro_world_dir();
  PipelineOptions o = pipeline_options_from_json(j, "late test config");
  nlohmann::json attrib = attrib_stage_definition().defaults();
  attrib.merge_patch(nlohmann::json::parse(
      R"({"top_k": 6, "batch_size": 4, "mean_items": 80, "overlay_heads": 2, "overlay_bottom_heads": 1})"));
  nlohmann::json ablate = ablate_stage_definition().defaults();
  ablate.merge_patch(nlohmann::json::parse(R"({"top_k": 8, "control_seeds": 2, "max_vqa_items": 60})"));
  attrib_stage_definition().validate(attrib, "stages.attrib");
  ablate_stage_definition().validate(ablate, "stages.ablate");
  o.stages["attrib"] = attrib;
  o.stages["ablate"] = ablate;
  return o;
}

// Max of h_f over the text positions of every item of `data`: [items] per feature.
std::vector<std::vector<double>> max_text_activations(const VisionLanguageModel& model, const PromptDataset& data,
                                                      const std::vector<FeatureRef>& features,
                                                      const std::map<int, Sae>& saes) {
  torch::NoGradGuard no_grad;
  std::vector<std::vector<double>> out(features.size());
  int deepest = 0;
  ForwardRequest request;
  for (const auto& f : features) {
    request.capture.insert("blocks." + std::to_string(f.layer) + ".hook_resid_post");
    deepest = std::max(deepest, static_cast<int>(f.layer));
  }
  request.stop_after_layer = deepest;
  request.logits = LogitsMode::kNone;
  for (int64_t first = 0; first < data.size(); first += 16) {
    const int64_t count = std::min<int64_t>(16, data.size() - first);
    const PreparedBatch batch = model.prepare(make_prompt_batch(data, first, count));
    const auto result = model.forward(batch, request);
    const auto text = batch.token_types.eq(static_cast<int8_t>(kTokenText)).to(torch::kFloat64);  // [B, T]
    for (size_t i = 0; i < features.size(); ++i) {
      const auto& f = features[i];
      const auto resid = result.at("blocks." + std::to_string(f.layer) + ".hook_resid_post");  // [B, T, D]
      const int64_t B = resid.size(0), T = resid.size(1);
      const auto h = saes.at(f.layer)
                         .encode(resid.reshape({B * T, resid.size(2)}))
                         .select(1, f.feature)
                         .reshape({B, T})
                         .to(torch::kFloat64);
      const auto m = (h * text).amax(1);
      for (int64_t b = 0; b < B; ++b) out[i].push_back(m[b].item<double>());
    }
  }
  return out;
}

// The stand-in topk stage: the kSpatialFeatures adapted features with the largest
// max_activation, their kTopPerDataset strongest items of each dataset (ranked together
// by activation) and a made-up VSR odds ratio that ablate must pass through.
Stage standin_topk_stage(PipelineContext& ctx) {
  Stage s;
  s.name = "lexical";  // stands in for shift + topk + lexical
  s.deps = {"diff"};
  s.options_hash = hash_options("stand-in topk");
  s.run = [&ctx](StageContext& sc) {
    Store& store = sc.store();
    const int64_t run = sc.run_id();
    std::vector<FeatureRow> adapted;
    for (const auto& r : store.features(run))
      if (r.adapted == 1.0) adapted.push_back(r);
    std::stable_sort(adapted.begin(), adapted.end(), [](const FeatureRow& a, const FeatureRow& b) {
      return a.extra.at(k::kMaxActivation) > b.extra.at(k::kMaxActivation);
    });
    check(adapted.size() >= static_cast<size_t>(kSpatialFeatures), "stand-in topk: only {} adapted features",
          adapted.size());
    std::vector<FeatureRef> chosen;
    for (int i = 0; i < kSpatialFeatures; ++i) chosen.push_back(adapted[static_cast<size_t>(i)].ref());
    std::sort(chosen.begin(), chosen.end());
    const auto& model = ctx.model();
    std::map<int, Sae> saes;
    for (const auto& f : chosen)
      if (!saes.count(f.layer)) saes.emplace(f.layer, load_adapted_sae(store, run, f.layer, "text", model, "topk"));
    struct Candidate {
      double act;
      std::string dataset, sample_id;
    };
    std::vector<std::vector<Candidate>> candidates(chosen.size());
    for (const auto& [name, split] : {std::pair{k::kDatasetVqa, DataSplit::kEval}, {k::kDatasetVsr, DataSplit::kVsr}}) {
      const auto& data = ctx.dataset(split);
      const auto acts = max_text_activations(model, data, chosen, saes);
      for (size_t i = 0; i < chosen.size(); ++i) {
        std::vector<int64_t> order(static_cast<size_t>(data.size()));
        for (size_t j = 0; j < order.size(); ++j) order[j] = static_cast<int64_t>(j);
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
          return acts[i][static_cast<size_t>(a)] > acts[i][static_cast<size_t>(b)];
        });
        for (int j = 0; j < kTopPerDataset; ++j) {
          const int64_t item = order[static_cast<size_t>(j)];
          candidates[i].push_back({acts[i][static_cast<size_t>(item)], name, data.item(item).sample_id});
        }
      }
    }
    std::vector<TopActivation> rows;
    std::vector<FeatureValue> odds;
    for (size_t i = 0; i < chosen.size(); ++i) {
      std::stable_sort(candidates[i].begin(), candidates[i].end(),
                       [](const Candidate& a, const Candidate& b) { return a.act > b.act; });
      for (size_t r = 0; r < candidates[i].size(); ++r) {
        TopActivation t;
        t.layer = chosen[i].layer;
        t.feature = chosen[i].feature;
        t.rank = static_cast<int32_t>(r);
        t.sample_id = candidates[i][r].sample_id;
        t.dataset = candidates[i][r].dataset;
        t.max_activation = candidates[i][r].act;
        rows.push_back(t);
      }
      odds.push_back({chosen[i].layer, chosen[i].feature, 2.0 + static_cast<double>(i)});
    }
    sc.commit([&](Store& st) {
      st.put_selection(run, k::kSpatialSelection, chosen);
      st.put_top_activations(run, rows);
      st.set_feature_metric(run, "vsr_or", odds);
    });
  };
  return s;
}

// The stages as pipeline.cpp builds them, with the stand-in between diff and attrib.
std::vector<Stage> late_stages(PipelineContext& ctx) {
  std::vector<Stage> stages;
  stages.push_back(stage_definition("adapt").make(ctx));
  stages.push_back(stage_definition("diff").make(ctx));
  stages.push_back(standin_topk_stage(ctx));
  stages.push_back(attrib_stage_definition().make(ctx));
  stages.push_back(ablate_stage_definition().make(ctx));
  return stages;
}

struct LateRun {
  std::string db;
  int64_t run = 0;
  RunSnapshot snapshot;
  std::string report_dir;
  ReportCounts counts;
};

const LateRun& late_run() {
  static LateRun c = [] {
    torch::set_num_threads(1);
    LateRun out;
    out.db = test::scratch_dir("pipeline-late") + "/run.db";
    const PipelineOptions options = late_options();
    Store store = Store::open(out.db);
    RunRecord r;
    r.name = "late";
    r.options_json = to_json(options).dump();
    out.run = store.create_run(r);
    PipelineContext ctx(options, run_dir(out.db, out.run));
    {
      JobRunner runner(store, out.run, late_stages(ctx));
      out.snapshot = runner.run();
    }
    out.report_dir = test::scratch_dir("pipeline-late-report");
    if (out.snapshot.ok()) out.counts = write_report(store, out.run, out.report_dir);
    return out;
  }();
  return c;
}

std::string snapshot_errors(const RunSnapshot& snap) {
  std::string out;
  for (const auto& s : snap.stages)
    if (!s.error.empty()) out += s.name + ": " + s.error + "\n";
  return out;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST(PipelineLateOptions, DefaultsValidateAndBadValuesAreNamed) {
  const auto attrib = attrib_stage_definition();
  const auto ablate = ablate_stage_definition();
  EXPECT_EQ(attrib.deps, (std::vector<std::string>{"lexical"}));
  EXPECT_EQ(ablate.deps, (std::vector<std::string>{"lexical"}));
  const auto a = attrib.defaults();
  EXPECT_EQ(a["activation"], "qk");
  EXPECT_EQ(a["objective"], "projection");
  EXPECT_EQ(a["corruption"], "per_position");
  EXPECT_EQ(a["methods"], (nlohmann::json{"A", "B"}));
  EXPECT_EQ(a["exact"], true);
  EXPECT_NO_THROW(attrib.validate(a, "cfg.json"));
  EXPECT_NO_THROW(ablate.validate(ablate.defaults(), "cfg.json"));
  EXPECT_EQ(ablate.defaults()["control_seeds"], 3);

  auto expect_error = [](const StageDefinition& def, const char* patch, const char* fragment) {
    nlohmann::json j = def.defaults();
    j.merge_patch(nlohmann::json::parse(patch));
    const std::string message = test::error_of([&] { def.validate(j, "cfg.json"); });
    EXPECT_NE(message.find(fragment), std::string::npos) << patch << " -> " << message;
    EXPECT_NE(message.find("cfg.json"), std::string::npos) << message;
  };
  expect_error(attrib, R"({"top_k": 0})", "top_k");
  expect_error(attrib, R"({"methods": ["A", "C"]})", "methods");
  expect_error(attrib, R"({"methods": []})", "methods");
  expect_error(attrib, R"({"methods": ["A"]})", "overlay_method");  // B is the overlay default
  expect_error(attrib, R"({"exact": false, "overlay_method": "exact"})", "overlay_method");
  expect_error(attrib, R"({"exact": false, "denoising": true})", "denoising");
  expect_error(attrib, R"({"activation": "v"})", "activation");
  expect_error(attrib, R"({"corruption": "median"})", "corruption");
  expect_error(attrib, R"({"corruption_strength": 0})", "corruption_strength");
  expect_error(attrib, R"({"datasets": ["vqa", "coco"]})", "datasets");
  expect_error(attrib, R"({"overlay_datasets": ["vsr", "vsr"]})", "overlay_datasets");
  expect_error(attrib, R"({"overlay_query": "token"})", "overlay_query");
  expect_error(attrib, R"({"topk": 3})", "topk");  // unknown key
  expect_error(ablate, R"({"control_seeds": 0})", "control_seeds");
  expect_error(ablate, R"({"min_relation_share": 1.5})", "min_relation_share");
  expect_error(ablate, R"({"max_vsr_items": -1})", "max_vsr_items");
  expect_error(ablate, R"({"datasets": []})", "datasets");
  expect_error(ablate, R"({"seeds": 2})", "seeds");
}

TEST(PipelineLateReport, NoLateFilesWithoutRows) {
  const std::string dir = test::scratch_dir("pipeline-late-empty");
  Store store = Store::open(dir + "/run.db");
  RunRecord r;
  r.name = "empty";
  const int64_t run = store.create_run(r);
  const ReportCounts c = write_report(store, run, dir + "/report");
  EXPECT_EQ(c.heads + c.patching + c.ablation, 0);
  EXPECT_TRUE(fs::exists(dir + "/report/features.csv"));
  for (const char* f : {"heads.csv", "patching.csv", "ablation.csv", "ablation.md"})
    EXPECT_FALSE(fs::exists(dir + "/report/" + f)) << f;
}

TEST(PipelineLateWorld, AttribWritesHeadsPatchingAndOverlays) {
  REQUIRE_LATE_MICRO_WORLD();
  const LateRun& c = late_run();
  ASSERT_TRUE(c.snapshot.ok()) << snapshot_errors(c.snapshot);
  Store store = Store::open(c.db, Store::Mode::kReadOnly);
  const auto spatial = store.selection(c.run, k::kSpatialSelection);
  ASSERT_EQ(spatial.size(), static_cast<size_t>(kSpatialFeatures));
  PipelineContext ctx(late_options(), run_dir(c.db, c.run));
  const auto& model = ctx.model();
  const int64_t H = model.config().text.num_attention_heads;
  const int64_t P = model.image_tokens();
  const int64_t D = model.config().text.hidden_size;

  const auto mean_ref = store.tensor(c.run, k::kMeanImageEmbedding);
  ASSERT_TRUE(mean_ref.has_value());
  EXPECT_EQ(mean_ref->shape, (std::vector<int64_t>{P, D}));
  SafetensorsFile mean_file(mean_ref->path);
  MeanImageEmbedding mean;
  mean.mean = mean_file.load("mean");
  mean.images = std::stoll(mean_file.metadata().at("images"));
  EXPECT_EQ(mean.images, 80);  // every eval item has an image
  EXPECT_TRUE(torch::isfinite(mean.mean).all().item<bool>());

  const auto patching = store.patching(c.run);
  ASSERT_EQ(patching.size(), spatial.size());
  for (size_t i = 0; i < spatial.size(); ++i) {
    const auto& f = spatial[i];
    const int64_t rows_per_method = (f.layer + 1) * H;
    for (const char* method : {k::kMethodA, k::kMethodB, k::kMethodExact}) {
      const auto rows = store.head_scores(c.run, f.layer, f.feature, method);
      ASSERT_EQ(static_cast<int64_t>(rows.size()), rows_per_method) << feature_label(f) << " " << method;
      for (const auto& r : rows) EXPECT_TRUE(std::isfinite(r.score)) << feature_label(f) << " " << method;
    }
    EXPECT_EQ(patching[i].layer, f.layer);
    EXPECT_EQ(patching[i].feature, f.feature);
    for (double rho : {patching[i].spearman_a, patching[i].spearman_b}) {
      EXPECT_TRUE(std::isfinite(rho)) << feature_label(f);
      EXPECT_GE(rho, -1.0 - 1e-12);
      EXPECT_LE(rho, 1.0 + 1e-12);
    }
    std::printf("attrib %s: spearman A %.3f, B %.3f\n", feature_label(f).c_str(), patching[i].spearman_a,
                patching[i].spearman_b);

    // Overlays: the top / bottom heads of |B| and their grids on the feature's VQA + VSR
    // top samples (6 of the 8 stored).
    const auto ref = store.tensor(c.run, k::attention_tensor_key(f.layer, f.feature));
    ASSERT_TRUE(ref.has_value()) << feature_label(f);
    SafetensorsFile file(ref->path);
    const auto top = file.load("top_heads");
    const auto grids = file.load("top_grids");
    const auto mass = file.load("top_image_mass");
    const int64_t K = std::min<int64_t>(2, rows_per_method);
    const auto g = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(P))));
    EXPECT_EQ(ref->shape, (std::vector<int64_t>{K, 6, g, g}));
    ASSERT_EQ(grids.sizes(), (c10::IntArrayRef{K, 6, g, g}));
    EXPECT_EQ(file.load("bottom_grids").size(0), 1);
    EXPECT_EQ(file.load("ranks").size(0), 6);
    EXPECT_TRUE(torch::allclose(grids.sum({2, 3}).to(torch::kFloat64), mass, 1e-4, 1e-5));
    EXPECT_TRUE((mass >= 0).all().item<bool>() && (mass <= 1 + 1e-6).all().item<bool>());
    const auto b_rows = store.head_scores(c.run, f.layer, f.feature, k::kMethodB);
    double strongest = 0.0;
    for (const auto& r : b_rows) strongest = std::max(strongest, std::abs(r.score));
    double first_top = 0.0;
    for (const auto& r : b_rows) {
      if (r.head_layer == top[0][0].item<int64_t>() && r.head == top[0][1].item<int64_t>()) first_top = r.score;
    }
    EXPECT_DOUBLE_EQ(std::abs(first_top), strongest) << feature_label(f);
  }

  // The wiring end to end: method A and exact patching of the first feature recomputed
  // here from its stored top VQA samples give the stored rows.
  const FeatureRef f = spatial.front();
  SampleLookup lookup(ctx);
  const auto samples = feature_top_samples(store, c.run, f, {k::kDatasetVqa}, 6, lookup, "test");
  ASSERT_EQ(samples.size(), static_cast<size_t>(kTopPerDataset));
  for (const auto& s : samples) EXPECT_EQ(s.dataset, k::kDatasetVqa);
  const BatchInput input = top_sample_input(samples, "test");
  const auto batches = prepare_batches(model, input.ids, input.pixels, 4);
  const Sae sae = load_adapted_sae(store, c.run, f.layer, "text", model, "test");
  FeatureTarget target{&sae, f.layer, f.feature};
  const auto attribution = attribute_heads(model, target, batches, mean, AttributionOptions{});
  const auto exact = exact_patch_heads(model, target, batches, mean, ExactPatchingOptions{});
  for (const auto& [method, map] :
       {std::pair{k::kMethodA, attribution.method_a.score}, {k::kMethodExact, exact.noising.effect}}) {
    for (const auto& r : store.head_scores(c.run, f.layer, f.feature, method)) {
      const double want = map[r.head_layer][r.head].item<double>();
      EXPECT_NEAR(r.score, want, 1e-6 * (1.0 + std::abs(want))) << method << " L" << r.head_layer << "H" << r.head;
    }
  }
  const auto stage = store.stage(c.run, "attrib");
  const auto result = nlohmann::json::parse(stage->result_json);
  EXPECT_EQ(result["attributed"], kSpatialFeatures);
  EXPECT_EQ(result["samples"], kSpatialFeatures * kTopPerDataset);
  std::printf("attrib: %s forward + %s backward passes (A and B), %s exact patching passes; %.2f s vs %.2f s\n",
              result["forward_passes"].dump().c_str(), result["backward_passes"].dump().c_str(),
              result["exact_forward_passes"].dump().c_str(), result["seconds_attribution"].get<double>(),
              result["seconds_exact"].get<double>());
}

TEST(PipelineLateWorld, AblateWritesARowPerFeature) {
  REQUIRE_LATE_MICRO_WORLD();
  const LateRun& c = late_run();
  ASSERT_TRUE(c.snapshot.ok()) << snapshot_errors(c.snapshot);
  Store store = Store::open(c.db, Store::Mode::kReadOnly);
  const auto spatial = store.selection(c.run, k::kSpatialSelection);
  const auto rows = store.ablations(c.run);
  ASSERT_EQ(rows.size(), spatial.size());
  PipelineContext ctx(late_options(), run_dir(c.db, c.run));
  const auto& vsr = ctx.dataset(DataSplit::kVsr);
  SampleLookup lookup(ctx);
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    const FeatureRef f{r.layer, r.feature};
    EXPECT_EQ(f, spatial[i]);
    for (double v : {r.d_vsr_acc, r.d_vqa_acc, r.d_ctrl}) {
      EXPECT_TRUE(std::isfinite(v)) << feature_label(f);
      EXPECT_LE(std::abs(v), 100.0);
    }
    EXPECT_TRUE(std::isfinite(r.d_vsr_prob));
    EXPECT_LE(std::abs(r.d_vsr_prob), 1.0);
    EXPECT_DOUBLE_EQ(r.vsr_or, 2.0 + static_cast<double>(i));  // the stand-in's value, passed through

    // The subset: every VSR item of the row's relations (or the whole split), counted here.
    std::set<std::string> relations(r.relations.begin(), r.relations.end());
    const auto samples = feature_top_samples(store, c.run, f, {k::kDatasetVqa, k::kDatasetVsr}, 8, lookup, "test");
    bool any_relation = false;
    for (const auto& s : samples) any_relation |= !s.item().relation.empty();
    if (any_relation) {
      EXPECT_FALSE(relations.empty()) << feature_label(f);
    }
    int64_t expected = 0;
    for (int64_t j = 0; j < vsr.size(); ++j)
      expected += relations.empty() || relations.count(vsr.item(j).relation) ? 1 : 0;
    EXPECT_EQ(r.n_samples, expected) << feature_label(f);
    EXPECT_GT(r.n_samples, 0);

    const auto spread = nlohmann::json::parse(r.seed_spread_json);
    ASSERT_EQ(spread["d_ctrl_seeds"].size(), 2u);
    double sum = 0.0;
    for (const auto& d : spread["d_ctrl_seeds"]) sum += d.get<double>();
    EXPECT_NEAR(r.d_ctrl, sum / 2.0, 1e-9);
    EXPECT_GE(spread["d_ctrl_std"].get<double>(), 0.0);
    std::set<int64_t> controls;
    for (const auto& seed : spread["control_features"])
      for (const auto& id : seed) controls.insert(id.get<int64_t>());
    EXPECT_EQ(controls.size(), 2u);  // distinct per seed
    EXPECT_FALSE(controls.count(r.feature));
    const double base = spread["vsr_baseline_acc"], ablated = spread["vsr_ablated_acc"];
    EXPECT_NEAR(r.d_vsr_acc, ablated - base, 1e-9);
    std::printf("ablate %s: dVSR acc %+.2f pts (%.1f -> %.1f, n=%lld, relations '%s'), dVSR prob %+.4f, dVQA acc "
                "%+.2f pts (n=%lld), dCtrl %+.2f +- %.2f pts\n",
                feature_label(f).c_str(), r.d_vsr_acc, base, ablated, static_cast<long long>(r.n_samples),
                fmt::format("{}", fmt::join(r.relations, ", ")).c_str(), r.d_vsr_prob, r.d_vqa_acc,
                static_cast<long long>(spread["vqa_items"].get<int64_t>()), r.d_ctrl,
                spread["d_ctrl_std"].get<double>());
  }
}

TEST(PipelineLateWorld, ReportWritesTheLateTables) {
  REQUIRE_LATE_MICRO_WORLD();
  const LateRun& c = late_run();
  ASSERT_TRUE(c.snapshot.ok()) << snapshot_errors(c.snapshot);
  Store store = Store::open(c.db, Store::Mode::kReadOnly);
  const int64_t heads = store.count_rows("heads", c.run);
  EXPECT_EQ(c.counts.heads, heads);
  EXPECT_EQ(c.counts.patching, kSpatialFeatures);
  EXPECT_EQ(c.counts.ablation, kSpatialFeatures);
  const auto head_lines = read_lines(c.report_dir + "/heads.csv");
  ASSERT_FALSE(head_lines.empty());
  EXPECT_EQ(head_lines.front(), "layer,feature,method,head_layer,head,score");
  EXPECT_EQ(static_cast<int64_t>(head_lines.size()), 1 + heads);
  const auto patch_lines = read_lines(c.report_dir + "/patching.csv");
  ASSERT_EQ(patch_lines.size(), 1u + kSpatialFeatures);
  EXPECT_EQ(patch_lines.front(), "layer,feature,spearman_a,spearman_b");
  const auto ablation_lines = read_lines(c.report_dir + "/ablation.csv");
  ASSERT_EQ(ablation_lines.size(), 1u + kSpatialFeatures);
  EXPECT_EQ(ablation_lines.front(), "layer,feature,d_vsr_acc,d_vsr_prob,d_vqa_acc,d_ctrl,vsr_or,n_samples,relations");
  const auto md = test::read_bytes(c.report_dir + "/ablation.md");
  EXPECT_NE(md.find("## Table 1."), std::string::npos);
  EXPECT_NE(md.find("## Table 2."), std::string::npos);
  int64_t table_rows = 0;
  for (const auto& line : read_lines(c.report_dir + "/ablation.md"))
    table_rows += line.rfind("| ", 0) == 0 && line.find("Layer") == std::string::npos ? 1 : 0;
  EXPECT_EQ(table_rows, 2 * kSpatialFeatures);  // both tables list every feature here
  std::printf("%s", md.c_str());
}

TEST(PipelineLateWorld, SecondRunReusesEveryStage) {
  REQUIRE_LATE_MICRO_WORLD();
  const LateRun& c = late_run();
  ASSERT_TRUE(c.snapshot.ok()) << snapshot_errors(c.snapshot);
  Store store = Store::open(c.db);
  const int64_t heads = store.count_rows("heads", c.run);
  PipelineContext ctx(late_options(), run_dir(c.db, c.run));
  JobRunner runner(store, c.run, late_stages(ctx));
  const auto snap = runner.run();
  ASSERT_TRUE(snap.ok()) << snapshot_errors(snap);
  for (const char* name : {"attrib", "ablate"}) EXPECT_TRUE(snap.find(name)->reused) << name;
  EXPECT_EQ(store.count_rows("heads", c.run), heads);
  EXPECT_EQ(store.count_rows("ablation", c.run), kSpatialFeatures);
}

TEST(PipelineLateWorld, EmptySelectionIsDoneAndMissingInputsAreNamed) {
  REQUIRE_LATE_MICRO_WORLD();
  torch::set_num_threads(1);
  const std::string db = test::scratch_dir("pipeline-late-edge") + "/run.db";
  const PipelineOptions options = late_options();
  Store store = Store::open(db);
  // A stand-in topk stage that writes `selection` and nothing else (no adapt / diff).
  auto run_with = [&](const std::vector<FeatureRef>& selection) {
    RunRecord r;
    r.name = "edge";
    const int64_t run = store.create_run(r);
    PipelineContext ctx(options, run_dir(db, run));
    Stage topk;
    topk.name = "lexical";
    topk.options_hash = hash_options("edge");
    topk.run = [selection](StageContext& sc) {
      sc.commit([&](Store& st) { st.put_selection(sc.run_id(), k::kSpatialSelection, selection); });
    };
    std::vector<Stage> stages{topk, attrib_stage_definition().make(ctx), ablate_stage_definition().make(ctx)};
    JobRunner runner(store, run, std::move(stages));
    return std::make_pair(run, runner.run());
  };

  // No spatial feature: both stages are done and write nothing.
  const auto [empty_run, empty] = run_with({});
  ASSERT_TRUE(empty.ok()) << snapshot_errors(empty);
  for (const char* name : {"attrib", "ablate"})
    EXPECT_EQ(nlohmann::json::parse(empty.find(name)->result_json)["features"], 0) << name;
  EXPECT_EQ(store.count_rows("heads", empty_run), 0);
  EXPECT_EQ(store.count_rows("ablation", empty_run), 0);

  // A feature whose adapted SAE the store lacks: both fail naming the missing key.
  const auto [missing_run, missing] = run_with({{1, 3}});
  for (const char* name : {"attrib", "ablate"}) {
    EXPECT_EQ(missing.find(name)->status, StageStatus::kFailed) << name;
    EXPECT_NE(missing.find(name)->error.find("sae/L1/text"), std::string::npos) << missing.find(name)->error;
  }

  // A stored sample the splits do not hold, and a dataset name no split has.
  PipelineContext ctx(options, run_dir(db, missing_run));
  SampleLookup lookup(ctx);
  EXPECT_EQ(lookup.find(k::kDatasetVsr, ctx.dataset(DataSplit::kVsr).item(2).sample_id, "test").index, 2);
  const std::string message = test::error_of([&] { lookup.find(k::kDatasetVsr, "world-test:9999:vsr", "test"); });
  EXPECT_NE(message.find("world-test:9999:vsr"), std::string::npos) << message;
  EXPECT_NE(test::error_of([&] { lookup.find("coco", "x", "test"); }).find("coco"), std::string::npos);
}
