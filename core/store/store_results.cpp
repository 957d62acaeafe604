// Store: curves, top activations, head scores, patching, ablation, tensor references, and
// clearing a run's rows of a table.
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include <filesystem>

#include "core/common/error.h"
#include "core/store/store_impl.h"

namespace fs = std::filesystem;

namespace sightline {

namespace {
using Lock = std::lock_guard<std::recursive_mutex>;

nlohmann::json parse_json_column(const Store::Impl& impl, const std::string& table, const std::string& column,
                                 const std::string& text) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail("file '{}': table '{}': column '{}' is not valid JSON ('{}'): {}", impl.path, table, column, text, e.what());
  }
}

// The store's directory, absolute and normalised: tensor paths inside it are kept relative.
fs::path store_dir(const Store::Impl& impl) { return fs::absolute(fs::path(impl.path)).lexically_normal().parent_path(); }

// Runs the INSERT `sql` once per row of `rows` in one transaction, `bind(stmt, row)`
// filling its parameters: the bulk writers below differ only in their SQL and binds.
template <typename Row, typename Bind>
void write_rows(Store::Impl& impl, const char* table, int64_t run_id, const char* sql, const std::vector<Row>& rows,
                Bind&& bind) {
  impl.require_writable(fmt::format("write table '{}'", table));
  Tx tx(impl);
  Stmt s(impl, sql, fmt::format("table '{}': writing run {}", table, run_id));
  for (const Row& row : rows) {
    bind(s, row);
    s.run();
    s.reset();
  }
  tx.commit();
}
}  // namespace

const char* table_name(StoreTable table) {
  switch (table) {
    case StoreTable::kCurves: return "curves";
    case StoreTable::kFeatures: return "features";
    case StoreTable::kFeatureMetrics: return "feature_metrics";
    case StoreTable::kSelections: return "selections";
    case StoreTable::kTopActivations: return "samples";
    case StoreTable::kHeads: return "heads";
    case StoreTable::kPatching: return "patching";
    case StoreTable::kAblation: return "ablation";
    case StoreTable::kTensors: return "tensors";
  }
  return "?";
}

void Store::clear(int64_t run_id, StoreTable table) {
  impl_->require_writable(fmt::format("clear table '{}'", table_name(table)));
  Tx tx(*impl_);
  Stmt s(*impl_, fmt::format("DELETE FROM {} WHERE run_id = ?", table_name(table)),
         fmt::format("table '{}': clearing run {}", table_name(table), run_id));
  s.bind(1, run_id);
  s.run();
  tx.commit();
}

// ---------------------------------------------------------------------------------------
// curves
// ---------------------------------------------------------------------------------------

void Store::put_curve_points(int64_t run_id, const std::vector<CurvePoint>& points) {
  const char* sql =
      "INSERT INTO curves (run_id, name, layer, regime, key, step, tokens, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (run_id, name, layer, regime, key, step) DO UPDATE SET tokens = excluded.tokens, "
      "value = excluded.value";
  write_rows(*impl_, "curves", run_id, sql, points, [&](Stmt& s, const CurvePoint& p) {
    s.bind(1, run_id).bind(2, p.name).bind(3, p.layer).bind(4, p.regime).bind(5, p.key).bind(6, p.step);
    s.bind(7, p.tokens).bind(8, p.value);
  });
}

