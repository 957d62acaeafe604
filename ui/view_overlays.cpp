// Overlays (paper Fig. 4, 15, 16): the attention of a chosen head from a chosen query
// position onto the image patches, drawn over the image by shaders/overlay.frag.glsl;
// beside it the selected feature's top heads by attribution score and its bottom heads
// as the control (or every head of the layer when no feature with head scores is
// selected). The attention is computed live by the world's VLM (LiveViews).
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "ui/live_widgets.h"
#include "ui/plot/plot.h"
#include "ui/views.h"

namespace sightline::ui {

namespace {

struct OverlayThumb {
  std::string role;
  int layer = 0, head = 0;
  double score = 0;
};

// The selected feature's heads of the heads view's method (else any method it has),
// ranked by |score| and restricted to heads the live model has.
std::vector<HeadScore> overlays_feature_heads(AppState& state, const LiveSession& session, std::string* method) {
  const auto model = state.model();
  const auto results = state.snapshot->results.data();
  if (!model || !results || state.selected < 0 || state.selected >= static_cast<int64_t>(model->table().size()))
    return {};
  const FeatureTable& t = model->table();
  const FeatureDetail* detail = results->find(t.layer[state.selected], t.feature[state.selected]);
  if (!detail) return {};
  const std::vector<HeadScore>* found = nullptr;
  for (const std::string& m : {state.heads_method, std::string("A"), std::string("B"), std::string("exact")}) {
    const auto it = detail->heads.find(m);
    if (it == detail->heads.end() || it->second.empty()) continue;
    found = &it->second;
    *method = m;
    break;
  }
  if (!found) return {};
  std::vector<HeadScore> in_model;
  for (const HeadScore& h : *found)
    if (h.head_layer >= 0 && h.head_layer < session.num_layers() && h.head >= 0 && h.head < session.num_heads())
      in_model.push_back(h);
  return rank_heads(in_model);
}

void overlays_token_strip(LiveViews& live) {
  const auto& tokens = live.prompt_tokens();
  if (tokens.empty()) return;
  const int64_t marker = live.image_marker();
  ImGui::AlignTextToFramePadding();
  ImGui::TextUnformatted("Query");
  ImGui::SameLine();
  if (ImGui::RadioButton("last token", live.rows == AttentionRows::kLast)) live.rows = AttentionRows::kLast;
  ImGui::SameLine();
  if (ImGui::RadioButton("mean of question", live.rows == AttentionRows::kMeanText)) live.rows = AttentionRows::kMeanText;
  ImGui::SameLine();
  ImGui::TextDisabled("|");
  const float right = ImGui::GetWindowContentRegionMax().x;
  const ImVec4 chosen = ImGui::GetStyle().Colors[ImGuiCol_ButtonActive];
  ImGui::PushStyleVar(ImGuiStyleVar_ItemSpacing, ImVec2(3, 3));
  for (size_t i = 0; i < tokens.size(); ++i) {
    const auto index = static_cast<int64_t>(i);
    const bool after_image = marker >= 0 && index > marker;
    const bool is_query = after_image && ((live.rows == AttentionRows::kToken && live.token == index) ||
                                          (live.rows == AttentionRows::kLast && index + 1 == static_cast<int64_t>(tokens.size())) ||
                                          live.rows == AttentionRows::kMeanText);
    const std::string label = tokens[i] + "##tok" + std::to_string(i);
    const float w = ImGui::CalcTextSize(tokens[i].c_str()).x + ImGui::GetStyle().FramePadding.x * 2;
    if (ImGui::GetItemRectMax().x + 3 + w < ImGui::GetWindowPos().x + right)
      ImGui::SameLine();
    if (is_query) ImGui::PushStyleColor(ImGuiCol_Button, chosen);
    ImGui::BeginDisabled(!after_image);
    if (ImGui::SmallButton(label.c_str())) {
      live.rows = AttentionRows::kToken;
      live.token = index;
    }
    ImGui::EndDisabled();
    if (is_query) ImGui::PopStyleColor();
    if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
      ImGui::SetTooltip(after_image ? "prompt position %zu: show the attention from this token"
                                    : "prompt position %zu (before the image: it cannot attend to the image)",
                        i);
  }
  ImGui::PopStyleVar();
}

void overlays_controls(LiveViews& live, const LiveSession& session) {
  ImGui::AlignTextToFramePadding();
  ImGui::TextUnformatted("Head");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(110);
  if (ImGui::SliderInt("##layer", &live.layer, 0, std::max(0, session.num_layers() - 1), "layer %d"))
    live.head_pinned = true;
  ImGui::SameLine();
  ImGui::SetNextItemWidth(110);
  if (ImGui::SliderInt("##head", &live.head, 0, std::max(0, session.num_heads() - 1), "head %d"))
    live.head_pinned = true;
  ImGui::SameLine();
  ImGui::SetNextItemWidth(110);
  ImGui::SliderFloat("##alpha", &live.style.alpha, 0.0f, 1.0f, "alpha %.2f");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(100);
  if (ImGui::BeginCombo("##overlay_colormap", plot::colormap_name(live.style.colormap))) {
    for (int i = 0; i < plot::kColormapCount; ++i) {
      const auto map = static_cast<plot::Colormap>(i);
      if (plot::colormap_is_diverging(map)) continue;
      if (ImGui::Selectable(plot::colormap_name(map), map == live.style.colormap)) live.style.colormap = map;
    }
    ImGui::EndCombo();
  }
  ImGui::SameLine();
  ImGui::SetNextItemWidth(170);
  if (ImGui::BeginCombo("##overlay_scale", to_label(live.style.scale))) {
    for (OverlayScale s : {OverlayScale::kPerMap, OverlayScale::kShared, OverlayScale::kUnit})
      if (ImGui::Selectable(to_label(s), s == live.style.scale)) live.style.scale = s;
    ImGui::EndCombo();
  }
  ImGui::SameLine();
  ImGui::Checkbox("smooth", &live.style.smooth);
  ImGui::SameLine();
  ImGui::Checkbox("fade cold", &live.style.weighted);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("scale the overlay's opacity by the attention: cold patches show the image");
}

}  // namespace

void draw_overlays_view(AppState& state) {
  LiveReport& report = state.live_report;
  report.overlays_drawn = false;
  report.panels.clear();
  LiveViews& live = live_views_of(state);
  live.update(state.tasks);
  if (!draw_live_status(state, live, "Overlays")) return;
  const auto session = live.session();
  report.overlays_drawn = true;

  // Follow the selection: its strongest head becomes the main one (unless the user or
  // --head chose a head).
  std::string method;
  const std::vector<HeadScore> ranked = overlays_feature_heads(state, *session, &method);
  if (live.head_selection_version != state.selection_version) {
    live.head_selection_version = state.selection_version;
    if (!live.head_pinned && !ranked.empty()) {
      live.layer = ranked.front().head_layer;
      live.head = ranked.front().head;
    }
  }

  draw_image_picker(live);
  draw_question_box(live, ImGui::GetContentRegionAvail().x);
  draw_answer_line(live);
  overlays_token_strip(live);
  overlays_controls(live, *session);
  ImGui::Separator();

  const auto result = live.result();
  const int grid = session->grid();
  const int64_t marker = live.image_marker();
  const int64_t row = live.rows == AttentionRows::kToken ? live.token - marker - 1 : -1;
  auto map_of = [&](int layer, int head) {
    return result ? attention_map(*result, grid, layer, head, live.rows, row) : AttentionMap{};
  };

  // The thumbnails: the feature's top and bottom heads, or every head of the layer.
  std::vector<OverlayThumb> thumbs;
  const size_t k = std::min<size_t>(4, ranked.size() / 2);
  for (size_t i = 0; i < k; ++i) thumbs.push_back({"top", ranked[i].head_layer, ranked[i].head, ranked[i].score});
  for (size_t i = 0; i < k; ++i) {
    const HeadScore& h = ranked[ranked.size() - 1 - i];
    thumbs.push_back({"bottom", h.head_layer, h.head, h.score});
  }
  if (thumbs.empty())
    for (int h = 0; h < std::min(session->num_heads(), 16); ++h) thumbs.push_back({"layer", live.layer, h, 0});

  const AttentionMap main = map_of(live.layer, live.head);
  std::vector<AttentionMap> thumb_maps;
  float shared_max = main.max;
  for (const OverlayThumb& t : thumbs) {
    thumb_maps.push_back(map_of(t.layer, t.head));
    shared_max = std::max(shared_max, thumb_maps.back().max);
  }

  // Layout: the main overlay (square) with its colour bar, the thumbnails to the right.
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float line = ImGui::GetTextLineHeightWithSpacing();
  const float colorbar_width = 80;
  const float side = std::max(120.0f, std::min(avail.y - 2 * line - 8, avail.x * 0.5f - colorbar_width));
  ImGui::BeginGroup();
  ImGui::Text("L%d H%d, %s", live.layer, live.head, to_label(live.rows));
  if (live.rows == AttentionRows::kToken && live.token >= 0 &&
      live.token < static_cast<int64_t>(live.prompt_tokens().size())) {
    ImGui::SameLine();
    ImGui::TextDisabled("'%s'", live.prompt_tokens()[static_cast<size_t>(live.token)].c_str());
  }
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  const ImVec2 p1(p0.x + side, p0.y + side);
  const auto range = overlay_range(main, live.style.scale, shared_max);
  draw_overlay_image(state, live, p0, p1, main,
                     range, result ? overlay_key(result->id, live.layer, live.head, live.rows, row) : 0);
  ImGui::InvisibleButton("##main_overlay", ImVec2(side, side));
  if (main.grid > 0 && ImGui::IsItemHovered()) {
    const ImVec2 m = ImGui::GetIO().MousePos;
    const int c = std::clamp(static_cast<int>((m.x - p0.x) / side * main.grid), 0, main.grid - 1);
    const int r = std::clamp(static_cast<int>((m.y - p0.y) / side * main.grid), 0, main.grid - 1);
    ImGui::SetTooltip("patch (row %d, col %d)\nattention %.4f", r, c,
                      static_cast<double>(main.values[static_cast<size_t>(r * main.grid + c)]));
  }
  if (main.grid > 0) {
    report.panels.push_back({"main", live.layer, live.head, main.grid, 0, {p0.x, p0.y, p1.x, p1.y}, range.first,
                             range.second, main.values});
    ImGui::Text("on the image: %.3f of the attention; hottest patch (row %d, col %d)", main.image_mass,
                main.argmax / main.grid, main.argmax % main.grid);
  } else if (!result) {
    ImGui::TextDisabled("computing the attention...");
  } else if (grid == 0) {
    ImGui::TextDisabled("the image tokens (%lld) do not form a square grid", static_cast<long long>(session->image_tokens()));
  } else {
    ImGui::TextDisabled("no query position after the image in this prompt");
  }
  ImGui::EndGroup();
  ImGui::SameLine();
  plot::colorbar("overlay_colorbar", {live.style.colormap, {range.first, range.second}, ImVec2(colorbar_width - 8, side), ""});
  ImGui::SameLine();

  // Thumbnails, in rows of up to four per role.
  ImGui::BeginGroup();
  const float right_width = ImGui::GetContentRegionAvail().x;
  const int per_row = static_cast<int>(std::min<size_t>(4, std::max<size_t>(1, k > 0 ? k : thumbs.size())));
  const int rows_needed = static_cast<int>((thumbs.size() + per_row - 1) / per_row);
  const float label_h = 2 * line;
  const float thumb = std::max(
      48.0f, std::min((right_width - 8.0f * per_row) / per_row, (avail.y - rows_needed * (label_h + line)) / rows_needed));
  std::string section;
  int in_row = 0;
  for (size_t i = 0; i < thumbs.size(); ++i) {
    const OverlayThumb& t = thumbs[i];
    if (t.role != section) {
      section = t.role;
      in_row = 0;
      char title[160];
      if (t.role == "top")
        std::snprintf(title, sizeof(title), "Top heads of %s (method %s, |score|)",
                      feature_name(state.model()->table(), state.selected).c_str(), method.c_str());
      else if (t.role == "bottom")
        std::snprintf(title, sizeof(title), "Bottom heads (control)");
      else
        std::snprintf(title, sizeof(title), "All heads of layer %d", live.layer);
      ImGui::TextUnformatted(title);
    } else if (in_row % per_row != 0) {
      ImGui::SameLine();
    }
    ++in_row;
    const AttentionMap& m = thumb_maps[i];
    ImGui::BeginGroup();
    const ImVec2 a = ImGui::GetCursorScreenPos();
    const ImVec2 b(a.x + thumb, a.y + thumb);
    const auto r = overlay_range(m, live.style.scale, shared_max);
    draw_overlay_image(state, live, a, b, m, r, result ? overlay_key(result->id, t.layer, t.head, live.rows, row) : 0);
    const std::string id = "##thumb" + std::to_string(i);
    if (ImGui::InvisibleButton(id.c_str(), ImVec2(thumb, thumb))) {
      live.layer = t.layer;
      live.head = t.head;
      live.head_pinned = true;
    }
    const bool current = t.layer == live.layer && t.head == live.head;
    ImGui::GetWindowDrawList()->AddRect(a, b, current ? IM_COL32(255, 210, 80, 255) : IM_COL32(90, 96, 110, 255), 0,
                                        0, current ? 2.0f : 1.0f);
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("click: show L%d H%d large", t.layer, t.head);
    if (t.role == "layer")
      ImGui::Text("L%d H%d", t.layer, t.head);
    else
      ImGui::Text("L%d H%d  %+.3g", t.layer, t.head, t.score);
    if (m.grid > 0) {
      ImGui::SameLine();
      ImGui::TextDisabled("img %.2f", m.image_mass);
      report.panels.push_back({t.role, t.layer, t.head, m.grid, t.score, {a.x, a.y, b.x, b.y}, r.first, r.second,
                               m.values});
    }
    ImGui::EndGroup();
  }
  if (k == 0) {
    ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + right_width);
    ImGui::TextDisabled("Select a feature with head scores (stage 4) to compare its top heads with its bottom heads.");
    ImGui::PopTextWrapPos();
  }
  ImGui::EndGroup();

  // The sidecar's account of what is shown.
  const auto image = live.image();
  report.statement = image ? image->statement : -1;
  report.image = image ? image->label : "";
  report.question = live.question();
  report.prompt = live.prompt();
  report.rows = live.rows == AttentionRows::kLast ? "last" : live.rows == AttentionRows::kMeanText ? "mean" : "token";
  report.query_row = result && result->attention.defined()
                         ? (live.rows == AttentionRows::kLast ? result->attention.queries - 1 : row)
                         : -1;
  report.alpha = live.style.alpha;
  report.colormap = plot::colormap_name(live.style.colormap);
  report.has_answer = result != nullptr;
  if (result) {
    report.p_yes = result->baseline.p_yes;
    report.p_yes_intervened = result->intervened.p_yes;
    report.answer = result->baseline.answer_text;
    report.answer_intervened = result->intervened.answer_text;
  }
}

}  // namespace sightline::ui
