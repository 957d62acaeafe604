// Store: CSV export of a table or a read-only query (used by `sightline report`).
#include <sqlite3.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>

#include "core/common/error.h"
#include "core/store/store_impl.h"

namespace sightline {

std::string csv_field(const std::string& text) {
  const bool needs_quotes = text.find_first_of(",\"\r\n") != std::string::npos ||
                            (!text.empty() && (text.front() == ' ' || text.back() == ' ' ||
                                               text.front() == '\t' || text.back() == '\t'));
  if (!needs_quotes) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

namespace {

std::string csv_value(sqlite3_stmt* stmt, int col) {
  switch (sqlite3_column_type(stmt, col)) {
    case SQLITE_NULL:
      return "";
    case SQLITE_INTEGER:
      return std::to_string(sqlite3_column_int64(stmt, col));
    case SQLITE_FLOAT:
      return fmt::format("{}", sqlite3_column_double(stmt, col));  // shortest round-trip
    case SQLITE_BLOB: {
      const size_t bytes = static_cast<size_t>(sqlite3_column_bytes(stmt, col));
      const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(stmt, col));
      std::string out;
      if (bytes % sizeof(float) == 0) {
        // The store's BLOBs are float32 activations.
        for (size_t i = 0; i < bytes; i += sizeof(float)) {
          float v;
          std::memcpy(&v, p + i, sizeof(float));
          if (i) out += ' ';
          out += fmt::format("{}", v);
        }
        return out;
      }
      out = "x'";
      for (size_t i = 0; i < bytes; ++i) out += fmt::format("{:02x}", p[i]);
      return out + "'";
    }
    default: {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, col));
      return csv_field(p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt, col))) : "");
    }
  }
}

}  // namespace

int64_t Store::export_csv(const std::string& table_or_query, const std::string& path, std::optional<int64_t> run_id) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  std::string sql = table_or_query;
  bool bind_run = false;
  static const std::regex kIdentifier("[A-Za-z_][A-Za-z0-9_]*");
  if (std::regex_match(table_or_query, kIdentifier)) {
    Stmt t(*impl_,
           "SELECT (SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1 AND name NOT LIKE "
           "'sqlite\\_%' ESCAPE '\\'), (SELECT count(*) FROM pragma_table_info(?1) WHERE name = 'run_id')",
           "export: looking up the table");
    t.bind(1, table_or_query);
    t.step();
    if (t.int64(0) == 0) fail("file '{}': export to '{}': no table '{}' in the store", impl_->path, path, table_or_query);
    bind_run = run_id.has_value() && t.int64(1) > 0;
    sql = fmt::format("SELECT * FROM \"{}\"{}", table_or_query, bind_run ? " WHERE run_id = ?" : "");
  }

  // Ad-hoc SQL is not cached: each report query is used once.
  Stmt s(*impl_, sql, fmt::format("export to '{}'", path), /*cache=*/false);
  if (!sqlite3_stmt_readonly(s.raw()))
    fail("file '{}': export to '{}': only a table name or a read-only SELECT can be exported, not '{}'", impl_->path,
         path, table_or_query);
  const int params = sqlite3_bind_parameter_count(s.raw());
  if (params > 0 && !run_id)
    fail("file '{}': export to '{}': the query has {} parameter(s) but no run id was given", impl_->path, path,
         params);
  for (int i = 1; i <= params; ++i) s.bind(i, *run_id);

  const std::string tmp = path + ".tmp";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) fail("file '{}': cannot write: {}", tmp, std::strerror(errno));
  int64_t rows = 0;
  try {
    const int cols = sqlite3_column_count(s.raw());
    for (int c = 0; c < cols; ++c) out << (c ? "," : "") << csv_field(sqlite3_column_name(s.raw(), c));
    out << "\r\n";  // RFC 4180 line ends
    while (s.step()) {
      for (int c = 0; c < cols; ++c) out << (c ? "," : "") << csv_value(s.raw(), c);
      out << "\r\n";
      ++rows;
    }
    out.close();
    if (!out) fail("file '{}': write failed (disk full?)", tmp);
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      fail("file '{}': cannot rename '{}' to it: {}", path, tmp, std::strerror(errno));
  } catch (...) {
    out.close();
    std::remove(tmp.c_str());
    throw;
  }
  return rows;
}

}  // namespace sightline
