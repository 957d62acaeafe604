// The skill stages (shift, topk, lexical) end to end on the micro world (env
// SIGHTLINE_MICRO_WORLD): what they write is consistent with its definitions, a second
// run reuses them, and the report's skill_features.csv lists the candidates. The size of
// the spatial set and how its members fire on the world's spatial questions versus the
// others are printed (measured, not asserted: a micro world may yield few features).
#include <gtest/gtest.h>
#include <ATen/Parallel.h>
#include <torch/types.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/data/skill_filter.h"
#include "core/io/json_util.h"
#include "core/pipeline/options.h"
#include "core/pipeline/pipeline.h"
#include "core/pipeline/report.h"
#include "core/pipeline/store_keys.h"
#include "core/sae/sae_io.h"
#include "core/skills/code_stream.h"
#include "core/skills/firing.h"
#include "tests/test_pipeline_util.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace sightline;

namespace {

// Adapt only the text regime (the one the skill stages read) on a small budget; every VQA
// question of the micro world's test split as D_base.
PipelineOptions skill_options() {
  auto j = nlohmann::json::parse(R"({
    "data": {"train_items": 200, "heldout_items": 30, "eval_items": 100000},
    "stages": {"adapt": {"train_tokens": 4000, "regimes": ["text"],
                         "train": {"batch_size": 256, "lr": 1e-3, "warmup_steps": 5, "eval_every_tokens": 1000,
                                   "shuffle_buffer_mb": 0.5, "dead_window_tokens": 20000}},
               "diff": {"regime": "text"}}})");
  j["source"]["world"] = test::micro_world_dir();
  return pipeline_options_from_json(j, "skills test config");
}

PipelineRunOptions skill_run(const std::string& db) {
  PipelineRunOptions r;
  r.db_path = db;
  r.name = "skills";
  r.stages = {"lexical"};  // and its dependencies: adapt, diff, shift, topk
  return r;
}

}  // namespace

