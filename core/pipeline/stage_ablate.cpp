// Stage "ablate" (METHOD.md Stage 5, paper 5.3, Tables 1-2): each spatial feature is
// projected out of the text positions of its layer (core/ablation) and the model is
// re-scored on the feature's relation-specific VSR subset and on the VQA yes/no control;
// the same number of random same-layer features over several seeds gives dCtrl. One
// AblationRow per feature (store_keys.h).
//
// The VSR subset: the relations of the feature's top samples (items of either dataset
// that carry a relation), ranked by count; a relation joins when it covers at least
// `min_relation_share` of those samples (the most frequent one always does) and the VSR
// split holds items of it. When no relation qualifies the subset is the whole VSR split
// and the row's relations are empty.
//
// Seeds: the ablation itself is deterministic, so dVSR Acc / Prob and dVQA Acc are the
// same for every seed (their spread is 0); dCtrl is the mean over seeds, its sample
// standard deviation and per-seed values go to seed_spread_json.
//
// Options ("stages.ablate"), defaults in ablate_defaults():
//   top_k               16              top samples whose relations pick the subset
//   datasets            ["vqa", "vsr"]  which stored top samples count
//   min_relation_share  0.25            in [0, 1]
//   max_vsr_items       500             VSR items per feature subset, split order (0 = all)
//   max_vqa_items       500             VQA yes/no control items, split order (0 = all)
//   control_seeds       3               random-feature draws per feature (>= 1)
//   seed                0               fixes the control features with the feature
//   batch_size          32              prompts per forward
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/ablation/ablation_study.h"
#include "core/common/error.h"
#include "core/io/json_util.h"
#include "core/jobs/job_runner.h"
#include "core/pipeline/context.h"
#include "core/pipeline/feature_samples.h"
#include "core/pipeline/stages.h"
#include "core/pipeline/store_keys.h"
#include "core/store/store.h"

