// The state views 5 (Overlays) and 6 (Ablation) share on the UI thread: the live model's
// loading (a TaskList task; the views say "loading model..." until it is ready), the
// current image (a VSR statement or an opened file, prepared on a task), the question
// and its prompt, the toggled interventions, and the one live query that answers the
// question about the image with and without them and returns the attention patterns the
// overlays draw. update() runs once per frame: it collects what finished and resubmits
// the query when the image, the prompt or the toggles changed. No ImGui, no GL: the tests
// drive it directly.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/pipeline/live_session.h"
#include "ui/plot/colormap.h"
#include "ui/snapshot.h"
#include "ui/task_list.h"

namespace sightline::ui {

// Which query rows of the attention the overlays show.
enum class AttentionRows {
  kLast,      // the prompt's last position (the answer position; the default)
  kMeanText,  // the mean over every position after the image (the question; METHOD.md's default)
  kToken,     // one chosen prompt position after the image
};

// How attention values map onto the colormap.
enum class OverlayScale {
  kPerMap,  // each map from its own min to its max
  kShared,  // 0 to the largest value among the maps on screen (compares heads)
  kUnit,    // 0 to 1 (attention probabilities as they are)
};

const char* to_label(AttentionRows rows);
const char* to_label(OverlayScale scale);

struct OverlayStyle {
  float alpha = 0.6f;         // colormap weight over the image, 0..1
  plot::Colormap colormap = plot::Colormap::kInferno;
  OverlayScale scale = OverlayScale::kPerMap;
  bool smooth = false;        // bilinear between patch centres instead of flat cells
  bool weighted = false;      // alpha scaled by the mapped value: cold patches show the image
};

// One head's attention on the patch grid.
struct AttentionMap {
  int layer = 0, head = 0;
  int grid = 0;
  std::vector<float> values;  // grid * grid, row-major from the top-left patch
  float min = 0, max = 0;
  int argmax = -1;            // index into values of the largest (first on ties)
  double image_mass = 0;      // sum of values: attention on image tokens of the rows read
};

// The map of (layer, head) from a live result's attention [L, H, Q, P]: query row `row`
// for kToken (clamped), the last row for kLast, the mean of all rows for kMeanText. An
// empty map (grid 0) when the result has no attention, the head is out of range, there
// is no row to read, or P is not grid * grid.
AttentionMap attention_map(const LiveResult& result, int grid, int layer, int head, AttentionRows rows,
                           int64_t row = -1);

// The colormap range of `map` under `scale`; shared_max is the largest value of the maps
// shown together (kShared). A degenerate range is widened so that it is never empty.
std::pair<float, float> overlay_range(const AttentionMap& map, OverlayScale scale, float shared_max);

// What a toggle set looks like as interventions: the features projected out, the heads'
// z set to zero.
InterventionSet toggled_interventions(const std::set<SaeFeature>& features, const std::set<std::pair<int, int>>& heads);

class LiveViews {
 public:
  explicit LiveViews(LiveSources sources);
  ~LiveViews();
  LiveViews(const LiveViews&) = delete;
  LiveViews& operator=(const LiveViews&) = delete;

  const LiveSources& sources() const { return sources_; }

  // Starts loading the live model on a task of `tasks` (once; later calls do nothing).
  // Without a world and a store the status becomes missing with the reason instead.
  void start(TaskList& tasks);
  bool started() const { return started_; }
  // kComputing ("loading model...") / kReady / kFailed (the error) / kMissing (why).
  DataStatus status() const;
  std::shared_ptr<LiveSession> session() const { return session_; }
  // The TaskList id of the loading task (its phase label is the loading step), 0 before.
  uint64_t load_task() const { return load_task_; }

  // Once per frame (UI thread): picks up the loaded session, a prepared image and a
  // finished query; submits the live query when its inputs changed.
  void update(TaskList& tasks);
  // Something is still computing: loading, an image, the live query, a re-evaluation.
  bool busy() const;

  // --- The image --------------------------------------------------------------------
  // Shows VSR statement `index` (clamped to the statements) and sets the question to its
  // caption; prepared on a task.
  void show_statement(int64_t index);
  // Opens an image file (decoded and preprocessed on a task); the question stays. A
  // failure shows in image_status(), never as a crash.
  void open_file(const std::string& path);
  int64_t statement() const { return statement_; }
  const std::string& file_path() const { return file_path_; }  // the last file opened ("" = none)
  std::shared_ptr<const LiveImage> image() const { return image_->data(); }
  DataStatus image_status() const { return image_->status(); }
  std::string relation_filter;  // the picker's relation ("" = all)
  // Statement indices of the relation filter, in split order.
  std::vector<int64_t> filtered_statements() const;

