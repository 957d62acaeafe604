// Fig. 1 / 5 / 6: each published CurveSet as one line plot (FVU during adaptation, mean
// decoder cosine per layer per regime, ...), and beside them the summary table of the
// final held-out FVU per layer and regime (from the sets that carry fvu_layer).
#include <imgui.h>

#include <algorithm>
#include <cmath>

#include "ui/fvu_summary.h"
#include "ui/plot/plot.h"
#include "ui/views.h"

namespace sightline::ui {

namespace {

// The final-FVU table; the lowest FVU of each layer (the regime that fits best) in green.
void draw_fvu_table(const FvuSummary& s) {
  ImGui::TextUnformatted("Final held-out FVU (Fig. 1 / 6)");
  ImGui::TextDisabled("last evaluation per SAE");
  const int columns = 1 + static_cast<int>(s.regimes.size());
  const ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_SizingFixedFit |
                                ImGuiTableFlags_ScrollY;
  if (!ImGui::BeginTable("fvu_summary", columns, flags)) return;
  ImGui::TableSetupScrollFreeze(1, 1);
  ImGui::TableSetupColumn("layer");
  for (const std::string& r : s.regimes) ImGui::TableSetupColumn(r.c_str());
  ImGui::TableHeadersRow();
  for (size_t l = 0; l < s.layers.size(); ++l) {
    ImGui::TableNextRow();
    ImGui::TableSetColumnIndex(0);
    ImGui::Text("%d", s.layers[l]);
    double best = INFINITY;
    for (size_t r = 0; r < s.regimes.size(); ++r)
      if (std::isfinite(s.at(l, r))) best = std::min(best, s.at(l, r));
    for (size_t r = 0; r < s.regimes.size(); ++r) {
      ImGui::TableSetColumnIndex(static_cast<int>(r) + 1);
      const double v = s.at(l, r);
      if (!std::isfinite(v)) {
        ImGui::TextDisabled("-");
        continue;
      }
      if (v == best && s.regimes.size() > 1)
        ImGui::TextColored(ImVec4(0.45f, 0.9f, 0.5f, 1), "%.4f", v);
      else
        ImGui::Text("%.4f", v);
      if (ImGui::IsItemHovered())
        ImGui::SetTooltip("layer %d, %s: FVU %.6g after %.6g training positions", s.layers[l], s.regimes[r].c_str(), v,
                          s.final_x[l * s.regimes.size() + r]);
    }
  }
  ImGui::EndTable();
}

}  // namespace

void draw_curves_view(AppState& state) {
  if (!draw_data_status(state.snapshot->curves.status(), "Curves")) return;
  const auto sets = state.snapshot->curves.data();
  if (sets->empty()) {
    ImGui::TextDisabled("no curves were published");
    return;
  }
  const FvuSummary summary = fvu_summary(*sets);
  const float table_width =
      summary.empty() ? 0.0f : std::min(380.0f, 60.0f + 68.0f * static_cast<float>(summary.regimes.size()));
  const float spacing = ImGui::GetStyle().ItemSpacing.y;
  const float height = std::max(220.0f, (ImGui::GetContentRegionAvail().y - spacing) / std::min<size_t>(sets->size(), 2));
  ImGui::BeginChild("curves_scroll", ImVec2(summary.empty() ? 0.0f : -(table_width + 12), 0));
  for (size_t i = 0; i < sets->size(); ++i) {
    const CurveSet& set = (*sets)[i];
    plot::PlotOptions options;
    options.title = set.title;
    options.x.label = set.x_label;
    options.y.label = set.y_label;
    options.y.scale = set.log_y ? plot::AxisScale::kLog10 : plot::AxisScale::kLinear;
    options.size = ImVec2(0, height);
    ImGui::PushID(static_cast<int>(i));
    if (plot::begin_plot(("curves_" + std::to_string(i)).c_str(), options)) {
      for (const Curve& c : set.curves)
        plot::plot_line({c.label.c_str()}, c.x.data(), c.y.data(),
                        static_cast<int>(std::min(c.x.size(), c.y.size())));
      plot::end_plot();
    }
    ImGui::PopID();
  }
  ImGui::EndChild();
  if (summary.empty()) return;
  ImGui::SameLine(0, 12);
  ImGui::BeginChild("fvu_summary_pane", ImVec2(0, 0));
  draw_fvu_table(summary);
  ImGui::EndChild();
}

}  // namespace sightline::ui