TEST(PipelineSkills, ShiftTopkLexicalEndToEndOnTheMicroWorld) {
  if (test::micro_world_dir().empty()) GTEST_SKIP() << "SIGHTLINE_MICRO_WORLD is not set to a built micro world: skipping";
  torch::set_num_threads(1);
  const std::string dir = test::scratch_dir("pipeline-skills");
  const std::string db = dir + "/run.db";
  const PipelineOptions options = skill_options();
  auto p = std::make_unique<Pipeline>(options, skill_run(db));
  const RunSnapshot snap = p->run();
  for (const auto& s : snap.stages) EXPECT_EQ(s.status, StageStatus::kDone) << s.name << ": " << s.error;
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(p->stage_names(), (std::vector<std::string>{"adapt", "diff", "shift", "topk", "lexical"}));
  Store& store = p->store();
  const int64_t run = p->run_id();
  const PromptDataset& eval = p->context().dataset(DataSplit::kEval);
  const PromptDataset& vsr = p->context().dataset(DataSplit::kVsr);
  const VisionLanguageModel& model = p->context().model();

  // Shift: D_skill = the questions holding a cue word; every feature has its statistics
  // and the candidates are exactly the features the rule lets through.
  const auto shift = nlohmann::json::parse(store.stage(run, "shift")->result_json);
  ASSERT_EQ(shift["skills"].size(), 2u);
  const double min_dp = options.stage("shift")["min_delta_p"], min_or = options.stage("shift")["min_odds_ratio"];
  const auto rows = store.features(run);
  std::map<FeatureRef, FeatureRow> by_ref;
  for (const auto& r : rows) by_ref[r.ref()] = r;
  std::map<std::string, std::set<FeatureRef>> candidates, selected;
  for (size_t s = 0; s < 2; ++s) {
    const std::string skill = shift["skills"][s]["name"];
    const SkillFilter filter = skill_filter_preset(skill);
    int64_t items = 0;
    for (int64_t i = 0; i < eval.size(); ++i) items += filter.matches(eval.item(i).text);
    EXPECT_EQ(shift["skills"][s]["items"], items) << skill;
    EXPECT_GT(items, 0) << skill;
    EXPECT_LT(items, eval.size()) << skill;
    const auto cand = store.selection(run, store_keys::candidates_selection(skill));
    candidates[skill] = std::set<FeatureRef>(cand.begin(), cand.end());
    const auto sel = store.selection(run, skill);
    selected[skill] = std::set<FeatureRef>(sel.begin(), sel.end());
    for (const auto& r : rows) {
      const double p_base = r.p_base;
      const double p_skill = *r.get(store_keys::skill_metric_key(skill, "p_skill"));
      const double dp = *r.get(store_keys::skill_metric_key(skill, "delta_p"));
      const double odds = *r.get(store_keys::skill_metric_key(skill, "odds_ratio"));
      ASSERT_TRUE(std::isfinite(p_base) && std::isfinite(p_skill) && std::isfinite(odds)) << skill;
      EXPECT_GE(p_base, 0.0);
      EXPECT_LE(p_base, 1.0);
      EXPECT_DOUBLE_EQ(dp, p_skill - p_base);
      EXPECT_EQ(candidates[skill].count(r.ref()) > 0, dp > min_dp && odds > min_or)
          << skill << " L" << r.layer << "/F" << r.feature;
    }
  }

  // Topk: every candidate has ranked, de-duplicated samples from the two sets, with one
  // token activation per prompt id (image marker excluded) and one per image patch.
  std::map<std::string, const PromptItem*> items;
  for (const PromptDataset* ds : {&eval, &vsr})
    for (int64_t i = 0; i < ds->size(); ++i) items[ds->item(i).sample_id] = &ds->item(i);
  std::set<FeatureRef> all_candidates;
  for (const auto& [skill, set] : candidates) all_candidates.insert(set.begin(), set.end());
  int64_t with_samples = 0;
  for (const auto& ref : all_candidates) {
    const auto tops = store.top_activations(run, ref.layer, ref.feature);
    EXPECT_LE(tops.size(), 20u);
    std::set<std::string> ids;
    for (size_t r = 0; r < tops.size(); ++r) {
      const auto& t = tops[r];
      EXPECT_EQ(t.rank, static_cast<int32_t>(r));
      EXPECT_TRUE(t.dataset == "vqa" || t.dataset == "vsr") << t.dataset;
      EXPECT_TRUE(ids.insert(t.sample_id).second) << t.sample_id;
      if (r > 0) {
        EXPECT_LE(t.max_activation, tops[r - 1].max_activation);
      }
      EXPECT_GT(t.max_activation, 0);
      ASSERT_TRUE(items.count(t.sample_id)) << t.sample_id;
      const PromptItem& it = *items.at(t.sample_id);
      EXPECT_EQ(t.token_acts.size(), it.ids.size() - 1);
      EXPECT_EQ(static_cast<int64_t>(t.patch_acts.size()), model.image_tokens());
      // The ranking score is the max over the question's (text) positions.
      float text_max = 0;
      for (float v : t.token_acts) text_max = std::max(text_max, v);
      EXPECT_NEAR(t.max_activation, text_max, 1e-4 * (1 + text_max));
    }
    with_samples += !tops.empty();
    const FeatureRow& row = by_ref.at(ref);
    std::map<std::string, double> relation_odds;
    for (const auto& [key, v] : row.extra)
      if (key.rfind(store_keys::kVsrOrPrefix, 0) == 0)
        relation_odds[key.substr(std::string(store_keys::kVsrOrPrefix).size())] = v;
    const auto top = top_relations(relation_odds, 1);
    if (top.empty()) {
      EXPECT_TRUE(std::isnan(row.vsr_or));
    } else {
      EXPECT_DOUBLE_EQ(row.vsr_or, relation_odds.at(top[0]));
      EXPECT_GT(row.vsr_or, 1.0);
    }
  }
  EXPECT_EQ(with_samples > 0, !all_candidates.empty());

  // Lexical: a skill's features are its candidates that persist and are adapted.
  for (const auto& [skill, cand] : candidates) {
    std::set<FeatureRef> want;
    for (const auto& ref : cand) {
      const FeatureRow& r = by_ref.at(ref);
      ASSERT_FALSE(std::isnan(r.lexical_persistent));
      if (r.lexical_persistent == 1.0 && r.adapted == 1.0) want.insert(ref);
      EXPECT_EQ(*r.get(store_keys::skill_metric_key(skill, "selected")), want.count(ref) ? 1.0 : 0.0);
    }
    EXPECT_EQ(selected[skill], want) << skill;
  }

  // Report: one skill_features.csv row per candidate of each skill.
  const ReportCounts counts = write_report(store, run, dir + "/report");
  EXPECT_EQ(test::first_line(dir + "/report/skill_features.csv"),
            "layer,feature,skill,p_base,p_skill,dp,odds_ratio,lexical_pass,adapted,selected,top_relations");
  EXPECT_EQ(counts.skill_features, static_cast<int64_t>(candidates["spatial"].size() + candidates["ocr"].size()));
  const std::string summary = format_summary(run_summary(store, run));
  EXPECT_NE(summary.find("spatial cand"), std::string::npos) << summary;
  EXPECT_NE(summary.find("ocr sel"), std::string::npos) << summary;

  // Measured: do the spatial features fire more on the world's spatial questions (those
  // with a relation) than on the others? Firing frequency over all positions, as p_f.
  std::vector<std::vector<uint8_t>> groups(2, std::vector<uint8_t>(static_cast<size_t>(eval.size()), 0));
  for (int64_t i = 0; i < eval.size(); ++i) groups[eval.item(i).relation.empty() ? 1 : 0][static_cast<size_t>(i)] = 1;
  std::map<int, std::vector<int64_t>> by_layer;
  for (const auto& ref : selected["spatial"].empty() ? candidates["spatial"] : selected["spatial"])
    by_layer[ref.layer].push_back(ref.feature);
  std::vector<Sae> saes;
  std::vector<LayerFeatures> layers;
  SaeLoadOptions load;
  for (const auto& [layer, feats] : by_layer)
    saes.push_back(load_sae(fs::path(store.tensor(run, store_keys::sae_tensor_key(layer, "text"))->path)
                                .parent_path()
                                .parent_path()
                                .string(),
                            load));
  size_t i = 0;
  for (const auto& [layer, feats] : by_layer) layers.push_back({layer, &saes[i++], feats});
  int64_t more = 0, measured = 0;
  if (!layers.empty()) {
    const auto firing = count_group_firing(model, layers, eval, groups, Positions::kAll, {}, null_progress());
    for (size_t l = 0; l < layers.size(); ++l)
      for (size_t c = 0; c < layers[l].features.size(); ++c) {
        const double p_sp = firing_frequency(firing[l].fires[0][c], firing[l].tokens[0]);
        const double p_other = firing_frequency(firing[l].fires[1][c], firing[l].tokens[1]);
        std::printf("[skills] %s L%d/F%lld: p(spatial questions) %.4f  p(other questions) %.4f\n",
                    selected["spatial"].empty() ? "candidate" : "spatial feature", layers[l].layer,
                    static_cast<long long>(layers[l].features[c]), p_sp, p_other);
        more += p_sp > p_other;
        ++measured;
      }
  }
  int64_t spatial_questions = 0;
  for (uint8_t g : groups[0]) spatial_questions += g;
  std::printf(
      "[skills] eval items %lld (spatial questions %lld); spatial candidates %zu, spatial set %zu; "
      "ocr candidates %zu, ocr set %zu; adapted %zu\n",
      static_cast<long long>(eval.size()), static_cast<long long>(spatial_questions), candidates["spatial"].size(),
      selected["spatial"].size(), candidates["ocr"].size(), selected["ocr"].size(),
      store.selection(run, store_keys::kAdaptedSelection).size());
  std::printf("[skills] %lld of %lld measured %s fire more on spatial than on other questions\n",
              static_cast<long long>(more), static_cast<long long>(measured),
              selected["spatial"].empty() ? "spatial candidates (the spatial set is empty)" : "spatial features");
  std::fflush(stdout);
  // Issue 5's check on the micro world: a non-empty spatial set whose members fire more
  // on spatial questions than on the others (a majority of them; measured 3 of 3 when
  // this was written).
  EXPECT_FALSE(selected["spatial"].empty());
  EXPECT_GT(2 * more, measured);

  // A second run of the same options reuses every stage and writes nothing new.
  const int64_t samples = store.count_rows("samples", run);
  const int64_t metrics = store.count_rows("feature_metrics", run);
  EXPECT_EQ(samples > 0, !all_candidates.empty());
  p.reset();  // one writer per store
  Pipeline again(options, skill_run(db));
  EXPECT_TRUE(again.resumed());
  const RunSnapshot second = again.run();
  ASSERT_TRUE(second.ok());
  for (const char* stage : {"shift", "topk", "lexical"}) EXPECT_TRUE(second.find(stage)->reused) << stage;
  EXPECT_EQ(again.store().count_rows("samples", run), samples);
  EXPECT_EQ(again.store().count_rows("feature_metrics", run), metrics);
}

