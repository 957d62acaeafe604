// The right pane: one feature. Its place in the navigation set ("3 / 17", J / K), a star
// that bookmarks it into a named list, its autointerp description, what stage 2 says (c_f,
// E_v, its cosine percentile, A under the live thresholds, the flags of stages 3-4), its
// stage-3 statistics (every feature the shift stage reached; the topk / lexical metrics
// of candidates), the top samples with their patch grids and the question's tokens
// highlighted by the feature's activation, relation association, head scores and ablation.
// Each section says which stage to run until it has data.
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "ui/find_loader.h"
#include "ui/navigation.h"
#include "ui/plot/colormap.h"
#include "ui/scatter_style.h"
#include "ui/views.h"

namespace sightline::ui {

namespace {

ImU32 page_color(const Rgb8& c, float alpha = 1.0f) {
  return IM_COL32(c[0], c[1], c[2], static_cast<int>(std::lround(std::clamp(alpha, 0.0f, 1.0f) * 255)));
}

void row(const char* name, const char* format, double value) {
  ImGui::TableNextRow();
  ImGui::TableSetColumnIndex(0);
  ImGui::TextDisabled("%s", name);
  ImGui::TableSetColumnIndex(1);
  ImGui::Text(format, value);
}

// A coloured tag ("A", "candidate", ...) on one line with the others; dimmed when off.
void page_tag(const char* name, bool on, const Rgb8& color) {
  if (on)
    ImGui::TextColored(ImVec4(color[0] / 255.0f, color[1] / 255.0f, color[2] / 255.0f, 1), "%s", name);
  else
    ImGui::TextDisabled("%s", name);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s: %s", name, on ? "yes" : "no");
  ImGui::SameLine();
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

// A metric of the feature's stage 3-5 detail, else of the shift table row, else NaN.
double page_metric(const FeatureDetail* d, const char* key, const std::vector<float>* column, int64_t shift_row) {
  if (d) {
    const auto it = d->metrics.find(key);
    if (it != d->metrics.end()) return it->second;
  }
  if (column && shift_row >= 0) return (*column)[static_cast<size_t>(shift_row)];
  return std::nan("");
}

// A dim note, wrapped to the pane (what to run to fill a section).
void page_note(const char* text) {
  ImGui::PushTextWrapPos(0);
  ImGui::TextDisabled("%s", text);
  ImGui::PopTextWrapPos();
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
// single row when P is not a square) at most `size` pixels wide, scaled by `scale` (the
// feature's largest patch value).
void page_patch_grid(const std::vector<float>& patch_acts, float scale, plot::Colormap colormap, float size) {
  const int n = static_cast<int>(patch_acts.size());
  int side = static_cast<int>(std::lround(std::sqrt(static_cast<double>(n))));
  const bool square = side * side == n;
  const int cols = square ? side : n, rows = square ? side : 1;
  const float cell = std::clamp(size / std::max(cols, 1), 2.0f, 12.0f);
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

// The question's tokens laid out as wrapped text, each on a background of kColorTokenHot
// with alpha = activation / scale (the feature's largest token activation), so the token
// it fires on most is the full colour. Hover: the value.
// Appends what it drew to `report`.
void page_token_highlights(const std::vector<std::string>& tokens, const std::vector<float>& acts, float scale,
                           std::vector<TokenBox>& report) {
  const float wrap = std::max(60.0f, ImGui::GetContentRegionAvail().x);
  const float line = ImGui::GetTextLineHeight() + 3;
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const ImVec4 clip = draw->GetClipRectMax().x > 0
                          ? ImVec4(draw->GetClipRectMin().x, draw->GetClipRectMin().y, draw->GetClipRectMax().x,
                                   draw->GetClipRectMax().y)
                          : ImVec4(0, 0, 0, 0);
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  float x = 0, y = 0;
  int hovered = -1;
  for (size_t i = 0; i < tokens.size(); ++i) {
    std::string text = tokens[i];
    ImVec2 size = ImGui::CalcTextSize(text.c_str());
    if (x > 0 && x + size.x > wrap) {  // wrap before this token; its leading space is dropped
      x = 0;
      y += line;
      if (!text.empty() && text[0] == ' ') {
        text.erase(0, 1);
        size = ImGui::CalcTextSize(text.c_str());
      }
    }
    const float a = i < acts.size() && std::isfinite(acts[i]) ? acts[i] : 0.0f;
    const float intensity = scale > 0 ? std::clamp(a / scale, 0.0f, 1.0f) : 0.0f;
    const ImVec2 p0(origin.x + x, origin.y + y), p1(origin.x + x + size.x, origin.y + y + line - 1);
    if (intensity > 0.02f) draw->AddRectFilled(p0, p1, page_color(kColorTokenHot, intensity), 2.0f);
    draw->AddText(ImVec2(p0.x, p0.y + 1), ImGui::GetColorU32(ImGuiCol_Text), text.c_str());
    if (mouse.x >= p0.x && mouse.x < p1.x && mouse.y >= p0.y && mouse.y < p1.y) hovered = static_cast<int>(i);
    TokenBox box;
    box.text = text;
    box.activation = a;
    box.intensity = intensity;
    box.rect = {p0.x, p0.y, p1.x, p1.y};
    box.visible = p0.x >= clip.x && p0.y >= clip.y && p1.x <= clip.z && p1.y <= clip.w;
    report.push_back(std::move(box));
    x += size.x;
  }
  ImGui::Dummy(ImVec2(wrap, y + line));
  if (hovered >= 0 && ImGui::IsWindowHovered())
    ImGui::SetTooltip("'%s': activation %.4g", tokens[static_cast<size_t>(hovered)].c_str(),
                      static_cast<double>(acts[static_cast<size_t>(hovered)]));
}

// A five-pointed star centred at c, outer radius r: filled (bookmarked) or outlined.
void page_star(ImDrawList* draw, ImVec2 c, float r, bool filled, ImU32 color) {
  ImVec2 pts[10];
  for (int k = 0; k < 10; ++k) {
    const float angle = -1.5707963f + k * 3.14159265f / 5;
    const float rr = k % 2 == 0 ? r : r * 0.45f;
    pts[k] = ImVec2(c.x + rr * std::cos(angle), c.y + rr * std::sin(angle));
  }
  if (filled)
    for (int k = 0; k < 10; ++k) draw->AddTriangleFilled(c, pts[k], pts[(k + 1) % 10], color);
  draw->AddPolyline(pts, 10, color, ImDrawFlags_Closed, 1.5f);
}

// The star button and the list / note boxes: a click adds the feature to the named list
// (or removes it when it is already there), on a task (ui/find_loader.h).
void page_bookmark_controls(AppState& state, int layer, int feature) {
  const DataStatus status = state.snapshot->bookmarks.status();
  const auto lists = status.state == DataState::kReady ? state.snapshot->bookmarks.data() : nullptr;
  FindState& find = state.find;
  const Bookmark* existing = lists ? lists->find(find.bookmark_list, layer, feature) : nullptr;
  const float size = ImGui::GetFrameHeight();
  const ImVec2 at = ImGui::GetCursorScreenPos();
  const bool clicked = ImGui::InvisibleButton("star", ImVec2(size, size));
  const bool hovered = ImGui::IsItemHovered();
  page_star(ImGui::GetWindowDrawList(), ImVec2(at.x + size / 2, at.y + size / 2), size * 0.45f, existing != nullptr,
            existing || hovered ? page_color(kColorBookmark) : ImGui::GetColorU32(ImGuiCol_TextDisabled));
  state.find.report.page.starred = existing != nullptr;
  state.find.report.page.star = {at.x, at.y, at.x + size, at.y + size};
  if (hovered) {
    if (!lists)
      ImGui::SetTooltip("bookmarks need a store: %s", status.message.c_str());
    else
      ImGui::SetTooltip(existing ? "in list '%s': click to remove" : "add to list '%s' with the note",
                        find.bookmark_list.c_str());
  }
  if (clicked && lists && !find.bookmark_list.empty()) {
    if (existing) {
      start_bookmark_delete(state.tasks, state.snapshot, lists->path, existing->id);
    } else {
      Bookmark b;
      b.name = find.bookmark_list;
      b.layer = layer;
      b.feature = feature;
      b.note = find.bookmark_note;
      start_bookmark_add(state.tasks, state.snapshot, lists->path, b);
    }
  }
  ImGui::SameLine();
  static char list_buffer[64] = "", note_buffer[256] = "";
  static std::string synced_list = "\x01", synced_note = "\x01";
  if (synced_list != find.bookmark_list) {
    std::snprintf(list_buffer, sizeof(list_buffer), "%s", find.bookmark_list.c_str());
    synced_list = find.bookmark_list;
  }
  if (synced_note != find.bookmark_note) {
    std::snprintf(note_buffer, sizeof(note_buffer), "%s", find.bookmark_note.c_str());
    synced_note = find.bookmark_note;
  }
  ImGui::SetNextItemWidth(90);
  if (ImGui::InputTextWithHint("##bm_list", "list", list_buffer, sizeof(list_buffer)))
    synced_list = find.bookmark_list = list_buffer;
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("the bookmark list the star adds to");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(-1);
  if (ImGui::InputTextWithHint("##bm_note", "note", note_buffer, sizeof(note_buffer)))
    synced_note = find.bookmark_note = note_buffer;
}

}  // namespace

void handle_navigation_keys(AppState& state) {
  const ImGuiIO& io = ImGui::GetIO();
  if (io.WantTextInput || io.KeyCtrl || io.KeyAlt || io.KeySuper) return;
  // The GLFW backend stores GLFW key codes in io.KeysDown; a letter's code is its upper-case ASCII.
  int delta = 0;
  if (ImGui::IsKeyPressed('J')) delta = 1;
  if (ImGui::IsKeyPressed('K')) delta = -1;
  if (delta == 0) return;
  const int64_t next = step_selection(state.find.nav.rows, state.selected, delta);
  if (next >= 0) state.select(next);
}

void draw_feature_page(AppState& state) {
  handle_navigation_keys(state);
  FeaturePageReport& report = state.find.report.page;
  report = FeaturePageReport{};
  const auto model = state.model();
  if (!model) {
    ImGui::TextUnformatted("Feature");
    ImGui::Separator();
    ImGui::TextDisabled("no feature table yet");
    return;
  }
  const FeatureTable& t = model->table();
  if (state.selected < 0 || state.selected >= static_cast<int64_t>(t.size())) {
    ImGui::TextUnformatted("Feature");
    ImGui::Separator();
    ImGui::TextWrapped("Click a point in the scatter or a row of the list to open a feature; J / K step through "
                       "the list.");
    return;
  }
  const int64_t r = state.selected;
  const int layer = t.layer[r], feature = t.feature[r];
  report.drawn = true;

  // Header: name, star and bookmark boxes, navigation.
  ImGui::Text("Layer %d, feature %d", layer, feature);
  ImGui::SameLine();
  ImGui::TextDisabled("(row %lld)", static_cast<long long>(r));
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("row %lld of %s", static_cast<long long>(r), t.source.c_str());
  page_bookmark_controls(state, layer, feature);
  const NavSet& nav = state.find.nav;
  report.position = position_label(nav.rows, r);
  if (ImGui::SmallButton("< prev")) {
    const int64_t next = step_selection(nav.rows, r, -1);
    if (next >= 0) state.select(next);
  }
  ImGui::SameLine();
  ImGui::TextUnformatted(report.position.empty() ? "- / 0" : report.position.c_str());
  ImGui::SameLine();
  if (ImGui::SmallButton("next >")) {
    const int64_t next = step_selection(nav.rows, r, 1);
    if (next >= 0) state.select(next);
  }
  ImGui::SameLine();
  if (ImGui::SmallButton("clear")) state.select(-1);
  ImGui::SameLine();
  ImGui::TextDisabled("%s", nav.name.c_str());
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("J / K: next / previous feature of %s", nav.name.c_str());

  const DataStatus results_status = state.snapshot->results.status();
  const auto results = state.snapshot->results.data();
  const FeatureDetail* d =
      results_status.state == DataState::kReady && results ? results->find(layer, feature) : nullptr;
  if (d && d->has_description && !d->description.text.empty()) {
    report.description = d->description.text;
    ImGui::PushTextWrapPos(0);
    ImGui::TextColored(ImVec4(0.95f, 0.85f, 0.55f, 1), "\"%s\"", d->description.text.c_str());
    ImGui::PopTextWrapPos();
    if (std::isfinite(d->description.f1)) ImGui::TextDisabled("autointerp F1 %.2f", d->description.f1);
  }
  ImGui::Separator();

  const double cthr = state.cosine_threshold();
  const bool in_a = is_adapted(t.visual_energy[r], t.decoder_cosine[r], state.thresholds.eps, cthr);
  page_tag("A (live)", in_a, kColorAdapted);
  page_tag("A (run)", t.flags[r] & kFlagAdapted, kColorAdapted);
  page_tag("candidate", t.flags[r] & kFlagSpatialCandidate, kColorCandidate);
  page_tag("spatial", t.flags[r] & kFlagSpatialFeature, kColorSpatial);
  page_tag("analysed", t.flags[r] & kFlagAnalysed, kColorAnalysed);
  ImGui::NewLine();
  if (ImGui::BeginTable("feature_values", 2, ImGuiTableFlags_SizingStretchProp)) {
    row("decoder cosine c_f", "%.5f", t.decoder_cosine[r]);
    row("cosine percentile", "%.2f %%", 100.0 * model->quantiles().fraction_at_or_below(t.decoder_cosine[r]));
    row("visual energy E_v", "%.4g", t.visual_energy[r]);
    row("log10 E_v", "%.3f", model->log_energy()[r]);
    ImGui::EndTable();
  }

  // Stage 3: the shift statistics of every feature, the candidates' topk / lexical metrics.
  const auto shift = state.snapshot->shift.status().state == DataState::kReady ? state.snapshot->shift.data() : nullptr;
  const int64_t srow = shift ? shift->find(layer, feature) : -1;
  if (ImGui::CollapsingHeader("Skill metrics (stage 3)", ImGuiTreeNodeFlags_DefaultOpen)) {
    if (srow < 0 && !d) {
      page_note(shift ? "no stage 3 statistics for this feature" : "no data: run stage 3, skill features (shift)");
    } else if (ImGui::BeginTable("skill_values", 2, ImGuiTableFlags_SizingStretchProp)) {
      const ShiftTable* s = srow >= 0 ? shift.get() : nullptr;
      page_value_row("p_base", page_metric(d, "p_base", s ? &s->p_base : nullptr, srow), "%.4g");
      page_value_row("p_skill (spatial)", page_metric(d, "p_skill", s ? &s->p_skill : nullptr, srow), "%.4g");
      page_value_row("delta_p", page_metric(d, "delta_p", s ? &s->delta_p : nullptr, srow), "%+.4g");
      page_value_row("odds ratio", page_metric(d, "odds_ratio", s ? &s->odds_ratio : nullptr, srow), "%.3f");
      if (s)
        for (const auto& [key, column] : s->other_skills) {
          if (d && d->metrics.count(key)) continue;  // shown with the detail's metrics below
          const float value = column[static_cast<size_t>(srow)];
          if (std::isfinite(value)) page_value_row(key.c_str(), value, "%.4g");
        }
      if (d)
        for (const auto& [key, value] : d->metrics) {
          if (key == "p_base" || key == "p_skill" || key == "delta_p" || key == "odds_ratio") continue;
          if (key == "visual_energy" || key == "decoder_cosine" || key == "adapted") continue;  // stage 2, above
          if (key.rfind("vsr_or:", 0) == 0) continue;  // the relation table
          page_value_row(key.c_str(), value, "%.4g");
        }
      ImGui::EndTable();
    }
  }

  if (ImGui::CollapsingHeader("Top activating samples", ImGuiTreeNodeFlags_DefaultOpen) &&
      page_results_ready(results_status)) {
    if (!d || d->top.empty()) {
      page_note("no top activations: run stage 3, skill features (topk)");
    } else {
      float patch_scale = 0, token_scale = 0;
      for (const TopActivation& a : d->top) {
        for (float v : a.patch_acts)
          if (std::isfinite(v)) patch_scale = std::max(patch_scale, v);
        for (float v : a.token_acts)
          if (std::isfinite(v)) token_scale = std::max(token_scale, v);
      }
      if (d->has_description)
        for (const TokenExample& e : d->description.examples)
          for (float v : e.activations)
            if (std::isfinite(v)) token_scale = std::max(token_scale, v);
      for (const TokenExample& e : d->top_text)
        for (float v : e.activations)
          if (std::isfinite(v)) token_scale = std::max(token_scale, v);
      std::string positions_reason;
      for (size_t i = 0; i < d->top.size(); ++i) {
        const TopActivation& a = d->top[i];
        // The words: the autointerp stage's example, else the ones resolved from the run's
        // data (ui/top_text.h), else the token positions, numbered.
        const TokenExample* text = nullptr;
        const char* source = "positions";
        if (d->has_description)
          for (const TokenExample& e : d->description.examples)
            if (e.sample_id == a.sample_id && !e.tokens.empty()) {
              text = &e;
              source = "autointerp";
            }
        const TokenExample* resolved = i < d->top_text.size() ? &d->top_text[i] : nullptr;
        if (!text && resolved && !resolved->tokens.empty()) {
          text = resolved;
          source = "data";
        }
        std::string why;  // why this sample's positions are numbered
        if (!text && !a.token_acts.empty()) {
          if (resolved && !resolved->error.empty())
            why = resolved->error;
          else if (!results->top_text_error.empty())
            why = results->top_text_error;
          else if (results->top_text_pending)
            why = "the question words are still being read from the run's data";
          else
            why = "the run's data gave no words for this sample";
          if (positions_reason.empty()) positions_reason = why;
        }
        report.sample_sources.push_back(source);
        ImGui::PushID(a.rank);
        ImGui::TextDisabled("#%d  %s %s  max %.3g", a.rank, a.dataset.c_str(), a.sample_id.c_str(), a.max_activation);
        if (!why.empty() && ImGui::IsItemHovered()) ImGui::SetTooltip("numbers are token positions: %s", why.c_str());
        if (!a.patch_acts.empty()) {
          page_patch_grid(a.patch_acts, patch_scale, state.colormap, 56);
          ImGui::SameLine();
        }
        ImGui::BeginGroup();
        if (text) {
          page_token_highlights(text->tokens, text->activations, token_scale, report.tokens);
        } else if (!a.token_acts.empty()) {
          std::vector<std::string> positions;
          for (size_t k = 0; k < a.token_acts.size(); ++k) positions.push_back(" " + std::to_string(k) + " ");
          page_token_highlights(positions, a.token_acts, token_scale, report.tokens);
        }
        ImGui::EndGroup();
        ImGui::PopID();
      }
      if (!positions_reason.empty()) {
        report.positions_reason = positions_reason;
        ImGui::TextDisabled("numbers are token positions (hover for why)");
        if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", positions_reason.c_str());
      }
    }
  }
  if (ImGui::CollapsingHeader("Relation association", ImGuiTreeNodeFlags_DefaultOpen) &&
      page_results_ready(results_status)) {
    if (!d || d->relations.empty()) {
      page_note("no vsr_or:<relation> values: run stage 3, skill features (topk)");
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
  if (ImGui::CollapsingHeader("Head attribution (A / B)", ImGuiTreeNodeFlags_DefaultOpen) &&
      page_results_ready(results_status)) {
    if (!d || d->heads.empty()) {
      page_note("no head scores: run stage 4, attribution patching");
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
        if (a.layer == layer && a.feature == feature) ablation = &a;
    if (!ablation) {
      page_note("not ablated: run stage 5, ablation (it ablates selection 'spatial')");
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
