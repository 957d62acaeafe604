#include "core/pipeline/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <tuple>

#include "core/common/error.h"
#include "core/diffing/positions.h"
#include "core/io/json_util.h"
#include "core/pipeline/store_keys.h"
#include "core/skills/firing.h"

namespace fs = std::filesystem;

namespace sightline {

namespace {

namespace k = store_keys;

std::string number(double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "" : (v > 0 ? "inf" : "-inf");
  return fmt::format("{}", v);
}

// Rows of a CSV file, written atomically at the end.
class CsvFile {
 public:
  explicit CsvFile(const std::string& path) : writer_(path) {}
  void row(const std::vector<std::string>& fields) {
    std::string line;
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i) line += ',';
      line += csv_field(fields[i]);
    }
    line += '\n';
    writer_.write(line);
  }
  void commit() { writer_.commit(); }

 private:
  AtomicWriter writer_;
};

// Regimes in the order of all_regimes(), then any unknown name.
// m[key], or NaN when absent.
double value_or_nan(const std::map<std::string, double>& m, const std::string& key) {
  const auto it = m.find(key);
  return it == m.end() ? kNotComputed : it->second;
}

struct FvuRow {
  int64_t tokens = 0;
  double fvu = kNotComputed, l0 = kNotComputed;
};

// (layer, regime, step) -> held-out FVU / L0.
std::map<std::tuple<int, std::string, int64_t>, FvuRow> fvu_rows(Store& store, int64_t run_id) {
  std::map<std::tuple<int, std::string, int64_t>, FvuRow> rows;
  CurveQuery q;
  q.key = k::kHeldout;
  q.name = k::kFvu;
  for (const auto& p : store.curve_points(run_id, q)) {
    auto& r = rows[{p.layer, p.regime, p.step}];
    r.tokens = p.tokens;
    r.fvu = p.value;
  }
  q.name = k::kL0;
  for (const auto& p : store.curve_points(run_id, q)) {
    auto& r = rows[{p.layer, p.regime, p.step}];
    r.tokens = p.tokens;
    r.l0 = p.value;
  }
  return rows;
}

// The result JSON of a stage when it is done, else null.
nlohmann::json done_result(Store& store, int64_t run_id, const std::string& stage) {
  const auto st = store.stage(run_id, stage);
  if (!st || st->status != StageStatus::kDone) return nullptr;
  try {
    return nlohmann::json::parse(st->result_json);
  } catch (const nlohmann::json::exception& e) {
    fail("store '{}': table 'stages': result of stage '{}' of run {} is not JSON: {}", store.path(), stage, run_id,
         e.what());
  }
}

// The skills of a done shift stage, in its order.
std::vector<std::string> shift_skills(Store& store, int64_t run_id) {
  std::vector<std::string> out;
  const auto result = done_result(store, run_id, "shift");
  if (result.is_object() && result.contains("skills") && result["skills"].is_array())
    for (const auto& s : result["skills"])
      if (s.is_object() && s.contains("name") && s["name"].is_string()) out.push_back(s["name"].get<std::string>());
  return out;
}

// stages.topk.top_relations of the run's options (3, its default, when absent).
size_t report_top_relations(Store& store, int64_t run_id) {
  const auto run = store.run(run_id);
  try {
    const auto j = nlohmann::json::parse(run->options_json);
    const auto v = j.at("stages").at("topk").at("top_relations").get<int64_t>();
    return v > 0 ? static_cast<size_t>(v) : 3;
  } catch (const nlohmann::json::exception&) {
    return 3;
  }
}

// A read-only query exported as CSV with this report's LF line ends (Store::export_csv
// writes RFC 4180 CRLF). For queries whose text fields hold no line breaks.
int64_t export_query(Store& store, const std::string& sql, int64_t run_id, const std::string& path) {
  const std::string exported = path + ".export";
  const int64_t rows = store.export_csv(sql, exported, run_id);
  std::string text;
  {
    std::ifstream in(exported, std::ios::binary);
    check(in.good(), "file '{}': cannot read the exported rows back", exported);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::remove(exported.c_str());
  std::string lf;
  lf.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    lf += text[i];
  }
  AtomicWriter out(path);
  out.write(lf);
  out.commit();
  return rows;
}

