#include "ui/app_state.h"

#include <spdlog/spdlog.h>

#include <limits>

#include "ui/gpu_resources.h"
#include "ui/synthetic.h"

namespace sightline::ui {

AppState::AppState() = default;
AppState::~AppState() {
  tasks.cancel_all();
  tasks.join_all();
}

double AppState::cosine_threshold() const {
  const auto m = model();
  if (!m) return -std::numeric_limits<double>::infinity();
  return m->quantiles().threshold_for(thresholds.p_cos);
}

void AppState::select(int64_t row) {
  if (row == selected) return;
  selected = row;
  ++selection_version;
}

void AppState::set_box(std::vector<uint32_t> rows) {
  box_rows = std::move(rows);
  ++box_version;
}

void AppState::set_layer_mask(LayerMask mask) {
  layer_mask = std::move(mask);
  ++layer_mask_version;
}

void AppState::update() {
  const DataStatus features = snapshot->features.status();
  if (features.state == DataState::kReady && snapshot->features.version() != indexed_features_version_) {
    indexed_features_version_ = snapshot->features.version();
    auto table = snapshot->features.data();
    scatter.begin("indexing " + std::to_string(table->size()) + " features");
    DataSlot<ScatterModel>* slot = &scatter;
    auto source = snapshot;
    const uint64_t version = indexed_features_version_;
    tasks.start("index features", [slot, table, source, version](Progress& progress) {
      progress.begin("grid index + sorted cosines", 0);
      try {
        auto built = std::make_shared<const ScatterModel>(table);
        // A newer table may have arrived meanwhile: its own task publishes then.
        if (source->features.version() == version) slot->publish(std::move(built));
      } catch (const std::exception& e) {
        slot->fail(e.what());
        throw;
      }
    });
    select(-1);
    set_box({});
  } else if (features.state != DataState::kReady) {
    // Mirror a missing / failed / computing table so the scatter says why it is empty.
    const DataStatus mine = scatter.status();
    if (mine.state != features.state || mine.message != features.message) {
      if (features.state == DataState::kMissing) scatter.set_missing(features.message);
      if (features.state == DataState::kFailed) scatter.fail(features.message);
      if (features.state == DataState::kComputing) scatter.begin(features.message);
    }
    if (features.state == DataState::kComputing) scatter.set_progress(features.progress);
  }
  const auto m = model();
  if (m && live_sweep_pending() && snapshot->sweep.status().state != DataState::kComputing) {
    const auto stored = snapshot->sweep.status().state == DataState::kReady ? snapshot->sweep.data() : nullptr;
    swept_serial_ = m->serial();
    swept_grid_version_ = stored ? snapshot->sweep.version() : 0;
    std::vector<double> eps = stored ? stored->eps : default_sweep_eps();
    std::vector<double> p_cos = stored ? stored->p_cos : default_sweep_p_cos();
    const uint64_t generation = ++live_sweep_generation_;
    live_sweep.begin("sweeping " + std::to_string(eps.size() * p_cos.size()) + " thresholds");
    DataSlot<LiveSweep>* slot = &live_sweep;
    const std::atomic<uint64_t>* current = &live_sweep_generation_;
    tasks.start("threshold sweep", [slot, current, generation, m, eps, p_cos](Progress& progress) {
      progress.begin("A over eps x p_cos", 0);
      try {
        auto sweep = std::make_shared<const LiveSweep>(sweep_feature_table(m->table(), m->quantiles(), eps, p_cos));
        // A newer model or grid may have started its own sweep meanwhile: it publishes then.
        if (current->load() == generation) slot->publish(std::move(sweep));
      } catch (const std::exception& e) {
        slot->fail(e.what());
        throw;
      }
    });
  }
  if (m && (m->serial() != counted_serial_ || thresholds.eps != counted_eps_ || thresholds.p_cos != counted_p_cos_)) {
    counts = count_adapted(m->table(), thresholds.eps, cosine_threshold());
    counted_serial_ = m->serial();
    counted_eps_ = thresholds.eps;
    counted_p_cos_ = thresholds.p_cos;
  }
}

bool AppState::live_sweep_pending() const {
  const auto m = model();
  if (!m) return false;
  if (snapshot->sweep.status().state == DataState::kComputing) return true;
  const uint64_t grid = snapshot->sweep.status().state == DataState::kReady ? snapshot->sweep.version() : 0;
  return m->serial() != swept_serial_ || grid != swept_grid_version_;
}

void start_synthetic_data(AppState& state, size_t features, uint64_t seed) {
  auto snapshot = state.snapshot;
  snapshot->features.begin("generating " + std::to_string(features) + " synthetic features");
  snapshot->curves.begin("generating synthetic curves");
  snapshot->heat_maps.begin("generating synthetic heat maps");
  snapshot->results.set_missing("synthetic data has no stage 3-5 results; open a store with --db");
  snapshot->shift.set_missing("synthetic data has no stage 3 firing frequencies; open a store with --db");
  snapshot->bookmarks.set_missing("bookmarks live in a store; open one with --db");
  snapshot->sweep.set_missing("synthetic data has no stored threshold sweep; open a store with --db");
  spdlog::info("synthetic data: {} features over 32 layers (seed {})", features, seed);
  state.tasks.start("synthetic data", [snapshot, features, seed](Progress& progress) {
    try {
      SyntheticOptions options;
      options.features = features;
      options.seed = seed;
      auto table = std::make_shared<const FeatureTable>(make_synthetic_features(options, progress));
      snapshot->features.publish(table);
      snapshot->curves.publish(
          std::make_shared<const std::vector<CurveSet>>(make_synthetic_curves(options.layers, seed)));
      snapshot->heat_maps.publish(
          std::make_shared<const std::vector<HeatMap>>(make_synthetic_heat_maps(options.layers, 32, seed)));
    } catch (const std::exception& e) {
      snapshot->features.fail(e.what());
      snapshot->curves.fail(e.what());
      snapshot->heat_maps.fail(e.what());
      throw;
    }
  });
}

void mark_data_missing(AppState& state, const std::string& why) {
  const std::string suffix = why.empty() ? "" : " (" + why + ")";
  state.snapshot->features.set_missing("run stage 2, adapted features" + suffix);
  state.snapshot->curves.set_missing("run stage 1, adapt dictionaries" + suffix);
  state.snapshot->heat_maps.set_missing("run stage 4, attribution patching" + suffix);
  state.snapshot->results.set_missing("run stages 3-5, skill features, attribution and ablation" + suffix);
  state.snapshot->shift.set_missing("run stage 3, skill features (shift)" + suffix);
  state.snapshot->bookmarks.set_missing("bookmarks live in a store; open one with --db" + suffix);
  state.snapshot->sweep.set_missing("run stage 2, adapted features (its threshold sweep)" + suffix);
}

}  // namespace sightline::ui
