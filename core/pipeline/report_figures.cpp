#include "core/pipeline/report_figures.h"

#include <fmt/format.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "core/common/error.h"
#include "core/diffing/positions.h"
#include "core/figures/charts.h"
#include "core/pipeline/report.h"
#include "core/pipeline/store_keys.h"

namespace fs = std::filesystem;

namespace sightline {

namespace {

namespace k = store_keys;

// Figure colours: the adapted set in the paper's pink, skill features in blue on top.
constexpr Rgb kAdaptedColor{221, 52, 151};
constexpr Rgb kSkillColor{0, 90, 200};
constexpr int kMaxHeadFeatures = 4;

// A regime's line colour, the same in every figure: the paper's order, then the rest.
Rgb regime_color(const std::string& regime) {
  const auto& regimes = all_regimes();
  for (size_t i = 0; i < regimes.size(); ++i)
    if (to_string(regimes[i]) == regime) return palette_color(i);
  return palette_color(regimes.size() + std::hash<std::string>{}(regime) % 4);
}


// The diff stage's operating point, from its result summary (absent when it has not run).
struct OperatingPoint {
  std::optional<double> eps, p_cos, cosine_threshold;
};

OperatingPoint operating_point(Store& store, int64_t run_id) {
  OperatingPoint op;
  const auto stage = store.stage(run_id, "diff");
  if (!stage) return op;
  const auto j = nlohmann::json::parse(stage->result_json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return op;
  auto get = [&](const char* key) -> std::optional<double> {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_number()) return std::nullopt;
    return it->get<double>();
  };
  op.eps = get("eps");
  op.p_cos = get("p_cos");
  op.cosine_threshold = get("cosine_threshold");
  return op;
}

bool same(double a, double b) { return std::abs(a - b) <= 1e-9 * std::max({1.0, std::abs(a), std::abs(b)}); }

class FigureWriter {
 public:
  explicit FigureWriter(std::string out_dir) : out_dir_(std::move(out_dir)) {}
  void save(const std::string& name, const Canvas& canvas) {
    fs::create_directories(out_dir_);
    save_png((fs::path(out_dir_) / name).string(), canvas);
    written_.push_back(name);
  }
  std::vector<std::string> written() const { return written_; }

