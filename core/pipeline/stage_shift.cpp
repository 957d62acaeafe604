// Stage "shift" (METHOD.md Stage 3 step 1, paper 4.3 "distribution shift", Fig. 9): for
// every skill, D_skill = the evaluation split's questions that hold one of the skill's
// cue words; per feature of the diff stage's adapted SAEs, the firing frequencies p_f over
// D_base (the whole evaluation split) and D_skill, dp_f and the odds ratio OR_f (0.5 added
// to every cell); candidates = dp_f > min_delta_p and OR_f > min_odds_ratio. One VLM
// pass over D_base serves every skill.
//
// Options ("stages.shift"), defaults in shift_defaults():
//   skills          ["spatial", "ocr"]  preset names, skill files (*.json with {"name",
//                                       "cues"}) or inline {"name": ..., "cues": [...]}
//   positions       "all"   positions p_f counts: all | text | image (METHOD.md: every
//                           token, BOS excluded)
//   min_delta_p     1e-3    candidates: dp_f strictly above
//   min_odds_ratio  1.5     candidates: OR_f strictly above
//   batch_size      8       sequences per VLM forward
//   chunk_rows      4096    rows encoded at once per layer
// Writes (store_keys.h): p_base and each skill's p_skill / delta_p / odds_ratio for every
// feature; selections "<skill>_candidates".
#include <ATen/Parallel.h>

#include <map>

#include "core/common/error.h"
#include "core/io/json_util.h"
#include "core/jobs/job_runner.h"
#include "core/pipeline/context.h"
#include "core/pipeline/skill_stage_util.h"
#include "core/pipeline/stages.h"
#include "core/pipeline/store_keys.h"
#include "core/skills/firing.h"
#include "core/skills/skill_config.h"
#include "core/store/store.h"

