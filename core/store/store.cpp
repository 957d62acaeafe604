// Store: connection, writer lock, file checks, statements, transactions, integrity, and
// the runs / stages tables.
//
// [SECTION] connection helpers (Impl, Stmt, Tx)
// [SECTION] open: writer lock, header check, pragmas, recovery
// [SECTION] transactions, integrity, counts
// [SECTION] runs and stages
#include "core/store/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/common/error.h"
#include "core/store/store_impl.h"

namespace fs = std::filesystem;

namespace sightline {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "activation BLOBs are stored as little-endian float32 by memcpy");

// ---------------------------------------------------------------------------------------
// [SECTION] connection helpers
// ---------------------------------------------------------------------------------------

Store::Impl::~Impl() {
  for (auto& [sql, cached] : statements) sqlite3_finalize(cached.stmt);
  statements.clear();
  // sqlite3_close_v2 defers the close if anything is still open, instead of failing.
  if (db) sqlite3_close_v2(db);
  if (lock_fd >= 0) ::close(lock_fd);  // releases the flock
}

void Store::Impl::fail_sqlite(const std::string& what, int rc) const {
  const char* message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  fail("file '{}': {}: {} ({})", path, what, message, sqlite3_errstr(rc));
}

void Store::Impl::exec(const std::string& sql, const std::string& what) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    const std::string text = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    fail("file '{}': {}: {} ({})", path, what, text, sqlite3_errstr(rc));
  }
}

void Store::Impl::require_writable(const std::string& what) const {
  if (mode == Mode::kReadOnly) fail("file '{}': opened read-only: cannot {}", path, what);
}

Stmt::Stmt(Store::Impl& impl, const std::string& sql, std::string what, bool use_cache)
    : impl_(impl), what_(std::move(what)) {
  auto it = use_cache ? impl_.statements.find(sql) : impl_.statements.end();
  if (it != impl_.statements.end() && !it->second.in_use) {
    stmt_ = it->second.stmt;
    cached_ = &it->second;  // unordered_map nodes do not move on rehash
    cached_->in_use = true;
    return;
  }
  const bool cache = use_cache && it == impl_.statements.end();
  const int rc = sqlite3_prepare_v3(impl_.db, sql.c_str(), -1, cache ? SQLITE_PREPARE_PERSISTENT : 0,
                                    &stmt_, nullptr);
  if (rc != SQLITE_OK) impl_.fail_sqlite(fmt::format("{}: preparing '{}'", what_, sql), rc);
  if (cache) {
    cached_ = &impl_.statements[sql];
    *cached_ = {stmt_, true};
  } else {
    owned_ = true;
  }
}

Stmt::~Stmt() {
  if (owned_) {
    sqlite3_finalize(stmt_);
    return;
  }
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  cached_->in_use = false;
}

Stmt& Stmt::bind(int i, int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, i, value);
  if (rc != SQLITE_OK) impl_.fail_sqlite(fmt::format("{}: binding parameter {}", what_, i), rc);
  return *this;
}

Stmt& Stmt::bind(int i, double value) {
  const int rc = std::isnan(value) ? sqlite3_bind_null(stmt_, i) : sqlite3_bind_double(stmt_, i, value);
  if (rc != SQLITE_OK) impl_.fail_sqlite(fmt::format("{}: binding parameter {}", what_, i), rc);
  return *this;
}

Stmt& Stmt::bind(int i, const std::string& value) {
  const int rc = sqlite3_bind_text(stmt_, i, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) impl_.fail_sqlite(fmt::format("{}: binding parameter {}", what_, i), rc);
  return *this;
}

Stmt& Stmt::bind_null(int i) {
  const int rc = sqlite3_bind_null(stmt_, i);
  if (rc != SQLITE_OK) impl_.fail_sqlite(fmt::format("{}: binding parameter {}", what_, i), rc);
  return *this;
}

Stmt& Stmt::bind_floats(int i, const std::vector<float>& values) {
  // A zero-length BLOB, not NULL: "no activations recorded" differs from "not stored".
  const int rc = values.empty()
                     ? sqlite3_bind_zeroblob(stmt_, i, 0)
                     : sqlite3_bind_blob64(stmt_, i, values.data(), values.size() * sizeof(float),
                                           SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) impl_.fail_sqlite(fmt::format("{}: binding parameter {}", what_, i), rc);
  return *this;
}

