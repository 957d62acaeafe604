// The Sightline store: every result of a run in one SQLite file, written by the pipeline
// while the explorer reads it.
//
// Concurrency (WAL mode):
//  - One writer per file: Mode::kReadWrite takes an exclusive advisory lock on
//    "<path>-writer.lock" for the life of the Store, so a second writer (another process or
//    another Store in this one) fails at open with a message instead of racing. Holding the
//    lock is also what makes crash recovery sound: a stage still marked "running" when a
//    writer opens was left by a process that died, and open() sets it back to "pending".
//  - Readers open their own Mode::kReadOnly Store (their own connection). WAL readers see
//    the last committed transaction, never block the writer and are not blocked by it.
//  - One Store may be shared by several threads: calls are serialised by an internal
//    mutex, and transaction() holds it for the whole transaction, so another thread's
//    writes never interleave with it. A UI should not share the writer's Store on its main
//    thread (a long stage transaction would stall a frame): it opens a reader.
//  - Each read function sees one consistent snapshot (reads spanning two tables run in a
//    read transaction). Wrap several calls in transaction() for a snapshot across them.
//
// Durability: synchronous=NORMAL (WAL): a committed transaction survives a process kill;
// after a power loss the last few commits may be lost but the file stays consistent.
//
// Errors: every failure throws sightline::Error naming the file, and the table or SQL at
// fault. Nothing here aborts.
//
// [SECTION] open, schema, transactions, integrity
// [SECTION] runs and stages
// [SECTION] features, metrics, selections, bookmarks
// [SECTION] curves, top activations, heads, patching, ablation, tensors
// [SECTION] export
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/store/records.h"

namespace sightline {

// Schema version this build writes (PRAGMA user_version and meta.schema_version). Files
// with an older version are migrated when opened read-write; newer ones are refused.
constexpr int kStoreSchemaVersion = 1;
// PRAGMA application_id of a Sightline store ("SGHT").
constexpr int32_t kStoreApplicationId = 0x53474854;

// Tables that per-run results live in, for Store::clear() (a stage's reset hook).
enum class StoreTable {
  kCurves,
  kFeatures,  // also removes their feature_metrics rows
  kFeatureMetrics,
  kSelections,
  kTopActivations,
  kHeads,
  kPatching,
  kAblation,
  kTensors,
};
// The SQL table name ("curves", "features", "feature_metrics", "selections", "samples",
// "heads", "patching", "ablation", "tensors").
const char* table_name(StoreTable table);

class Store {
 public:
  enum class Mode { kReadWrite, kReadOnly };

  // Opens (kReadWrite: creating when absent) the store at `path`. Throws Error naming the
  // file when: it cannot be opened; it is not a SQLite database; it is corrupt or
  // truncated (header page count vs file size, checked when no WAL is pending); it is a
  // SQLite database of another application; its schema version is newer than
  // kStoreSchemaVersion (or older, in kReadOnly mode); kReadOnly and the file has no
  // schema yet; kReadWrite and another writer holds the lock. A kReadWrite open resets
  // stages and runs left "running" by a dead process to "pending" (error "interrupted: ...").
  static Store open(const std::string& path, Mode mode = Mode::kReadWrite);

  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  ~Store();  // closes the connection and releases the writer lock

  const std::string& path() const;
  Mode mode() const;
  bool read_only() const { return mode() == Mode::kReadOnly; }
  // Schema version of the open file (== kStoreSchemaVersion after open).
  int schema_version() const;
  // Number of stages open() found "running" and set back to "pending" (kReadWrite only).
  int recovered_stages() const;
  // A value of the `meta` table (schema_version, created_by, created_at), or "" if absent.
  std::string meta(const std::string& key) const;

  // ------------------------------------------------------------------------------------
  // [SECTION] open, schema, transactions, integrity
  // ------------------------------------------------------------------------------------

  // Runs fn() in one transaction: committed when fn returns, rolled back (and the
  // exception rethrown) when it throws. fn may call any Store method; nested calls
  // (including the bulk functions below, which open their own) become savepoints of the
  // outer transaction. Writer: BEGIN IMMEDIATE (takes the write lock up front). Reader: a
  // read snapshot. Holds this Store's mutex until it ends.
  void transaction(const std::function<void()>& fn);
  // True when called from inside transaction() (or a bulk write) on this thread. From
  // another thread it waits for that transaction to end, then returns false.
  bool in_transaction() const;

  // PRAGMA integrity_check and PRAGMA foreign_key_check; true when both are clean.
  bool integrity_ok();
  // Their messages ("ok" alone when clean). Cost: a full scan of the file.
  std::vector<std::string> integrity_report();

  // Number of rows of a table (any table name of the schema; throws for others).
  int64_t count_rows(const std::string& table, std::optional<int64_t> run_id = std::nullopt);

  // ------------------------------------------------------------------------------------
  // [SECTION] runs and stages
  // ------------------------------------------------------------------------------------

  // Inserts a run (id ignored; created_at 0 = now) and returns its id.
  int64_t create_run(const RunRecord& run);
  std::optional<RunRecord> run(int64_t id);
  // All runs, newest first.
  std::vector<RunRecord> runs();
  // The newest run called `name`, if any.
  std::optional<RunRecord> latest_run(const std::string& name);
  void set_run_status(int64_t id, StageStatus status);
  // Deletes a run and (foreign keys, ON DELETE CASCADE) every row that belongs to it.
  void delete_run(int64_t id);

  // Inserts or replaces a stage's record (key: run_id, name).
  void put_stage(const StageRecord& stage);
  std::optional<StageRecord> stage(int64_t run_id, const std::string& name);
  // A run's stages, in the order they were first recorded.
  std::vector<StageRecord> stages(int64_t run_id);