TEST(PipelineSkills, StageOptionsAreValidated) {
  const auto expect_error = &test::expect_options_error;
  expect_error(R"({"stages": {"shift": {"skills": ["telepathy"]}}})", "telepathy");
  expect_error(R"({"stages": {"shift": {"skills": []}}})", "skills");
  expect_error(R"({"stages": {"shift": {"positions": "pixels"}}})", "positions");
  expect_error(R"({"stages": {"shift": {"min_odds_ratio": -1}}})", "min_odds_ratio");
  expect_error(R"({"stages": {"topk": {"k_vqa": 0}}})", "k_vqa");
  expect_error(R"({"stages": {"topk": {"top_relations": 0}}})", "top_relations");
  expect_error(R"({"stages": {"topk": {"batch_size": 0}}})", "batch_size");
  expect_error(R"({"stages": {"lexical": {"min_fraction": 1.5}}})", "min_fraction");
  expect_error(R"({"stages": {"lexical": {"samples": 0}}})", "samples");
  expect_error(R"({"stages": {"lexical": {"neutral_prompts": ["a"], "neutral_prompts_file": "b.txt"}}})",
               "neutral_prompts");
  expect_error(R"({"stages": {"lexical": {"neutral_prompt": []}}})", "neutral_prompt");
  const auto o = pipeline_options_from_json(
      nlohmann::json::parse(
          R"({"stages": {"shift": {"skills": ["spatial", {"name": "count", "cues": ["how many"]}]}}})"),
      "cfg.json");
  EXPECT_EQ(o.stage("shift")["skills"].size(), 2u);
  EXPECT_EQ(o.stage("shift")["min_odds_ratio"], 1.5);
  EXPECT_EQ(o.stage("topk")["k_vqa"], 10);
  EXPECT_EQ(o.stage("lexical")["min_fraction"], 0.5);
}