namespace sightline {

namespace {

nlohmann::json shift_defaults() {
  return {{"skills", {"spatial", "ocr"}}, {"positions", "all"}, {"min_delta_p", 1e-3},
          {"min_odds_ratio", 1.5},        {"batch_size", 8},    {"chunk_rows", 4096}};
}

struct ShiftStageOptions {
  std::vector<SkillFilter> skills;
  Positions positions = Positions::kAll;
  CandidateRule rule;
  StreamOptions stream;
};

ShiftStageOptions parse_shift(const nlohmann::json& j, const std::string& where) {
  ShiftStageOptions o;
  o.skills = parse_skills(json_get<nlohmann::json>(j, "skills", where), where);
  o.positions = parse_positions(json_get<std::string>(j, "positions", where), where, "positions");
  o.rule.min_delta_p = json_get<double>(j, "min_delta_p", where);
  o.rule.min_odds_ratio = json_get<double>(j, "min_odds_ratio", where);
  o.stream = parse_stream_options(j, where);
  check(o.rule.min_delta_p >= -1 && o.rule.min_delta_p <= 1,
        "file '{}': field 'min_delta_p' must be in [-1, 1], got {}", where, o.rule.min_delta_p);
  check(o.rule.min_odds_ratio >= 0, "file '{}': field 'min_odds_ratio' must be >= 0, got {}", where,
        o.rule.min_odds_ratio);
  return o;
}

const std::vector<std::string>& skill_metrics() {
  static const std::vector<std::string> m{"p_skill", "delta_p", "odds_ratio"};
  return m;
}

void run_shift(PipelineContext& ctx, StageContext& sc) {
  at::init_num_threads();  // this worker thread takes the process's torch thread count
  const ShiftStageOptions o = parse_shift(ctx.options().stage("shift"), "stages.shift");
  sc.progress().begin("load model, SAEs and data", 0);
  const VisionLanguageModel& model = ctx.model();
  const PromptDataset& eval = ctx.dataset(DataSplit::kEval);
  check(eval.size() > 0, "stage shift: the evaluation split ({}) has no items", eval.name());
  const std::vector<Sae> saes = load_diff_saes(ctx, sc, "shift");

  // Group 0 = D_base (every item), group 1 + s = D_skill of skill s.
  std::vector<std::string> texts;
  for (int64_t i = 0; i < eval.size(); ++i) texts.push_back(eval.item(i).text);
  std::vector<std::vector<uint8_t>> groups{std::vector<uint8_t>(texts.size(), 1)};
  for (auto& m : skill_membership(o.skills, texts)) groups.push_back(std::move(m));
  std::vector<LayerFeatures> layers;
  for (size_t i = 0; i < saes.size(); ++i) layers.push_back({ctx.layers()[i], &saes[i], {}});
  const auto firing = count_group_firing(model, layers, eval, groups, o.positions, o.stream, sc.progress());

  sc.progress().begin("select candidates", 0);
  std::vector<FeatureValue> p_base;
  std::map<std::string, std::vector<FeatureValue>> metrics;  // key -> values
  std::vector<std::vector<FeatureRef>> candidates(o.skills.size());
  nlohmann::json skills_json = nlohmann::json::array();
  for (size_t s = 0; s < o.skills.size(); ++s) {
    const std::string& name = o.skills[s].name();
    nlohmann::json per_layer = nlohmann::json::object();
    for (size_t i = 0; i < layers.size(); ++i) {
      const ShiftStats st = shift_stats(firing[i], 0, 1 + s);
      const int layer = layers[i].layer;
      const auto value = [&](int64_t f, double v) { return FeatureValue{layer, static_cast<int32_t>(f), v}; };
      for (size_t f = 0; f < st.p_base.size(); ++f) {
        const auto fi = static_cast<int64_t>(f);
        if (s == 0) p_base.push_back(value(fi, st.p_base[f]));
        metrics[store_keys::skill_metric_key(name, "p_skill")].push_back(value(fi, st.p_skill[f]));
        metrics[store_keys::skill_metric_key(name, "delta_p")].push_back(value(fi, st.delta_p[f]));
        metrics[store_keys::skill_metric_key(name, "odds_ratio")].push_back(value(fi, st.odds_ratio[f]));
      }
      const auto chosen = select_candidates(st, o.rule);
      for (int64_t f : chosen) candidates[s].push_back({layer, static_cast<int32_t>(f)});
      per_layer[std::to_string(layer)] = chosen.size();
    }
    int64_t items = 0;
    for (uint8_t m : groups[1 + s]) items += m;
    skills_json.push_back({{"name", name},
                           {"items", items},
                           {"tokens", firing.empty() ? 0 : firing[0].tokens[1 + s]},
                           {"candidates", candidates[s].size()},
                           {"candidates_per_layer", per_layer}});
  }
  const nlohmann::json result{{"positions", to_string(o.positions)},
                              {"min_delta_p", o.rule.min_delta_p},
                              {"min_odds_ratio", o.rule.min_odds_ratio},
                              {"base_items", eval.size()},
                              {"base_tokens", firing.empty() ? 0 : firing[0].tokens[0]},
                              {"skills", skills_json}};
  sc.progress().begin("write results", 0);
  sc.commit(
      [&](Store& store) {
        store.set_feature_metric(sc.run_id(), store_keys::kPBase, p_base);
        for (const auto& [key, values] : metrics) store.set_feature_metric(sc.run_id(), key, values);
        for (size_t s = 0; s < o.skills.size(); ++s)
          store.put_selection(sc.run_id(), store_keys::candidates_selection(o.skills[s].name()), candidates[s]);
      },
      result.dump());
}

}  // namespace

StageDefinition shift_stage_definition() {
  StageDefinition d;
  d.name = "shift";
  d.description = "skill splits by cue words: firing frequencies, dp, odds ratios, candidate features";
  d.deps = {"diff"};
  d.defaults = shift_defaults;
  d.validate = [](const nlohmann::json& j, const std::string& where) { parse_shift(j, where); };
  d.make = [](PipelineContext& ctx) {
    Stage s;
    s.name = "shift";
    s.deps = {"diff"};
    nlohmann::json key = common_options_json(ctx.options());
    key["stage"] = ctx.options().stage("shift");
    // The cue lists themselves, not a skill file's path, decide the results.
    key["skills"] = skills_to_json(run_skills(ctx));
    s.options_hash = hash_options(key.dump());
    s.run = [&ctx](StageContext& sc) { run_shift(ctx, sc); };
    const std::vector<SkillFilter> skills = run_skills(ctx);
    s.reset = [skills](Store& store, int64_t run) {
      store.clear_feature_metric(run, store_keys::kPBase);
      for (const auto& skill : skills) {
        for (const auto& m : skill_metrics())
          store.clear_feature_metric(run, store_keys::skill_metric_key(skill.name(), m));
        store.delete_selection(run, store_keys::candidates_selection(skill.name()));
      }
    };
    return s;
  };
  return d;
}

}  // namespace sightline