std::string join(const std::vector<std::string>& parts, const char* separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? separator : "") + parts[i];
  return out;
}

// A Markdown table cell: fixed decimals, "-" for not computed.
std::string md_number(double v, int decimals) {
  return std::isfinite(v) ? fmt::format("{:.{}f}", v, decimals) : std::string("-");
}

std::string md_text(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c == '\n' ? ' ' : c;
  }
  return out;
}

std::string md_relations(const std::vector<std::string>& relations) {
  return relations.empty() ? std::string("(all VSR)") : md_text(join(relations, ", "));
}

// Table 1 (paper 5.3: top features by VSR accuracy drop) and Table 2 (A.13: every
// feature, averaged over seeds, dCtrl with its spread).
std::string ablation_markdown(const std::vector<AblationRow>& rows, int64_t run_id) {
  int64_t seeds = 0;
  std::vector<double> ctrl_std;
  for (const auto& r : rows) {
    const auto spread = nlohmann::json::parse(r.seed_spread_json, nullptr, /*allow_exceptions=*/false);
    double sd = kNotComputed;
    if (spread.is_object()) {
      if (spread.contains("d_ctrl_std") && spread["d_ctrl_std"].is_number()) sd = spread["d_ctrl_std"].get<double>();
      if (spread.contains("seeds") && spread["seeds"].is_number_integer())
        seeds = std::max(seeds, spread["seeds"].get<int64_t>());
    }
    ctrl_std.push_back(sd);
  }
  std::string out = fmt::format("# Ablation results (run {})\n\n", run_id);
  out += "Each feature's decoder direction is projected out of the text positions of its layer. Accuracy changes "
         "are in points, P(correct) changes in probability (normalised over yes / no); negative = worse after "
         "ablation. ΔCtrl ablates as many random features of the same layer instead";
  out += seeds > 0 ? fmt::format(", mean ± standard deviation over {} seeds.\n\n", seeds) : std::string(".\n\n");

  std::vector<size_t> order(rows.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  // Largest drop first; features without a value last.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const double x = rows[a].d_vsr_acc, y = rows[b].d_vsr_acc;
    if (std::isnan(x) || std::isnan(y)) return !std::isnan(x) && std::isnan(y);
    return x < y;
  });
  out += "## Table 1. Top ablated SAE features ranked by VSR accuracy drop\n\n";
  out += "| Layer | Feature | ΔVSR Acc | ΔVQA Acc | ΔCtrl | VSR Relation | VSR OR |\n";
  out += "|---:|---:|---:|---:|---:|:---|---:|\n";
  for (size_t i = 0; i < order.size() && i < static_cast<size_t>(kAblationTable1Rows); ++i) {
    const auto& r = rows[order[i]];
    out += fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", r.layer, r.feature, md_number(r.d_vsr_acc, 2),
                       md_number(r.d_vqa_acc, 2), md_number(r.d_ctrl, 2), md_relations(r.relations),
                       md_number(r.vsr_or, 2));
  }
  out += "\n## Table 2. Full ablation results, averaged over seeds\n\n";
  out += "| Layer | Feature | ΔVSR Acc | ΔVSR Prob | ΔVQA Acc | ΔCtrl | VSR OR | #Samples | VSR Relations |\n";
  out += "|---:|---:|---:|---:|---:|---:|---:|---:|:---|\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    std::string ctrl = md_number(r.d_ctrl, 2);
    if (std::isfinite(r.d_ctrl) && std::isfinite(ctrl_std[i])) ctrl += " ± " + md_number(ctrl_std[i], 2);
    out += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", r.layer, r.feature,
                       md_number(r.d_vsr_acc, 2), md_number(r.d_vsr_prob, 3), md_number(r.d_vqa_acc, 2), ctrl,
                       md_number(r.vsr_or, 2), r.n_samples, md_relations(r.relations));
  }
  return out;
}

}  // namespace