bool Stmt::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // Reset now so the statement's error state does not leak into the next use.
  sqlite3_reset(stmt_);
  impl_.fail_sqlite(what_, rc);
}

void Stmt::run() {
  while (step()) {
  }
}

void Stmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Stmt::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

int64_t Stmt::int64(int col) const { return sqlite3_column_int64(stmt_, col); }

double Stmt::real(int col) const {
  if (is_null(col)) return kNotComputed;
  return sqlite3_column_double(stmt_, col);
}

std::string Stmt::text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (!p) return "";
  return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

std::vector<float> Stmt::floats(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  const size_t bytes = static_cast<size_t>(sqlite3_column_bytes(stmt_, col));
  if (bytes % sizeof(float) != 0)
    fail("file '{}': {}: column '{}' holds a BLOB of {} bytes, not a whole number of float32", impl_.path,
         what_, sqlite3_column_name(stmt_, col), bytes);
  std::vector<float> out(bytes / sizeof(float));
  if (bytes) std::memcpy(out.data(), p, bytes);
  return out;
}

Tx::Tx(Store::Impl& impl, bool write) : impl_(impl), lock_(impl.mutex) {
  depth_ = impl_.tx_depth + 1;
  if (depth_ == 1) {
    const bool immediate = write && impl_.mode == Store::Mode::kReadWrite;
    impl_.exec(immediate ? "BEGIN IMMEDIATE" : "BEGIN", "beginning a transaction");
  } else {
    impl_.exec(fmt::format("SAVEPOINT sp{}", depth_), "opening a savepoint");
  }
  impl_.tx_depth = depth_;
}

void Tx::commit() {
  if (depth_ == 1)
    impl_.exec("COMMIT", "committing a transaction");
  else
    impl_.exec(fmt::format("RELEASE sp{}", depth_), "releasing a savepoint");
  done_ = true;
  impl_.tx_depth = depth_ - 1;
}

Tx::~Tx() {
  if (done_) return;
  // Errors are ignored here (a destructor must not throw); SQLite may already have rolled
  // back by itself after an I/O or out-of-memory error, hence the autocommit test.
  if (depth_ == 1) {
    if (!sqlite3_get_autocommit(impl_.db)) sqlite3_exec(impl_.db, "ROLLBACK", nullptr, nullptr, nullptr);
  } else if (!sqlite3_get_autocommit(impl_.db)) {
    const std::string sql = fmt::format("ROLLBACK TO sp{0}; RELEASE sp{0}", depth_);
    sqlite3_exec(impl_.db, sql.c_str(), nullptr, nullptr, nullptr);
  }
  impl_.tx_depth = depth_ - 1;
}

// ---------------------------------------------------------------------------------------
// [SECTION] open
// ---------------------------------------------------------------------------------------

namespace {

uint32_t read_be(const unsigned char* p, int bytes) {
  uint32_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

// Cheap checks SQLite itself defers until a page is read: the magic string, and a file
// shorter than its header says (truncated by a copy or a full disk). The page count is
// compared only while no WAL frames exist: a pending WAL (a live writer, or a crash
// mid-checkpoint) can legitimately leave the main file shorter than page 1 claims.
void check_file_header(const std::string& path) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  if (ec || size == 0) return;  // absent or empty: SQLite creates / reports it
  std::array<unsigned char, 100> header{};
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("file '{}': cannot read: {}", path, std::strerror(errno));
    in.read(reinterpret_cast<char*>(header.data()), header.size());
  }
  static const char kMagic[16] = "SQLite format 3";  // plus its NUL: 16 bytes
  if (size < header.size() || std::memcmp(header.data(), kMagic, sizeof(kMagic)) != 0)
    fail("file '{}': not a SQLite database (no 'SQLite format 3' header)", path);
  uint32_t page_size = read_be(&header[16], 2);
  if (page_size == 1) page_size = 65536;
  if (page_size < 512 || (page_size & (page_size - 1)) != 0)
    fail("file '{}': corrupt SQLite header: page size {}", path, page_size);
  // A WAL, once written, stays non-empty until the last connection closes, so a writer
  // that started during this check shows up when the WAL is looked at again.
  const auto wal_pending = [&path] {
    std::error_code wal_ec;
    const uintmax_t wal_size = fs::file_size(path + "-wal", wal_ec);
    return !wal_ec && wal_size > 0;
  };
  if (wal_pending()) return;
  const uint32_t pages = read_be(&header[28], 4);
  const bool pages_valid = pages != 0 && read_be(&header[24], 4) == read_be(&header[92], 4);
  if (size % page_size != 0 && !wal_pending())
    fail("file '{}': truncated or corrupt: {} bytes is not a whole number of {}-byte pages", path, size,
         page_size);
  if (pages_valid && size < uintmax_t{pages} * page_size && !wal_pending())
    fail("file '{}': truncated: the header counts {} pages of {} bytes ({} bytes) but the file has {} bytes",
         path, pages, page_size, uintmax_t{pages} * page_size, size);
}