  // ------------------------------------------------------------------------------------
  // [SECTION] features, metrics, selections, bookmarks
  // ------------------------------------------------------------------------------------

  // Inserts or merges feature rows: a NaN column keeps the value already stored (so
  // stages that compute different metrics fill the same rows), extras are upserted into
  // feature_metrics. One transaction, one reused statement: ~1M rows in a few seconds.
  void upsert_features(int64_t run_id, const std::vector<FeatureRow>& rows);
  // Writes one metric (a column name or an extra key) for many features, creating
  // feature rows that do not exist yet. A NaN value stores NULL.
  void set_feature_metric(int64_t run_id, const std::string& key, const std::vector<FeatureValue>& values);
  // Sets a metric to "not computed" for every feature of the run (a stage's reset).
  void clear_feature_metric(int64_t run_id, const std::string& key);
  // Features of a run (one layer, or all), ordered by (layer, feature), with extras.
  std::vector<FeatureRow> features(int64_t run_id, std::optional<int32_t> layer = std::nullopt);
  std::optional<FeatureRow> feature(int64_t run_id, int32_t layer, int32_t feature);
  int64_t count_features(int64_t run_id, std::optional<int32_t> layer = std::nullopt);
  // Layers that have features, ascending.
  std::vector<int32_t> feature_layers(int64_t run_id);
  // Metric names with at least one computed value in the run: columns first, then extras.
  std::vector<std::string> feature_metric_keys(int64_t run_id);
  // Column-major metrics for plots; `keys` are column names or extra keys (unknown keys
  // yield all-NaN columns). Ordered by (layer, feature).
  FeatureColumns feature_columns(int64_t run_id, const std::vector<std::string>& keys,
                                 std::optional<int32_t> layer = std::nullopt);

  // Replaces the named selection (e.g. "adapted", "spatial", a user's lasso) of a run.
  void put_selection(int64_t run_id, const std::string& name, const std::vector<FeatureRef>& features);
  // Sorted by (layer, feature); empty when absent.
  std::vector<FeatureRef> selection(int64_t run_id, const std::string& name);
  std::vector<std::string> selection_names(int64_t run_id);
  void delete_selection(int64_t run_id, const std::string& name);

  // Adds a bookmark, or updates the note of the one with the same (name, layer, feature).
  // Returns its id.
  int64_t add_bookmark(const Bookmark& bookmark);
  // Bookmarks of one list ("" = all), oldest first.
  std::vector<Bookmark> bookmarks(const std::string& name = "");
  void delete_bookmark(int64_t id);

  // ------------------------------------------------------------------------------------
  // [SECTION] curves, top activations, heads, patching, ablation, tensors
  // ------------------------------------------------------------------------------------

  // Upsert; key (run, name, layer, regime, key, step).
  void put_curve_points(int64_t run_id, const std::vector<CurvePoint>& points);
  // Ordered by (name, layer, regime, key, step).
  std::vector<CurvePoint> curve_points(int64_t run_id, const CurveQuery& query = {});

  // Upsert; key (run, layer, feature, rank).
  void put_top_activations(int64_t run_id, const std::vector<TopActivation>& rows);
  // A feature's top samples by rank; with_acts = false skips the BLOBs (list views).
  std::vector<TopActivation> top_activations(int64_t run_id, int32_t layer, int32_t feature,
                                             bool with_acts = true);
  // Features that have `sample_id` of `dataset` among their top samples.
  std::vector<FeatureRef> features_with_sample(int64_t run_id, const std::string& dataset,
                                               const std::string& sample_id);

  // Upsert; key (run, layer, feature, method, head_layer, head).
  void put_head_scores(int64_t run_id, const std::vector<HeadScore>& scores);
  // Ordered by (method, head_layer, head); method "" = all methods.
  std::vector<HeadScore> head_scores(int64_t run_id, int32_t layer, int32_t feature,
                                     const std::string& method = "");

  void put_patching(int64_t run_id, const std::vector<PatchingRow>& rows);
  std::vector<PatchingRow> patching(int64_t run_id);

  void put_ablations(int64_t run_id, const std::vector<AblationRow>& rows);
  std::vector<AblationRow> ablations(int64_t run_id);

  // Records where a tensor file lives (upsert on key). The file is not read or checked.
  void put_tensor(int64_t run_id, const TensorRef& tensor);
  std::optional<TensorRef> tensor(int64_t run_id, const std::string& key);
  std::vector<TensorRef> tensors(int64_t run_id);

  // Deletes a run's rows of one table (a stage's reset before it recomputes).
  void clear(int64_t run_id, StoreTable table);

  // ------------------------------------------------------------------------------------
  // [SECTION] export
  // ------------------------------------------------------------------------------------

  // Writes a table (a bare table name: all columns, and only run `run_id` when given and
  // the table has a run_id column) or a read-only SELECT (a `?` in it is bound to run_id)
  // as CSV to `path` (RFC 4180: header row, fields quoted when they hold a comma, quote,
  // CR/LF or edge spaces, quotes doubled; NULL = empty field; REAL in shortest round-trip
  // form; float32 BLOBs as space-separated values). Written to a temp file and renamed.
  // Returns the number of data rows.
  int64_t export_csv(const std::string& table_or_query, const std::string& path,
                     std::optional<int64_t> run_id = std::nullopt);

  struct Impl;  // defined in store_impl.h (private to core/store)

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One CSV field, quoted per RFC 4180 when needed.
std::string csv_field(const std::string& text);

}  // namespace sightline
