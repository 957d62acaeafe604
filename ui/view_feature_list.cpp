// The left pane: every feature, filtered by a search ("12:345" = layer 12 feature 345,
// "L12" = layer 12, "345" = feature 345 of any layer) and a category (A under the live
// thresholds, candidates, spatial, analysed, the box selection). Long lists are drawn
// with ImGuiListClipper; the filter is recomputed only when its inputs change.
#include <imgui.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ui/views.h"

namespace sightline::ui {

namespace {

enum Category { kAll, kAdapted, kCandidates, kSpatial, kAnalysed, kBox };
const char* kCategoryNames[] = {"all features", "adapted set A", "spatial candidates", "spatial features",
                                "analysed", "box selection"};

struct Query {
  int layer = -1;    // -1 = any
  int feature = -1;  // -1 = any
  bool valid = true;
};

bool parse_int(const std::string& s, int* out) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  *out = std::atoi(s.c_str());
  return true;
}

Query parse_query(std::string text) {
  Query q;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.erase(text.begin());
  if (text.empty()) return q;
  const size_t colon = text.find(':');
  if (colon != std::string::npos) {
    std::string l = text.substr(0, colon);
    if (!l.empty() && (l[0] == 'L' || l[0] == 'l')) l = l.substr(1);
    q.valid = parse_int(l, &q.layer) && parse_int(text.substr(colon + 1), &q.feature);
  } else if (text[0] == 'L' || text[0] == 'l') {
    q.valid = parse_int(text.substr(1), &q.layer);
  } else {
    q.valid = parse_int(text, &q.feature);
  }
  return q;
}

struct ListCache {
  uint64_t model_serial = 0, box_version = ~0ull;
  std::string query;
  int category = -1;
  double eps = -1, p_cos = -1;
  std::vector<uint32_t> rows;
};

}  // namespace

void draw_feature_list(AppState& state) {
  static char search[64] = "";
  static int category = kAll;
  static ListCache cache;
  static uint64_t seen_selection = 0, seen_box = 0;

  // A new box selection in the scatter brings its list forward.
  if (state.box_version != seen_box) {
    seen_box = state.box_version;
    if (!state.box_rows.empty()) category = kBox;
  }
  ImGui::TextUnformatted("Features");
  ImGui::SetNextItemWidth(-1);
  ImGui::InputTextWithHint("##search", "search: 12:345, L12 or 345", search, sizeof(search));
  ImGui::SetNextItemWidth(-1);
  ImGui::Combo("##category", &category, kCategoryNames, IM_ARRAYSIZE(kCategoryNames));
  if (!draw_data_status(state.scatter.status(), "Features")) return;
  const auto model = state.model();
  const FeatureTable& table = model->table();

  const Query query = parse_query(search);
  const bool stale = cache.model_serial != model->serial() || cache.query != search || cache.category != category ||
                     (category == kBox && cache.box_version != state.box_version) ||
                     (category == kAdapted && (cache.eps != state.thresholds.eps || cache.p_cos != state.thresholds.p_cos));
  if (stale) {
    cache.model_serial = model->serial();
    cache.query = search;
    cache.category = category;
    cache.box_version = state.box_version;
    cache.eps = state.thresholds.eps;
    cache.p_cos = state.thresholds.p_cos;
    cache.rows.clear();
    const double cthr = state.cosine_threshold();
    auto keep = [&](size_t i) {
      if (query.layer >= 0 && table.layer[i] != query.layer) return false;
      if (query.feature >= 0 && table.feature[i] != query.feature) return false;
      switch (category) {
        case kAdapted:
          return is_adapted(table.visual_energy[i], table.decoder_cosine[i], state.thresholds.eps, cthr);
        case kCandidates:
          return (table.flags[i] & kFlagSpatialCandidate) != 0;
        case kSpatial:
          return (table.flags[i] & kFlagSpatialFeature) != 0;
        case kAnalysed:
          return (table.flags[i] & kFlagAnalysed) != 0;
        default:
          return true;
      }
    };
    if (query.valid) {
      if (category == kBox) {
        for (uint32_t row : state.box_rows)
          if (keep(row)) cache.rows.push_back(row);
      } else {
        for (size_t i = 0; i < table.size(); ++i)
          if (keep(i)) cache.rows.push_back(static_cast<uint32_t>(i));
      }
    }
  }
  if (!query.valid) ImGui::TextColored(ImVec4(1, 0.5f, 0.4f, 1), "search: use 12:345, L12 or 345");
  ImGui::TextDisabled("%zu shown", cache.rows.size());

  // Scroll to a selection made elsewhere (scatter click, --select).
  int scroll_to = -1;
  if (seen_selection != state.selection_version) {
    seen_selection = state.selection_version;
    for (size_t i = 0; i < cache.rows.size(); ++i)
      if (static_cast<int64_t>(cache.rows[i]) == state.selected) scroll_to = static_cast<int>(i);
  }
  const ImGuiTableFlags flags = ImGuiTableFlags_ScrollY | ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV |
                                ImGuiTableFlags_SizingStretchProp;
  if (ImGui::BeginTable("feature_table", 4, flags)) {
    ImGui::TableSetupScrollFreeze(0, 1);
    ImGui::TableSetupColumn("layer");
    ImGui::TableSetupColumn("feature");
    ImGui::TableSetupColumn("c_f");
    ImGui::TableSetupColumn("E_v");
    ImGui::TableHeadersRow();
    const float row_height = ImGui::GetTextLineHeightWithSpacing();
    if (scroll_to >= 0) ImGui::SetScrollY(scroll_to * row_height);
    ImGuiListClipper clipper;
    clipper.Begin(static_cast<int>(cache.rows.size()), row_height);
    while (clipper.Step()) {
      for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) {
        const uint32_t row = cache.rows[i];
        ImGui::TableNextRow();
        ImGui::TableSetColumnIndex(0);
        char label[32];
        std::snprintf(label, sizeof(label), "%d##%u", table.layer[row], row);
        if (ImGui::Selectable(label, static_cast<int64_t>(row) == state.selected, ImGuiSelectableFlags_SpanAllColumns))
          state.select(row);
        ImGui::TableSetColumnIndex(1);
        ImGui::Text("%d", table.feature[row]);
        ImGui::TableSetColumnIndex(2);
        ImGui::Text("%.4f", table.decoder_cosine[row]);
        ImGui::TableSetColumnIndex(3);
        ImGui::Text("%.2e", table.visual_energy[row]);
      }
    }
    ImGui::EndTable();
  }
}

}  // namespace sightline::ui
