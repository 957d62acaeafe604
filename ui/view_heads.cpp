// Heads (Fig. 13 / 14 for one feature): the selected feature's [head layers x heads]
// attribution map for method A, B or exact patching, its strongest and weakest heads by
// |score|, and the Spearman agreement of A and B with exact patching.
#include <imgui.h>

#include <algorithm>

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
  const std::vector<HeadScore>* found = nullptr;
  if (detail) {
    const auto it = detail->heads.find(state.heads_method);
    if (it != detail->heads.end() && !it->second.empty()) found = &it->second;
  }
  if (!found) {
    ImGui::TextDisabled("no method %s head scores for this feature: run stage 4, attribution patching (it scores "
                        "the features of selection 'spatial')",
                        state.heads_method.c_str());
    return;
  }
  const std::vector<HeadScore>& scores = *found;
  const HeatMap map = head_heat_map(scores, "Method " + state.heads_method + ", " + feature_name(t, state.selected));

  const float list_width = 260, colorbar_width = 70;
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float plot_width = std::max(200.0f, avail.x - list_width - colorbar_width - 16);
  ImGui::BeginGroup();
  plot::PlotOptions options;
  options.title = map.title;
  options.x.label = map.x_label;
  options.y.label = map.y_label;
  options.legend = false;
  options.size = ImVec2(plot_width, std::max(240.0f, avail.y - 4));
  options.has_initial_view = true;
  options.initial_view = {{0, static_cast<double>(map.cols)}, {0, static_cast<double>(map.rows)}};
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
  ImGui::EndGroup();
  ImGui::SameLine();
  ImGui::BeginChild("heads_lists", ImVec2(0, options.size.y));
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
    ImGui::Text("A: %.3f   B: %.3f", detail->patching.spearman_a, detail->patching.spearman_b);
  else
    ImGui::TextDisabled("not computed (exact patching did not run)");
  ImGui::EndChild();
}

}  // namespace sightline::ui
