// Reads what "finding things" and Fig. 9 need from the project store, beside
// ui/store_loader.h: the stage-3 shift statistics of every feature, the autointerp
// descriptions (a JSON file the store points at) and the bookmark lists; and edits the
// bookmarks on a background task, publishing the new lists into the Snapshot, so the UI
// thread never waits on SQLite. No GL, no ImGui: the tests call these directly.
#pragma once

#include <nlohmann/json_fwd.hpp>

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

// Every feature of the run that has p_base, ordered by (layer, feature), with the spatial
// skill's p_skill / delta_p / odds_ratio columns and flags: kFlagAdapted from the
// "adapted" column, kFlagSpatialCandidate from selection "spatial_candidates",
// kFlagSpatialFeature from the "spatial" column or selection. No rows when stage 3
// (shift) has not run. Throws Error naming the file when a layer does not fit 16 bits.
ShiftTable read_shift_table(Store& store, const RunRecord& run);

// Parses the autointerp stage's results file (format: core/pipeline/stage_autointerp.cpp):
// one FeatureDescription per entry of "features" (layer, feature, description, f1,
// examples[].{sample_id, dataset, tokens, activations}, error). `path` names the file in
// errors. Throws Error naming the file and the entry / field at fault.
std::vector<FeatureDescription> parse_autointerp_results(const nlohmann::json& j, const std::string& path);

// The run's autointerp descriptions: empty when the stage has not finished or was skipped
// (no endpoint). The stage's result_json field "results_file" names the file, relative to
// the store file's folder. Throws Error naming the file when it is missing or malformed.
std::vector<FeatureDescription> read_autointerp_descriptions(Store& store, const RunRecord& run);

// Puts each description into results.features (a described feature the stage 3-5 rows
// do not name gets a FeatureDetail of its own).
void attach_descriptions(RunResults& results, std::vector<FeatureDescription> descriptions);

// Every bookmark of the store (not tied to a run), oldest first.
BookmarkLists read_bookmark_lists(Store& store);

// The bookmark edits, each on its own writer connection (Store::Mode::kReadWrite, opened
// and closed around the edit; one edit at a time in this process). They throw Error naming
// the file, e.g. when a running pipeline holds the store's writer lock. Each returns the
// store's bookmarks after the edit.
BookmarkLists add_bookmark_to_store(const std::string& path, const Bookmark& bookmark);
BookmarkLists delete_bookmark_from_store(const std::string& path, int64_t id);

// The same on a task of `tasks`: publishes the returned lists into snapshot->bookmarks; a
// failure is logged (the log pane) and leaves the published lists as they were. Returns the
// task id.
uint64_t start_bookmark_add(TaskList& tasks, std::shared_ptr<Snapshot> snapshot, const std::string& path,
                            const Bookmark& bookmark);
uint64_t start_bookmark_delete(TaskList& tasks, std::shared_ptr<Snapshot> snapshot, const std::string& path,
                               int64_t id);

}  // namespace sightline::ui