void acquire_writer_lock(Store::Impl& impl) {
  const std::string lock_path = impl.path + "-writer.lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) fail("file '{}': cannot create writer lock '{}': {}", impl.path, lock_path, std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buffer[32] = {};
    const ssize_t n = ::pread(fd, buffer, sizeof(buffer) - 1, 0);
    ::close(fd);
    const std::string owner = n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "unknown";
    if (err == EWOULDBLOCK)
      fail("file '{}': already open for writing (lock '{}' held by process {}); close the other writer "
           "or open the store read-only",
           impl.path, lock_path, owner);
    fail("file '{}': cannot lock '{}': {}", impl.path, lock_path, std::strerror(err));
  }
  // Who holds it, for the message above; best effort (the lock is the flock, not this).
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd, 0) == 0 && ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
  }
  impl.lock_fd = fd;
}

// Stages and runs left "running" by a process that died. Sound because we hold the
// writer lock: no live process can be running them.
void recover_interrupted(Store::Impl& impl) {
  Tx tx(impl);
  Stmt stages(impl,
              "UPDATE stages SET status = 'pending', finished_at = NULL, error = "
              "'interrupted: the process running this stage stopped before it finished' "
              "WHERE status = 'running'",
              "table 'stages': resetting interrupted stages");
  stages.run();
  impl.recovered_stages = sqlite3_changes(impl.db);
  Stmt runs(impl, "UPDATE runs SET status = 'pending' WHERE status = 'running'",
            "table 'runs': resetting interrupted runs");
  runs.run();
  tx.commit();
}

}  // namespace

Store Store::open(const std::string& path, Mode mode) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->mode = mode;
  if (mode == Mode::kReadOnly && !fs::exists(path))
    fail("file '{}': cannot open store read-only: no such file", path);
  if (mode == Mode::kReadWrite) acquire_writer_lock(*impl);
  check_file_header(path);

  // NOMUTEX: Impl::mutex already serialises every use of the connection.
  const int flags = (mode == Mode::kReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                    SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &impl->db, flags, nullptr);
  if (rc != SQLITE_OK) impl->fail_sqlite("cannot open store", rc);
  sqlite3_extended_result_codes(impl->db, 1);
  // Readers in WAL mode never wait on the writer; this only covers WAL recovery and the
  // brief lock of a checkpoint, and a writer's BEGIN IMMEDIATE against a stray writer.
  sqlite3_busy_timeout(impl->db, 5000);
  impl->exec("PRAGMA foreign_keys = ON", "enabling foreign keys");
  impl->exec(mode == Mode::kReadWrite ? "PRAGMA cache_size = -65536" : "PRAGMA cache_size = -16384",
             "setting the page cache size");
  impl->exec("PRAGMA temp_store = MEMORY", "setting temp_store");

  // NORMAL is durable against a process kill in WAL mode; FULL would fsync every commit.
  if (mode == Mode::kReadWrite) impl->exec("PRAGMA synchronous = NORMAL", "setting synchronous");

  prepare_schema(*impl);

  if (mode == Mode::kReadWrite) {
    // Keep the WAL file from staying huge after a 1M-row transaction has been checkpointed.
    impl->exec("PRAGMA journal_size_limit = 67108864", "setting journal_size_limit");
    recover_interrupted(*impl);
  }
  return Store(std::move(impl));
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;
Store::~Store() = default;

const std::string& Store::path() const { return impl_->path; }
Store::Mode Store::mode() const { return impl_->mode; }
int Store::schema_version() const { return impl_->schema_version; }
int Store::recovered_stages() const { return impl_->recovered_stages; }

