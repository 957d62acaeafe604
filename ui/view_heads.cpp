// Heads (Fig. 13 / 14 for one feature): the selected feature's [head layers x heads]
// attribution map for method A, B or exact patching, its strongest and weakest heads by
// |score|, the per-layer curve (mean and max |score| over each layer's heads), and the
// exact-vs-attributed scatter (one point per head: x = exact patching effect, y = method A
// or B) with the Spearman agreement of each method with exact patching.
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "ui/head_stats.h"
#include "ui/plot/plot.h"
#include "ui/views.h"

namespace sightline::ui {

namespace {

void heads_list_table(const char* id, const std::vector<HeadScore>& heads) {
  if (!ImGui::BeginTable(id, 3, ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingStretchProp)) return;
  ImGui::TableSetupColumn("layer");
  ImGui::TableSetupColumn("head");
  ImGui::TableSetupColumn("score");
  ImGui::TableHeadersRow();
  for (const HeadScore& h : heads) {
    ImGui::TableNextRow();
    ImGui::TableSetColumnIndex(0);
    ImGui::Text("%d", h.head_layer);
    ImGui::TableSetColumnIndex(1);
    ImGui::Text("%d", h.head);
    ImGui::TableSetColumnIndex(2);
    ImGui::Text("%.4g", h.score);
  }
  ImGui::EndTable();
}

PlotReport report_of_current_plot() {
  PlotReport r;
  r.drawn = true;
  r.area = plot::plot_area();
  r.view = plot::view();
  return r;
}

// The method's scores of the feature, or nullptr when it has none.
const std::vector<HeadScore>* method_scores(const FeatureDetail& detail, const std::string& method) {
  const auto it = detail.heads.find(method);
  return it != detail.heads.end() && !it->second.empty() ? &it->second : nullptr;
}

void draw_layer_curve(AppState& state, const std::vector<HeadScore>& scores, ImVec2 size) {
  const HeadLayerCurve curve = head_layer_curve(scores);
  plot::PlotOptions options;
  options.title = "Per head layer, method " + state.heads_method;
  options.x.label = "head layer";
  options.y.label = "|score|";
  options.size = size;
  // One tick per head layer (a model has a few dozen at most).
  if (curve.layer.size() <= 16)
    for (float l : curve.layer) options.x.ticks.push_back({l, std::to_string(static_cast<int>(l))});
  const std::string id = "heads_layers_" + std::to_string(state.selected) + "_" + state.heads_method;
  if (!plot::begin_plot(id.c_str(), options)) return;
  const int n = static_cast<int>(curve.layer.size());
  plot::plot_line({"max |score|", packed_color(kColorLayerMax), 2.0f, true}, curve.layer.data(), curve.max_abs.data(),
                  n);
  plot::plot_line({"mean |score|", packed_color(kColorLayerMean), 2.0f, true}, curve.layer.data(),
                  curve.mean_abs.data(), n);
  // Zero in view, so that the curves' heights read as magnitudes.
  plot::add_extent({curve.layer.empty() ? 0.0 : curve.layer.front(), curve.layer.empty() ? 1.0 : curve.layer.back()},
                   {0, 0});
  state.heads_report.curve = report_of_current_plot();
  plot::end_plot();
}

void draw_exact_scatter(AppState& state, const FeatureDetail& detail, ImVec2 size) {
  const std::vector<HeadScore>* exact = method_scores(detail, "exact");
  if (!exact) {
    ImGui::BeginChild("heads_scatter_missing", size);
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyle().Colors[ImGuiCol_TextDisabled]);
    ImGui::TextWrapped("Exact vs attributed (Fig. 14): no exact patching scores for this feature (stage 4 patches "
                       "exactly only its analysed features).");
    ImGui::PopStyleColor();
    ImGui::EndChild();
    return;
  }
  struct Series {
    const char* method;
    Rgb8 color;
    HeadPairs pairs;
    std::vector<std::string> names;
    double rho = NAN;
  };
  std::vector<Series> series;
  const std::pair<const char*, Rgb8> methods[] = {{"A", kColorMethodA}, {"B", kColorMethodB}};
  for (const auto& [method, color] : methods) {
    const std::vector<HeadScore>* scores = method_scores(detail, method);
    if (!scores) continue;
    Series s{method, color, pair_with_exact(*exact, *scores), {}, NAN};
    for (size_t i = 0; i < s.pairs.size(); ++i) s.names.push_back(head_name(s.pairs.head_layer[i], s.pairs.head[i]));
    s.rho = spearman_rho(s.pairs.exact, s.pairs.attributed);
    series.push_back(std::move(s));
  }
  plot::PlotOptions options;
  options.title = "Exact vs attributed (Fig. 14)";
  options.x.label = "exact patching effect";
  options.y.label = "attribution score";
  options.size = size;
  const std::string id = "heads_scatter_" + std::to_string(state.selected);
  if (!plot::begin_plot(id.c_str(), options)) return;
  // The axes through zero: which heads the methods get the sign of.
  const plot::Transform& t = plot::transform();
  const plot::PixelRect a = plot::plot_area();
  const ImU32 axis = IM_COL32(200, 200, 200, 90);
  plot::draw_list()->AddLine(ImVec2(static_cast<float>(t.to_pixel_x(0)), static_cast<float>(a.y0)),
                             ImVec2(static_cast<float>(t.to_pixel_x(0)), static_cast<float>(a.y1)), axis);
  plot::draw_list()->AddLine(ImVec2(static_cast<float>(a.x0), static_cast<float>(t.to_pixel_y(0))),
                             ImVec2(static_cast<float>(a.x1), static_cast<float>(t.to_pixel_y(0))), axis);
  for (const Series& s : series) {
    // The legend names each method with its Spearman rho against exact patching.
    char label[64];
    if (std::isfinite(s.rho))
      std::snprintf(label, sizeof(label), "%s  rho %.2f", s.method, s.rho);
    else
      std::snprintf(label, sizeof(label), "%s  rho n/a", s.method);
    plot::plot_points({label, packed_color(s.color), 4.0f}, s.pairs.exact.data(), s.pairs.attributed.data(),
                      static_cast<int>(s.pairs.size()), &s.names);
    state.heads_report.series.push_back({s.method, s.rho, s.pairs.size()});
  }
  state.heads_report.scatter = report_of_current_plot();
  plot::end_plot();
}

}  // namespace