 private:
  std::string out_dir_;
  std::vector<std::string> written_;
};

// Columns of small multiples for n panels.
int columns_for(size_t n) { return n <= 1 ? 1 : n <= 4 ? static_cast<int>(n) : n <= 9 ? 3 : 4; }

// ---------------------------------------------------------------------------------------
// fvu.png
// ---------------------------------------------------------------------------------------

void fvu_figure(Store& store, int64_t run_id, FigureWriter& out) {
  CurveQuery q;
  q.name = k::kFvu;
  q.key = k::kHeldout;
  // layer -> regime -> step -> (tokens, fvu)
  std::map<int, std::map<std::string, std::map<int64_t, std::pair<double, double>>>> curves;
  std::set<std::string> regimes;
  std::vector<double> all_tokens;
  for (const auto& p : store.curve_points(run_id, q)) {
    if (!std::isfinite(p.value)) continue;
    curves[p.layer][p.regime][p.step] = {static_cast<double>(p.tokens), p.value};
    regimes.insert(p.regime);
    all_tokens.push_back(static_cast<double>(p.tokens));
  }
  if (curves.empty()) return;
  double lo = INFINITY, hi = 0;
  for (double t : all_tokens)
    if (t > 0) lo = std::min(lo, t), hi = std::max(hi, t);
  // A log axis once the evaluations span well over a decade (the early drop is visible).
  const bool log_x = std::isfinite(lo) && hi / lo >= 30;

  const int cols = columns_for(curves.size());
  const int rows = static_cast<int>((curves.size() + cols - 1) / cols);
  const bool single = curves.size() == 1;
  const int panel_w = single ? 760 : 400, panel_h = single ? 500 : 300;
  Canvas canvas(cols * panel_w + 24, rows * panel_h + 80);
  const int top = draw_figure_title(canvas, "Held-out FVU while adapting the SAEs (Fig. 1/6)",
                                    fmt::format("x: training tokens{}, y: FVU on the held-out split; one line per regime",
                                                log_x ? " (log)" : ""));
  const auto cells = grid_layout({12, top, canvas.width() - 24, canvas.height() - top - 8},
                                 static_cast<int>(curves.size()), cols, 4);
  const auto regime_order = ordered_regimes(regimes);
  size_t i = 0;
  for (const auto& [layer, by_regime] : curves) {
    LineChart chart;
    chart.title = fmt::format("layer {}", layer);
    chart.x_scale = log_x ? Scale::kLog : Scale::kLinear;
    chart.y_include_zero = true;
    if (std::isfinite(lo)) {
      chart.x_min = log_x ? lo / 1.15 : 0.0;
      chart.x_max = log_x ? hi * 1.15 : hi * 1.02;
    }
    for (const auto& regime : regime_order) {
      const auto it = by_regime.find(regime);
      if (it == by_regime.end()) continue;
      Series s;
      s.name = regime;
      s.color = regime_color(regime);
      for (const auto& [step, point] : it->second) {
        s.x.push_back(point.first);
        s.y.push_back(point.second);
      }
      s.markers = s.x.size() <= 12;
      chart.series.push_back(std::move(s));
    }
    chart.legend = i == 0 ? LegendPosition::kBest : LegendPosition::kNone;
    draw_line_chart(canvas, cells[i], chart);
    ++i;
  }
  out.save("fvu.png", canvas);
}

// ---------------------------------------------------------------------------------------
// scatter_ev_cosine.png
// ---------------------------------------------------------------------------------------

void scatter_figure(Store& store, int64_t run_id, const OperatingPoint& op, FigureWriter& out) {
  const auto columns = store.feature_columns(run_id, {"visual_energy", "decoder_cosine", "adapted", "spatial"});
  const auto& ev = columns.metric.at("visual_energy");
  const auto& cos = columns.metric.at("decoder_cosine");
  const auto& adapted = columns.metric.at("adapted");
  const auto& skill = columns.metric.at("spatial");
  size_t with_both = 0, positive = 0;
  for (size_t i = 0; i < columns.size(); ++i)
    if (std::isfinite(ev[i]) && std::isfinite(cos[i])) {
      ++with_both;
      if (ev[i] > 0) ++positive;
    }
  if (with_both == 0) return;
  const bool log_x = positive > 0;

  // Drawing order = z order: other features, then A, then skill features.
  ScatterChart chart;
  chart.x_label = log_x ? "visual energy E_v (log)" : "visual energy E_v";
  chart.y_label = "decoder cosine c_f";
  chart.x_scale = log_x ? Scale::kLog : Scale::kLinear;
  size_t counts[3] = {0, 0, 0};
  for (int group = 0; group < 3; ++group)
    for (size_t i = 0; i < columns.size(); ++i) {
      if (!std::isfinite(ev[i]) || !std::isfinite(cos[i]) || (log_x && !(ev[i] > 0))) continue;
      const int g = skill[i] == 1 ? 2 : adapted[i] == 1 ? 1 : 0;
      if (g != group) continue;
      chart.x.push_back(ev[i]);
      chart.y.push_back(cos[i]);
      chart.colors.push_back(g == 2 ? kSkillColor : g == 1 ? kAdaptedColor : colors::kMuted);
      ++counts[g];
    }
  chart.radius = chart.x.size() <= 5000 ? 2.5 : 1.5;
  chart.alpha = chart.x.size() <= 5000 ? 0.85 : 0.7;
  chart.legend.push_back({fmt::format("other features ({})", counts[0]), colors::kMuted, LegendEntry::Kind::kMarker});
  chart.legend.push_back({fmt::format("adapted set A ({})", counts[1] + counts[2]), kAdaptedColor,
                          LegendEntry::Kind::kMarker});
  if (counts[2]) chart.legend.push_back({fmt::format("skill features ({})", counts[2]), kSkillColor, LegendEntry::Kind::kMarker});
  if (op.eps && (!log_x || *op.eps > 0))
    chart.lines.push_back({true, *op.eps, Rgb{80, 80, 80}, fmt::format("eps = {}", format_value(*op.eps))});
  if (op.cosine_threshold)
    chart.lines.push_back({false, *op.cosine_threshold, Rgb{80, 80, 80},
                           fmt::format("c_f threshold = {:.3f}", *op.cosine_threshold)});

  Canvas canvas(1040, 760);
  const std::string hidden =
      log_x && positive < with_both ? fmt::format("; E_v = 0 for {} (not shown on the log axis)", with_both - positive) : "";
  const int top = draw_figure_title(canvas, "Visual energy vs decoder cosine, all layers (Fig. 2)",
                                    fmt::format("{} features{}", with_both, hidden));
  draw_scatter(canvas, {12, top, canvas.width() - 24, canvas.height() - top - 8}, chart);
  out.save("scatter_ev_cosine.png", canvas);
}

// ---------------------------------------------------------------------------------------
// layers.png
// ---------------------------------------------------------------------------------------

void layers_figure(Store& store, int64_t run_id, FigureWriter& out) {
  const RunSummary summary = run_summary(store, run_id);
  std::vector<double> layer_x;
  std::vector<std::string> layer_names;
  for (const auto& s : summary.layers) {
    layer_x.push_back(s.layer);
    layer_names.push_back(std::to_string(s.layer));
  }
  auto any = [&](auto get) {
    return std::any_of(summary.layers.begin(), summary.layers.end(), [&](const LayerSummary& s) { return std::isfinite(get(s)); });
  };
  const bool have_counts = any([](const LayerSummary& s) { return s.adapted; });
  const bool have_means = any([](const LayerSummary& s) { return s.mean_cosine_all; }) ||
                          any([](const LayerSummary& s) { return s.mean_cosine_adapted; });
  std::set<std::string> cosine_regimes;
  for (const auto& s : summary.layers)
    for (const auto& [regime, v] : s.decoder_cosine)
      if (std::isfinite(v)) cosine_regimes.insert(regime);
  const int panels = int(have_counts) + int(have_means) + int(!cosine_regimes.empty());
  if (panels == 0) return;

  const int panel_w = 560, panel_h = 420;
  Canvas canvas(panels * panel_w + 24, panel_h + 70);
  const int top = draw_figure_title(canvas, "Per-layer statistics (Fig. 7, 5)");
  const auto cells = grid_layout({12, top, canvas.width() - 24, canvas.height() - top - 8}, panels, panels, 8);
  int cell = 0;
  if (have_counts) {
    BarChart chart;
    chart.title = "adapted features |A| per layer";
    chart.x_label = "layer";
    chart.y_label = "features in A";
    chart.categories = layer_names;
    BarSeries s{"adapted", {}, kAdaptedColor};
    for (const auto& l : summary.layers) s.values.push_back(l.adapted);
    chart.series.push_back(s);
    chart.value_labels = true;
    chart.legend = LegendPosition::kNone;
    draw_bar_chart(canvas, cells[static_cast<size_t>(cell++)], chart);
  }
  if (have_means) {
    LineChart chart;
    chart.title = "mean decoder cosine: A vs all";
    chart.x_label = "layer";
    chart.y_label = "mean c_f";
    chart.x_integer = true;
    Series all{"all features", layer_x, {}, colors::kAxis, 2, true};
    Series sel{"adapted set A", layer_x, {}, kAdaptedColor, 2, true, Marker::kSquare};
    for (const auto& l : summary.layers) {
      all.y.push_back(l.mean_cosine_all);
      sel.y.push_back(l.mean_cosine_adapted);
    }
    chart.series = {all, sel};
    draw_line_chart(canvas, cells[static_cast<size_t>(cell++)], chart);
  }
  if (!cosine_regimes.empty()) {
    LineChart chart;
    chart.title = "decoder cosine vs base SAE, per regime";
    chart.x_label = "layer";
    chart.y_label = "mean c_f";
    chart.x_integer = true;
    chart.y_include_zero = true;
    for (const auto& regime : ordered_regimes(cosine_regimes)) {
      Series s{regime, layer_x, {}, regime_color(regime), 2, true};
      for (const auto& l : summary.layers) {
        const auto it = l.decoder_cosine.find(regime);
        s.y.push_back(it == l.decoder_cosine.end() ? kNotComputed : it->second);
      }
      chart.series.push_back(s);
    }
    draw_line_chart(canvas, cells[static_cast<size_t>(cell++)], chart);
  }
  out.save("layers.png", canvas);
}

// ---------------------------------------------------------------------------------------
// sweep.png
// ---------------------------------------------------------------------------------------

void sweep_figure(Store& store, int64_t run_id, const OperatingPoint& op, FigureWriter& out) {
  CurveQuery q;
  q.name = k::kSweep;
  std::map<int64_t, std::map<std::string, double>> cells;
  for (const auto& p : store.curve_points(run_id, q)) cells[p.step][p.key] = p.value;
  std::vector<double> eps, p_cos;
  auto add_unique = [](std::vector<double>& values, double v) {
    if (std::none_of(values.begin(), values.end(), [&](double u) { return same(u, v); })) values.push_back(v);
  };
  for (const auto& [step, values] : cells) {
    const auto e = values.find("eps"), p = values.find("p_cos");
    if (e == values.end() || p == values.end() || !std::isfinite(e->second) || !std::isfinite(p->second)) continue;
    add_unique(eps, e->second);
    add_unique(p_cos, p->second);
  }
  if (eps.empty()) return;
  // Rows: eps descending from the top (a y axis that grows upward); columns: p_cos ascending.
  std::sort(eps.begin(), eps.end(), std::greater<double>());
  std::sort(p_cos.begin(), p_cos.end());
  auto index_of = [](const std::vector<double>& values, double v) {
    for (size_t i = 0; i < values.size(); ++i)
      if (same(values[i], v)) return static_cast<int>(i);
    return -1;
  };

  struct Metric {
    const char* key;
    const char* title;
    const char* unit;  // the colour bar's label
    ColorMap map;
    std::optional<double> lo, hi;
    int decimals;  // of the cell labels (-1: counts as integers)
  };
  const std::vector<Metric> metrics{
      {"count", "selected features", "features", ColorMap::kViridis, std::nullopt, std::nullopt, -1},
      {"jaccard", "Jaccard overlap with A", "Jaccard", ColorMap::kViridis, 0.0, 1.0, 2},
      {"layer_correlation", "per-layer count correlation", "Pearson r", ColorMap::kDiverging, -1.0, 1.0, 2}};
  std::vector<HeatMap> maps;
  for (const auto& m : metrics) {
    HeatMap h;
    h.rows = static_cast<int>(eps.size());
    h.cols = static_cast<int>(p_cos.size());
    h.values.assign(static_cast<size_t>(h.rows) * h.cols, kNotComputed);
    bool any = false;
    for (const auto& [step, values] : cells) {
      const auto e = values.find("eps"), p = values.find("p_cos"), v = values.find(m.key);
      if (e == values.end() || p == values.end() || v == values.end()) continue;
      const int r = index_of(eps, e->second), c = index_of(p_cos, p->second);
      if (r < 0 || c < 0) continue;
      h.values[static_cast<size_t>(r) * h.cols + c] = v->second;
      any = any || std::isfinite(v->second);
    }
    if (!any) continue;
    h.title = m.title;
    h.x_label = "p_cos (cosine percentile)";
    h.y_label = "eps (E_v threshold)";
    for (double e : eps) h.row_labels.push_back(format_value(e));
    for (double p : p_cos) h.col_labels.push_back(format_value(p));
    h.map = m.map;
    h.lo = m.lo;
    h.hi = m.hi;
    h.annotate = true;
    h.annotate_decimals = m.decimals;
    h.colorbar_label = m.unit;
    if (op.eps && op.p_cos) {
      const int r = index_of(eps, *op.eps), c = index_of(p_cos, *op.p_cos);
      if (r >= 0 && c >= 0) h.marked.push_back({r, c});
    }
    maps.push_back(std::move(h));
  }
  if (maps.empty()) return;
  const int panel_w = 600, panel_h = 480;
  const int n = static_cast<int>(maps.size());
  Canvas canvas(n * panel_w + 24, panel_h + 80);
  const int top = draw_figure_title(canvas, "Threshold sweep (Fig. 8)",
                                    op.eps && op.p_cos ? fmt::format("operating point (circled): eps = {}, p_cos = {}",
                                                                     format_value(*op.eps), format_value(*op.p_cos))
                                                       : std::string());
  const auto rects = grid_layout({12, top, canvas.width() - 24, canvas.height() - top - 8}, n, n, 8);
  for (size_t i = 0; i < maps.size(); ++i) draw_heat_map(canvas, rects[i], maps[i]);
  out.save("sweep.png", canvas);
}

// ---------------------------------------------------------------------------------------
// heads.png
// ---------------------------------------------------------------------------------------

// The first features (by layer, feature) that have head scores. The Store lists head
// scores per feature only, so the feature list comes from a read-only SELECT exported as CSV.
std::vector<FeatureRef> features_with_head_scores(Store& store, int64_t run_id, int limit) {
  static std::atomic<uint64_t> counter{0};
  const fs::path tmp = fs::temp_directory_path() /
                       fmt::format("sightline-heads-{}-{}.csv", static_cast<long>(::getpid()), counter.fetch_add(1));
  std::vector<FeatureRef> out;
  try {
    store.export_csv(fmt::format("SELECT DISTINCT layer, feature FROM heads WHERE run_id = ? ORDER BY layer, feature "
                                 "LIMIT {}",
                                 limit),
                     tmp.string(), run_id);
    std::ifstream in(tmp);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      FeatureRef f;
      char comma = 0;
      if (fields >> f.layer >> comma >> f.feature && comma == ',') out.push_back(f);
    }
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
  std::error_code ignored;
  fs::remove(tmp, ignored);
  return out;
}

void heads_figure(Store& store, int64_t run_id, FigureWriter& out) {
  if (store.count_rows("heads", run_id) == 0) return;
  std::vector<HeatMap> maps;
  for (const FeatureRef& f : features_with_head_scores(store, run_id, kMaxHeadFeatures)) {
    auto scores = store.head_scores(run_id, f.layer, f.feature, "A");
    if (scores.empty()) scores = store.head_scores(run_id, f.layer, f.feature);
    if (scores.empty()) continue;
    // head_scores is ordered by method: keep the first method's rows.
    const std::string method = scores.front().method;
    int max_layer = 0, max_head = 0;
    for (const auto& s : scores)
      if (s.method == method) max_layer = std::max(max_layer, s.head_layer), max_head = std::max(max_head, s.head);
    HeatMap h;
    h.rows = max_layer + 1;
    h.cols = max_head + 1;
    h.values.assign(static_cast<size_t>(h.rows) * h.cols, kNotComputed);
    for (const auto& s : scores)
      if (s.method == method && s.head_layer >= 0 && s.head >= 0)
        h.values[static_cast<size_t>(s.head_layer) * h.cols + s.head] = s.score;
    h.title = fmt::format("L{} feature {}: method {}", f.layer, f.feature, method);
    h.x_label = "head";
    h.y_label = "layer";
    h.map = ColorMap::kDiverging;
    h.symmetric = true;
    h.colorbar_label = "attribution";
    maps.push_back(std::move(h));
  }
  if (maps.empty()) return;
  const int n = static_cast<int>(maps.size());
  const int cols = n == 1 ? 1 : 2;
  const int rows = (n + cols - 1) / cols;
  const int panel_w = 600, panel_h = 480;
  Canvas canvas(cols * panel_w + 24, rows * panel_h + 80);
  const int top = draw_figure_title(canvas, "Head attribution maps (Fig. 14)",
                                    "score per [layer x head], blue < 0 < red; grey = not computed");
  const auto rects = grid_layout({12, top, canvas.width() - 24, canvas.height() - top - 8}, n, cols, 8);
  for (size_t i = 0; i < maps.size(); ++i) draw_heat_map(canvas, rects[i], maps[i]);
  out.save("heads.png", canvas);
}

}  // namespace

std::vector<std::string> write_report_figures(Store& store, int64_t run_id, const std::string& out_dir) {
  check(store.run(run_id).has_value(), "store '{}': no run {}", store.path(), run_id);
  FigureWriter out(out_dir);
  const OperatingPoint op = operating_point(store, run_id);
  fvu_figure(store, run_id, out);
  scatter_figure(store, run_id, op, out);
  layers_figure(store, run_id, out);
  sweep_figure(store, run_id, op, out);
  heads_figure(store, run_id, out);
  return out.written();
}

}  // namespace sightline
