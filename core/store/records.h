// Plain records the Store reads and writes: one struct per table, no SQLite or torch
// types. Timestamps are int64 milliseconds since the Unix epoch (UTC): they sort, subtract
// into durations, and format_timestamp() turns them into ISO-8601 for people.
//
// [SECTION] status enums
// [SECTION] runs and stages
// [SECTION] features (wide rows + extra metrics)
// [SECTION] per-feature results: curves, top activations, heads, patching, ablation
// [SECTION] tensors, bookmarks
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sightline {

// ---------------------------------------------------------------------------------------
// [SECTION] status enums
// ---------------------------------------------------------------------------------------

// Status of a stage (and of a whole run). Only kDone means "results present and valid";
// every other state means the stage's rows, if any, are partial or stale.
//   kPending    never run, or reset (an interrupted stage is set back to kPending on open)
//   kRunning    being computed by the process that holds the store's writer lock
//   kDone       results committed in the same transaction that set kDone
//   kFailed     threw; `error` holds the message
//   kCancelled  stopped by a cooperative cancel (or not started because the run was)
//   kSkipped    not run because a dependency failed; `error` names it. (Beyond the five
//               states in the brief: a UI must tell "broke" from "never tried".)
enum class StageStatus { kPending, kRunning, kDone, kFailed, kCancelled, kSkipped };

// "pending", "running", "done", "failed", "cancelled", "skipped" (the database spelling).
const char* to_string(StageStatus status);
// Inverse of to_string(); throws Error naming `what` (e.g. "file 'x': table 'stages'")
// and the bad value.
StageStatus parse_stage_status(const std::string& text, const std::string& what);
// True for kDone, kFailed, kCancelled and kSkipped.
bool is_terminal(StageStatus status);

// Milliseconds since the Unix epoch, now (system clock).
int64_t now_ms();
// "2024-05-01T12:34:56.789Z" (UTC); "" for 0 (= not set).
std::string format_timestamp(int64_t ms);

// ---------------------------------------------------------------------------------------
// [SECTION] runs and stages
// ---------------------------------------------------------------------------------------

// One pipeline run: the exact options and the provenance of the model and SAEs it used.
struct RunRecord {
  int64_t id = 0;          // assigned by Store::create_run
  int64_t created_at = 0;  // ms since epoch; Store::create_run fills 0 with now_ms()
  std::string name;
  std::string options_json = "{}";
  std::string model_provenance_json = "{}";  // paths, sha256, config of the VLM / base LM
  std::string sae_provenance_json = "{}";    // SAE release, layers, regimes, hashes
  StageStatus status = StageStatus::kPending;
};

// One stage of a run. options_hash is the JobRunner's key for the stage: its own options
// hash combined with its dependencies' keys (see core/jobs/stage_graph.h).
struct StageRecord {
  int64_t run_id = 0;
  std::string name;
  StageStatus status = StageStatus::kPending;
  int64_t started_at = 0;   // 0 = not started
  int64_t finished_at = 0;  // 0 = not finished
  std::string error;        // "" unless failed / cancelled / skipped / interrupted
  std::string options_hash;
  std::string result_json = "{}";  // small summary (counts, thresholds actually used)
};

// ---------------------------------------------------------------------------------------
// [SECTION] features
// ---------------------------------------------------------------------------------------

// A feature's address: SAE at `layer`, dictionary column `feature`.
struct FeatureRef {
  int32_t layer = 0;
  int32_t feature = 0;
  bool operator==(const FeatureRef& o) const { return layer == o.layer && feature == o.feature; }
  bool operator!=(const FeatureRef& o) const { return !(*this == o); }
  bool operator<(const FeatureRef& o) const {
    return layer != o.layer ? layer < o.layer : feature < o.feature;
  }
};

constexpr double kNotComputed = std::numeric_limits<double>::quiet_NaN();

// One feature with its metrics. Design (fast for 1M features x ~12 metrics): the metrics
// every run computes are REAL columns of one `features` row per (run, layer, feature), so
// the explorer's scatter plot is one sequential scan with no pivot; any other metric
// (another skill's odds ratio, a user's score) goes to the long `feature_metrics` table
// (run, layer, feature, key, value REAL), which SQL can still filter and sort on, unlike a
// JSON column. NaN here = NULL in the database = not computed (SQLite itself stores NaN as
// NULL). Flags (adapted, lexical_persistent, spatial) are 0/1.
struct FeatureRow {
  int32_t layer = 0;
  int32_t feature = 0;
  double visual_energy = kNotComputed;       // E_v: mean h_f^2 over the chosen positions
  double decoder_cosine = kNotComputed;      // c_f = cos(W_dec_base[:, f], W_dec_vlm[:, f])
  double adapted = kNotComputed;             // 1 if in the adapted set A
  double p_base = kNotComputed;              // firing frequency on D_base
  double p_skill = kNotComputed;             // firing frequency on D_skill (e.g. spatial)
  double delta_p = kNotComputed;             // p_skill - p_base
  double odds_ratio = kNotComputed;          // skill vs base, 0.5 continuity correction
  double lexical_persistent = kNotComputed;  // 1 if it still fires on neutral prompts
  double spatial = kNotComputed;             // 1 if a skill feature (candidate, lexical, in A)
  double vsr_or = kNotComputed;              // odds ratio of firing on its VSR relation
  std::map<std::string, double> extra;       // metrics outside the columns above

  FeatureRef ref() const { return {layer, feature}; }
  // Metric column i, in the order of feature_column_names() (i < 10).
  double column(size_t i) const;
  double& column(size_t i);
  // A metric by name: a column name above or an `extra` key; nullopt when not computed.
  std::optional<double> get(const std::string& key) const;
  // Sets a column when `key` names one, else extra[key].
  void set(const std::string& key, double value);
  // Every computed metric (columns and extras) by name.
  std::map<std::string, double> metrics() const;
};

// The names of FeatureRow's metric columns, in table order (also the SQL column names).
const std::vector<std::string>& feature_column_names();
// True when `key` is one of feature_column_names().
bool is_feature_column(const std::string& key);

// One metric of one feature, for writing a single metric across many features.
struct FeatureValue {
  int32_t layer = 0;
  int32_t feature = 0;
  double value = kNotComputed;
};

// Column-major feature metrics for plots (one float array per metric, row i = feature i):
// what the scatter view uploads to the GPU. Missing values are NaN.
struct FeatureColumns {
  std::vector<int32_t> layer;
  std::vector<int32_t> feature;
  std::map<std::string, std::vector<float>> metric;
  size_t size() const { return layer.size(); }
};

// ---------------------------------------------------------------------------------------
// [SECTION] per-feature results
// ---------------------------------------------------------------------------------------

// A point of a training / evaluation curve, e.g. name "heldout", key "fvu" or "l0",
// regime "text", x = step or tokens.
struct CurvePoint {
  std::string name;
  int32_t layer = 0;
  std::string regime;
  int64_t step = 0;
  int64_t tokens = 0;  // tokens seen at `step`
  std::string key;
  double value = kNotComputed;
};

// Filter for Store::curve_points(); empty strings / nullopt match anything.
struct CurveQuery {
  std::string name;
  std::string key;
  std::string regime;
  std::optional<int32_t> layer;
};

// One of a feature's top-activating samples. Activations are float32, stored as
// little-endian BLOBs: token_acts[t] = h_f at token t of the sample's prompt, patch_acts[p]
// = h_f at image patch p (row-major over the patch grid).
struct TopActivation {
  int32_t layer = 0;
  int32_t feature = 0;
  int32_t rank = 0;  // 0 = strongest
  std::string sample_id;
  std::string dataset;  // "vqav2", "vsr", "world", ...
  double max_activation = 0;
  std::vector<float> token_acts;
  std::vector<float> patch_acts;
};

// Attribution score of one head for one feature: method "A" / "B" (attribution patching
// at the clean / corrupt run) or "exact" (activation patching).
struct HeadScore {
  int32_t layer = 0;
  int32_t feature = 0;
  std::string method;
  int32_t head_layer = 0;
  int32_t head = 0;
  double score = 0;
};

// Rank agreement between exact patching and attribution methods A and B for a feature.
struct PatchingRow {
  int32_t layer = 0;
  int32_t feature = 0;
  double spearman_a = kNotComputed;
  double spearman_b = kNotComputed;
};

// Table 1-2 row for an ablated feature, averaged over seeds.
struct AblationRow {
  int32_t layer = 0;
  int32_t feature = 0;
  double d_vsr_acc = kNotComputed;
  double d_vsr_prob = kNotComputed;
  double d_vqa_acc = kNotComputed;
  double d_ctrl = kNotComputed;
  double vsr_or = kNotComputed;
  int64_t n_samples = 0;
  std::vector<std::string> relations;  // stored as a JSON array
  std::string seed_spread_json = "{}";  // per-seed values / std of each delta
};

// ---------------------------------------------------------------------------------------
// [SECTION] tensors, bookmarks
// ---------------------------------------------------------------------------------------

// A large tensor kept in a safetensors file the store points at. Paths under the store's
// directory are stored relative to it (a project folder can be moved) and returned
// absolute.
struct TensorRef {
  std::string key;
  std::string path;
  std::vector<int64_t> shape;
};

// A user's bookmark on a feature; not tied to a run (a feature of a given SAE is the same
// feature in every run). `name` is the bookmark list, e.g. "spatial-left".
struct Bookmark {
  int64_t id = 0;  // assigned by Store::add_bookmark
  std::string name;
  int32_t layer = 0;
  int32_t feature = 0;
  std::string note;
  int64_t created_at = 0;  // 0 = now
};

}  // namespace sightline
