// Tables 1-2: the run's ablation rows (accuracy deltas in points, the random-feature
// control, the VSR odds ratio, the relations evaluated). Clicking a row selects the feature.
#include <imgui.h>

#include <cmath>
#include <string>

#include "ui/views.h"

namespace sightline::ui {

namespace {

void ablation_number_cell(double value, const char* format) {
  if (std::isfinite(value))
    ImGui::Text(format, value);
  else
    ImGui::TextDisabled("-");
}

}  // namespace

void draw_ablation_view(AppState& state) {
  if (!draw_data_status(state.snapshot->results.status(), "Ablation")) return;
  const auto results = state.snapshot->results.data();
  if (results->ablations.empty()) {
    ImGui::TextDisabled("no ablation rows: run stage 5, ablation");
    return;
  }
  const auto model = state.model();
  const ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_Borders | ImGuiTableFlags_ScrollY |
                                ImGuiTableFlags_Resizable | ImGuiTableFlags_SizingFixedFit;
  if (!ImGui::BeginTable("ablation_rows", 9, flags)) return;
  ImGui::TableSetupScrollFreeze(0, 1);
  for (const char* name : {"layer", "feature", "d VSR acc", "d VSR P(true)", "d VQA acc", "d ctrl", "VSR OR",
                           "samples", "relations"})
    ImGui::TableSetupColumn(name);
  ImGui::TableHeadersRow();
  for (size_t i = 0; i < results->ablations.size(); ++i) {
    const AblationRow& r = results->ablations[i];
    ImGui::TableNextRow();
    ImGui::TableSetColumnIndex(0);
    const int64_t row = model ? model->table().find(r.layer, r.feature) : -1;
    const std::string label = std::to_string(r.layer) + "##ablation" + std::to_string(i);
    if (ImGui::Selectable(label.c_str(), row >= 0 && row == state.selected, ImGuiSelectableFlags_SpanAllColumns) &&
        row >= 0)
      state.select(row);
    ImGui::TableSetColumnIndex(1);
    ImGui::Text("%d", r.feature);
    ImGui::TableSetColumnIndex(2);
    ablation_number_cell(r.d_vsr_acc, "%+.2f");
    ImGui::TableSetColumnIndex(3);
    ablation_number_cell(r.d_vsr_prob, "%+.4f");
    ImGui::TableSetColumnIndex(4);
    ablation_number_cell(r.d_vqa_acc, "%+.2f");
    ImGui::TableSetColumnIndex(5);
    ablation_number_cell(r.d_ctrl, "%+.2f");
    ImGui::TableSetColumnIndex(6);
    ablation_number_cell(r.vsr_or, "%.3g");
    ImGui::TableSetColumnIndex(7);
    ImGui::Text("%lld", static_cast<long long>(r.n_samples));
    ImGui::TableSetColumnIndex(8);
    std::string relations;
    for (const std::string& rel : r.relations) relations += (relations.empty() ? "" : ", ") + rel;
    ImGui::TextUnformatted(relations.empty() ? "(whole VSR split)" : relations.c_str());
  }
  ImGui::EndTable();
}

}  // namespace sightline::ui
