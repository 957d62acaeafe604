// Stage "diff" (METHOD.md Stage 2, paper 4.2): decoder cosine c_f between each base SAE
// and its adapted SAE of one regime (the paper: text), the visual energy E_v over the VQA
// evaluation split, the adapted set A, the threshold sweep and per-layer statistics.
//
// Options ("stages.diff"), defaults in diff_defaults():
//   regime       "text"    which adapted SAEs are diffed (METHOD.md: text, stable alignment)
//   positions    "text"    positions E_v averages over: text | image | all (the paper: text)
//   eps          1e-3      A: E_v > eps
//   p_cos        0.25      A: c_f in the bottom p_cos of all layers' cosines
//   sweep_eps    [0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
//   sweep_p_cos  [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5]
//   batch_size   8         sequences per VLM forward
//   chunk_rows   4096      rows encoded at once per layer (memory: chunk_rows x d_sae doubles)
#include <ATen/Parallel.h>
#include <torch/types.h>

#include <filesystem>

#include "core/common/error.h"
#include "core/diffing/feature_stats.h"
#include "core/diffing/selection.h"
#include "core/io/json_util.h"
#include "core/jobs/job_runner.h"
#include "core/pipeline/context.h"
#include "core/pipeline/stages.h"
#include "core/pipeline/store_keys.h"
#include "core/sae/sae_io.h"
#include "core/store/store.h"

namespace fs = std::filesystem;

