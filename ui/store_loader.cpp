#include "ui/store_loader.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "core/common/error.h"
#include "core/pipeline/store_keys.h"
#include "core/store/store.h"
#include "ui/find_loader.h"
#include "ui/top_text.h"

namespace sightline::ui {

namespace {

// The store keeps flags as 0/1 REALs (NaN = not computed).
bool flag_set(float value) { return std::isfinite(value) && value >= 0.5f; }

}  // namespace

FeatureTable read_feature_table(Store& store, const RunRecord& run, size_t* skipped) {
  const std::vector<std::string> keys = {"visual_energy", "decoder_cosine", "adapted", "spatial"};
  const FeatureColumns cols = store.feature_columns(run.id, keys);
  const auto& energy = cols.metric.at("visual_energy");
  const auto& cosine = cols.metric.at("decoder_cosine");
  const auto& adapted = cols.metric.at("adapted");
  const auto& spatial = cols.metric.at("spatial");
  std::set<FeatureRef> analysed, candidates, selected;
  for (const FeatureRef& f : store.selection(run.id, store_keys::candidates_selection(store_keys::kSpatialSkill)))
    candidates.insert(f);
  for (const FeatureRef& f : store.selection(run.id, store_keys::kSpatialSelection)) selected.insert(f);
  for (const AblationRow& row : store.ablations(run.id)) analysed.insert({row.layer, row.feature});

  FeatureTable t;
  t.source = store.path();
  size_t left_out = 0;
  for (size_t i = 0; i < cols.size(); ++i) {
    if (!std::isfinite(energy[i]) || !std::isfinite(cosine[i])) {
      ++left_out;
      continue;
    }
    const int32_t layer = cols.layer[i];
    check(layer >= 0 && layer <= std::numeric_limits<uint16_t>::max(),
          "file '{}': table 'features': run {} layer {} is outside 0..65535", store.path(), run.id, layer);
    uint8_t flags = 0;
    if (flag_set(adapted[i])) flags |= kFlagAdapted;
    const FeatureRef ref{layer, cols.feature[i]};
    if (flag_set(spatial[i]) || selected.count(ref)) flags |= kFlagSpatialFeature;
    if (candidates.count(ref)) flags |= kFlagSpatialCandidate;
    if (analysed.count({layer, cols.feature[i]})) flags |= kFlagAnalysed;
    t.layer.push_back(static_cast<uint16_t>(layer));
    t.feature.push_back(cols.feature[i]);
    t.visual_energy.push_back(energy[i]);
    t.decoder_cosine.push_back(cosine[i]);
    t.flags.push_back(flags);
    t.num_layers = std::max(t.num_layers, layer + 1);
  }
  if (skipped) *skipped = left_out;
  return t;
}

std::vector<CurveSet> read_curve_sets(Store& store, const RunRecord& run) {
  std::vector<CurveSet> sets;
  // One set per (metric, layer), one curve per regime; points arrive ordered by
  // (name, layer, regime, key, step).
  struct Metric {
    const char* name;
    const char* title;
    const char* y_label;
    bool log_y;
  };
  const Metric metrics[] = {{store_keys::kFvu, "Held-out FVU", "FVU", true},
                            {store_keys::kL0, "Held-out L0", "L0 (active features per token)", false}};
  for (const Metric& metric : metrics) {
    CurveQuery query;
    query.name = metric.name;
    query.key = store_keys::kHeldout;
    std::map<int32_t, std::map<std::string, Curve>> by_layer;
    for (const CurvePoint& p : store.curve_points(run.id, query)) {
      if (!std::isfinite(p.value)) continue;
      if (metric.log_y && p.value <= 0) continue;  // log10 undefined
      Curve& c = by_layer[p.layer][p.regime];
      c.label = p.regime;
      c.x.push_back(static_cast<float>(p.tokens));
      c.y.push_back(static_cast<float>(metric.log_y ? std::log10(p.value) : p.value));
    }
    for (auto& [layer, curves] : by_layer) {
      CurveSet set{std::string(metric.title) + ", layer " + std::to_string(layer), "training positions seen",
                   metric.y_label, metric.log_y, {}};
      if (std::string(metric.name) == store_keys::kFvu) set.fvu_layer = layer;
      for (auto& entry : curves) set.curves.push_back(std::move(entry.second));
      sets.push_back(std::move(set));
    }
  }
  CurveQuery cos_query;
  cos_query.name = store_keys::kDecoderCosine;
  cos_query.key = store_keys::kMean;
  std::map<std::string, Curve> per_regime;
  for (const CurvePoint& p : store.curve_points(run.id, cos_query)) {
    if (!std::isfinite(p.value)) continue;
    Curve& c = per_regime[p.regime];
    c.label = p.regime;
    c.x.push_back(static_cast<float>(p.layer));
    c.y.push_back(static_cast<float>(p.value));
  }
  if (!per_regime.empty()) {
    CurveSet set{"Mean decoder cosine per layer", "layer", "mean c_f", false, {}};
    for (auto& entry : per_regime) set.curves.push_back(std::move(entry.second));
    sets.push_back(std::move(set));
  }
  return sets;
}

SweepTable read_sweep_table(Store& store, const RunRecord& run) {
  CurveQuery query;
  query.name = store_keys::kSweep;
  // step -> key -> value; the regime of the cells (one diff regime per run).
  std::map<int64_t, std::map<std::string, double>> cells;
  SweepTable t;
  for (const CurvePoint& p : store.curve_points(run.id, query)) {
    cells[p.step][p.key] = p.value;
    t.regime = p.regime;
  }
  std::set<double> eps, p_cos;
  for (const auto& [step, values] : cells) {
    const auto e = values.find("eps"), p = values.find("p_cos");
    check(e != values.end() && p != values.end() && std::isfinite(e->second) && std::isfinite(p->second),
          "file '{}': table 'curves': run {} sweep cell {} lacks a finite 'eps' or 'p_cos'", store.path(), run.id, step);
    eps.insert(e->second);
    p_cos.insert(p->second);
  }
  t.eps.assign(eps.begin(), eps.end());
  t.p_cos.assign(p_cos.begin(), p_cos.end());
  const size_t cols = t.p_cos.size();
  for (const auto& [step, values] : cells) {
    const size_t r = static_cast<size_t>(std::lower_bound(t.eps.begin(), t.eps.end(), values.at("eps")) - t.eps.begin());
    const size_t c =
        static_cast<size_t>(std::lower_bound(t.p_cos.begin(), t.p_cos.end(), values.at("p_cos")) - t.p_cos.begin());
    for (const auto& [key, value] : values) {
      if (key == "eps" || key == "p_cos") continue;
      auto& grid = t.metrics[key];
      if (grid.empty()) grid.assign(t.eps.size() * cols, NAN);
      grid[r * cols + c] = static_cast<float>(value);
    }
  }
  return t;
}

RunResults read_run_results(Store& store, const RunRecord& run) {
  RunResults results;
  results.source = store.path();
  results.ablations = store.ablations(run.id);
  std::set<FeatureRef> refs;
  for (const char* skill : {store_keys::kSpatialSkill, "ocr"}) {
    for (const FeatureRef& f : store.selection(run.id, store_keys::candidates_selection(skill))) refs.insert(f);
    for (const FeatureRef& f : store.selection(run.id, skill)) refs.insert(f);
  }
  for (const AblationRow& row : results.ablations) refs.insert({row.layer, row.feature});
  std::map<FeatureRef, PatchingRow> patching;
  for (const PatchingRow& row : store.patching(run.id)) {
    patching[{row.layer, row.feature}] = row;
    refs.insert({row.layer, row.feature});
  }
  const std::string prefix = store_keys::kVsrOrPrefix;
  for (const FeatureRef& ref : refs) {
    FeatureDetail d;
    d.ref = ref;
    if (const std::optional<FeatureRow> row = store.feature(run.id, ref.layer, ref.feature)) d.metrics = row->metrics();
    for (const auto& [key, value] : d.metrics)
      if (key.compare(0, prefix.size(), prefix) == 0 && std::isfinite(value))
        d.relations.emplace_back(key.substr(prefix.size()), value);
    std::stable_sort(d.relations.begin(), d.relations.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    d.top = store.top_activations(run.id, ref.layer, ref.feature);
    for (HeadScore& s : store.head_scores(run.id, ref.layer, ref.feature)) d.heads[s.method].push_back(std::move(s));
    const auto it = patching.find(ref);
    if (it != patching.end()) {
      d.has_patching = true;
      d.patching = it->second;
    }
    results.features.emplace(ref, std::move(d));
  }
  return results;
}

StoreData read_store(const std::string& path, const std::string& run_name) {
  Store store = Store::open(path, Store::Mode::kReadOnly);
  std::optional<RunRecord> run;
  if (run_name.empty()) {
    const std::vector<RunRecord> runs = store.runs();
    if (!runs.empty()) run = runs.front();
    check(run.has_value(), "file '{}': table 'runs': no run recorded yet (run `sightline run` first)", path);
  } else {
    run = store.latest_run(run_name);
    check(run.has_value(), "file '{}': table 'runs': no run named '{}'", path, run_name);
  }
  StoreData data;
  data.path = path;
  data.run_id = run->id;
  data.run_name = run->name;
  data.run_options_json = run->options_json;
  // One read snapshot for both tables, so a writer's commit cannot fall between them.
  store.transaction([&] {
    data.features = read_feature_table(store, *run, &data.skipped_features);
    data.curves = read_curve_sets(store, *run);
    data.sweep = read_sweep_table(store, *run);
    data.results = read_run_results(store, *run);
    data.shift = read_shift_table(store, *run);
    data.bookmarks = read_bookmark_lists(store);
    // A missing or malformed descriptions file costs the descriptions, not the results.
    try {
      attach_descriptions(data.results, read_autointerp_descriptions(store, *run));
    } catch (const Error& e) {
      data.descriptions_error = e.what();
    }
  });
  data.features.validate();
  return data;
}

void publish_store_data(Snapshot& snapshot, const StoreData& data) {
  const std::string where = " (run '" + data.run_name + "' of '" + data.path + "' has none)";
  if (data.features.size() > 0)
    snapshot.features.publish(std::make_shared<const FeatureTable>(data.features));
  else
    snapshot.features.set_missing("run stage 2, adapted features" + where);
  if (!data.curves.empty())
    snapshot.curves.publish(std::make_shared<const std::vector<CurveSet>>(data.curves));
  else
    snapshot.curves.set_missing("run stage 1, adapt dictionaries" + where);
  if (!data.results.features.empty() || !data.results.ablations.empty())
    snapshot.results.publish(std::make_shared<const RunResults>(data.results));
  else
    snapshot.results.set_missing("run stages 3-5, skill features, attribution and ablation" + where);
  auto maps = run_head_heat_maps(data.results);
  if (!maps.empty())
    snapshot.heat_maps.publish(std::make_shared<const std::vector<HeatMap>>(std::move(maps)));
  else
    snapshot.heat_maps.set_missing("run stage 4, head attribution" + where);
  if (data.shift.size() > 0)
    snapshot.shift.publish(std::make_shared<const ShiftTable>(data.shift));
  else
    snapshot.shift.set_missing("run stage 3, skill features (shift)" + where);
  snapshot.bookmarks.publish(std::make_shared<const BookmarkLists>(data.bookmarks));
  if (data.sweep.rows() > 0)
    snapshot.sweep.publish(std::make_shared<const SweepTable>(data.sweep));
  else
    snapshot.sweep.set_missing("run stage 2, adapted features (its threshold sweep)" + where);
}

uint64_t start_store_load(TaskList& tasks, std::shared_ptr<Snapshot> snapshot, const std::string& path,
                          const std::string& world_dir) {
  snapshot->features.begin("reading features from '" + path + "'");
  snapshot->curves.begin("reading curves from '" + path + "'");
  snapshot->heat_maps.begin("reading '" + path + "'");
  snapshot->results.begin("reading skill, head and ablation results from '" + path + "'");
  snapshot->shift.begin("reading firing frequencies from '" + path + "'");
  snapshot->bookmarks.begin("reading bookmarks from '" + path + "'");
  snapshot->sweep.begin("reading the threshold sweep from '" + path + "'");
  return tasks.start("read store", [snapshot, path, world_dir](Progress& progress) {
    StoreData data;
    try {
      progress.begin("reading '" + path + "'", 0);
      data = read_store(path);
      data.results.top_text_pending = has_top_tokens(data.results);
      spdlog::info("store '{}': run {} '{}': {} features over {} layers, {} curve sets", path, data.run_id,
                   data.run_name, data.features.size(), data.features.num_layers, data.curves.size());
      if (!data.descriptions_error.empty())
        spdlog::warn("store '{}': autointerp descriptions not shown: {}", path, data.descriptions_error);
      if (data.skipped_features > 0)
        spdlog::warn("store '{}': {} features lack visual_energy or decoder_cosine and are not shown", path,
                     data.skipped_features);
      publish_store_data(*snapshot, data);
    } catch (const std::exception& e) {
      // Rethrown: the TaskList logs it (the log pane) and marks the task failed.
      snapshot->features.fail(e.what());
      snapshot->curves.fail(e.what());
      snapshot->heat_maps.fail(e.what());
      snapshot->results.fail(e.what());
      snapshot->shift.fail(e.what());
      snapshot->bookmarks.fail(e.what());
      snapshot->sweep.fail(e.what());
      throw;
    }
    if (!data.results.top_text_pending) return;
    // The question words, after everything else is on screen; published over the results
    // read above only while no newer read has replaced them.
    const std::shared_ptr<const RunResults> published = snapshot->results.data();
    auto results = std::make_shared<RunResults>(data.results);
    resolve_top_texts(*results, data.run_options_json, world_dir,
                      fmt::format("file '{}': run '{}'", path, data.run_name), progress);
    if (snapshot->results.data() == published) snapshot->results.publish(std::move(results));
  });
}

}  // namespace sightline::ui