std::vector<CurvePoint> Store::curve_points(int64_t run_id, const CurveQuery& q) {
  Lock lock(impl_->mutex);
  std::string sql = "SELECT name, layer, regime, key, step, tokens, value FROM curves WHERE run_id = ?";
  if (!q.name.empty()) sql += " AND name = ?";
  if (!q.key.empty()) sql += " AND key = ?";
  if (!q.regime.empty()) sql += " AND regime = ?";
  if (q.layer) sql += " AND layer = ?";
  sql += " ORDER BY name, layer, regime, key, step";
  Stmt s(*impl_, sql, "table 'curves'");
  int i = 1;
  s.bind(i++, run_id);
  if (!q.name.empty()) s.bind(i++, q.name);
  if (!q.key.empty()) s.bind(i++, q.key);
  if (!q.regime.empty()) s.bind(i++, q.regime);
  if (q.layer) s.bind(i++, *q.layer);
  std::vector<CurvePoint> out;
  while (s.step()) {
    CurvePoint p;
    p.name = s.text(0);
    p.layer = s.int32(1);
    p.regime = s.text(2);
    p.key = s.text(3);
    p.step = s.int64(4);
    p.tokens = s.int64(5);
    p.value = s.real(6);
    out.push_back(std::move(p));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// top activations
// ---------------------------------------------------------------------------------------

void Store::put_top_activations(int64_t run_id, const std::vector<TopActivation>& rows) {
  const char* sql =
      "INSERT INTO samples (run_id, layer, feature, rank, sample_id, dataset, max_activation, token_acts, "
      "patch_acts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, layer, feature, rank) DO UPDATE SET "
      "sample_id = excluded.sample_id, dataset = excluded.dataset, max_activation = excluded.max_activation, "
      "token_acts = excluded.token_acts, patch_acts = excluded.patch_acts";
  write_rows(*impl_, "samples", run_id, sql, rows, [&](Stmt& s, const TopActivation& a) {
    s.bind(1, run_id).bind(2, a.layer).bind(3, a.feature).bind(4, a.rank).bind(5, a.sample_id).bind(6, a.dataset);
    s.bind(7, a.max_activation).bind_floats(8, a.token_acts).bind_floats(9, a.patch_acts);
  });
}

std::vector<TopActivation> Store::top_activations(int64_t run_id, int32_t layer, int32_t feature, bool with_acts) {
  Lock lock(impl_->mutex);
  Stmt s(*impl_,
         with_acts ? "SELECT rank, sample_id, dataset, max_activation, token_acts, patch_acts FROM samples "
                     "WHERE run_id = ? AND layer = ? AND feature = ? ORDER BY rank"
                   : "SELECT rank, sample_id, dataset, max_activation FROM samples "
                     "WHERE run_id = ? AND layer = ? AND feature = ? ORDER BY rank",
         fmt::format("table 'samples': layer {} feature {}", layer, feature));
  s.bind(1, run_id).bind(2, layer).bind(3, feature);
  std::vector<TopActivation> out;
  while (s.step()) {
    TopActivation a;
    a.layer = layer;
    a.feature = feature;
    a.rank = s.int32(0);
    a.sample_id = s.text(1);
    a.dataset = s.text(2);
    a.max_activation = s.real(3);
    if (with_acts) {
      a.token_acts = s.floats(4);
      a.patch_acts = s.floats(5);
    }
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<FeatureRef> Store::features_with_sample(int64_t run_id, const std::string& dataset,
                                                    const std::string& sample_id) {
  Lock lock(impl_->mutex);
  Stmt s(*impl_,
         "SELECT DISTINCT layer, feature FROM samples WHERE run_id = ? AND dataset = ? AND sample_id = ? "
         "ORDER BY layer, feature",
         "table 'samples'");
  s.bind(1, run_id).bind(2, dataset).bind(3, sample_id);
  std::vector<FeatureRef> out;
  while (s.step()) out.push_back({s.int32(0), s.int32(1)});
  return out;
}

// ---------------------------------------------------------------------------------------
// heads, patching, ablation
// ---------------------------------------------------------------------------------------

void Store::put_head_scores(int64_t run_id, const std::vector<HeadScore>& scores) {
  const char* sql =
      "INSERT INTO heads (run_id, layer, feature, method, head_layer, head, score) VALUES (?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (run_id, layer, feature, method, head_layer, head) DO UPDATE SET score = excluded.score";
  write_rows(*impl_, "heads", run_id, sql, scores, [&](Stmt& s, const HeadScore& h) {
    s.bind(1, run_id).bind(2, h.layer).bind(3, h.feature).bind(4, h.method).bind(5, h.head_layer).bind(6, h.head);
    s.bind(7, h.score);
  });
}

std::vector<HeadScore> Store::head_scores(int64_t run_id, int32_t layer, int32_t feature, const std::string& method) {
  Lock lock(impl_->mutex);
  Stmt s(*impl_,
         std::string("SELECT method, head_layer, head, score FROM heads WHERE run_id = ? AND layer = ? AND feature = ?") +
             (method.empty() ? "" : " AND method = ?") + " ORDER BY method, head_layer, head",
         fmt::format("table 'heads': layer {} feature {}", layer, feature));
  s.bind(1, run_id).bind(2, layer).bind(3, feature);
  if (!method.empty()) s.bind(4, method);
  std::vector<HeadScore> out;
  while (s.step()) out.push_back({layer, feature, s.text(0), s.int32(1), s.int32(2), s.real(3)});
  return out;
}

void Store::put_patching(int64_t run_id, const std::vector<PatchingRow>& rows) {
  const char* sql =
      "INSERT INTO patching (run_id, layer, feature, spearman_a, spearman_b) VALUES (?, ?, ?, ?, ?) "
      "ON CONFLICT (run_id, layer, feature) DO UPDATE SET spearman_a = excluded.spearman_a, "
      "spearman_b = excluded.spearman_b";
  write_rows(*impl_, "patching", run_id, sql, rows, [&](Stmt& s, const PatchingRow& p) {
    s.bind(1, run_id).bind(2, p.layer).bind(3, p.feature).bind(4, p.spearman_a).bind(5, p.spearman_b);
  });
}

std::vector<PatchingRow> Store::patching(int64_t run_id) {
  Lock lock(impl_->mutex);
  Stmt s(*impl_,
         "SELECT layer, feature, spearman_a, spearman_b FROM patching WHERE run_id = ? ORDER BY layer, feature",
         "table 'patching'");
  s.bind(1, run_id);
  std::vector<PatchingRow> out;
  while (s.step()) out.push_back({s.int32(0), s.int32(1), s.real(2), s.real(3)});
  return out;
}

void Store::put_ablations(int64_t run_id, const std::vector<AblationRow>& rows) {
  const char* sql =
      "INSERT INTO ablation (run_id, layer, feature, d_vsr_acc, d_vsr_prob, d_vqa_acc, d_ctrl, vsr_or, n_samples, "
      "relations, seed_spread_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, layer, feature) "
      "DO UPDATE SET d_vsr_acc = excluded.d_vsr_acc, d_vsr_prob = excluded.d_vsr_prob, "
      "d_vqa_acc = excluded.d_vqa_acc, d_ctrl = excluded.d_ctrl, vsr_or = excluded.vsr_or, "
      "n_samples = excluded.n_samples, relations = excluded.relations, seed_spread_json = excluded.seed_spread_json";
  write_rows(*impl_, "ablation", run_id, sql, rows, [&](Stmt& s, const AblationRow& a) {
    if (!nlohmann::json::accept(a.seed_spread_json))
      fail("file '{}': table 'ablation': layer {} feature {}: field 'seed_spread_json' is not valid JSON",
           impl_->path, a.layer, a.feature);
    s.bind(1, run_id).bind(2, a.layer).bind(3, a.feature).bind(4, a.d_vsr_acc).bind(5, a.d_vsr_prob);
    s.bind(6, a.d_vqa_acc).bind(7, a.d_ctrl).bind(8, a.vsr_or).bind(9, a.n_samples);
    s.bind(10, nlohmann::json(a.relations).dump()).bind(11, a.seed_spread_json);
  });
}

std::vector<AblationRow> Store::ablations(int64_t run_id) {
  Lock lock(impl_->mutex);
  Stmt s(*impl_,
         "SELECT layer, feature, d_vsr_acc, d_vsr_prob, d_vqa_acc, d_ctrl, vsr_or, n_samples, relations, "
         "seed_spread_json FROM ablation WHERE run_id = ? ORDER BY layer, feature",
         "table 'ablation'");
  s.bind(1, run_id);
  std::vector<AblationRow> out;
  while (s.step()) {
    AblationRow a;
    a.layer = s.int32(0);
    a.feature = s.int32(1);
    a.d_vsr_acc = s.real(2);
    a.d_vsr_prob = s.real(3);
    a.d_vqa_acc = s.real(4);
    a.d_ctrl = s.real(5);
    a.vsr_or = s.real(6);
    a.n_samples = s.int64(7);
    const nlohmann::json relations = parse_json_column(*impl_, "ablation", "relations", s.text(8));
    if (!relations.is_array())
      fail("file '{}': table 'ablation': layer {} feature {}: column 'relations' is not a JSON array", impl_->path,
           a.layer, a.feature);
    for (const auto& r : relations) {
      if (!r.is_string())
        fail("file '{}': table 'ablation': layer {} feature {}: column 'relations' holds a non-string", impl_->path,
             a.layer, a.feature);
      a.relations.push_back(r.get<std::string>());
    }
    a.seed_spread_json = s.text(9);
    out.push_back(std::move(a));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// tensors
// ---------------------------------------------------------------------------------------

void Store::put_tensor(int64_t run_id, const TensorRef& tensor) {
  impl_->require_writable("write table 'tensors'");
  if (tensor.key.empty()) fail("file '{}': table 'tensors': empty tensor key", impl_->path);
  if (tensor.path.empty()) fail("file '{}': table 'tensors': tensor '{}' has an empty path", impl_->path, tensor.key);
  for (int64_t d : tensor.shape)
    if (d < 0) fail("file '{}': table 'tensors': tensor '{}' has a negative dimension {}", impl_->path, tensor.key, d);
  const fs::path file = fs::absolute(fs::path(tensor.path)).lexically_normal();
  const fs::path relative = file.lexically_relative(store_dir(*impl_));
  const bool inside = !relative.empty() && *relative.begin() != "..";
  Lock lock(impl_->mutex);
  Stmt s(*impl_,
         "INSERT INTO tensors (run_id, key, path, shape_json) VALUES (?, ?, ?, ?) ON CONFLICT (run_id, key) "
         "DO UPDATE SET path = excluded.path, shape_json = excluded.shape_json",
         fmt::format("table 'tensors': writing '{}'", tensor.key));
  s.bind(1, run_id).bind(2, tensor.key).bind(3, (inside ? relative : file).generic_string());
  s.bind(4, nlohmann::json(tensor.shape).dump());
  s.run();
}

namespace {
TensorRef read_tensor(const Store::Impl& impl, const Stmt& s) {
  TensorRef t;
  t.key = s.text(0);
  const fs::path stored(s.text(1));
  t.path = (stored.is_absolute() ? stored : store_dir(impl) / stored).lexically_normal().string();
  const nlohmann::json shape = parse_json_column(impl, "tensors", "shape_json", s.text(2));
  if (!shape.is_array())
    fail("file '{}': table 'tensors': tensor '{}': column 'shape_json' is not a JSON array", impl.path, t.key);
  for (const auto& d : shape) {
    if (!d.is_number_integer())
      fail("file '{}': table 'tensors': tensor '{}': column 'shape_json' holds a non-integer", impl.path, t.key);
    t.shape.push_back(d.get<int64_t>());
  }
  return t;
}
}  // namespace

std::optional<TensorRef> Store::tensor(int64_t run_id, const std::string& key) {
  Lock lock(impl_->mutex);
  Stmt s(*impl_, "SELECT key, path, shape_json FROM tensors WHERE run_id = ? AND key = ?", "table 'tensors'");
  s.bind(1, run_id).bind(2, key);
  if (!s.step()) return std::nullopt;
  return read_tensor(*impl_, s);
}

std::vector<TensorRef> Store::tensors(int64_t run_id) {
  Lock lock(impl_->mutex);
  Stmt s(*impl_, "SELECT key, path, shape_json FROM tensors WHERE run_id = ? ORDER BY key", "table 'tensors'");
  s.bind(1, run_id);
  std::vector<TensorRef> out;
  while (s.step()) out.push_back(read_tensor(*impl_, s));
  return out;
}

}  // namespace sightline
