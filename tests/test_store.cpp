// Store: schema creation and checks at open, runs / stages, recovery, transactions,
// integrity, every table's round trip, CSV export.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/common/error.h"
#include "core/store/store.h"
#include "tests/test_util.h"

using namespace sightline;
namespace fs = std::filesystem;

namespace {

std::string new_db(const std::string& tag) { return sightline::test::scratch_dir(tag) + "/store.db"; }

// Runs SQL on the file through a private connection (to tamper with it by hand).
void raw_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  const std::string message = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << message;
}

// The Error message of open(), or "" when it succeeded.
std::string open_error(const std::string& path, Store::Mode mode) {
  try {
    Store::open(path, mode);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int64_t make_run(Store& store, const std::string& name = "run") {
  RunRecord r;
  r.name = name;
  r.options_json = R"({"layers":[4,8]})";
  return store.create_run(r);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// open, schema, checks
// ---------------------------------------------------------------------------------------

TEST(StoreOpen, CreatesVersionedSchemaInWalMode) {
  const std::string path = new_db("schema");
  {
    Store store = Store::open(path);
    EXPECT_EQ(store.schema_version(), kStoreSchemaVersion);
    EXPECT_EQ(store.meta("schema_version"), std::to_string(kStoreSchemaVersion));
    EXPECT_EQ(store.meta("created_by"), "sightline");
    EXPECT_FALSE(store.meta("created_at").empty());
    for (const char* table : {"meta", "runs", "stages", "curves", "features", "feature_metrics", "selections",
                              "bookmarks", "samples", "heads", "patching", "ablation", "tensors"})
      EXPECT_EQ(store.count_rows(table), table == std::string("meta") ? 3 : 0) << table;
    EXPECT_THROW(store.count_rows("no_such_table"), Error);
    EXPECT_TRUE(store.integrity_ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), kStoreSchemaVersion);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST(StoreOpen, ReopensWithData) {
  const std::string path = new_db("reopen");
  int64_t id = 0;
  {
    Store store = Store::open(path);
    id = make_run(store, "first");
  }
  {
    Store store = Store::open(path);
    ASSERT_TRUE(store.run(id));
    EXPECT_EQ(store.run(id)->name, "first");
    EXPECT_EQ(store.run(id)->options_json, R"({"layers":[4,8]})");
  }
  Store reader = Store::open(path, Store::Mode::kReadOnly);
  EXPECT_TRUE(reader.read_only());
  ASSERT_EQ(reader.runs().size(), 1u);
  EXPECT_EQ(reader.runs()[0].id, id);
}

TEST(StoreOpen, RejectsNewerSchemaVersion) {
  const std::string path = new_db("newer");
  { Store::open(path); }
  raw_exec(path, "PRAGMA user_version = 99");
  for (auto mode : {Store::Mode::kReadWrite, Store::Mode::kReadOnly}) {
    const std::string message = open_error(path, mode);
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("schema version 99 is newer"), std::string::npos) << message;
  }
}

TEST(StoreOpen, RejectsMetaVersionMismatch) {
  const std::string path = new_db("meta-mismatch");
  { Store::open(path); }
  raw_exec(path, "UPDATE meta SET value = '7' WHERE key = 'schema_version'");
  const std::string message = open_error(path, Store::Mode::kReadOnly);
  EXPECT_NE(message.find("table 'meta'"), std::string::npos) << message;
}

TEST(StoreOpen, RejectsNonDatabaseFile) {
  const std::string path = new_db("not-db");
  std::ofstream(path) << "layer,feature\n3,17\n this is a CSV file, not a database; padded to be long enough to "
                         "hold a SQLite header if it were one ......................................\n";
  for (auto mode : {Store::Mode::kReadWrite, Store::Mode::kReadOnly}) {
    const std::string message = open_error(path, mode);
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("not a SQLite database"), std::string::npos) << message;
  }
  // The file is left as it was.
  EXPECT_EQ(read_file(path).substr(0, 13), "layer,feature");
}

TEST(StoreOpen, RejectsOtherApplicationsDatabase) {
  const std::string path = new_db("other-app");
  raw_exec(path, "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)");
  const std::string message = open_error(path, Store::Mode::kReadWrite);
  EXPECT_NE(message.find("not a Sightline store"), std::string::npos) << message;
  EXPECT_NE(message.find(path), std::string::npos) << message;
}

TEST(StoreOpen, ReadOnlyNeedsAnExistingStore) {
  const std::string dir = sightline::test::scratch_dir("ro-missing");
  std::string message = open_error(dir + "/absent.db", Store::Mode::kReadOnly);
  EXPECT_NE(message.find("no such file"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(dir + "/absent.db"));
  std::ofstream(dir + "/empty.db").close();
  message = open_error(dir + "/empty.db", Store::Mode::kReadOnly);
  EXPECT_NE(message.find("empty database"), std::string::npos) << message;
  // Read-write turns an empty file into a store.
  EXPECT_EQ(open_error(dir + "/empty.db", Store::Mode::kReadWrite), "");
}

TEST(StoreOpen, DetectsTruncatedFile) {
  const std::string path = new_db("truncated");
  {
    Store store = Store::open(path);
    const int64_t run = make_run(store);
    std::vector<FeatureRow> rows(20000);
    for (size_t i = 0; i < rows.size(); ++i) {
      rows[i].layer = static_cast<int32_t>(i % 4);
      rows[i].feature = static_cast<int32_t>(i);
      rows[i].visual_energy = 0.5 * static_cast<double>(i);
    }
    store.upsert_features(run, rows);
  }
  ASSERT_FALSE(fs::exists(path + "-wal"));  // closed cleanly: everything is in the main file
  const auto size = fs::file_size(path);
  ASSERT_GT(size, 64u * 1024u);
  fs::resize_file(path, size / 2);
  const std::string message = open_error(path, Store::Mode::kReadOnly);
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
}

TEST(StoreOpen, CorruptPagesAreRejectedOrFailIntegrity) {
  const std::string path = new_db("corrupt");
  {
    Store store = Store::open(path);
    const int64_t run = make_run(store);
    std::vector<FeatureRow> rows(20000);
    for (size_t i = 0; i < rows.size(); ++i) {
      rows[i].layer = 1;
      rows[i].feature = static_cast<int32_t>(i);
      rows[i].decoder_cosine = 0.25;
    }
    store.upsert_features(run, rows);
  }
  const auto size = fs::file_size(path);
  {
    // Scribble over pages in the middle of the features b-tree (not the header).
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    const std::string junk(8192, '\x5a');
    f.seekp(static_cast<std::streamoff>(size / 2));
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  bool detected = false;
  try {
    Store store = Store::open(path, Store::Mode::kReadOnly);
    detected = !store.integrity_ok();
    const auto report = store.integrity_report();
    ASSERT_FALSE(report.empty());
    if (detected) {
      EXPECT_NE(report[0], "ok");
    }
  } catch (const Error& e) {
    detected = true;
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  EXPECT_TRUE(detected);
}

TEST(StoreOpen, SecondWriterIsRefused) {
  const std::string path = new_db("two-writers");
  {
    Store writer = Store::open(path);
    const std::string message = open_error(path, Store::Mode::kReadWrite);
    EXPECT_NE(message.find("already open for writing"), std::string::npos) << message;
    // Readers are always welcome.
    EXPECT_EQ(open_error(path, Store::Mode::kReadOnly), "");
  }
  EXPECT_EQ(open_error(path, Store::Mode::kReadWrite), "");
}

TEST(StoreOpen, ReadOnlyStoreRefusesWrites) {
  const std::string path = new_db("ro-writes");
  int64_t run = 0;
  {
    Store store = Store::open(path);
    run = make_run(store);
  }
  Store reader = Store::open(path, Store::Mode::kReadOnly);
  try {
    reader.put_selection(run, "adapted", {{1, 2}});
    FAIL() << "write on a read-only store succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("opened read-only"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_run(reader), Error);
  EXPECT_THROW(reader.upsert_features(run, {FeatureRow{}}), Error);
}

// ---------------------------------------------------------------------------------------
// runs, stages, recovery
// ---------------------------------------------------------------------------------------

TEST(StoreRuns, CreateListStatusDelete) {
  Store store = Store::open(new_db("runs"));
  RunRecord a;
  a.name = "spatial";
  a.created_at = 1000;
  a.model_provenance_json = R"({"model":"llava-more"})";
  const int64_t id_a = store.create_run(a);
  RunRecord b = a;
  b.created_at = 2000;
  const int64_t id_b = store.create_run(b);
  EXPECT_NE(id_a, id_b);
  const auto all = store.runs();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, id_b);  // newest first
  EXPECT_EQ(store.latest_run("spatial")->id, id_b);
  EXPECT_FALSE(store.latest_run("ocr"));
  EXPECT_EQ(all[1].model_provenance_json, R"({"model":"llava-more"})");
  store.set_run_status(id_a, StageStatus::kDone);
  EXPECT_EQ(store.run(id_a)->status, StageStatus::kDone);
  EXPECT_THROW(store.set_run_status(999, StageStatus::kDone), Error);
  RunRecord bad;
  bad.options_json = "{not json";
  EXPECT_THROW(store.create_run(bad), Error);
  store.delete_run(id_a);
  EXPECT_FALSE(store.run(id_a));
  EXPECT_EQ(store.runs().size(), 1u);
}

TEST(StoreRuns, StagesRoundTripInFirstRecordedOrder) {
  Store store = Store::open(new_db("stages"));
  const int64_t run = make_run(store);
  StageRecord s;
  s.run_id = run;
  s.name = "diff";
  s.status = StageStatus::kRunning;
  s.started_at = 111;
  s.options_hash = "abc";
  store.put_stage(s);
  s.name = "adapt";
  store.put_stage(s);
  s.name = "diff";
  s.status = StageStatus::kDone;
  s.finished_at = 222;
  s.result_json = R"({"adapted":42})";
  store.put_stage(s);
  const auto stages = store.stages(run);
  ASSERT_EQ(stages.size(), 2u);
  EXPECT_EQ(stages[0].name, "diff");  // an update keeps the stage's place
  EXPECT_EQ(stages[0].status, StageStatus::kDone);
  EXPECT_EQ(stages[0].started_at, 111);
  EXPECT_EQ(stages[0].finished_at, 222);
  EXPECT_EQ(stages[0].result_json, R"({"adapted":42})");
  EXPECT_EQ(stages[1].name, "adapt");
  EXPECT_EQ(stages[1].finished_at, 0);
  EXPECT_FALSE(store.stage(run, "ablate"));
  // Foreign key: a stage of a run that does not exist.
  s.run_id = run + 100;
  EXPECT_THROW(store.put_stage(s), Error);
}

TEST(StoreRuns, WriterOpenRecoversInterruptedStages) {
  const std::string path = new_db("recover");
  int64_t run = 0;
  {
    Store store = Store::open(path);
    run = make_run(store);
    store.set_run_status(run, StageStatus::kRunning);
    StageRecord s;
    s.run_id = run;
    s.name = "adapt";
    s.status = StageStatus::kDone;
    store.put_stage(s);
    s.name = "diff";
    s.status = StageStatus::kRunning;
    store.put_stage(s);
  }
  {
    // A reader must not touch it: the writer may be alive.
    Store reader = Store::open(path, Store::Mode::kReadOnly);
    EXPECT_EQ(reader.stage(run, "diff")->status, StageStatus::kRunning);
    EXPECT_EQ(reader.recovered_stages(), 0);
  }
  Store store = Store::open(path);
  EXPECT_EQ(store.recovered_stages(), 1);
  const auto diff = store.stage(run, "diff");
  EXPECT_EQ(diff->status, StageStatus::kPending);
  EXPECT_NE(diff->error.find("interrupted"), std::string::npos);
  EXPECT_EQ(store.stage(run, "adapt")->status, StageStatus::kDone);
  EXPECT_EQ(store.run(run)->status, StageStatus::kPending);
}

TEST(StoreRuns, StatusNamesRoundTrip) {
  for (auto s : {StageStatus::kPending, StageStatus::kRunning, StageStatus::kDone, StageStatus::kFailed,
                 StageStatus::kCancelled, StageStatus::kSkipped})
    EXPECT_EQ(parse_stage_status(to_string(s), "test"), s);
  EXPECT_THROW(parse_stage_status("finished", "test"), Error);
  EXPECT_EQ(format_timestamp(1714566896789), "2024-05-01T12:34:56.789Z");
  EXPECT_EQ(format_timestamp(0), "");
}

// ---------------------------------------------------------------------------------------
// transactions and integrity
// ---------------------------------------------------------------------------------------

TEST(StoreTransactions, RollbackOnExceptionAndNestedSavepoints) {
  Store store = Store::open(new_db("tx"));
  const int64_t run = make_run(store);
  EXPECT_THROW(store.transaction([&] {
    store.put_selection(run, "a", {{1, 1}});
    throw Error("boom");
  }),
               Error);
  EXPECT_TRUE(store.selection(run, "a").empty());
  EXPECT_FALSE(store.in_transaction());

  store.transaction([&] {
    EXPECT_TRUE(store.in_transaction());
    store.put_selection(run, "kept", {{1, 1}});
    try {
      store.transaction([&] {
        store.put_selection(run, "inner", {{2, 2}});
        throw Error("inner fails");
      });
    } catch (const Error&) {
    }
  });
  EXPECT_EQ(store.selection(run, "kept").size(), 1u);
  EXPECT_TRUE(store.selection(run, "inner").empty());
  EXPECT_TRUE(store.integrity_ok());
}

// ---------------------------------------------------------------------------------------
// features
// ---------------------------------------------------------------------------------------

TEST(StoreFeatures, UpsertMergesColumnsAndExtras) {
  Store store = Store::open(new_db("features"));
  const int64_t run = make_run(store);
  FeatureRow a;
  a.layer = 8;
  a.feature = 3;
  a.visual_energy = 0.5;
  a.decoder_cosine = 0.125;
  a.extra["ocr_odds_ratio"] = 3.5;
  store.upsert_features(run, {a});
  // A later stage fills other columns of the same row; NaN columns keep what is stored.
  FeatureRow b;
  b.layer = 8;
  b.feature = 3;
  b.p_base = 0.01;
  b.odds_ratio = 4.0;
  b.extra["lexical_fraction"] = 0.75;
  store.upsert_features(run, {b});
  const auto row = store.feature(run, 8, 3);
  ASSERT_TRUE(row);
  EXPECT_DOUBLE_EQ(row->visual_energy, 0.5);
  EXPECT_DOUBLE_EQ(row->decoder_cosine, 0.125);
  EXPECT_DOUBLE_EQ(row->p_base, 0.01);
  EXPECT_DOUBLE_EQ(row->odds_ratio, 4.0);
  EXPECT_TRUE(std::isnan(row->spatial));
  EXPECT_FALSE(row->get("spatial"));
  EXPECT_DOUBLE_EQ(*row->get("ocr_odds_ratio"), 3.5);
  EXPECT_DOUBLE_EQ(*row->get("lexical_fraction"), 0.75);
  const auto metrics = row->metrics();
  EXPECT_EQ(metrics.size(), 6u);
  EXPECT_DOUBLE_EQ(metrics.at("odds_ratio"), 4.0);

  // One metric across features, creating rows as needed.
  store.set_feature_metric(run, "spatial", {{8, 3, 1.0}, {8, 4, 0.0}});
  store.set_feature_metric(run, "vsr_relation_or", {{8, 4, 2.5}});
  EXPECT_EQ(store.count_features(run), 2);
  EXPECT_DOUBLE_EQ(*store.feature(run, 8, 3)->get("spatial"), 1.0);
  EXPECT_DOUBLE_EQ(*store.feature(run, 8, 4)->get("vsr_relation_or"), 2.5);

  const auto keys = store.feature_metric_keys(run);
  const std::vector<std::string> expected = {"visual_energy", "decoder_cosine",  "p_base",
                                             "odds_ratio",    "spatial",         "lexical_fraction",
                                             "ocr_odds_ratio", "vsr_relation_or"};
  EXPECT_EQ(keys, expected);

  store.clear_feature_metric(run, "visual_energy");
  store.clear_feature_metric(run, "ocr_odds_ratio");
  EXPECT_FALSE(store.feature(run, 8, 3)->get("visual_energy"));
  EXPECT_FALSE(store.feature(run, 8, 3)->get("ocr_odds_ratio"));
  EXPECT_DOUBLE_EQ(*store.feature(run, 8, 3)->get("lexical_fraction"), 0.75);

  FeatureRow shadow;
  shadow.extra["spatial"] = 1.0;  // a column name as an extra key would be ambiguous
  EXPECT_THROW(store.upsert_features(run, {shadow}), Error);
}

TEST(StoreFeatures, BulkInsertHundredThousandAndReadByLayer) {
  Store store = Store::open(new_db("bulk"));
  const int64_t run = make_run(store);
  constexpr int kLayers = 4, kPerLayer = 25000;
  std::vector<FeatureRow> rows;
  rows.reserve(kLayers * kPerLayer);
  for (int layer = 0; layer < kLayers; ++layer)
    for (int f = 0; f < kPerLayer; ++f) {
      FeatureRow r;
      r.layer = layer * 8;
      r.feature = f;
      r.visual_energy = f * 1e-3;
      r.decoder_cosine = 1.0 - layer * 0.1;
      r.adapted = f % 7 == 0 ? 1.0 : 0.0;
      r.p_base = 0.001 * layer;
      r.p_skill = 0.002 * layer;
      r.delta_p = 0.001 * layer;
      r.odds_ratio = 1.0 + f % 5;
      if (f % 1000 == 0) r.extra["ocr_or"] = f;
      rows.push_back(std::move(r));
    }
  const auto t0 = std::chrono::steady_clock::now();
  store.upsert_features(run, rows);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ store ] upsert of %zu feature rows: %.3f s\n", rows.size(), seconds);

  EXPECT_EQ(store.count_features(run), kLayers * kPerLayer);
  EXPECT_EQ(store.feature_layers(run), (std::vector<int32_t>{0, 8, 16, 24}));
  const auto layer16 = store.features(run, 16);
  ASSERT_EQ(layer16.size(), static_cast<size_t>(kPerLayer));
  for (int f = 0; f < kPerLayer; ++f) {
    const FeatureRow& r = layer16[static_cast<size_t>(f)];
    ASSERT_EQ(r.layer, 16);
    ASSERT_EQ(r.feature, f);
    ASSERT_DOUBLE_EQ(r.visual_energy, f * 1e-3);
    ASSERT_DOUBLE_EQ(r.decoder_cosine, 1.0 - 2 * 0.1);
    ASSERT_EQ(r.extra.count("ocr_or"), f % 1000 == 0 ? 1u : 0u);
  }
  const auto columns = store.feature_columns(run, {"visual_energy", "ocr_or", "missing_metric", "visual_energy"}, 8);
  EXPECT_EQ(columns.metric.size(), 3u);
  EXPECT_EQ(columns.metric.at("visual_energy").size(), static_cast<size_t>(kPerLayer));
  ASSERT_EQ(columns.size(), static_cast<size_t>(kPerLayer));
  EXPECT_FLOAT_EQ(columns.metric.at("visual_energy")[123], 0.123f);
  EXPECT_FLOAT_EQ(columns.metric.at("ocr_or")[2000], 2000.0f);
  EXPECT_TRUE(std::isnan(columns.metric.at("ocr_or")[2001]));
  EXPECT_TRUE(std::isnan(columns.metric.at("missing_metric")[0]));
  EXPECT_EQ(store.features(run).size(), static_cast<size_t>(kLayers * kPerLayer));
  EXPECT_EQ(store.count_rows("feature_metrics", run), kLayers * kPerLayer / 1000);
}

// ---------------------------------------------------------------------------------------
// selections, bookmarks
// ---------------------------------------------------------------------------------------

TEST(StoreSelections, ReplaceListDelete) {
  Store store = Store::open(new_db("selections"));
  const int64_t run = make_run(store);
  store.put_selection(run, "adapted", {{8, 5}, {4, 9}, {8, 5}});
  EXPECT_EQ(store.selection(run, "adapted"), (std::vector<FeatureRef>{{4, 9}, {8, 5}}));
  store.put_selection(run, "adapted", {{1, 1}});  // replaces
  EXPECT_EQ(store.selection(run, "adapted"), (std::vector<FeatureRef>{{1, 1}}));
  store.put_selection(run, "spatial", {{1, 1}});
  EXPECT_EQ(store.selection_names(run), (std::vector<std::string>{"adapted", "spatial"}));
  store.delete_selection(run, "adapted");
  EXPECT_EQ(store.selection_names(run), (std::vector<std::string>{"spatial"}));
  EXPECT_THROW(store.put_selection(run, "", {}), Error);
}

TEST(StoreSelections, BookmarksUpsertNote) {
  Store store = Store::open(new_db("bookmarks"));
  Bookmark b;
  b.name = "left-of";
  b.layer = 12;
  b.feature = 3456;
  b.note = "fires on 'left'";
  const int64_t id = store.add_bookmark(b);
  b.note = "fires on 'left' and 'beside'";
  EXPECT_EQ(store.add_bookmark(b), id);  // same (name, layer, feature): note updated
  b.name = "ocr";
  store.add_bookmark(b);
  ASSERT_EQ(store.bookmarks().size(), 2u);
  const auto left = store.bookmarks("left-of");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].note, "fires on 'left' and 'beside'");
  EXPECT_GT(left[0].created_at, 0);
  store.delete_bookmark(id);
  EXPECT_TRUE(store.bookmarks("left-of").empty());
}

// ---------------------------------------------------------------------------------------
// curves, samples, heads, patching, ablation, tensors
// ---------------------------------------------------------------------------------------

TEST(StoreResults, CurvesFilterAndOrder) {
  Store store = Store::open(new_db("curves"));
  const int64_t run = make_run(store);
  std::vector<CurvePoint> points;
  for (int step : {200, 100, 0})
    for (const char* regime : {"text", "image"}) {
      points.push_back({"heldout", 4, regime, step, step * 512, "fvu", 1.0 / (step + 1)});
      points.push_back({"heldout", 4, regime, step, step * 512, "l0", 30.0 + step});
    }
  store.put_curve_points(run, points);
  store.put_curve_points(run, {{"heldout", 4, "text", 100, 51200, "fvu", 0.5}});  // upsert
  CurveQuery q;
  q.key = "fvu";
  q.regime = "text";
  const auto fvu = store.curve_points(run, q);
  ASSERT_EQ(fvu.size(), 3u);
  EXPECT_EQ(fvu[0].step, 0);
  EXPECT_EQ(fvu[1].step, 100);
  EXPECT_DOUBLE_EQ(fvu[1].value, 0.5);
  EXPECT_EQ(fvu[1].tokens, 51200);
  EXPECT_EQ(fvu[2].step, 200);
  EXPECT_EQ(store.curve_points(run).size(), 12u);
  q.layer = 5;
  EXPECT_TRUE(store.curve_points(run, q).empty());
}

TEST(StoreResults, TopActivationBlobsRoundTrip) {
  Store store = Store::open(new_db("samples"));
  const int64_t run = make_run(store);
  TopActivation a;
  a.layer = 8;
  a.feature = 77;
  a.rank = 1;
  a.sample_id = "262148000";
  a.dataset = "vqav2";
  a.max_activation = 4.25;
  a.token_acts = {0.0f, 1.5f, -2.25f, 3.0e-8f};
  for (int p = 0; p < 576; ++p) a.patch_acts.push_back(static_cast<float>(p) * 0.5f);
  TopActivation b = a;
  b.rank = 0;
  b.sample_id = "vsr-17";
  b.dataset = "vsr";
  b.token_acts.clear();
  store.put_top_activations(run, {a, b});
  const auto tops = store.top_activations(run, 8, 77);
  ASSERT_EQ(tops.size(), 2u);
  EXPECT_EQ(tops[0].sample_id, "vsr-17");
  EXPECT_TRUE(tops[0].token_acts.empty());
  EXPECT_EQ(tops[1].token_acts, a.token_acts);
  EXPECT_EQ(tops[1].patch_acts, a.patch_acts);
  EXPECT_DOUBLE_EQ(tops[1].max_activation, 4.25);
  const auto light = store.top_activations(run, 8, 77, /*with_acts=*/false);
  ASSERT_EQ(light.size(), 2u);
  EXPECT_TRUE(light[1].patch_acts.empty());
  EXPECT_EQ(store.features_with_sample(run, "vqav2", "262148000"), (std::vector<FeatureRef>{{8, 77}}));
  EXPECT_TRUE(store.features_with_sample(run, "vsr", "262148000").empty());
}

TEST(StoreResults, HeadsPatchingAblationTensors) {
  const std::string path = new_db("results");
  Store store = Store::open(path);
  const int64_t run = make_run(store);
  store.put_head_scores(run, {{8, 3, "B", 2, 5, -0.5}, {8, 3, "A", 7, 1, 0.25}, {8, 3, "A", 2, 0, 1.5}});
  const auto a = store.head_scores(run, 8, 3, "A");
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].head_layer, 2);
  EXPECT_DOUBLE_EQ(a[0].score, 1.5);
  EXPECT_EQ(store.head_scores(run, 8, 3).size(), 3u);

  store.put_patching(run, {{8, 3, 0.8, kNotComputed}});
  const auto patching = store.patching(run);
  ASSERT_EQ(patching.size(), 1u);
  EXPECT_DOUBLE_EQ(patching[0].spearman_a, 0.8);
  EXPECT_TRUE(std::isnan(patching[0].spearman_b));

  AblationRow row;
  row.layer = 8;
  row.feature = 3;
  row.d_vsr_acc = -0.12;
  row.d_ctrl = -0.01;
  row.n_samples = 240;
  row.relations = {"left of", "right of"};
  row.seed_spread_json = R"({"d_ctrl_std":0.004})";
  store.put_ablations(run, {row});
  const auto ablations = store.ablations(run);
  ASSERT_EQ(ablations.size(), 1u);
  EXPECT_DOUBLE_EQ(ablations[0].d_vsr_acc, -0.12);
  EXPECT_TRUE(std::isnan(ablations[0].d_vqa_acc));
  EXPECT_EQ(ablations[0].relations, row.relations);
  EXPECT_EQ(ablations[0].n_samples, 240);
  row.seed_spread_json = "{";
  EXPECT_THROW(store.put_ablations(run, {row}), Error);

  const std::string dir = fs::path(path).parent_path().string();
  store.put_tensor(run, {"attribution/A", dir + "/tensors/attr_a.safetensors", {32, 32}});
  store.put_tensor(run, {"mean_image", "/opt/elsewhere/mean.safetensors", {576, 4096}});
  const auto inside = store.tensor(run, "attribution/A");
  ASSERT_TRUE(inside);
  EXPECT_EQ(inside->path, fs::path(dir + "/tensors/attr_a.safetensors").lexically_normal().string());
  EXPECT_EQ(inside->shape, (std::vector<int64_t>{32, 32}));
  EXPECT_EQ(store.tensors(run).size(), 2u);
  EXPECT_EQ(store.tensor(run, "mean_image")->path, "/opt/elsewhere/mean.safetensors");
  EXPECT_THROW(store.put_tensor(run, {"bad", "x.safetensors", {-1}}), Error);

  store.clear(run, StoreTable::kHeads);
  EXPECT_TRUE(store.head_scores(run, 8, 3).empty());
  EXPECT_EQ(store.patching(run).size(), 1u);
}