RunSummary run_summary(Store& store, int64_t run_id) {
  check(store.run(run_id).has_value(), "store '{}': no run {}", store.path(), run_id);
  std::map<int, LayerSummary> layers;
  std::set<std::string> regimes;
  auto layer = [&](int l) -> LayerSummary& {
    auto& s = layers[l];
    s.layer = l;
    return s;
  };
  // Held-out curves: the last point (largest step) of each (layer, regime) wins.
  for (const auto& [key, row] : fvu_rows(store, run_id)) {
    const auto& [l, regime, step] = key;
    regimes.insert(regime);
    layer(l).fvu[regime] = row.fvu;
    layer(l).l0[regime] = row.l0;
  }
  CurveQuery q;
  q.name = k::kDecoderCosine;
  q.key = k::kMean;
  for (const auto& p : store.curve_points(run_id, q)) {
    regimes.insert(p.regime);
    layer(p.layer).decoder_cosine[p.regime] = p.value;
  }
  q = CurveQuery{};
  q.name = k::kLayerStats;
  for (const auto& p : store.curve_points(run_id, q)) {
    auto& s = layer(p.layer);
    if (p.key == "features") s.features = p.value;
    else if (p.key == "adapted") s.adapted = p.value;
    else if (p.key == "active") s.active = p.value;
    else if (p.key == "mean_cosine_all") s.mean_cosine_all = p.value;
    else if (p.key == "mean_cosine_adapted") s.mean_cosine_adapted = p.value;
    else if (p.key == "mean_visual_energy") s.mean_visual_energy = p.value;
  }
  // Skill stages: per-layer counts of each skill's candidates and selected features (0 for
  // a layer without any once the stage ran).
  const std::vector<std::string> skills = shift_skills(store, run_id);
  const bool lexical_done = !done_result(store, run_id, "lexical").is_null();
  for (const auto& skill : skills) {
    for (auto& [l, s] : layers) {
      s.skill_candidates[skill] = 0;
      if (lexical_done) s.skill_selected[skill] = 0;
    }
    for (const auto& ref : store.selection(run_id, k::candidates_selection(skill)))
      layer(ref.layer).skill_candidates[skill] += 1;
    if (lexical_done)
      for (const auto& ref : store.selection(run_id, skill)) layer(ref.layer).skill_selected[skill] += 1;
  }
  RunSummary out;
  out.skills = skills;
  out.regimes = ordered_regimes(regimes);
  for (auto& [l, s] : layers) out.layers.push_back(std::move(s));
  return out;
}

std::string format_summary(const RunSummary& summary) {
  auto cell = [](double v, int precision) {
    return std::isfinite(v) ? fmt::format("{:.{}f}", v, precision) : std::string("-");
  };
  const auto get = value_or_nan;
  std::string header = fmt::format("{:>5}", "layer");
  for (const auto& r : summary.regimes) header += fmt::format(" {:>10}", "fvu " + r);
  for (const auto& r : summary.regimes) header += fmt::format(" {:>10}", "cos " + r);
  header += fmt::format(" {:>8} {:>8} {:>9} {:>11}", "features", "adapted", "cos all", "cos adapted");
  for (const auto& skill : summary.skills)
    header += fmt::format(" {:>12} {:>12}", skill + " cand", skill + " sel");
  std::string out = header + "\n" + std::string(header.size(), '-') + "\n";
  for (const auto& s : summary.layers) {
    std::string line = fmt::format("{:>5}", s.layer);
    for (const auto& r : summary.regimes) line += fmt::format(" {:>10}", cell(get(s.fvu, r), 4));
    for (const auto& r : summary.regimes) line += fmt::format(" {:>10}", cell(get(s.decoder_cosine, r), 4));
    line += fmt::format(" {:>8} {:>8} {:>9} {:>11}", cell(s.features, 0), cell(s.adapted, 0),
                        cell(s.mean_cosine_all, 4), cell(s.mean_cosine_adapted, 4));
    for (const auto& skill : summary.skills)
      line += fmt::format(" {:>12} {:>12}", cell(get(s.skill_candidates, skill), 0),
                          cell(get(s.skill_selected, skill), 0));
    out += line + "\n";
  }
  return out;
}

