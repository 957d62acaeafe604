// Store: features (wide rows + feature_metrics extras), selections, bookmarks.
#include <sqlite3.h>

#include <algorithm>
#include <cmath>

#include "core/common/error.h"
#include "core/store/store_impl.h"

namespace sightline {

namespace {

using Lock = std::lock_guard<std::recursive_mutex>;

// "INSERT ... ON CONFLICT DO UPDATE SET c = coalesce(excluded.c, c)": a NULL (NaN) column
// keeps what another stage stored in the same row.
std::string upsert_features_sql() {
  const auto& cols = feature_column_names();
  std::string names, marks, updates;
  for (size_t i = 0; i < cols.size(); ++i) {
    names += ", " + cols[i];
    marks += ", ?";
    updates += fmt::format("{1}{0} = coalesce(excluded.{0}, {0})", cols[i], i ? ", " : "");
  }
  return "INSERT INTO features (run_id, layer, feature" + names + ") VALUES (?, ?, ?" + marks +
         ") ON CONFLICT (run_id, layer, feature) DO UPDATE SET " + updates;
}

constexpr const char* kUpsertMetric =
    "INSERT INTO feature_metrics (run_id, layer, feature, key, value) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (run_id, layer, feature, key) DO UPDATE SET value = excluded.value";

std::string feature_select_sql(bool by_layer) {
  std::string sql = "SELECT layer, feature";
  for (const auto& c : feature_column_names()) sql += ", " + c;
  sql += " FROM features WHERE run_id = ?";
  if (by_layer) sql += " AND layer = ?";
  return sql + " ORDER BY layer, feature";
}

FeatureRow read_feature(const Stmt& s) {
  FeatureRow r;
  r.layer = s.int32(0);
  r.feature = s.int32(1);
  for (size_t i = 0; i < feature_column_names().size(); ++i) r.column(i) = s.real(static_cast<int>(i) + 2);
  return r;
}

void check_metric_key(const Store::Impl& impl, const std::string& key) {
  if (key.empty()) fail("file '{}': table 'feature_metrics': empty metric key", impl.path);
}

// Index of `ref` in sorted (layer, feature) arrays, or -1.
int64_t find_ref(const std::vector<int32_t>& layers, const std::vector<int32_t>& features, FeatureRef ref) {
  size_t lo = 0, hi = layers.size();
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (FeatureRef{layers[mid], features[mid]} < ref)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < layers.size() && layers[lo] == ref.layer && features[lo] == ref.feature) return static_cast<int64_t>(lo);
  return -1;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// features
// ---------------------------------------------------------------------------------------

void Store::upsert_features(int64_t run_id, const std::vector<FeatureRow>& rows) {
  impl_->require_writable("write table 'features'");
  Tx tx(*impl_);
  Stmt row_stmt(*impl_, upsert_features_sql(), fmt::format("table 'features': upserting run {}", run_id));
  std::unique_ptr<Stmt> metric_stmt;  // prepared on the first extra
  const size_t n_cols = feature_column_names().size();
  for (const FeatureRow& r : rows) {
    row_stmt.bind(1, run_id).bind(2, r.layer).bind(3, r.feature);
    for (size_t i = 0; i < n_cols; ++i) row_stmt.bind(static_cast<int>(i) + 4, r.column(i));
    row_stmt.run();
    row_stmt.reset();
    for (const auto& [key, value] : r.extra) {
      if (std::isnan(value)) continue;  // NaN = not computed: keep what is stored
      check_metric_key(*impl_, key);
      if (is_feature_column(key))
        fail("file '{}': table 'feature_metrics': extra metric '{}' of layer {} feature {} shadows the column "
             "of the same name",
             impl_->path, key, r.layer, r.feature);
      if (!metric_stmt)
        metric_stmt = std::make_unique<Stmt>(*impl_, kUpsertMetric,
                                             fmt::format("table 'feature_metrics': upserting run {}", run_id));
      metric_stmt->bind(1, run_id).bind(2, r.layer).bind(3, r.feature).bind(4, key).bind(5, value);
      metric_stmt->run();
      metric_stmt->reset();
    }
  }
  metric_stmt.reset();
  tx.commit();
}

void Store::set_feature_metric(int64_t run_id, const std::string& key, const std::vector<FeatureValue>& values) {
  impl_->require_writable("write table 'features'");
  check_metric_key(*impl_, key);
  Tx tx(*impl_);
  const std::string what = fmt::format("table 'features': writing metric '{}' of run {}", key, run_id);
  if (is_feature_column(key)) {
    // `key` is one of the fixed column names, so splicing it is safe.
    Stmt s(*impl_,
           fmt::format("INSERT INTO features (run_id, layer, feature, {0}) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT (run_id, layer, feature) DO UPDATE SET {0} = excluded.{0}",
                       key),
           what);
    for (const FeatureValue& v : values) {
      s.bind(1, run_id).bind(2, v.layer).bind(3, v.feature).bind(4, v.value);
      s.run();
      s.reset();
    }
  } else {
    Stmt row(*impl_,
             "INSERT INTO features (run_id, layer, feature) VALUES (?, ?, ?) "
             "ON CONFLICT (run_id, layer, feature) DO NOTHING",
             what);
    Stmt metric(*impl_, kUpsertMetric, what);
    for (const FeatureValue& v : values) {
      row.bind(1, run_id).bind(2, v.layer).bind(3, v.feature);
      row.run();
      row.reset();
      metric.bind(1, run_id).bind(2, v.layer).bind(3, v.feature).bind(4, key).bind(5, v.value);
      metric.run();
      metric.reset();
    }
  }
  tx.commit();
}

void Store::clear_feature_metric(int64_t run_id, const std::string& key) {
  impl_->require_writable("write table 'features'");
  check_metric_key(*impl_, key);
  Tx tx(*impl_);
  if (is_feature_column(key)) {
    Stmt s(*impl_, fmt::format("UPDATE features SET {} = NULL WHERE run_id = ?", key),
           fmt::format("table 'features': clearing metric '{}'", key));
    s.bind(1, run_id);
    s.run();
  } else {
    Stmt s(*impl_, "DELETE FROM feature_metrics WHERE run_id = ? AND key = ?",
           fmt::format("table 'feature_metrics': clearing metric '{}'", key));
    s.bind(1, run_id).bind(2, key);
    s.run();
  }
  tx.commit();
}

std::vector<FeatureRow> Store::features(int64_t run_id, std::optional<int32_t> layer) {
  Tx tx(*impl_, /*write=*/false);  // one snapshot for both tables
  std::vector<FeatureRow> rows;
  {
    Stmt s(*impl_, feature_select_sql(layer.has_value()), "table 'features'");
    s.bind(1, run_id);
    if (layer) s.bind(2, *layer);
    while (s.step()) rows.push_back(read_feature(s));
  }
  {
    Stmt s(*impl_,
           std::string("SELECT layer, feature, key, value FROM feature_metrics WHERE run_id = ?") +
               (layer ? " AND layer = ?" : "") + " ORDER BY layer, feature",
           "table 'feature_metrics'");
    s.bind(1, run_id);
    if (layer) s.bind(2, *layer);
    // Both lists are sorted by (layer, feature) and every metric row has its feature row
    // (foreign key), so one forward merge attaches them.
    size_t i = 0;
    while (s.step()) {
      const FeatureRef ref{s.int32(0), s.int32(1)};
      while (i < rows.size() && rows[i].ref() < ref) ++i;
      if (i == rows.size() || rows[i].ref() != ref)
        fail("file '{}': table 'feature_metrics': row for layer {} feature {} has no 'features' row", impl_->path,
             ref.layer, ref.feature);
      if (!s.is_null(3)) rows[i].extra[s.text(2)] = s.real(3);
    }
  }
  tx.commit();
  return rows;
}

std::optional<FeatureRow> Store::feature(int64_t run_id, int32_t layer, int32_t feature) {
  Tx tx(*impl_, /*write=*/false);
  std::optional<FeatureRow> out;
  {
    std::string sql = feature_select_sql(true);
    sql.replace(sql.find(" ORDER BY"), std::string::npos, " AND feature = ?");
    Stmt s(*impl_, sql, "table 'features'");
    s.bind(1, run_id).bind(2, layer).bind(3, feature);
    if (s.step()) out = read_feature(s);
  }
  if (out) {
    Stmt s(*impl_, "SELECT key, value FROM feature_metrics WHERE run_id = ? AND layer = ? AND feature = ?",
           "table 'feature_metrics'");
    s.bind(1, run_id).bind(2, layer).bind(3, feature);
    while (s.step())
      if (!s.is_null(1)) out->extra[s.text(0)] = s.real(1);
  }
  tx.commit();
  return out;
}

int64_t Store::count_features(int64_t run_id, std::optional<int32_t> layer) {
  Lock lock(impl_->mutex);
  Stmt s(*impl_,
         std::string("SELECT count(*) FROM features WHERE run_id = ?") + (layer ? " AND layer = ?" : ""),
         "table 'features': counting");
  s.bind(1, run_id);
  if (layer) s.bind(2, *layer);
  s.step();
  return s.int64(0);
}

std::vector<int32_t> Store::feature_layers(int64_t run_id) {
  Lock lock(impl_->mutex);
  Stmt s(*impl_, "SELECT DISTINCT layer FROM features WHERE run_id = ? ORDER BY layer", "table 'features'");
  s.bind(1, run_id);
  std::vector<int32_t> out;
  while (s.step()) out.push_back(s.int32(0));
  return out;
}

std::vector<std::string> Store::feature_metric_keys(int64_t run_id) {
  Tx tx(*impl_, /*write=*/false);
  std::vector<std::string> out;
  for (const auto& col : feature_column_names()) {
    // EXISTS stops at the first computed value instead of scanning every row.
    Stmt s(*impl_,
           fmt::format("SELECT EXISTS (SELECT 1 FROM features WHERE run_id = ? AND {} IS NOT NULL)", col),
           "table 'features'");
    s.bind(1, run_id);
    if (s.step() && s.int64(0)) out.push_back(col);
  }
  {
    Stmt s(*impl_, "SELECT DISTINCT key FROM feature_metrics WHERE run_id = ? ORDER BY key",
           "table 'feature_metrics'");
    s.bind(1, run_id);
    while (s.step()) out.push_back(s.text(0));
  }
  tx.commit();
  return out;
}

FeatureColumns Store::feature_columns(int64_t run_id, const std::vector<std::string>& keys,
                                      std::optional<int32_t> layer) {
  Tx tx(*impl_, /*write=*/false);
  FeatureColumns out;
  std::vector<std::string> column_keys;
  std::string sql = "SELECT layer, feature";
  for (const auto& key : keys)
    if (is_feature_column(key) && std::find(column_keys.begin(), column_keys.end(), key) == column_keys.end()) {
      column_keys.push_back(key);
      sql += ", " + key;
    }
  sql += std::string(" FROM features WHERE run_id = ?") + (layer ? " AND layer = ?" : "") + " ORDER BY layer, feature";
  std::vector<std::vector<float>*> targets;
  for (const auto& key : column_keys) targets.push_back(&out.metric[key]);
  {
    Stmt s(*impl_, sql, "table 'features'");
    s.bind(1, run_id);
    if (layer) s.bind(2, *layer);
    while (s.step()) {
      out.layer.push_back(s.int32(0));
      out.feature.push_back(s.int32(1));
      for (size_t k = 0; k < targets.size(); ++k)
        targets[k]->push_back(static_cast<float>(s.real(static_cast<int>(k) + 2)));
    }
  }
  for (const auto& key : keys) {
    if (is_feature_column(key) || out.metric.count(key)) continue;
    std::vector<float>& values = out.metric[key];
    values.assign(out.size(), std::numeric_limits<float>::quiet_NaN());
    Stmt s(*impl_,
           std::string("SELECT layer, feature, value FROM feature_metrics WHERE run_id = ? AND key = ?") +
               (layer ? " AND layer = ?" : ""),
           "table 'feature_metrics'");
    s.bind(1, run_id).bind(2, key);
    if (layer) s.bind(3, *layer);
    while (s.step()) {
      const int64_t i = find_ref(out.layer, out.feature, {s.int32(0), s.int32(1)});
      if (i >= 0) values[static_cast<size_t>(i)] = static_cast<float>(s.real(2));
    }
  }
  tx.commit();
  return out;
}

// ---------------------------------------------------------------------------------------
// selections
// ---------------------------------------------------------------------------------------

void Store::put_selection(int64_t run_id, const std::string& name, const std::vector<FeatureRef>& features) {
  impl_->require_writable("write table 'selections'");
  if (name.empty()) fail("file '{}': table 'selections': empty selection name", impl_->path);
  Tx tx(*impl_);
  const std::string what = fmt::format("table 'selections': writing '{}' of run {}", name, run_id);
  {
    Stmt s(*impl_, "DELETE FROM selections WHERE run_id = ? AND name = ?", what);
    s.bind(1, run_id).bind(2, name);
    s.run();
  }
  Stmt s(*impl_, "INSERT OR IGNORE INTO selections (run_id, name, layer, feature) VALUES (?, ?, ?, ?)", what);
  for (const FeatureRef& f : features) {
    s.bind(1, run_id).bind(2, name).bind(3, f.layer).bind(4, f.feature);
    s.run();
    s.reset();
  }
  tx.commit();
}

std::vector<FeatureRef> Store::selection(int64_t run_id, const std::string& name) {
  Lock lock(impl_->mutex);
  Stmt s(*impl_, "SELECT layer, feature FROM selections WHERE run_id = ? AND name = ? ORDER BY layer, feature",
         "table 'selections'");
  s.bind(1, run_id).bind(2, name);
  std::vector<FeatureRef> out;
  while (s.step()) out.push_back({s.int32(0), s.int32(1)});
  return out;
}

std::vector<std::string> Store::selection_names(int64_t run_id) {
  Lock lock(impl_->mutex);
  Stmt s(*impl_, "SELECT DISTINCT name FROM selections WHERE run_id = ? ORDER BY name", "table 'selections'");
  s.bind(1, run_id);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

void Store::delete_selection(int64_t run_id, const std::string& name) {
  impl_->require_writable("write table 'selections'");
  Lock lock(impl_->mutex);
  Stmt s(*impl_, "DELETE FROM selections WHERE run_id = ? AND name = ?", "table 'selections': delete");
  s.bind(1, run_id).bind(2, name);
  s.run();
}

// ---------------------------------------------------------------------------------------
// bookmarks
// ---------------------------------------------------------------------------------------

int64_t Store::add_bookmark(const Bookmark& b) {
  impl_->require_writable("write table 'bookmarks'");
  Lock lock(impl_->mutex);
  Stmt s(*impl_,
         "INSERT INTO bookmarks (name, layer, feature, note, created_at) VALUES (?, ?, ?, ?, ?) "
         "ON CONFLICT (name, layer, feature) DO UPDATE SET note = excluded.note RETURNING id",
         "table 'bookmarks': upsert");
  s.bind(1, b.name).bind(2, b.layer).bind(3, b.feature).bind(4, b.note).bind(5, b.created_at ? b.created_at : now_ms());
  if (!s.step()) fail("file '{}': table 'bookmarks': upsert returned no id", impl_->path);
  const int64_t id = s.int64(0);
  s.run();  // finish the statement so the write completes
  return id;
}

std::vector<Bookmark> Store::bookmarks(const std::string& name) {
  Lock lock(impl_->mutex);
  Stmt s(*impl_,
         std::string("SELECT id, name, layer, feature, note, created_at FROM bookmarks") +
             (name.empty() ? "" : " WHERE name = ?") + " ORDER BY created_at, id",
         "table 'bookmarks'");
  if (!name.empty()) s.bind(1, name);
  std::vector<Bookmark> out;
  while (s.step()) {
    Bookmark b;
    b.id = s.int64(0);
    b.name = s.text(1);
    b.layer = s.int32(2);
    b.feature = s.int32(3);
    b.note = s.text(4);
    b.created_at = s.int64(5);
    out.push_back(std::move(b));
  }
  return out;
}

void Store::delete_bookmark(int64_t id) {
  impl_->require_writable("write table 'bookmarks'");
  Lock lock(impl_->mutex);
  Stmt s(*impl_, "DELETE FROM bookmarks WHERE id = ?", "table 'bookmarks': delete");
  s.bind(1, id);
  s.run();
}

}  // namespace sightline