std::string Store::meta(const std::string& key) const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  Stmt s(*impl_, "SELECT value FROM meta WHERE key = ?", "table 'meta'");
  s.bind(1, key);
  return s.step() ? s.text(0) : "";
}

// ---------------------------------------------------------------------------------------
// [SECTION] transactions, integrity, counts
// ---------------------------------------------------------------------------------------

void Store::transaction(const std::function<void()>& fn) {
  Tx tx(*impl_, !read_only());
  fn();
  tx.commit();
}

bool Store::in_transaction() const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  return impl_->tx_depth > 0;
}

std::vector<std::string> Store::integrity_report() {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  std::vector<std::string> out;
  {
    Stmt s(*impl_, "PRAGMA integrity_check", "integrity check");
    while (s.step()) out.push_back(s.text(0));
  }
  {
    Stmt s(*impl_, "PRAGMA foreign_key_check", "foreign key check");
    while (s.step()) {
      if (out.size() == 1 && out[0] == "ok") out.clear();
      out.push_back(fmt::format("table '{}' row {}: no parent row in table '{}'", s.text(0), s.int64(1),
                                s.text(2)));
    }
  }
  if (out.empty()) out.push_back("integrity check returned nothing");
  return out;
}

bool Store::integrity_ok() {
  const auto report = integrity_report();
  return report.size() == 1 && report[0] == "ok";
}

namespace {
// True when `table` is a table of this schema (not an internal sqlite_ one). Guards the
// identifiers that functions splice into SQL.
bool is_schema_table(Store::Impl& impl, const std::string& table) {
  Stmt s(impl, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ? AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
         "table 'sqlite_master'");
  s.bind(1, table);
  return s.step();
}

bool has_column(Store::Impl& impl, const std::string& table, const std::string& column) {
  Stmt s(impl, "SELECT 1 FROM pragma_table_info(?) WHERE name = ?", "table info");
  s.bind(1, table).bind(2, column);
  return s.step();
}
}  // namespace

int64_t Store::count_rows(const std::string& table, std::optional<int64_t> run_id) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  if (!is_schema_table(*impl_, table)) fail("file '{}': no table '{}' in the store", impl_->path, table);
  if (run_id && !has_column(*impl_, table, "run_id"))
    fail("file '{}': table '{}' has no run_id column", impl_->path, table);
  Stmt s(*impl_, fmt::format("SELECT count(*) FROM \"{}\"{}", table, run_id ? " WHERE run_id = ?" : ""),
         fmt::format("table '{}': counting rows", table));
  if (run_id) s.bind(1, *run_id);
  s.step();
  return s.int64(0);
}

// ---------------------------------------------------------------------------------------
// [SECTION] runs and stages
// ---------------------------------------------------------------------------------------

namespace {
void check_json(const Store::Impl& impl, const std::string& table, const std::string& field,
                const std::string& text) {
  if (!nlohmann::json::accept(text))
    fail("file '{}': table '{}': field '{}' is not valid JSON: '{}'", impl.path, table, field,
         text.size() > 80 ? text.substr(0, 80) + "..." : text);
}

RunRecord read_run(const Stmt& s) {
  RunRecord r;
  r.id = s.int64(0);
  r.created_at = s.int64(1);
  r.name = s.text(2);
  r.options_json = s.text(3);
  r.model_provenance_json = s.text(4);
  r.sae_provenance_json = s.text(5);
  r.status = parse_stage_status(s.text(6), "table 'runs': column 'status'");
  return r;
}

constexpr const char* kRunColumns =
    "SELECT id, created_at, name, options_json, model_provenance_json, sae_provenance_json, status FROM runs ";

StageRecord read_stage(const Stmt& s) {
  StageRecord r;
  r.run_id = s.int64(0);
  r.name = s.text(1);
  r.status = parse_stage_status(s.text(2), "table 'stages': column 'status'");
  r.started_at = s.int64(3);
  r.finished_at = s.int64(4);
  r.error = s.text(5);
  r.options_hash = s.text(6);
  r.result_json = s.text(7);
  return r;
}

constexpr const char* kStageColumns =
    "SELECT run_id, name, status, started_at, finished_at, error, options_hash, result_json FROM stages ";
}  // namespace

