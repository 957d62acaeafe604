// Stage "topk" (paper 5.1, Fig. 3; A.8; Table 1 "VSR OR"): for every candidate feature of
// any skill (the shift stage's "<skill>_candidates"), its top-activating samples from the
// VQA evaluation split and from the VSR items, with per-token and per-image-patch
// activations, merged into one ranked list per feature; and the relation association on
// VSR: per relation, the odds ratio of firing on its items versus the other relations'.
// The lexical stage re-runs the "vqa" samples; attribution and ablation read them too.
//
// Options ("stages.topk"), defaults in topk_defaults():
//   k_vqa               10      top samples per feature from the VQA evaluation split
//   k_vsr               10      top samples per feature from the VSR items
//   positions           "text"  positions a sample's max (its rank) is taken over: the
//                               question's, where the lexical filter and the attribution
//                               objective look (text | image | all)
//   relation_positions  "all"   positions the relation odds ratios count (as p_f: all)
//   top_relations       3       relations reported per feature (OR > 1, highest first)
//   batch_size          8       sequences per VLM forward
//   chunk_rows          4096    rows encoded at once per layer
// VSR is optional in real mode: without a VSR file only the VQA samples are written.
#include <ATen/Parallel.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/common/error.h"
#include "core/io/json_util.h"
#include "core/jobs/job_runner.h"
#include "core/pipeline/context.h"
#include "core/pipeline/skill_stage_util.h"
#include "core/pipeline/stages.h"
#include "core/pipeline/store_keys.h"
#include "core/skills/firing.h"
#include "core/skills/top_samples.h"
#include "core/store/store.h"