  // --- The question -----------------------------------------------------------------
  void set_question(const std::string& question);
  const std::string& question() const { return question_; }
  const std::vector<int64_t>& prompt() const { return prompt_; }
  const std::vector<std::string>& prompt_tokens() const { return prompt_tokens_; }
  const std::string& prompt_error() const { return prompt_error_; }
  // Index of the image marker in prompt(), or -1.
  int64_t image_marker() const;

  // --- Toggled interventions (the ablation view) ----------------------------------
  void set_feature(const SaeFeature& feature, bool on);
  void set_head(int layer, int head, bool on);
  const std::set<SaeFeature>& features_on() const { return features_on_; }
  const std::set<std::pair<int, int>>& heads_on() const { return heads_on_; }
  InterventionSet interventions() const { return toggled_interventions(features_on_, heads_on_); }

  // --- The live query ---------------------------------------------------------------
  // The newest finished query for the current image, prompt and toggles, or nullptr while
  // it computes (result_stale() then says whether an older one is shown meanwhile).
  std::shared_ptr<const LiveResult> result() const { return result_; }
  bool result_stale() const { return result_stale_; }
  // The error of the current query ("" when none).
  const std::string& query_error() const { return query_error_; }

  // --- Re-evaluation (the ablation view) ------------------------------------------
  // Re-evaluates the whole pool under the current toggles; replaces a running one.
  void start_reeval();
  void cancel_reeval();
  bool reeval_running() const { return reeval_id_ != 0; }
  double reeval_fraction() const;
  std::shared_ptr<const ReevalResult> reeval_result() const { return reeval_result_; }
  // The toggles and the pool items the shown re-evaluation ran with.
  const InterventionSet& reeval_interventions() const { return reeval_interventions_; }
  const std::vector<int64_t>& reeval_items() const { return reeval_items_; }
  const std::string& reeval_message() const { return reeval_message_; }

  // --- Overlay controls (the overlays view edits them) ---------------------------
  int layer = 0, head = 0;
  AttentionRows rows = AttentionRows::kLast;
  int64_t token = -1;  // prompt index for kToken
  OverlayStyle style;
  // The selected feature the head list was last reset for (the view follows the selection).
  uint64_t head_selection_version = ~uint64_t{0};
  bool head_pinned = false;        // the user (or --head) chose the head: selections do not move it
  bool reeval_when_ready = false;  // start a re-evaluation as soon as the model is loaded (scripted runs)

 private:
  void rebuild_prompt();
  void prepare_image(TaskList& tasks);

  LiveSources sources_;
  bool started_ = false;
  // Shared with the tasks that fill them, which may outlive a frame's view of them.
  std::shared_ptr<DataSlot<std::shared_ptr<LiveSession>>> loading_;
  std::shared_ptr<LiveSession> session_;  // loading_'s value once ready
  uint64_t load_task_ = 0;

  int64_t statement_ = 0;
  std::string file_path_;
  bool file_mode_ = false;
  bool image_requested_ = true;  // prepare the image at the next update
  std::shared_ptr<DataSlot<LiveImage>> image_;
  std::shared_ptr<std::atomic<uint64_t>> image_request_;  // the newest image task; older ones do not publish

  std::string question_;
  bool question_set_ = false;
  std::vector<int64_t> prompt_;
  std::vector<std::string> prompt_tokens_;
  std::string prompt_error_;
  bool prompt_dirty_ = true;

  std::set<SaeFeature> features_on_;
  std::set<std::pair<int, int>> heads_on_;

  // What the submitted query was built from: (image version, prompt, interventions).
  uint64_t query_id_ = 0;
  uint64_t query_image_version_ = 0;
  std::vector<int64_t> query_prompt_;
  std::set<SaeFeature> query_features_;
  std::set<std::pair<int, int>> query_heads_;
  bool query_submitted_ = false;
  std::shared_ptr<const LiveResult> result_;
  bool result_stale_ = false;
  std::string query_error_;

  uint64_t reeval_id_ = 0;
  std::shared_ptr<const ReevalResult> reeval_result_;
  InterventionSet reeval_interventions_, reeval_pending_interventions_;
  std::vector<int64_t> reeval_items_, reeval_pending_items_;
  std::string reeval_message_;
};

}  // namespace sightline::ui