void draw_heads_view(AppState& state) {
  state.heads_report = HeadsReport{};
  for (const char* method : {"A", "B", "exact"}) {
    const std::string label = std::string("Method ") + method;
    if (ImGui::RadioButton(label.c_str(), state.heads_method == method)) state.heads_method = method;
    ImGui::SameLine();
  }
  const auto model = state.model();
  const bool has_selection = model && state.selected >= 0 && state.selected < static_cast<int64_t>(model->table().size());
  if (has_selection) ImGui::Text("   %s", feature_name(model->table(), state.selected).c_str());
  ImGui::NewLine();
  if (!draw_data_status(state.snapshot->results.status(), "Head scores")) return;
  if (!has_selection) {
    ImGui::TextDisabled("select a feature (scatter, list or ablation table) to see its head scores");
    return;
  }
  const auto results = state.snapshot->results.data();
  const FeatureTable& t = model->table();
  const FeatureDetail* detail = results->find(t.layer[state.selected], t.feature[state.selected]);
  const std::vector<HeadScore>* found = detail ? method_scores(*detail, state.heads_method) : nullptr;
  if (!found) {
    ImGui::TextDisabled("no method %s head scores for this feature: run stage 4, attribution patching (it scores "
                        "the features of selection 'spatial')",
                        state.heads_method.c_str());
    return;
  }
  const std::vector<HeadScore>& scores = *found;
  const HeatMap map = head_heat_map(scores, "Method " + state.heads_method + ", " + feature_name(t, state.selected));

  const float list_width = 260, colorbar_width = 70, gap = 8;
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float left_width = std::max(420.0f, avail.x - list_width - 16);
  // The map on top, the per-layer curve and Fig. 14 below it.
  const float map_height = std::max(220.0f, std::floor(avail.y * 0.52f));
  const float lower_height = std::max(200.0f, avail.y - map_height - gap - 3 * ImGui::GetStyle().ItemSpacing.y - 4);
  ImGui::BeginGroup();
  const plot::PlotOptions options = heat_map_plot_options(map, ImVec2(left_width - colorbar_width, map_height));
  plot::HeatmapOptions h;
  h.label = "head scores";
  h.diverging = map.diverging;
  h.colormap = map.diverging ? plot::Colormap::kCoolWarm : state.colormap;
  plot::Range range{0, 1};
  // The plot's id names the feature and method so its camera starts fitted to each map.
  const std::string plot_id = "heads_" + std::to_string(state.selected) + "_" + state.heads_method;
  if (plot::begin_plot(plot_id.c_str(), options)) {
    range = plot::plot_heatmap(h, map.values.data(), map.rows, map.cols);
    HeadsReport& report = state.heads_report;
    report.drawn = true;
    report.area = plot::plot_area();
    report.view = plot::view();
    report.rows = map.rows;
    report.cols = map.cols;
    report.method = state.heads_method;
    plot::end_plot();
  }
  ImGui::SameLine();
  plot::colorbar("heads_colorbar", {h.colormap, range, ImVec2(colorbar_width - 10, options.size.y), ""});
  ImGui::Dummy(ImVec2(0, gap));
  const float half = std::floor((left_width - gap) / 2);
  draw_layer_curve(state, scores, ImVec2(half, lower_height));
  ImGui::SameLine(0, gap);
  draw_exact_scatter(state, *detail, ImVec2(left_width - half - gap, lower_height));
  ImGui::EndGroup();
  ImGui::SameLine(0, 16);
  ImGui::BeginChild("heads_lists", ImVec2(0, avail.y));
  const std::vector<HeadScore> ranked = rank_heads(scores);
  const size_t k = std::min<size_t>(8, ranked.size());
  ImGui::Text("Top heads (|score|)");
  heads_list_table("top_heads", std::vector<HeadScore>(ranked.begin(), ranked.begin() + k));
  ImGui::Spacing();
  ImGui::Text("Bottom heads (weakest first)");
  heads_list_table("bottom_heads", std::vector<HeadScore>(ranked.rbegin(), ranked.rbegin() + k));
  ImGui::Spacing();
  ImGui::Text("Spearman vs exact patching");
  if (detail->has_patching)
    ImGui::Text("stage 4:  A %.3f   B %.3f", detail->patching.spearman_a, detail->patching.spearman_b);
  else
    ImGui::TextDisabled("not stored (exact patching did not run)");
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("Stage 4 compares B (attribution at the corrupt run) with the denoising effect, or with\n"
                      "minus the noising effect when denoising was not run; the plot's rho uses the stored\n"
                      "exact (noising) effect for both methods, so B's sign can differ.");
  for (const HeadsScatterSeries& s : state.heads_report.series)
    ImGui::Text("these %zu heads vs noising:  %s %.3f", s.points, s.method.c_str(), s.spearman);
  ImGui::EndChild();
}

}  // namespace sightline::ui