namespace sightline {

namespace {

nlohmann::json diff_defaults() {
  return {{"regime", "text"},
          {"positions", "text"},
          {"eps", 1e-3},
          {"p_cos", 0.25},
          {"sweep_eps", {0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1}},
          {"sweep_p_cos", {0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5}},
          {"batch_size", 8},
          {"chunk_rows", 4096}};
}

struct DiffStageOptions {
  Regime regime = Regime::kText;
  FeatureStatsOptions stats;
  SelectionThresholds thresholds;
  std::vector<double> sweep_eps, sweep_p_cos;
};

DiffStageOptions parse_diff(const nlohmann::json& j, const std::string& where) {
  DiffStageOptions o;
  o.regime = parse_regime(json_get<std::string>(j, "regime", where), where, "regime");
  o.stats.positions = parse_positions(json_get<std::string>(j, "positions", where), where, "positions");
  o.stats.batch_size = json_get<int64_t>(j, "batch_size", where);
  o.stats.chunk_rows = json_get<int64_t>(j, "chunk_rows", where);
  o.thresholds.eps = json_get<double>(j, "eps", where);
  o.thresholds.p_cos = json_get<double>(j, "p_cos", where);
  o.sweep_eps = json_get<std::vector<double>>(j, "sweep_eps", where);
  o.sweep_p_cos = json_get<std::vector<double>>(j, "sweep_p_cos", where);
  check(o.stats.batch_size > 0, "file '{}': field 'batch_size' must be positive, got {}", where, o.stats.batch_size);
  check(o.stats.chunk_rows > 0, "file '{}': field 'chunk_rows' must be positive, got {}", where, o.stats.chunk_rows);
  check(o.thresholds.p_cos >= 0 && o.thresholds.p_cos <= 1, "file '{}': field 'p_cos' must be in [0, 1], got {}",
        where, o.thresholds.p_cos);
  for (double p : o.sweep_p_cos)
    check(p >= 0 && p <= 1, "file '{}': field 'sweep_p_cos' holds {}, outside [0, 1]", where, p);
  return o;
}

// The metric names this stage owns in the features tables.
const std::vector<std::string>& diff_metrics() {
  static const std::vector<std::string> keys{"visual_energy", "decoder_cosine", "adapted",
                                             store_keys::kFireRateText, store_keys::kFireRateImage,
                                             store_keys::kMaxActivation};
  return keys;
}

CurvePoint curve(const char* name, int layer, const std::string& regime, int64_t step, const std::string& key,
                 double value) {
  CurvePoint c;
  c.name = name;
  c.layer = layer;
  c.regime = regime;
  c.step = step;
  c.tokens = 0;
  c.key = key;
  c.value = value;
  return c;
}

void run_diff(PipelineContext& ctx, StageContext& sc) {
  at::init_num_threads();  // this worker thread takes the process's torch thread count
  const DiffStageOptions o = parse_diff(ctx.options().stage("diff"), "stages.diff");
  const std::string regime = to_string(o.regime);
  sc.progress().begin("load model, SAEs and data", 0);
  const VisionLanguageModel& model = ctx.model();
  const PromptDataset& eval = ctx.dataset(DataSplit::kEval);
  check(eval.size() > 0, "stage diff: the evaluation split ({}) has no items", eval.name());

  // The adapted SAEs of the chosen regime, as the adapt stage recorded them.
  SaeLoadOptions load;
  load.device = model.device();
  load.dtype = model.dtype();
  std::vector<Sae> adapted;
  std::vector<LayerFeatureScores> scores;
  for (int l : ctx.layers()) {
    const std::string key = store_keys::sae_tensor_key(l, regime);
    const auto ref = sc.store().tensor(sc.run_id(), key);
    check(ref.has_value(),
          "stage diff: the store has no adapted SAE '{}' (is '{}' among the adapt stage's regimes and save_regimes?)",
          key, regime);
    adapted.push_back(load_sae(fs::path(ref->path).parent_path().parent_path().string(), load));
    LayerFeatureScores s;
    s.layer = l;
    s.decoder_cosine = decoder_cosine(ctx.base_sae(l), adapted.back());
    scores.push_back(std::move(s));
  }
  std::vector<LayerSae> layers;
  for (size_t i = 0; i < adapted.size(); ++i) layers.push_back({ctx.layers()[i], &adapted[i]});
  const FeatureStatsResult stats = compute_feature_stats(model, layers, eval, o.stats, sc.progress());
  for (size_t i = 0; i < scores.size(); ++i) scores[i].visual_energy = stats.layers[i].visual_energy();

  sc.progress().begin("select adapted features", 0);
  const FeatureSelection selection = select_adapted(scores, o.thresholds);
  const auto sweep = threshold_sweep(scores, selection, o.sweep_eps, o.sweep_p_cos);
  const auto layer_stats = layer_selection_stats(scores, selection);

  std::vector<FeatureRow> rows;
  std::vector<FeatureRef> adapted_refs;
  for (size_t i = 0; i < scores.size(); ++i) {
    const auto& s = scores[i];
    const auto& st = stats.layers[i];
    const auto text_rate = st.fire_rate_text();
    const auto image_rate = st.fire_rate_image();
    for (size_t f = 0; f < s.decoder_cosine.size(); ++f) {
      FeatureRow r;
      r.layer = s.layer;
      r.feature = static_cast<int32_t>(f);
      r.visual_energy = s.visual_energy[f];
      r.decoder_cosine = s.decoder_cosine[f];
      r.adapted = selection.selected[i][f] ? 1.0 : 0.0;
      r.extra[store_keys::kFireRateText] = text_rate[f];
      r.extra[store_keys::kFireRateImage] = image_rate[f];
      r.extra[store_keys::kMaxActivation] = st.max_activation[f];
      if (selection.selected[i][f]) adapted_refs.push_back(r.ref());
      rows.push_back(std::move(r));
    }
  }
  std::vector<CurvePoint> curves;
  for (size_t c = 0; c < sweep.size(); ++c) {
    const auto& p = sweep[c];
    const auto step = static_cast<int64_t>(c);
    curves.push_back(curve(store_keys::kSweep, -1, regime, step, "eps", p.eps));
    curves.push_back(curve(store_keys::kSweep, -1, regime, step, "p_cos", p.p_cos));
    curves.push_back(curve(store_keys::kSweep, -1, regime, step, "cosine_threshold", p.cosine_threshold));
    curves.push_back(curve(store_keys::kSweep, -1, regime, step, "count", static_cast<double>(p.count)));
    curves.push_back(curve(store_keys::kSweep, -1, regime, step, "jaccard", p.jaccard));
    curves.push_back(curve(store_keys::kSweep, -1, regime, step, "layer_correlation", p.layer_correlation));
  }
  for (size_t i = 0; i < layer_stats.size(); ++i) {
    const auto& ls = layer_stats[i];
    const auto& st = stats.layers[i];
    auto add = [&](const char* key, double v) { curves.push_back(curve(store_keys::kLayerStats, ls.layer, regime, 0, key, v)); };
    add("features", static_cast<double>(ls.features));
    add("adapted", static_cast<double>(ls.selected));
    add("active", static_cast<double>(ls.active));
    add("mean_cosine_all", ls.mean_cosine_all);
    add("mean_cosine_adapted", ls.mean_cosine_selected);
    add("mean_visual_energy", ls.mean_visual_energy);
    add("text_positions", static_cast<double>(st.text_positions));
    add("image_positions", static_cast<double>(st.image_positions));
  }
  const nlohmann::json result{{"regime", regime},
                              {"positions", to_string(o.stats.positions)},
                              {"eps", o.thresholds.eps},
                              {"p_cos", o.thresholds.p_cos},
                              {"cosine_threshold", selection.cosine_threshold},
                              {"features", rows.size()},
                              {"adapted", selection.count},
                              {"eval_items", stats.items}};
  sc.progress().begin("write results", 0);
  sc.commit(
      [&](Store& store) {
        store.upsert_features(sc.run_id(), rows);
        store.put_selection(sc.run_id(), store_keys::kAdaptedSelection, adapted_refs);
        store.put_curve_points(sc.run_id(), curves);
      },
      result.dump());
}

}  // namespace

StageDefinition diff_stage_definition() {
  StageDefinition d;
  d.name = "diff";
  d.description = "decoder cosine, visual energy, adapted set A, threshold sweep, per-layer counts";
  d.deps = {"adapt"};
  d.defaults = diff_defaults;
  d.validate = [](const nlohmann::json& j, const std::string& where) { parse_diff(j, where); };
  d.make = [](PipelineContext& ctx) {
    Stage s;
    s.name = "diff";
    s.deps = {"adapt"};
    nlohmann::json key = common_options_json(ctx.options());
    key["stage"] = ctx.options().stage("diff");
    s.options_hash = hash_options(key.dump());
    s.run = [&ctx](StageContext& sc) { run_diff(ctx, sc); };
    // Only this stage's own metrics: later stages fill other columns of the same rows.
    s.reset = [](Store& store, int64_t run) {
      for (const auto& key : diff_metrics()) store.clear_feature_metric(run, key);
      store.delete_selection(run, store_keys::kAdaptedSelection);
    };
    return s;
  };
  return d;
}

}  // namespace sightline