int64_t Store::create_run(const RunRecord& run) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  impl_->require_writable("create a run");
  check_json(*impl_, "runs", "options_json", run.options_json);
  check_json(*impl_, "runs", "model_provenance_json", run.model_provenance_json);
  check_json(*impl_, "runs", "sae_provenance_json", run.sae_provenance_json);
  Stmt s(*impl_,
         "INSERT INTO runs (created_at, name, options_json, model_provenance_json, sae_provenance_json, status) "
         "VALUES (?, ?, ?, ?, ?, ?)",
         "table 'runs': insert");
  s.bind(1, run.created_at ? run.created_at : now_ms())
      .bind(2, run.name)
      .bind(3, run.options_json)
      .bind(4, run.model_provenance_json)
      .bind(5, run.sae_provenance_json)
      .bind(6, std::string(to_string(run.status)));
  s.run();
  return sqlite3_last_insert_rowid(impl_->db);
}

std::optional<RunRecord> Store::run(int64_t id) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  Stmt s(*impl_, std::string(kRunColumns) + "WHERE id = ?", "table 'runs'");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_run(s);
}

std::vector<RunRecord> Store::runs() {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  Stmt s(*impl_, std::string(kRunColumns) + "ORDER BY created_at DESC, id DESC", "table 'runs'");
  std::vector<RunRecord> out;
  while (s.step()) out.push_back(read_run(s));
  return out;
}

std::optional<RunRecord> Store::latest_run(const std::string& name) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  Stmt s(*impl_, std::string(kRunColumns) + "WHERE name = ? ORDER BY created_at DESC, id DESC LIMIT 1",
         "table 'runs'");
  s.bind(1, name);
  if (!s.step()) return std::nullopt;
  return read_run(s);
}

void Store::set_run_status(int64_t id, StageStatus status) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  impl_->require_writable("set a run's status");
  Stmt s(*impl_, "UPDATE runs SET status = ? WHERE id = ?", "table 'runs': update status");
  s.bind(1, std::string(to_string(status))).bind(2, id);
  s.run();
  if (sqlite3_changes(impl_->db) == 0) fail("file '{}': table 'runs': no run with id {}", impl_->path, id);
}

void Store::delete_run(int64_t id) {
  impl_->require_writable("delete a run");
  Tx tx(*impl_);
  Stmt s(*impl_, "DELETE FROM runs WHERE id = ?", "table 'runs': delete");
  s.bind(1, id);
  s.run();
  tx.commit();
}

void Store::put_stage(const StageRecord& stage) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  impl_->require_writable("record a stage");
  check_json(*impl_, "stages", "result_json", stage.result_json);
  // An upsert (not INSERT OR REPLACE) keeps the row's rowid, which orders stages().
  Stmt s(*impl_,
         "INSERT INTO stages (run_id, name, status, started_at, finished_at, error, options_hash, result_json) "
         "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, name) DO UPDATE SET "
         "status = excluded.status, started_at = excluded.started_at, finished_at = excluded.finished_at, "
         "error = excluded.error, options_hash = excluded.options_hash, result_json = excluded.result_json",
         fmt::format("table 'stages': writing stage '{}' of run {}", stage.name, stage.run_id));
  s.bind(1, stage.run_id).bind(2, stage.name).bind(3, std::string(to_string(stage.status)));
  if (stage.started_at) s.bind(4, stage.started_at); else s.bind_null(4);
  if (stage.finished_at) s.bind(5, stage.finished_at); else s.bind_null(5);
  s.bind(6, stage.error).bind(7, stage.options_hash).bind(8, stage.result_json);
  s.run();
}

std::optional<StageRecord> Store::stage(int64_t run_id, const std::string& name) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  Stmt s(*impl_, std::string(kStageColumns) + "WHERE run_id = ? AND name = ?", "table 'stages'");
  s.bind(1, run_id).bind(2, name);
  if (!s.step()) return std::nullopt;
  return read_stage(s);
}

std::vector<StageRecord> Store::stages(int64_t run_id) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  Stmt s(*impl_, std::string(kStageColumns) + "WHERE run_id = ? ORDER BY rowid", "table 'stages'");
  s.bind(1, run_id);
  std::vector<StageRecord> out;
  while (s.step()) out.push_back(read_stage(s));
  return out;
}

}  // namespace sightline