TEST(StoreResults, TensorPathsSurviveMovingTheFolder) {
  const std::string dir = sightline::test::scratch_dir("move");
  fs::create_directories(dir + "/a");
  int64_t run = 0;
  {
    Store store = Store::open(dir + "/a/store.db");
    run = make_run(store);
    store.put_tensor(run, {"w", dir + "/a/t/w.safetensors", {2}});
  }
  fs::rename(dir + "/a", dir + "/b");
  Store store = Store::open(dir + "/b/store.db", Store::Mode::kReadOnly);
  EXPECT_EQ(store.tensor(run, "w")->path, fs::path(dir + "/b/t/w.safetensors").lexically_normal().string());
}

TEST(StoreResults, DeletingARunCascades) {
  Store store = Store::open(new_db("cascade"));
  const int64_t keep = make_run(store, "keep");
  const int64_t drop = make_run(store, "drop");
  for (int64_t run : {keep, drop}) {
    FeatureRow r;
    r.layer = 1;
    r.feature = 2;
    r.extra["x"] = 1;
    store.upsert_features(run, {r});
    store.put_selection(run, "s", {{1, 2}});
    store.put_head_scores(run, {{1, 2, "A", 0, 0, 1.0}});
    StageRecord st;
    st.run_id = run;
    st.name = "diff";
    store.put_stage(st);
  }
  store.delete_run(drop);
  EXPECT_EQ(store.count_rows("features"), 1);
  EXPECT_EQ(store.count_rows("feature_metrics"), 1);
  EXPECT_EQ(store.count_rows("selections"), 1);
  EXPECT_EQ(store.count_rows("heads"), 1);
  EXPECT_EQ(store.count_rows("stages"), 1);
  EXPECT_EQ(store.count_features(keep), 1);
  EXPECT_TRUE(store.integrity_ok());
  // Clearing features removes their extra metrics too.
  store.clear(keep, StoreTable::kFeatures);
  EXPECT_EQ(store.count_rows("feature_metrics"), 0);
}