ReportCounts write_report(Store& store, int64_t run_id, const std::string& out_dir) {
  check(store.run(run_id).has_value(), "store '{}': no run {}", store.path(), run_id);
  fs::create_directories(out_dir);
  ReportCounts counts;
  const fs::path dir(out_dir);

  const auto rows = store.features(run_id);
  {
    std::set<std::string> extras;
    for (const auto& r : rows)
      for (const auto& [key, v] : r.extra) extras.insert(key);
    CsvFile csv((dir / "features.csv").string());
    std::vector<std::string> header{"layer", "feature"};
    for (const auto& c : feature_column_names()) header.push_back(c);
    for (const auto& e : extras) header.push_back(e);
    csv.row(header);
    for (const auto& r : rows) {
      std::vector<std::string> fields{std::to_string(r.layer), std::to_string(r.feature)};
      for (size_t i = 0; i < feature_column_names().size(); ++i) fields.push_back(number(r.column(i)));
      for (const auto& e : extras) {
        const auto it = r.extra.find(e);
        fields.push_back(it == r.extra.end() ? "" : number(it->second));
      }
      csv.row(fields);
      ++counts.features;
    }
    csv.commit();
  }

  const auto fvu = fvu_rows(store, run_id);
  std::set<std::string> present;
  for (const auto& [key, row] : fvu) present.insert(std::get<1>(key));
  const auto regimes = ordered_regimes(present);
  {
    CsvFile csv((dir / "fvu.csv").string());
    csv.row({"layer", "regime", "tokens", "fvu", "l0"});
    // Layer, then regime in the paper's order, then step.
    std::map<int, std::vector<std::pair<std::tuple<int, std::string, int64_t>, FvuRow>>> by_layer;
    for (const auto& entry : fvu) by_layer[std::get<0>(entry.first)].push_back(entry);
    for (const auto& [layer, entries] : by_layer) {
      for (const auto& regime : regimes) {
        for (const auto& [key, row] : entries) {
          if (std::get<1>(key) != regime) continue;
          csv.row({std::to_string(layer), regime, std::to_string(row.tokens), number(row.fvu), number(row.l0)});
          ++counts.fvu;
        }
      }
    }
    csv.commit();
  }

  {
    CurveQuery q;
    q.name = k::kSweep;
    std::map<int64_t, std::map<std::string, double>> cells;
    for (const auto& p : store.curve_points(run_id, q)) cells[p.step][p.key] = p.value;
    const std::vector<std::string> keys{"eps", "p_cos", "cosine_threshold", "count", "jaccard", "layer_correlation"};
    CsvFile csv((dir / "sweep.csv").string());
    csv.row(keys);
    for (const auto& [step, values] : cells) {
      std::vector<std::string> fields;
      for (const auto& key : keys) {
        const auto it = values.find(key);
        fields.push_back(it == values.end() ? "" : number(it->second));
      }
      csv.row(fields);
      ++counts.sweep;
    }
    csv.commit();
  }

  {
    const RunSummary summary = run_summary(store, run_id);
    CsvFile csv((dir / "layers.csv").string());
    std::vector<std::string> header{"layer", "features"};
    for (const auto& r : summary.regimes) header.push_back("fvu_" + r);
    for (const auto& r : summary.regimes) header.push_back("l0_" + r);
    for (const auto& r : summary.regimes) header.push_back("cos_" + r);
    for (const char* h : {"adapted", "active", "mean_cosine_all", "mean_cosine_adapted", "mean_visual_energy"})
      header.push_back(h);
    csv.row(header);
    const auto get = value_or_nan;
    for (const auto& s : summary.layers) {
      std::vector<std::string> fields{std::to_string(s.layer), number(s.features)};
      for (const auto& r : summary.regimes) fields.push_back(number(get(s.fvu, r)));
      for (const auto& r : summary.regimes) fields.push_back(number(get(s.l0, r)));
      for (const auto& r : summary.regimes) fields.push_back(number(get(s.decoder_cosine, r)));
      for (double v : {s.adapted, s.active, s.mean_cosine_all, s.mean_cosine_adapted, s.mean_visual_energy})
        fields.push_back(number(v));
      csv.row(fields);
      ++counts.layers;
    }
    csv.commit();
  }

  {
    std::map<FeatureRef, const FeatureRow*> by_ref;
    for (const auto& r : rows) by_ref[r.ref()] = &r;
    const bool lexical_done = !done_result(store, run_id, "lexical").is_null();
    const size_t max_relations = report_top_relations(store, run_id);
    const FeatureRow empty{};  // a candidate without a features row: every metric not computed
    CsvFile csv((dir / "skill_features.csv").string());
    csv.row({"layer", "feature", "skill", "p_base", "p_skill", "dp", "odds_ratio", "lexical_pass", "adapted",
             "selected", "top_relations"});
    for (const auto& skill : shift_skills(store, run_id)) {
      const auto chosen = store.selection(run_id, skill);
      const std::set<FeatureRef> selected(chosen.begin(), chosen.end());
      for (const auto& ref : store.selection(run_id, k::candidates_selection(skill))) {
        const auto it = by_ref.find(ref);
        const FeatureRow& r = it == by_ref.end() ? empty : *it->second;
        const auto metric = [&](const std::string& key) { return number(r.get(key).value_or(kNotComputed)); };
        std::map<std::string, double> relation_odds;
        const std::string prefix = k::kVsrOrPrefix;
        for (const auto& [key, v] : r.extra)
          if (key.rfind(prefix, 0) == 0) relation_odds[key.substr(prefix.size())] = v;
        csv.row({std::to_string(ref.layer), std::to_string(ref.feature), skill, metric(k::kPBase),
                 metric(k::skill_metric_key(skill, "p_skill")), metric(k::skill_metric_key(skill, "delta_p")),
                 metric(k::skill_metric_key(skill, "odds_ratio")), metric(k::kLexicalPersistent), metric("adapted"),
                 lexical_done ? (selected.count(ref) ? "1" : "0") : "",
                 fmt::format("{}", fmt::join(top_relations(relation_odds, max_relations), ";"))});
        ++counts.skill_features;
      }
    }
    csv.commit();
  }

  if (store.count_rows("heads", run_id) > 0) {
    counts.heads = export_query(store,
                                "SELECT layer, feature, method, head_layer, head, score FROM heads WHERE run_id = ? "
                                "ORDER BY layer, feature, method, head_layer, head",
                                run_id, (dir / "heads.csv").string());
  }

  const auto patching = store.patching(run_id);
  if (!patching.empty()) {
    CsvFile csv((dir / "patching.csv").string());
    csv.row({"layer", "feature", "spearman_a", "spearman_b"});
    for (const auto& p : patching) {
      csv.row({std::to_string(p.layer), std::to_string(p.feature), number(p.spearman_a), number(p.spearman_b)});
      ++counts.patching;
    }
    csv.commit();
  }

  const auto ablation = store.ablations(run_id);
  if (!ablation.empty()) {
    CsvFile csv((dir / "ablation.csv").string());
    csv.row({"layer", "feature", "d_vsr_acc", "d_vsr_prob", "d_vqa_acc", "d_ctrl", "vsr_or", "n_samples", "relations"});
    for (const auto& r : ablation) {
      csv.row({std::to_string(r.layer), std::to_string(r.feature), number(r.d_vsr_acc), number(r.d_vsr_prob),
               number(r.d_vqa_acc), number(r.d_ctrl), number(r.vsr_or), std::to_string(r.n_samples),
               join(r.relations, ", ")});
      ++counts.ablation;
    }
    csv.commit();
    AtomicWriter md((dir / "ablation.md").string());
    md.write(ablation_markdown(ablation, run_id));
    md.commit();
  }
  return counts;
}

}  // namespace sightline
