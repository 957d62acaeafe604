// Tables 1-2, live: toggles for the run's spatial features and top heads re-evaluate the
// world's VLM on the VSR statements per relation and on the VQA yes/no control (progress
// and cancel; a table and a bar chart of accuracy without and with the toggles), and a
// question about the current image (shared with the Overlays view) answered both ways.
// Below, the run's stored ablation rows (accuracy deltas in points, the random-feature
// control, the VSR odds ratio, the relations evaluated); clicking a row selects the feature.
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "ui/live_widgets.h"
#include "ui/views.h"

namespace sightline::ui {

namespace {

void ablation_number_cell(double value, const char* format) {
  if (std::isfinite(value))
    ImGui::Text(format, value);
  else
    ImGui::TextDisabled("-");
}

void ablation_stored_rows(AppState& state) {
  if (!draw_data_status(state.snapshot->results.status(), "Stored ablation rows")) return;
  const auto results = state.snapshot->results.data();
  if (results->ablations.empty()) {
    ImGui::TextDisabled("no stored ablation rows: run stage 5, ablation");
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

// The toggles: spatial features and top heads of the run, plus the overlay's current head.
void ablation_toggles(AppState& state, LiveViews& live, const LiveSession& session) {
  ImGui::TextUnformatted("Toggle interventions");
  ImGui::Separator();
  const auto model = state.model();
  ImGui::PushTextWrapPos(0.0f);
  ImGui::TextDisabled("Spatial features (projected out at text positions)");
  ImGui::PopTextWrapPos();
  if (session.features().empty())
    ImGui::TextDisabled("  none: the run has no spatial features with an adapted SAE");
  for (const SaeFeature& f : session.features()) {
    bool on = live.features_on().count(f) > 0;
    const std::string label = toggle_label(f) + "##feature_toggle";
    if (ImGui::Checkbox(label.c_str(), &on)) live.set_feature(f, on);
    if (model) {
      const int64_t row = model->table().find(f.layer, static_cast<int>(f.feature));
      ImGui::SameLine();
      if (row >= 0 && ImGui::SmallButton(("select##" + toggle_label(f)).c_str())) state.select(row);
    }
  }
  ImGui::Spacing();
  ImGui::PushTextWrapPos(0.0f);
  ImGui::TextDisabled("Top heads of the run by mean |score| (output z set to 0)");
  ImGui::PopTextWrapPos();
  std::vector<std::pair<int, int>> listed;
  for (const LiveHead& h : session.top_heads()) {
    listed.push_back({h.layer, h.head});
    bool on = live.heads_on().count({h.layer, h.head}) > 0;
    const std::string label = toggle_label(h.layer, h.head) + "##head_toggle";
    if (ImGui::Checkbox(label.c_str(), &on)) live.set_head(h.layer, h.head, on);
    ImGui::SameLine();
    ImGui::TextDisabled("%.3g (%d features)", h.mean_abs_score, h.features);
  }
  if (session.top_heads().empty()) ImGui::TextDisabled("  none: the run has no head scores (stage 4)");
  // Heads toggled from elsewhere (the overlay's head) are listed too, so they can be undone.
  for (const auto& [layer, head] : live.heads_on()) {
    if (std::find(listed.begin(), listed.end(), std::make_pair(layer, head)) != listed.end()) continue;
    bool on = true;
    const std::string label = toggle_label(layer, head) + " (overlay)##head_toggle";
    if (ImGui::Checkbox(label.c_str(), &on)) live.set_head(layer, head, on);
  }
  ImGui::Spacing();
  const std::string add = "+ overlay head " + toggle_label(live.layer, live.head);
  if (ImGui::SmallButton(add.c_str())) live.set_head(live.layer, live.head, true);
  if (!live.features_on().empty() || !live.heads_on().empty()) {
    if (ImGui::SmallButton("clear all toggles")) {
      for (const SaeFeature& f : std::vector<SaeFeature>(live.features_on().begin(), live.features_on().end()))
        live.set_feature(f, false);
      for (const auto& h : std::vector<std::pair<int, int>>(live.heads_on().begin(), live.heads_on().end()))
        live.set_head(h.first, h.second, false);
    }
  }
  ImGui::PushTextWrapPos(0.0f);
  for (const std::string& w : session.warnings()) ImGui::TextColored(ImVec4(0.95f, 0.75f, 0.35f, 1), "%s", w.c_str());
  ImGui::PopTextWrapPos();
}

// The bar chart, one row per group inside the results table: accuracy without (grey) and
// with the toggles (orange) on a 0-100 % scale with faint 25 % ticks.
constexpr ImU32 kAblationBarModel = IM_COL32(150, 156, 170, 255);
constexpr ImU32 kAblationBarToggled = IM_COL32(240, 160, 60, 255);

void ablation_bar_cell(double accuracy, double toggled) {
  const float width = std::max(40.0f, ImGui::GetContentRegionAvail().x - 4);
  const float h = ImGui::GetTextLineHeight();
  const ImVec2 p = ImGui::GetCursorScreenPos();
  ImDrawList* dl = ImGui::GetWindowDrawList();
  for (int k = 1; k <= 4; ++k) {
    const float x = p.x + width * static_cast<float>(k) / 4.0f;
    dl->AddLine(ImVec2(x, p.y), ImVec2(x, p.y + h), IM_COL32(80, 86, 98, 255));
  }
  const float bar = std::floor(h / 2) - 1;
  dl->AddRectFilled(ImVec2(p.x, p.y + 1), ImVec2(p.x + width * static_cast<float>(accuracy / 100.0), p.y + 1 + bar),
                    kAblationBarModel);
  dl->AddRectFilled(ImVec2(p.x, p.y + 1 + bar),
                    ImVec2(p.x + width * static_cast<float>(toggled / 100.0), p.y + 1 + 2 * bar), kAblationBarToggled);
  ImGui::Dummy(ImVec2(width, h));
}

// The bar column's header: the legend and the scale.
void ablation_bar_header() {
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImVec2 p = ImGui::GetCursorScreenPos();
  const float s = ImGui::GetTextLineHeight() - 6;
  dl->AddRectFilled(ImVec2(p.x, p.y + 3), ImVec2(p.x + s, p.y + 3 + s), kAblationBarModel);
  ImGui::Dummy(ImVec2(s + 2, s));
  ImGui::SameLine();
  ImGui::TextUnformatted("model");
  ImGui::SameLine();
  const ImVec2 q = ImGui::GetCursorScreenPos();
  dl->AddRectFilled(ImVec2(q.x, q.y + 3), ImVec2(q.x + s, q.y + 3 + s), kAblationBarToggled);
  ImGui::Dummy(ImVec2(s + 2, s));
  ImGui::SameLine();
  ImGui::TextUnformatted("toggled (0-100 %)");
}

void ablation_results(AppState& state, LiveViews& live, const LiveSession& session) {
  LiveReport& report = state.live_report;
  const size_t toggles = live.features_on().size() + live.heads_on().size();
  const std::string run = "Re-evaluate " + std::to_string(session.pool_size()) + " items";
  ImGui::BeginDisabled(live.reeval_running());
  if (ImGui::Button(run.c_str())) live.start_reeval();
  ImGui::EndDisabled();
  ImGui::SameLine();
  if (live.reeval_running()) {
    if (ImGui::Button("Cancel")) live.cancel_reeval();
    ImGui::SameLine();
    const double f = live.reeval_fraction();
    ImGui::ProgressBar(f >= 0 ? static_cast<float>(f) : 0.0f, ImVec2(std::min(260.0f, ImGui::GetContentRegionAvail().x), 0));
  } else {
    ImGui::TextDisabled("%zu toggled; %s", toggles, live.reeval_message().empty() ? "not run yet" : live.reeval_message().c_str());
  }
  const auto result = live.reeval_result();
  if (!result) {
    ImGui::TextDisabled("per-relation accuracy on the VSR statements and the VQA yes/no control appears here");
    return;
  }
  const auto rows = session.relation_accuracy(*result, live.reeval_items());
  std::string ran;
  for (const SaeFeature& f : live.reeval_interventions().ablate_features) ran += (ran.empty() ? "" : ", ") + toggle_label(f);
  for (const HeadAblation& h : live.reeval_interventions().ablate_heads)
    ran += (ran.empty() ? "" : ", ") + toggle_label(h.layer, h.head);
  ImGui::TextDisabled("ablated: %s", ran.empty() ? "nothing (the model as it is)" : ran.c_str());
  report.groups.clear();
  for (const RelationAccuracy& r : rows)
    report.groups.push_back({r.name, r.delta.baseline.n, r.delta.baseline.accuracy, r.delta.intervened.accuracy});

  const ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_ScrollY |
                                ImGuiTableFlags_SizingFixedFit;
  if (!ImGui::BeginTable("reeval_rows", 7, flags, ImVec2(0, ImGui::GetContentRegionAvail().y))) return;
  ImGui::TableSetupScrollFreeze(0, 1);
  for (const char* name : {"relation", "n", "acc %", "toggled", "d acc", "d P(correct)"}) ImGui::TableSetupColumn(name);
  ImGui::TableSetupColumn("bars", ImGuiTableColumnFlags_WidthStretch);
  ImGui::TableNextRow(ImGuiTableRowFlags_Headers);
  for (int c = 0; c < 6; ++c) {
    ImGui::TableSetColumnIndex(c);
    ImGui::TableHeader(ImGui::TableGetColumnName(c));
  }
  ImGui::TableSetColumnIndex(6);
  ablation_bar_header();
  for (const RelationAccuracy& r : rows) {
    ImGui::TableNextRow();
    ImGui::TableSetColumnIndex(0);
    if (r.control || r.total)
      ImGui::TextColored(ImVec4(0.92f, 0.82f, 0.47f, 1), "%s", r.name.c_str());
    else
      ImGui::TextUnformatted(r.name.c_str());
    ImGui::TableSetColumnIndex(1);
    ImGui::Text("%lld", static_cast<long long>(r.delta.baseline.n));
    ImGui::TableSetColumnIndex(2);
    ImGui::Text("%5.1f", r.delta.baseline.accuracy);
    ImGui::TableSetColumnIndex(3);
    ImGui::Text("%5.1f", r.delta.intervened.accuracy);
    ImGui::TableSetColumnIndex(4);
    const ImVec4 sign = r.delta.d_accuracy < 0 ? ImVec4(0.95f, 0.5f, 0.45f, 1)
                        : r.delta.d_accuracy > 0 ? ImVec4(0.6f, 0.85f, 0.6f, 1)
                                                 : ImGui::GetStyle().Colors[ImGuiCol_TextDisabled];
    ImGui::TextColored(sign, "%+.1f", r.delta.d_accuracy);
    ImGui::TableSetColumnIndex(5);
    ImGui::Text("%+.4f", r.delta.d_p_correct);
    ImGui::TableSetColumnIndex(6);
    ablation_bar_cell(r.delta.baseline.accuracy, r.delta.intervened.accuracy);
  }
  ImGui::EndTable();
}

}  // namespace

void draw_ablation_view(AppState& state) {
  LiveReport& report = state.live_report;
  report.ablation_drawn = false;
  LiveViews& live = live_views_of(state);
  live.update(state.tasks);
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  // The stored rows take a fifth of the height when there are any, else one line.
  const auto stored = state.snapshot->results.data();
  const bool has_rows = state.snapshot->results.status().state == DataState::kReady && stored && !stored->ablations.empty();
  const float stored_h = has_rows ? std::max(120.0f, avail.y * 0.22f) : ImGui::GetTextLineHeightWithSpacing() * 2;
  ImGui::BeginChild("ablation_live", ImVec2(0, avail.y - stored_h - 8), false);
  if (draw_live_status(state, live, "Live ablation")) {
    const auto session = live.session();
    report.ablation_drawn = true;
    report.toggles.clear();
    for (const SaeFeature& f : live.features_on()) report.toggles.push_back(toggle_label(f));
    for (const auto& [l, h] : live.heads_on()) report.toggles.push_back(toggle_label(l, h));
    const float left_w = std::min(250.0f, ImGui::GetContentRegionAvail().x * 0.3f);
    ImGui::BeginChild("ablation_toggles", ImVec2(left_w, 0), true);
    ablation_toggles(state, live, *session);
    ImGui::EndChild();
    ImGui::SameLine();
    ImGui::BeginChild("ablation_right", ImVec2(0, 0), false);
    // The question box over the current image (the Overlays view's image and question).
    const float thumb = 118;
    ImGui::BeginGroup();
    const ImVec2 a = ImGui::GetCursorScreenPos();
    draw_overlay_image(state, live, a, ImVec2(a.x + thumb, a.y + thumb), AttentionMap{}, {0.0f, 1.0f}, 0);
    ImGui::Dummy(ImVec2(thumb, thumb));
    ImGui::EndGroup();
    ImGui::SameLine();
    ImGui::BeginGroup();
    draw_image_picker(live);
    draw_question_box(live, ImGui::GetContentRegionAvail().x);
    draw_answer_table(live);
    ImGui::EndGroup();
    ImGui::Separator();
    ablation_results(state, live, *session);
    ImGui::EndChild();
  }
  ImGui::EndChild();
  ImGui::Separator();
  ImGui::BeginChild("ablation_stored", ImVec2(0, 0), false);
  ablation_stored_rows(state);
  ImGui::EndChild();
}

}  // namespace sightline::ui
