// The store's schema: version 1 DDL, the version / application checks at open, and the
// migration ladder for future versions.
//
// Version history:
//   1  initial schema (this file).
// A new version appends one step to kMigrations (SQL taking version N-1 to N) and bumps
// kStoreSchemaVersion; opening an older file read-write applies the missing steps in one
// transaction.
#include <sqlite3.h>

#include <string>
#include <vector>

#include "core/common/error.h"
#include "core/store/store_impl.h"

namespace sightline {

namespace {

// Why these shapes:
//  - Per-run tables key on run_id first and reference runs ON DELETE CASCADE, so deleting a
//    run removes everything it produced and every per-run query is a key-prefix scan.
//  - Tables of small fixed rows are WITHOUT ROWID (the primary key is the storage order:
//    no second index, half the space). `samples` keeps a rowid: its BLOB rows are large.
//  - Timestamps are INTEGER ms since the epoch (UTC); NULL = not set.
//  - REAL metric columns are NULL when not computed (see FeatureRow in records.h for the
//    features / feature_metrics design).
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE runs (
  id                    INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reuse a deleted run's id
  created_at            INTEGER NOT NULL,
  name                  TEXT NOT NULL,
  options_json          TEXT NOT NULL DEFAULT '{}',
  model_provenance_json TEXT NOT NULL DEFAULT '{}',
  sae_provenance_json   TEXT NOT NULL DEFAULT '{}',
  status                TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'running', 'done', 'failed', 'cancelled', 'skipped'))
);
CREATE INDEX runs_by_name ON runs (name, created_at);

CREATE TABLE stages (
  run_id       INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  name         TEXT NOT NULL,
  status       TEXT NOT NULL
    CHECK (status IN ('pending', 'running', 'done', 'failed', 'cancelled', 'skipped')),
  started_at   INTEGER,
  finished_at  INTEGER,
  error        TEXT NOT NULL DEFAULT '',
  options_hash TEXT NOT NULL DEFAULT '',
  result_json  TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (run_id, name)
);

CREATE TABLE curves (
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  name   TEXT NOT NULL,
  layer  INTEGER NOT NULL,
  regime TEXT NOT NULL,
  key    TEXT NOT NULL,
  step   INTEGER NOT NULL,
  tokens INTEGER NOT NULL,
  value  REAL,
  PRIMARY KEY (run_id, name, layer, regime, key, step)
) WITHOUT ROWID;

CREATE TABLE features (
  run_id             INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  layer              INTEGER NOT NULL,
  feature            INTEGER NOT NULL,
  visual_energy      REAL,
  decoder_cosine     REAL,
  adapted            REAL,
  p_base             REAL,
  p_skill            REAL,
  delta_p            REAL,
  odds_ratio         REAL,
  lexical_persistent REAL,
  spatial            REAL,
  vsr_or             REAL,
  PRIMARY KEY (run_id, layer, feature)
) WITHOUT ROWID;

CREATE TABLE feature_metrics (
  run_id  INTEGER NOT NULL,
  layer   INTEGER NOT NULL,
  feature INTEGER NOT NULL,
  key     TEXT NOT NULL,
  value   REAL,
  PRIMARY KEY (run_id, layer, feature, key),
  FOREIGN KEY (run_id, layer, feature) REFERENCES features (run_id, layer, feature) ON DELETE CASCADE
) WITHOUT ROWID;
-- "features sorted by metric X" without a scan of every metric.
CREATE INDEX feature_metrics_by_key ON feature_metrics (run_id, key, value);

CREATE TABLE selections (
  run_id  INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  name    TEXT NOT NULL,
  layer   INTEGER NOT NULL,
  feature INTEGER NOT NULL,
  PRIMARY KEY (run_id, name, layer, feature)
) WITHOUT ROWID;

CREATE TABLE bookmarks (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  name       TEXT NOT NULL,
  layer      INTEGER NOT NULL,
  feature    INTEGER NOT NULL,
  note       TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  UNIQUE (name, layer, feature)
);

CREATE TABLE samples (
  run_id         INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  layer          INTEGER NOT NULL,
  feature        INTEGER NOT NULL,
  rank           INTEGER NOT NULL,
  sample_id      TEXT NOT NULL,
  dataset        TEXT NOT NULL,
  max_activation REAL,
  token_acts     BLOB,  -- float32 little-endian, one per prompt token
  patch_acts     BLOB,  -- float32 little-endian, one per image patch (row-major grid)
  PRIMARY KEY (run_id, layer, feature, rank)
);
CREATE INDEX samples_by_sample ON samples (run_id, dataset, sample_id);

CREATE TABLE heads (
  run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  layer      INTEGER NOT NULL,
  feature    INTEGER NOT NULL,
  method     TEXT NOT NULL,
  head_layer INTEGER NOT NULL,
  head       INTEGER NOT NULL,
  score      REAL,
  PRIMARY KEY (run_id, layer, feature, method, head_layer, head)
) WITHOUT ROWID;

CREATE TABLE patching (
  run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  layer      INTEGER NOT NULL,
  feature    INTEGER NOT NULL,
  spearman_a REAL,
  spearman_b REAL,
  PRIMARY KEY (run_id, layer, feature)
) WITHOUT ROWID;

