// The right pane: one feature. What stage 2 says (c_f, E_v, its cosine percentile, A
// under the live thresholds), the flags of stages 3-4, and the sections whose data comes
// from later stages, which say which stage to run until they have it.
#include <imgui.h>

#include <cstdio>

#include "ui/scatter_style.h"
#include "ui/views.h"

namespace sightline::ui {

namespace {

void row(const char* name, const char* format, double value) {
  ImGui::TableNextRow();
  ImGui::TableSetColumnIndex(0);
  ImGui::TextDisabled("%s", name);
  ImGui::TableSetColumnIndex(1);
  ImGui::Text(format, value);
}

void flag_row(const char* name, bool on, const Rgb8& color) {
  ImGui::TableNextRow();
  ImGui::TableSetColumnIndex(0);
  ImGui::TextDisabled("%s", name);
  ImGui::TableSetColumnIndex(1);
  if (on)
    ImGui::TextColored(ImVec4(color[0] / 255.0f, color[1] / 255.0f, color[2] / 255.0f, 1), "yes");
  else
    ImGui::TextDisabled("no");
}

}  // namespace

void draw_feature_page(AppState& state) {
  ImGui::TextUnformatted("Feature");
  ImGui::Separator();
  const auto model = state.model();
  if (!model) {
    ImGui::TextDisabled("no feature table yet");
    return;
  }
  const FeatureTable& t = model->table();
  if (state.selected < 0 || state.selected >= static_cast<int64_t>(t.size())) {
    ImGui::TextWrapped("Click a point in the scatter or a row of the list to open a feature.");
    return;
  }
  const int64_t r = state.selected;
  ImGui::Text("Layer %d, feature %d", t.layer[r], t.feature[r]);
  ImGui::TextDisabled("row %lld of %s", static_cast<long long>(r), t.source.c_str());
  if (ImGui::SmallButton("< prev") && r > 0 && t.layer[r - 1] == t.layer[r]) state.select(r - 1);
  ImGui::SameLine();
  if (ImGui::SmallButton("next >") && r + 1 < static_cast<int64_t>(t.size()) && t.layer[r + 1] == t.layer[r])
    state.select(r + 1);
  ImGui::SameLine();
  if (ImGui::SmallButton("clear")) state.select(-1);

  const double cthr = state.cosine_threshold();
  const bool in_a = is_adapted(t.visual_energy[r], t.decoder_cosine[r], state.thresholds.eps, cthr);
  if (ImGui::BeginTable("feature_values", 2, ImGuiTableFlags_SizingStretchProp)) {
    row("decoder cosine c_f", "%.5f", t.decoder_cosine[r]);
    row("cosine percentile", "%.2f %%", 100.0 * model->quantiles().fraction_at_or_below(t.decoder_cosine[r]));
    row("visual energy E_v", "%.4g", t.visual_energy[r]);
    row("log10 E_v", "%.3f", model->log_energy()[r]);
    flag_row("in A (live thresholds)", in_a, kColorAdapted);
    flag_row("in A (stage 2 run)", t.flags[r] & kFlagAdapted, kColorAdapted);
    flag_row("spatial candidate", t.flags[r] & kFlagSpatialCandidate, kColorCandidate);
    flag_row("spatial feature", t.flags[r] & kFlagSpatialFeature, kColorSpatial);
    flag_row("analysed", t.flags[r] & kFlagAnalysed, kColorAnalysed);
    ImGui::EndTable();
  }
  ImGui::Spacing();
  if (ImGui::CollapsingHeader("Top activating samples", ImGuiTreeNodeFlags_DefaultOpen))
    ImGui::TextDisabled("no data: run stage 3, skill features");
  if (ImGui::CollapsingHeader("Head attribution (A / B)", ImGuiTreeNodeFlags_DefaultOpen))
    ImGui::TextDisabled("no data: run stage 4, attribution patching");
  if (ImGui::CollapsingHeader("Ablation", ImGuiTreeNodeFlags_DefaultOpen))
    ImGui::TextDisabled("no data: run stage 5, ablation");
}

}  // namespace sightline::ui
