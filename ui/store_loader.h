// Reads a run's results from the project store (core/store) into the explorer's plain
// snapshot structs: the Fig. 2 feature table and the adaptation curves. The store is
// opened read-only (its own WAL reader connection), so a pipeline may keep writing while
// the explorer reads. No GL, no ImGui: the tests call these directly.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ui/snapshot.h"
#include "ui/task_list.h"

namespace sightline {
class Store;
struct RunRecord;
}  // namespace sightline

namespace sightline::ui {

// What one read of a store produced. `features` has no rows when no feature has both
// visual_energy and decoder_cosine (stage 2 not run); `curves` is empty when the run has
// no adaptation curves (stage 1 not run).
struct StoreData {
  std::string path;
  int64_t run_id = 0;
  std::string run_name;
  std::string run_options_json;  // the run's options (RunRecord::options_json): its world / model sources
  FeatureTable features;
  size_t skipped_features = 0;  // rows lacking visual_energy or decoder_cosine
  std::vector<CurveSet> curves;
  SweepTable sweep;    // stage 2's threshold sweep; no rows when the run stored none
  RunResults results;  // stages 3-5 (with the autointerp descriptions); empty when none ran
  ShiftTable shift;    // stage 3 shift statistics (ui/find_loader.h); no rows when shift did not run
  BookmarkLists bookmarks;
  std::string descriptions_error;  // why the autointerp results file could not be read ("" = fine)
};

// The feature table of a run: one row per feature with both E_v and c_f computed, ordered
// by (layer, feature); flags from the store's adapted / spatial columns (kFlagAdapted,
// kFlagSpatialFeature), its selections "spatial_candidates" (kFlagSpatialCandidate) and
// "spatial" (kFlagSpatialFeature) and its ablation rows (kFlagAnalysed). num_layers = highest layer
// + 1. `skipped` receives the number of rows left out for a missing E_v or c_f. Throws
// Error naming the file when a layer does not fit the table's 16-bit layer field.
FeatureTable read_feature_table(Store& store, const RunRecord& run, size_t* skipped = nullptr);

// The run's curves, as the curves view draws them:
//  - per layer, "Held-out FVU, layer L" (log10 y; points with FVU <= 0 are left out) and
//    "Held-out L0, layer L", one curve per regime, x = training positions seen (the FVU
//    sets carry fvu_layer = L);
//  - "Mean decoder cosine per layer" (x = layer), one curve per regime, when present.
// Names and keys are those of core/pipeline/store_keys.h.
std::vector<CurveSet> read_curve_sets(Store& store, const RunRecord& run);

// The run's threshold sweep (store curves "sweep", core/pipeline/store_keys.h): the
// distinct eps and p_cos of its cells as the grid, every other key of a cell as a metric
// map. Empty (no rows) when stage 2 stored none. Throws Error naming the file when a cell
// lacks a finite eps or p_cos.
SweepTable read_sweep_table(Store& store, const RunRecord& run);

// The run's stage 3-5 results: a FeatureDetail (metrics, vsr_or:<relation> associations,
// top activations with their activations, head scores per method, the Spearman row) for
// every feature of the selections "spatial_candidates", "spatial", "ocr_candidates", "ocr"
// and of the ablation and patching rows; and the ablation rows.
RunResults read_run_results(Store& store, const RunRecord& run);

// Opens `path` read-only and reads its newest run (`run_name` empty) or the newest run
// called `run_name`. Throws Error naming the file when it cannot be opened, is not a
// Sightline store, or holds no (such) run.
StoreData read_store(const std::string& path, const std::string& run_name = "");

// Publishes a read into the slots: features, curves, results, shift, bookmarks and the sweep become ready, or missing
// with the stage to run when the store holds none; heat maps become missing (the attribution maps
// are not read from the store).
void publish_store_data(Snapshot& snapshot, const StoreData& data);

// Marks the slots computing, then reads `path` on a task of `tasks` and publishes into
// `snapshot`. A failure (missing file, not a store, no run) fails the slots with the
// message and fails the task, which the TaskList logs through spdlog (the explorer's log
// pane); it never leaves the task's thread. When the run has top activations, the same
// task then resolves their question words from the run's data (ui/top_text.h; a non-empty
// `world_dir` replaces the run's sources) and publishes the results again with them
// (RunResults::top_text_pending is set until then), unless a newer read replaced them.
// Returns the task id.
uint64_t start_store_load(TaskList& tasks, std::shared_ptr<Snapshot> snapshot, const std::string& path,
                          const std::string& world_dir = "");

}  // namespace sightline::ui