namespace sightline {

namespace {

nlohmann::json topk_defaults() {
  return {{"k_vqa", 10},        {"k_vsr", 10},     {"positions", "text"}, {"relation_positions", "all"},
          {"top_relations", 3}, {"batch_size", 8}, {"chunk_rows", 4096}};
}

struct TopkStageOptions {
  int64_t k_vqa = 10, k_vsr = 10, top_relations = 3;
  Positions positions = Positions::kText, relation_positions = Positions::kAll;
  StreamOptions stream;
};

TopkStageOptions parse_topk(const nlohmann::json& j, const std::string& where) {
  TopkStageOptions o;
  o.k_vqa = json_get<int64_t>(j, "k_vqa", where);
  o.k_vsr = json_get<int64_t>(j, "k_vsr", where);
  o.top_relations = json_get<int64_t>(j, "top_relations", where);
  o.positions = parse_positions(json_get<std::string>(j, "positions", where), where, "positions");
  o.relation_positions =
      parse_positions(json_get<std::string>(j, "relation_positions", where), where, "relation_positions");
  o.stream = parse_stream_options(j, where);
  check(o.k_vqa >= 1, "file '{}': field 'k_vqa' must be >= 1, got {}", where, o.k_vqa);
  check(o.k_vsr >= 0, "file '{}': field 'k_vsr' must be >= 0, got {}", where, o.k_vsr);
  check(o.top_relations >= 1, "file '{}': field 'top_relations' must be >= 1, got {}", where, o.top_relations);
  return o;
}

bool has_vsr(const PipelineContext& ctx) {
  return ctx.options().source.world_mode() || !ctx.options().source.vsr.empty();
}

void run_topk(PipelineContext& ctx, StageContext& sc) {
  at::init_num_threads();  // this worker thread takes the process's torch thread count
  const TopkStageOptions o = parse_topk(ctx.options().stage("topk"), "stages.topk");
  const auto candidates = candidate_union(sc.store(), sc.run_id(), run_skills(ctx));
  size_t features = 0;
  for (const auto& [layer, list] : candidates) features += list.size();
  if (features == 0) {
    sc.commit({}, nlohmann::json{{"features", 0}, {"note", "no candidate features: nothing to rank"}}.dump());
    return;
  }
  sc.progress().begin("load model, SAEs and data", 0);
  const VisionLanguageModel& model = ctx.model();
  const PromptDataset& eval = ctx.dataset(DataSplit::kEval);
  const std::vector<Sae> saes = load_diff_saes(ctx, sc, "topk");
  const std::vector<LayerFeatures> layers = layer_features(ctx.layers(), saes, candidates);

  const auto vqa = top_samples(model, layers, eval, o.k_vqa, o.positions, o.stream, sc.progress());
  std::vector<std::vector<std::vector<TopSample>>> vsr(layers.size());
  for (size_t l = 0; l < layers.size(); ++l) vsr[l].resize(layers[l].features.size());
  std::vector<RelationAssociation> association;
  std::vector<std::string> relations;
  int64_t vsr_items = 0;
  if (has_vsr(ctx)) {
    const PromptDataset& vsr_data = ctx.dataset(DataSplit::kVsr);
    vsr_items = vsr_data.size();
    if (vsr_items > 0 && o.k_vsr > 0)
      vsr = top_samples(model, layers, vsr_data, o.k_vsr, o.positions, o.stream, sc.progress());
    std::set<std::string> names;
    for (int64_t i = 0; i < vsr_items; ++i)
      if (!vsr_data.item(i).relation.empty()) names.insert(vsr_data.item(i).relation);
    relations.assign(names.begin(), names.end());
    if (!relations.empty()) {
      std::vector<std::vector<uint8_t>> groups(relations.size(),
                                               std::vector<uint8_t>(static_cast<size_t>(vsr_items), 0));
      for (int64_t i = 0; i < vsr_items; ++i) {
        const auto& rel = vsr_data.item(i).relation;
        if (rel.empty()) continue;
        const auto r =
            static_cast<size_t>(std::lower_bound(relations.begin(), relations.end(), rel) - relations.begin());
        groups[r][static_cast<size_t>(i)] = 1;
      }
      const auto firing = count_group_firing(model, layers, vsr_data, groups, o.relation_positions, o.stream,
                                             sc.progress(), "VSR relation counts");
      for (const auto& f : firing) association.push_back(relation_association(f, relations));
    }
  }

  sc.progress().begin("merge top samples", 0);
  std::vector<TopActivation> rows;
  std::vector<FeatureValue> vsr_or;
  std::map<std::string, std::vector<FeatureValue>> relation_metrics;
  int64_t with_relation = 0;
  for (size_t l = 0; l < layers.size(); ++l) {
    for (size_t c = 0; c < layers[l].features.size(); ++c) {
      const int32_t layer = layers[l].layer;
      const auto f = static_cast<int32_t>(layers[l].features[c]);
      auto merged = merge_top_samples(layer, f, {{store_keys::kTopVqa, vqa[l][c]}, {store_keys::kTopVsr, vsr[l][c]}});
      for (auto& r : merged) rows.push_back(std::move(r));
      if (association.empty()) continue;
      const auto odds = fired_relation_odds(association[l], static_cast<int64_t>(c));
      for (const auto& [rel, value] : odds)
        relation_metrics[store_keys::vsr_relation_key(rel)].push_back({layer, f, value});
      const auto top = top_relations(odds, 1);
      vsr_or.push_back({layer, f, top.empty() ? kNotComputed : odds.at(top[0])});
      with_relation += top.empty() ? 0 : 1;
    }
  }
  const nlohmann::json result{{"features", features},
                              {"samples", rows.size()},
                              {"vqa_items", eval.size()},
                              {"vsr_items", vsr_items},
                              {"relations", relations},
                              {"features_with_relation", with_relation},
                              {"positions", to_string(o.positions)}};
  sc.progress().begin("write results", 0);
  sc.commit(
      [&](Store& store) {
        store.put_top_activations(sc.run_id(), rows);
        if (!vsr_or.empty()) store.set_feature_metric(sc.run_id(), store_keys::kVsrOr, vsr_or);
        for (const auto& [key, values] : relation_metrics) store.set_feature_metric(sc.run_id(), key, values);
      },
      result.dump());
}

}  // namespace

StageDefinition topk_stage_definition() {
  StageDefinition d;
  d.name = "topk";
  d.description = "top-activating VQA and VSR samples of the candidates, VSR relation odds ratios";
  d.deps = {"shift"};
  d.defaults = topk_defaults;
  d.validate = [](const nlohmann::json& j, const std::string& where) { parse_topk(j, where); };
  d.make = [](PipelineContext& ctx) {
    Stage s;
    s.name = "topk";
    s.deps = {"shift"};
    nlohmann::json key = common_options_json(ctx.options());
    key["stage"] = ctx.options().stage("topk");
    s.options_hash = hash_options(key.dump());
    s.run = [&ctx](StageContext& sc) { run_topk(ctx, sc); };
    s.reset = [](Store& store, int64_t run) {
      store.clear(run, StoreTable::kTopActivations);
      store.clear_feature_metric(run, store_keys::kVsrOr);
      const std::string prefix = store_keys::kVsrOrPrefix;
      for (const auto& key : store.feature_metric_keys(run))
        if (key.rfind(prefix, 0) == 0) store.clear_feature_metric(run, key);
    };
    return s;
  };
  return d;
}

}  // namespace sightline
