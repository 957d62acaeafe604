// The right pane: one feature. What stage 2 says (c_f, E_v, its cosine percentile, A
// under the live thresholds), the flags of stages 3-4, and what stages 3-5 stored (skill
// metrics, relation association, top samples with patch grids, head scores, ablation);
// each of those sections says which stage to run until it has data.
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "ui/plot/colormap.h"
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

// A value, or "-" when the stage did not compute it (NaN).
void page_value_row(const char* name, double value, const char* format) {
  ImGui::TableNextRow();
  ImGui::TableSetColumnIndex(0);
  ImGui::TextDisabled("%s", name);
  ImGui::TableSetColumnIndex(1);
  if (std::isfinite(value))
    ImGui::Text(format, value);
  else
    ImGui::TextDisabled("-");
}

// A metric of the store, or "-" when the stage did not compute it for this feature.
void page_metric_row(const FeatureDetail* d, const char* name, const char* key, const char* format) {
  double value = std::nan("");
  if (d) {
    const auto it = d->metrics.find(key);
    if (it != d->metrics.end()) value = it->second;
  }
  page_value_row(name, value, format);
}

// One line saying why the stage 3-5 sections are empty (not the centred view message).
bool page_results_ready(const DataStatus& status) {
  if (status.state == DataState::kReady) return true;
  const char* what = status.state == DataState::kComputing ? "computing..." :
                     status.state == DataState::kFailed    ? "failed:" : "no data:";
  ImGui::PushTextWrapPos(0);
  ImGui::TextDisabled("%s %s", what, status.message.c_str());
  ImGui::PopTextWrapPos();
  return false;
}

// The sample's patch activations as a square grid of coloured cells (side sqrt(P); a
// single row when P is not a square), scaled by `scale` (the feature's largest patch value).
void page_patch_grid(const std::vector<float>& patch_acts, float scale, plot::Colormap colormap) {
  const int n = static_cast<int>(patch_acts.size());
  int side = static_cast<int>(std::lround(std::sqrt(static_cast<double>(n))));
  const bool square = side * side == n;
  const int cols = square ? side : n, rows = square ? side : 1;
  const float cell = std::clamp(96.0f / std::max(cols, 1), 2.0f, 12.0f);
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImDrawList* draw = ImGui::GetWindowDrawList();
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const float v = patch_acts[static_cast<size_t>(r) * cols + c];
      const double t = scale > 0 && std::isfinite(v) ? std::clamp(v / scale, 0.0f, 1.0f) : 0.0;
      const plot::Rgba8 rgb = plot::colormap_sample(colormap, t);
      const ImVec2 a(origin.x + c * cell, origin.y + r * cell);
      draw->AddRectFilled(a, ImVec2(a.x + cell, a.y + cell), IM_COL32(rgb[0], rgb[1], rgb[2], 255));
    }
  ImGui::Dummy(ImVec2(cols * cell, rows * cell));
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
  const DataStatus results_status = state.snapshot->results.status();
  const auto results = state.snapshot->results.data();
  const FeatureDetail* d =
      results_status.state == DataState::kReady && results ? results->find(t.layer[r], t.feature[r]) : nullptr;
  if (ImGui::CollapsingHeader("Skill metrics (stage 3)", ImGuiTreeNodeFlags_DefaultOpen) &&
      page_results_ready(results_status)) {
    if (!d) ImGui::TextDisabled("not a stage-3 candidate of this run");
    if (d && ImGui::BeginTable("skill_values", 2, ImGuiTableFlags_SizingStretchProp)) {
      page_metric_row(d, "p_base", "p_base", "%.4f");
      page_metric_row(d, "p_skill", "p_skill", "%.4f");
      page_metric_row(d, "delta_p", "delta_p", "%+.4f");
      page_metric_row(d, "odds ratio", "odds_ratio", "%.3f");
      page_metric_row(d, "lexical persistent", "lexical_persistent", "%.0f");
      page_metric_row(d, "VSR odds ratio", "vsr_or", "%.3f");
      ImGui::EndTable();
    }
  }
  if (ImGui::CollapsingHeader("Relation association", ImGuiTreeNodeFlags_DefaultOpen) &&
      page_results_ready(results_status)) {
    if (!d || d->relations.empty()) {
      ImGui::TextDisabled("no vsr_or:<relation> values: run stage 3, skill features (topk)");
    } else if (ImGui::BeginTable("relations", 2, ImGuiTableFlags_SizingStretchProp)) {
      for (size_t i = 0; i < std::min<size_t>(8, d->relations.size()); ++i) {
        ImGui::TableNextRow();
        ImGui::TableSetColumnIndex(0);
        ImGui::TextUnformatted(d->relations[i].first.c_str());
        ImGui::TableSetColumnIndex(1);
        ImGui::Text("OR %.3f", d->relations[i].second);
      }
      ImGui::EndTable();
    }
  }
  if (ImGui::CollapsingHeader("Top activating samples", ImGuiTreeNodeFlags_DefaultOpen) &&
      page_results_ready(results_status)) {
    if (!d || d->top.empty()) {
      ImGui::TextDisabled("no top activations: run stage 3, skill features (topk)");
    } else {
      float scale = 0;
      for (const TopActivation& a : d->top)
        for (float v : a.patch_acts)
          if (std::isfinite(v)) scale = std::max(scale, v);
      for (const TopActivation& a : d->top) {
        ImGui::Text("#%d  %s %s  max %.4g", a.rank, a.dataset.c_str(), a.sample_id.c_str(), a.max_activation);
        if (!a.patch_acts.empty()) page_patch_grid(a.patch_acts, scale, state.colormap);
      }
    }
  }
  if (ImGui::CollapsingHeader("Head attribution (A / B)", ImGuiTreeNodeFlags_DefaultOpen) &&
      page_results_ready(results_status)) {
    if (!d || d->heads.empty()) {
      ImGui::TextDisabled("no head scores: run stage 4, attribution patching");
    } else {
      for (const auto& [method, scores] : d->heads) ImGui::Text("method %s: %zu heads", method.c_str(), scores.size());
      if (d->has_patching)
        ImGui::Text("Spearman vs exact: A %.3f, B %.3f", d->patching.spearman_a, d->patching.spearman_b);
      if (ImGui::SmallButton("open in the Heads view")) state.requested_view = "heads";
    }
  }
  if (ImGui::CollapsingHeader("Ablation", ImGuiTreeNodeFlags_DefaultOpen) && page_results_ready(results_status)) {
    const AblationRow* ablation = nullptr;
    if (results)
      for (const AblationRow& a : results->ablations)
        if (a.layer == t.layer[r] && a.feature == t.feature[r]) ablation = &a;
    if (!ablation) {
      ImGui::TextDisabled("not ablated: run stage 5, ablation (it ablates selection 'spatial')");
    } else {
      if (ImGui::BeginTable("ablation_values", 2, ImGuiTableFlags_SizingStretchProp)) {
        page_value_row("d VSR acc (points)", ablation->d_vsr_acc, "%+.2f");
        page_value_row("d VQA acc (points)", ablation->d_vqa_acc, "%+.2f");
        page_value_row("d ctrl (points)", ablation->d_ctrl, "%+.2f");
        ImGui::EndTable();
      }
      if (ImGui::SmallButton("open the Ablation table")) state.requested_view = "ablation";
    }
  }
}

}  // namespace sightline::ui