CREATE TABLE ablation (
  run_id           INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  layer            INTEGER NOT NULL,
  feature          INTEGER NOT NULL,
  d_vsr_acc        REAL,
  d_vsr_prob       REAL,
  d_vqa_acc        REAL,
  d_ctrl           REAL,
  vsr_or           REAL,
  n_samples        INTEGER NOT NULL DEFAULT 0,
  relations        TEXT NOT NULL DEFAULT '[]',  -- JSON array of relation names
  seed_spread_json TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (run_id, layer, feature)
) WITHOUT ROWID;

CREATE TABLE tensors (
  run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  key        TEXT NOT NULL,
  path       TEXT NOT NULL,  -- relative to the store's directory when inside it
  shape_json TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
)sql";

// kMigrations[i] takes schema version i + 1 to i + 2. Empty while version 1 is current.
const std::vector<const char*> kMigrations = {};

int pragma_int(Store::Impl& impl, const char* pragma) {
  Stmt s(impl, std::string("PRAGMA ") + pragma, std::string("reading PRAGMA ") + pragma);
  return s.step() ? static_cast<int>(s.int64(0)) : 0;
}

void write_version(Store::Impl& impl, int version, bool fresh) {
  impl.exec(fmt::format("PRAGMA user_version = {}", version), "setting the schema version");
  Stmt s(impl, "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
         "table 'meta': writing");
  s.bind(1, std::string("schema_version")).bind(2, std::to_string(version));
  s.run();
  if (!fresh) return;
  s.reset();
  s.bind(1, std::string("created_by")).bind(2, std::string("sightline"));
  s.run();
  s.reset();
  s.bind(1, std::string("created_at")).bind(2, format_timestamp(now_ms()));
  s.run();
}

}  // namespace

void prepare_schema(Store::Impl& impl) {
  // The first statement that reads the file: a non-database or corrupt file fails here,
  // and fail_sqlite names the file.
  int version = 0, application = 0, objects = 0;
  {
    Tx read(impl, /*write=*/false);
    version = pragma_int(impl, "user_version");
    application = pragma_int(impl, "application_id");
    Stmt s(impl, "SELECT count(*) FROM sqlite_master", "reading the schema");
    s.step();
    objects = static_cast<int>(s.int64(0));
    read.commit();
  }
  const bool empty = version == 0 && application == 0 && objects == 0;
  if (empty && impl.mode == Store::Mode::kReadOnly)
    fail("file '{}': empty database, not a Sightline store (no schema yet; open it read-write to create one)",
         impl.path);
  if (!empty && application != kStoreApplicationId)
    fail("file '{}': a SQLite database but not a Sightline store (application_id {:#x}, expected {:#x})", impl.path,
         static_cast<uint32_t>(application), static_cast<uint32_t>(kStoreApplicationId));
  if (version > kStoreSchemaVersion)
    fail("file '{}': store schema version {} is newer than this build of Sightline supports ({}); "
         "use a newer Sightline to open it",
         impl.path, version, kStoreSchemaVersion);
  if (!empty && version < 1)
    fail("file '{}': Sightline store without a schema version (PRAGMA user_version 0)", impl.path);
  if (!empty && version < kStoreSchemaVersion && impl.mode == Store::Mode::kReadOnly)
    fail("file '{}': store schema version {} is older than this build's ({}); open it read-write once to "
         "migrate it",
         impl.path, version, kStoreSchemaVersion);

  if (impl.mode == Store::Mode::kReadWrite) {
    // WAL: readers keep reading the last commit while the writer writes. Persistent in
    // the file, so read-only connections get it too.
    Stmt s(impl, "PRAGMA journal_mode = WAL", "setting WAL journal mode");
    const std::string mode = s.step() ? s.text(0) : "";
    if (mode != "wal") fail("file '{}': cannot switch to WAL journal mode (got '{}')", impl.path, mode);
  }

  if (empty) {
    Tx tx(impl);
    impl.exec(fmt::format("PRAGMA application_id = {}", kStoreApplicationId), "setting the application id");
    impl.exec(kSchemaV1, "creating the schema");
    // Later versions: run the whole ladder from 1, so a new file equals a migrated one.
    for (size_t i = 0; i + 1 < static_cast<size_t>(kStoreSchemaVersion); ++i)
      impl.exec(kMigrations.at(i), fmt::format("migrating the schema to version {}", i + 2));
    write_version(impl, kStoreSchemaVersion, /*fresh=*/true);
    tx.commit();
    version = kStoreSchemaVersion;
  } else if (version < kStoreSchemaVersion) {
    Tx tx(impl);
    for (int v = version; v < kStoreSchemaVersion; ++v) {
      if (static_cast<size_t>(v - 1) >= kMigrations.size())
        fail("file '{}': no migration from store schema version {} to {}", impl.path, v, v + 1);
      impl.exec(kMigrations[static_cast<size_t>(v - 1)], fmt::format("migrating the schema to version {}", v + 1));
    }
    write_version(impl, kStoreSchemaVersion, /*fresh=*/false);
    tx.commit();
    version = kStoreSchemaVersion;
  }

  Stmt s(impl, "SELECT value FROM meta WHERE key = 'schema_version'", "table 'meta'");
  const std::string recorded = s.step() ? s.text(0) : "";
  if (recorded != std::to_string(version))
    fail("file '{}': table 'meta': schema_version '{}' does not match PRAGMA user_version {}", impl.path, recorded,
         version);
  impl.schema_version = version;
}

}  // namespace sightline
