// Private to core/store: the connection behind a Store, a cached-statement helper and the
// RAII transaction the public functions use. Not included outside core/store/*.cpp.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/store/store.h"

namespace sightline {

struct Store::Impl {
  std::string path;
  Mode mode = Mode::kReadWrite;
  sqlite3* db = nullptr;
  // Serialises every use of `db`; recursive because transaction() callbacks call back into
  // the Store on the same thread.
  mutable std::recursive_mutex mutex;
  int tx_depth = 0;  // 0 = autocommit; 1 = BEGIN; > 1 = savepoints
  // Prepared once, reused (SQLITE_PREPARE_PERSISTENT). Keyed by SQL text. in_use marks a
  // statement borrowed by a live Stmt, so a nested use of the same SQL prepares its own.
  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  std::unordered_map<std::string, Cached> statements;
  int lock_fd = -1;  // writer lock file, kReadWrite only
  int recovered_stages = 0;
  int schema_version = 0;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl();

  // Throws "file '<path>': <what>: <sqlite message> (<code name>)".
  [[noreturn]] void fail_sqlite(const std::string& what, int rc) const;
  // Runs SQL without results (several statements allowed).
  void exec(const std::string& sql, const std::string& what);
  // Throws when the store is read-only: "file '<path>': opened read-only: cannot <what>".
  void require_writable(const std::string& what) const;
};

// A prepared statement borrowed from the Store's cache (or prepared afresh when the
// cached one is already in use further up the stack), reset and unbound on destruction.
// Column readers: NULL reads as NaN / 0 / "" / {}. Bind indexes are 1-based, column
// indexes 0-based, as in SQLite.
class Stmt {
 public:
  // cache = false: prepare a one-off statement (ad-hoc SQL such as export queries).
  Stmt(Store::Impl& impl, const std::string& sql, std::string what, bool cache = true);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, int64_t value);
  Stmt& bind(int i, int32_t value) { return bind(i, static_cast<int64_t>(value)); }
  Stmt& bind(int i, double value);  // NaN binds NULL
  Stmt& bind(int i, const std::string& value);
  Stmt& bind_null(int i);
  // float32 values as a little-endian BLOB (an empty vector binds an empty BLOB).
  Stmt& bind_floats(int i, const std::vector<float>& values);

  // Steps once: true when a row is ready, false when done. Throws on error.
  bool step();
  // Steps to completion (statements without results).
  void run();
  // Resets for another round of binds (bulk loops); bindings are cleared.
  void reset();

  bool is_null(int col) const;
  int64_t int64(int col) const;
  int32_t int32(int col) const { return static_cast<int32_t>(int64(col)); }
  double real(int col) const;
  std::string text(int col) const;
  // A float32 BLOB; throws naming the file, `what` and the column when its size is not a
  // multiple of 4.
  std::vector<float> floats(int col) const;
  const std::string& what() const { return what_; }
  sqlite3_stmt* raw() const { return stmt_; }

 private:
  Store::Impl& impl_;
  sqlite3_stmt* stmt_ = nullptr;
  Store::Impl::Cached* cached_ = nullptr;  // the cache entry borrowed, unless owned_
  bool owned_ = false;  // prepared afresh (finalised on destruction) rather than cached
  std::string what_;
};

// RAII transaction on a Store::Impl: locks the Impl's mutex, then BEGIN (depth 0) or
// SAVEPOINT (nested). commit() ends it; destruction without commit() rolls back.
class Tx {
 public:
  // write: BEGIN IMMEDIATE on a writer (take the write lock now, never upgrade later);
  // otherwise BEGIN (a read snapshot).
  explicit Tx(Store::Impl& impl, bool write = true);
  ~Tx();
  Tx(const Tx&) = delete;
  Tx& operator=(const Tx&) = delete;
  void commit();

 private:
  Store::Impl& impl_;
  std::unique_lock<std::recursive_mutex> lock_;
  int depth_ = 0;  // this transaction's level (1 = outermost)
  bool done_ = false;
};

// Schema (store_schema.cpp): checks an open connection's schema version and application
// id, creates the schema in an empty read-write file, migrates older versions, and
// throws for anything else. Sets impl.schema_version.
void prepare_schema(Store::Impl& impl);

}  // namespace sightline