namespace sightline {

namespace {

namespace k = store_keys;

nlohmann::json ablate_defaults() {
  return {{"top_k", 16},
          {"datasets", {k::kDatasetVqa, k::kDatasetVsr}},
          {"min_relation_share", 0.25},
          {"max_vsr_items", 500},
          {"max_vqa_items", 500},
          {"control_seeds", 3},
          {"seed", 0},
          {"batch_size", 32}};
}

struct AblateStageOptions {
  int64_t top_k = 16;
  std::vector<std::string> datasets;
  double min_relation_share = 0.25;
  int64_t max_vsr_items = 500, max_vqa_items = 500;
  AblationOptions study;
};

AblateStageOptions parse_ablate(const nlohmann::json& j, const std::string& where) {
  check_known_keys(j, ablate_defaults(), where, "options");
  AblateStageOptions o;
  o.top_k = json_get<int64_t>(j, "top_k", where);
  check(o.top_k > 0, "file '{}': field 'top_k' must be positive, got {}", where, o.top_k);
  o.datasets = parse_sample_datasets(j, "datasets", where);
  o.min_relation_share = json_get<double>(j, "min_relation_share", where);
  check(o.min_relation_share >= 0.0 && o.min_relation_share <= 1.0,
        "file '{}': field 'min_relation_share' must be in [0, 1], got {}", where, o.min_relation_share);
  o.max_vsr_items = json_get<int64_t>(j, "max_vsr_items", where);
  o.max_vqa_items = json_get<int64_t>(j, "max_vqa_items", where);
  check(o.max_vsr_items >= 0, "file '{}': field 'max_vsr_items' must be >= 0, got {}", where, o.max_vsr_items);
  check(o.max_vqa_items >= 0, "file '{}': field 'max_vqa_items' must be >= 0, got {}", where, o.max_vqa_items);
  o.study.control_seeds = json_get<int>(j, "control_seeds", where);
  check(o.study.control_seeds >= 1, "file '{}': field 'control_seeds' must be >= 1, got {}", where,
        o.study.control_seeds);
  o.study.seed = json_get<uint64_t>(j, "seed", where);
  o.study.eval.batch_size = json_get<int64_t>(j, "batch_size", where);
  check(o.study.eval.batch_size > 0, "file '{}': field 'batch_size' must be positive, got {}", where,
        o.study.eval.batch_size);
  return o;
}

// Yes/no items of a split with their images, compacted: images[i] is the row of items[i].
struct ItemSet {
  std::vector<YesNoItem> items;
  std::vector<int64_t> source;  // dataset item index of each item
  ItemImages images;
};

ItemSet yes_no_items(const PromptDataset& data, const std::vector<int64_t>& indices) {
  ItemSet out;
  std::map<int64_t, int64_t> image_row;  // dataset image -> row of images.pixels
  std::vector<at::Tensor> pixels;
  for (int64_t i : indices) {
    const auto& item = data.item(i);
    YesNoItem y;
    y.prompt_ids = item.ids;
    y.label = item.answer == "yes";
    if (item.image >= 0) {
      auto [it, inserted] = image_row.emplace(item.image, static_cast<int64_t>(pixels.size()));
      if (inserted) pixels.push_back(data.pixels(item.image));
      y.image = it->second;
    }
    out.items.push_back(std::move(y));
    out.source.push_back(i);
  }
  if (!pixels.empty()) out.images.pixels = at::stack(pixels, 0);
  return out;
}

// The relations of a feature's top samples that define its VSR subset (see the file comment).
std::vector<std::string> subset_relations(const std::vector<FeatureSample>& samples, double min_share,
                                          const std::set<std::string>& available) {
  std::map<std::string, int64_t> counts;
  int64_t with_relation = 0;
  for (const auto& s : samples) {
    const auto& r = s.item().relation;
    if (r.empty()) continue;
    ++counts[r];
    ++with_relation;
  }
  std::vector<std::pair<std::string, int64_t>> ranked(counts.begin(), counts.end());
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<std::string> out;
  for (size_t i = 0; i < ranked.size(); ++i) {
    const double share = static_cast<double>(ranked[i].second) / static_cast<double>(with_relation);
    if (!available.count(ranked[i].first)) continue;
    if (out.empty() || share >= min_share) out.push_back(ranked[i].first);
  }
  return out;
}

void run_ablate(PipelineContext& ctx, StageContext& sc) {
  at::init_num_threads();  // this worker thread takes the process's torch thread count
  const AblateStageOptions o = parse_ablate(ctx.options().stage("ablate"), "stages.ablate");
  Store& store = sc.store();
  const int64_t run = sc.run_id();
  const auto features = store.selection(run, k::kSpatialSelection);
  nlohmann::json result{{"features", features.size()}};
  if (features.empty()) {  // a run may have no spatial features: nothing to ablate
    sc.commit({}, result.dump());
    return;
  }
  sc.progress().begin("load model, SAEs and data", 0);
  const VisionLanguageModel& model = ctx.model();
  const AnswerTokens answers = yes_no_answer_tokens(ctx.tokenizer(), "ablate");
  const std::string regime = diff_regime(ctx.options());
  std::map<int, Sae> saes;
  InterventionResources resources;
  for (const auto& f : features) {
    if (saes.count(f.layer)) continue;
    const auto it = saes.emplace(f.layer, load_adapted_sae(store, run, f.layer, regime, model, "ablate")).first;
    resources.saes[f.layer] = &it->second;
  }
  const PromptDataset& vsr = ctx.dataset(DataSplit::kVsr);
  const PromptDataset& eval = ctx.dataset(DataSplit::kEval);
  check(vsr.size() > 0, "stage ablate: the VSR split ({}) has no items", vsr.name());
  std::map<std::string, std::vector<int64_t>> by_relation;  // VSR items per relation, split order
  std::vector<int64_t> all_vsr;
  for (int64_t i = 0; i < vsr.size(); ++i) {
    all_vsr.push_back(i);
    if (!vsr.item(i).relation.empty()) by_relation[vsr.item(i).relation].push_back(i);
  }
  std::set<std::string> available;
  for (const auto& [r, items] : by_relation) available.insert(r);
  std::vector<int64_t> vqa_indices;
  for (int64_t i = 0; i < eval.size(); ++i) {
    if (o.max_vqa_items > 0 && static_cast<int64_t>(vqa_indices.size()) >= o.max_vqa_items) break;
    if (eval.item(i).answer_type == "yes/no") vqa_indices.push_back(i);
  }

  // Each feature's subset as VSR item indices, then one compact item set for all of them.
  SampleLookup lookup(ctx);
  std::vector<std::vector<int64_t>> subsets;
  std::vector<std::vector<std::string>> relations;
  std::set<int64_t> used;
  for (const auto& f : features) {
    const auto samples = feature_top_samples(store, run, f, o.datasets, o.top_k, lookup, "ablate");
    relations.push_back(subset_relations(samples, o.min_relation_share, available));
    std::vector<int64_t> subset;
    if (relations.back().empty()) {
      subset = all_vsr;
    } else {
      for (const auto& r : relations.back()) {
        const auto& items = by_relation.at(r);
        subset.insert(subset.end(), items.begin(), items.end());
      }
      std::sort(subset.begin(), subset.end());  // split order across relations
    }
    if (o.max_vsr_items > 0 && static_cast<int64_t>(subset.size()) > o.max_vsr_items)
      subset.resize(static_cast<size_t>(o.max_vsr_items));
    used.insert(subset.begin(), subset.end());
    subsets.push_back(std::move(subset));
  }
  ItemSet vsr_set = yes_no_items(vsr, std::vector<int64_t>(used.begin(), used.end()));
  std::map<int64_t, int64_t> vsr_row;  // dataset index -> index into vsr_set.items
  for (size_t i = 0; i < vsr_set.source.size(); ++i) vsr_row[vsr_set.source[i]] = static_cast<int64_t>(i);
  ItemSet vqa_set = yes_no_items(eval, vqa_indices);

  AblationData data;
  data.vsr = std::move(vsr_set.items);
  data.vsr_images = vsr_set.images;
  data.vqa = std::move(vqa_set.items);
  data.vqa_images = vqa_set.images;
  std::vector<AblationTarget> targets;
  for (size_t t = 0; t < features.size(); ++t) {
    AblationTarget target;
    target.feature = {features[t].layer, features[t].feature};
    for (int64_t i : subsets[t]) target.vsr_items.push_back(vsr_row.at(i));
    target.relations = relations[t];
    const auto row = store.feature(run, features[t].layer, features[t].feature);
    target.vsr_odds_ratio = row ? row->vsr_or : kNotComputed;
    targets.push_back(std::move(target));
  }

  const auto study = run_ablation_study(model, resources, answers, data, targets, o.study, sc.progress());
  std::vector<AblationRow> rows;
  for (size_t t = 0; t < study.size(); ++t) {
    const auto& s = study[t];
    AblationRow r;
    r.layer = s.layer;
    r.feature = static_cast<int32_t>(s.feature);
    r.d_vsr_acc = s.d_vsr_acc;
    r.d_vsr_prob = s.d_vsr_prob;
    r.d_vqa_acc = s.d_vqa_acc;
    r.d_ctrl = s.d_ctrl;
    r.vsr_or = s.vsr_or;
    r.n_samples = s.n_samples;
    r.relations = targets[t].relations;
    nlohmann::json controls = nlohmann::json::array();
    for (const auto& seed_features : s.controls) {
      nlohmann::json ids = nlohmann::json::array();
      for (const auto& c : seed_features) ids.push_back(c.feature);
      controls.push_back(ids);
    }
    const nlohmann::json spread{{"seeds", s.d_ctrl_seeds.size()},
                                {"d_ctrl_seeds", s.d_ctrl_seeds},
                                {"d_ctrl_std", s.d_ctrl_std},
                                {"d_vsr_acc_std", 0.0},
                                {"d_vsr_prob_std", 0.0},
                                {"d_vqa_acc_std", 0.0},
                                {"control_features", controls},
                                {"subset", r.relations.empty() ? "all" : "relations"},
                                {"vsr_baseline_acc", s.vsr_baseline.accuracy},
                                {"vsr_ablated_acc", s.vsr_ablated.accuracy},
                                {"vsr_baseline_p_correct", s.vsr_baseline.mean_p_correct},
                                {"vsr_ablated_p_correct", s.vsr_ablated.mean_p_correct},
                                {"vqa_items", s.vqa_baseline.n},
                                {"vqa_baseline_acc", s.vqa_baseline.accuracy},
                                {"vqa_ablated_acc", s.vqa_ablated.accuracy}};
    r.seed_spread_json = spread.dump();
    rows.push_back(std::move(r));
  }
  result["vsr_items"] = data.vsr.size();
  result["vqa_items"] = data.vqa.size();
  result["control_seeds"] = o.study.control_seeds;
  result["answer_tokens"] = {{"yes", answers.yes}, {"no", answers.no}};
  sc.progress().begin("write results", 0);
  sc.commit([&](Store& s) { s.put_ablations(run, rows); }, result.dump());
}

}  // namespace

StageDefinition ablate_stage_definition() {
  StageDefinition d;
  d.name = "ablate";
  d.description = "ablate each spatial feature: VSR subset and VQA yes/no accuracy, random-feature control";
  d.deps = {"lexical"};
  d.defaults = ablate_defaults;
  d.validate = [](const nlohmann::json& j, const std::string& where) { parse_ablate(j, where); };
  d.make = [](PipelineContext& ctx) {
    Stage s;
    s.name = "ablate";
    s.deps = {"lexical"};
    nlohmann::json key = common_options_json(ctx.options());
    key["stage"] = ctx.options().stage("ablate");
    s.options_hash = hash_options(key.dump());
    s.run = [&ctx](StageContext& sc) { run_ablate(ctx, sc); };
    s.reset = [](Store& store, int64_t run) { store.clear(run, StoreTable::kAblation); };
    return s;
  };
  return d;
}

}  // namespace sightline