// ---------------------------------------------------------------------------------------
// CSV export
// ---------------------------------------------------------------------------------------

TEST(StoreExport, CsvQuotingNullsBlobsAndQueries) {
  const std::string dir = sightline::test::scratch_dir("csv");
  Store store = Store::open(dir + "/store.db");
  const int64_t run = make_run(store);
  const int64_t other = make_run(store, "other");
  AblationRow row;
  row.layer = 8;
  row.feature = 3;
  row.d_vsr_acc = -0.125;
  row.n_samples = 12;
  row.relations = {"left of", "in \"front\""};
  store.put_ablations(run, {row});
  row.feature = 4;
  store.put_ablations(other, {row});

  EXPECT_EQ(store.export_csv("ablation", dir + "/ablation.csv", run), 1);
  const std::string csv = read_file(dir + "/ablation.csv");
  const std::string expected =
      "run_id,layer,feature,d_vsr_acc,d_vsr_prob,d_vqa_acc,d_ctrl,vsr_or,n_samples,relations,seed_spread_json\r\n" +
      std::to_string(run) + ",8,3,-0.125,,,,,12,\"[\"\"left of\"\",\"\"in \\\"\"front\\\"\"\"\"]\",{}\r\n";
  EXPECT_EQ(csv, expected);
  EXPECT_FALSE(fs::exists(dir + "/ablation.csv.tmp"));

  EXPECT_EQ(store.export_csv("ablation", dir + "/all.csv"), 2);  // no run: every run

  TopActivation a;
  a.layer = 1;
  a.feature = 2;
  a.sample_id = "s, 1";
  a.dataset = "vsr";
  a.token_acts = {0.5f, -1.0f};
  store.put_top_activations(run, {a});
  EXPECT_EQ(store.export_csv("SELECT sample_id, token_acts, patch_acts FROM samples WHERE run_id = ?",
                             dir + "/samples.csv", run),
            1);
  EXPECT_EQ(read_file(dir + "/samples.csv"), "sample_id,token_acts,patch_acts\r\n\"s, 1\",0.5 -1,\r\n");

  EXPECT_THROW(store.export_csv("DELETE FROM samples", dir + "/x.csv"), Error);
  EXPECT_THROW(store.export_csv("no_such_table", dir + "/x.csv"), Error);
  EXPECT_THROW(store.export_csv("SELECT * FROM samples WHERE run_id = ?", dir + "/x.csv"), Error);
  EXPECT_EQ(store.count_rows("samples"), 1);
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field(" edge"), "\" edge\"");
  EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");
}
