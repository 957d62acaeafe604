// The left pane, two tabs. Features: every feature, filtered by the search box
// (ui/search.h: "12:345" jumps to a feature, "L12" = a layer, "345" = that index in every
// layer, words of an autointerp description, "rel:left of" = the strongest features of a
// VSR relation) and a category (A under the live thresholds, candidates, spatial,
// analysed, the box selection). Bookmarks: ui/view_bookmarks.cpp. The rows shown become
// the set J / K step through. Long lists are drawn with ImGuiListClipper; the filter is
// recomputed only when its inputs change.
#include <imgui.h>

#include <cstdio>
#include <string>
#include <vector>

#include "ui/search.h"
#include "ui/views.h"

namespace sightline::ui {

namespace {

enum Category { kAll, kAdapted, kCandidates, kSpatial, kAnalysed, kBox };
const char* kCategoryNames[] = {"all features", "adapted set A", "spatial candidates", "spatial features",
                                "analysed", "box selection"};

struct ListCache {
  uint64_t model_serial = 0, box_version = ~0ull, results_version = ~0ull;
  std::string text;
  int category = -1;
  double eps = -1, p_cos = -1;
  SearchQuery query;
  std::vector<uint32_t> rows;
  std::vector<double> scores;  // per shown row: the search score (description match or OR)
  int64_t feature_row = -1;    // kFeature: the feature's row, shown or filtered out by the category
  uint64_t serial = 0;         // bumped on every recompute
};

// The relation names of the published results, recomputed when they change.
const std::vector<std::string>& list_relations(const RunResults* results, uint64_t version) {
  static uint64_t seen = ~0ull;
  static std::vector<std::string> names;
  if (seen != version) {
    seen = version;
    names = results ? relation_names(*results) : std::vector<std::string>{};
  }
  return names;
}

std::string list_nav_name(const ListCache& cache) {
  const std::string category = kCategoryNames[cache.category];
  if (cache.query.kind == SearchKind::kAll) return category;
  return describe_query(cache.query) + (cache.category == kAll ? "" : " (" + category + ")");
}

void draw_feature_search(AppState& state, bool tab_appeared) {
  static char search[128] = "";
  static int category = kAll;
  static ListCache cache;
  static uint64_t seen_selection = 0, seen_box = 0, published_serial = 0;

  // A new box selection in the scatter brings its list forward.
  if (state.box_version != seen_box) {
    seen_box = state.box_version;
    if (!state.box_rows.empty()) category = kBox;
  }
  ImGui::SetNextItemWidth(-1);
  ImGui::InputTextWithHint("##search", "12:345, L12, words, rel:left of", search, sizeof(search));
  const bool enter = ImGui::IsItemFocused() && ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Enter), false);
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip(
        "12:345 or L12:345  jump to layer 12, feature 345\nL12  layer 12\n345  feature 345 of every layer\n"
        "words  autointerp descriptions holding every word, best first\nrel:left of  (or a relation name) the "
        "features most associated with a VSR relation\ndesc:words  description search even for a relation name\n"
        "Enter selects the first result; J / K step through the list");
  ImGui::SetNextItemWidth(-1);
  ImGui::Combo("##category", &category, kCategoryNames, IM_ARRAYSIZE(kCategoryNames));
  if (!draw_data_status(state.scatter.status(), "Features")) return;
  const auto model = state.model();
  const FeatureTable& table = model->table();
  const auto results = state.snapshot->results.status().state == DataState::kReady ? state.snapshot->results.data()
                                                                                     : nullptr;
  const uint64_t results_version = results ? state.snapshot->results.version() : 0;

  const bool stale = cache.model_serial != model->serial() || cache.text != search || cache.category != category ||
                     cache.results_version != results_version ||
                     (category == kBox && cache.box_version != state.box_version) ||
                     (category == kAdapted && (cache.eps != state.thresholds.eps || cache.p_cos != state.thresholds.p_cos));
  if (stale) {
    const bool query_changed = cache.text != search || cache.model_serial != model->serial();
    cache.model_serial = model->serial();
    cache.text = search;
    cache.category = category;
    cache.box_version = state.box_version;
    cache.results_version = results_version;
    cache.eps = state.thresholds.eps;
    cache.p_cos = state.thresholds.p_cos;
    cache.query = parse_search(search, list_relations(results.get(), results_version));
    cache.rows.clear();
    cache.scores.clear();
    ++cache.serial;
    const double cthr = state.cosine_threshold();
    auto keep = [&](size_t i) {
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
    const RowIndex& index = state.find.row_index(table, model->serial());
    const std::vector<SearchHit> hits = run_search(cache.query, table, index, results.get());
    cache.feature_row =
        cache.query.kind == SearchKind::kFeature && !hits.empty() ? static_cast<int64_t>(hits[0].row) : int64_t{-1};
    if (category == kBox) {
      // The box's rows in their order, restricted to the search's hits (ranked searches
      // keep their ranking).
      std::vector<uint8_t> in_box(table.size(), 0);
      for (uint32_t row : state.box_rows)
        if (row < table.size()) in_box[row] = 1;
      for (const SearchHit& h : hits)
        if (in_box[h.row]) {
          cache.rows.push_back(h.row);
          cache.scores.push_back(h.score);
        }
    } else {
      for (const SearchHit& h : hits)
        if (keep(h.row)) {
          cache.rows.push_back(h.row);
          cache.scores.push_back(h.score);
        }
    }
    // "12:345" jumps to the feature as soon as it is typed, whatever the category shows.
    if (query_changed && cache.feature_row >= 0) state.select(cache.feature_row);
  }
  if (enter && !cache.rows.empty()) state.select(cache.rows[0]);
  // The shown rows are the set J / K step through while this tab is in front.
  if (published_serial != cache.serial || tab_appeared) {
    published_serial = cache.serial;
    state.find.nav.set(list_nav_name(cache), cache.rows);
  }

  const SearchKind kind = cache.query.kind;
  if (kind == SearchKind::kInvalid) {
    ImGui::PushTextWrapPos(0);
    ImGui::TextColored(ImVec4(1, 0.5f, 0.4f, 1), "%s", cache.query.error.c_str());
    ImGui::PopTextWrapPos();
  } else if ((kind == SearchKind::kWords || kind == SearchKind::kRelation) && !results) {
    ImGui::TextDisabled("no stage 3-5 results to search");
  } else if (kind == SearchKind::kFeature && cache.feature_row < 0) {
    ImGui::TextDisabled("no feature %d in layer %d", cache.query.feature, cache.query.layer);
  } else if (kind == SearchKind::kFeature && cache.rows.empty()) {
    ImGui::TextDisabled("selected; not in %s", kCategoryNames[category]);
  }
  ImGui::TextDisabled("%zu shown: %s", cache.rows.size(), describe_query(cache.query).c_str());

  // Scroll to a selection made elsewhere (scatter click, --select, J / K).
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
    ImGui::TableSetupColumn("layer", 0, 0.6f);
    ImGui::TableSetupColumn("feature", 0, 0.8f);
    if (kind == SearchKind::kWords) {
      ImGui::TableSetupColumn("score", 0, 0.6f);
      ImGui::TableSetupColumn("description", 0, 3.0f);
    } else if (kind == SearchKind::kRelation) {
      ImGui::TableSetupColumn("OR", 0, 0.8f);
      ImGui::TableSetupColumn("E_v", 0, 1.0f);
    } else {
      ImGui::TableSetupColumn("c_f", 0, 1.0f);
      ImGui::TableSetupColumn("E_v", 0, 1.0f);
    }
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
        if (ImGui::Selectable(label, static_cast<int64_t>(row) == state.selected, ImGuiSelectableFlags_SpanAllColumns)) {
          state.select(row);
          // Clicking here makes this list the navigation set again (after a bookmark list).
          state.find.nav.set(list_nav_name(cache), cache.rows);
        }
        ImGui::TableSetColumnIndex(1);
        ImGui::Text("%d", table.feature[row]);
        ImGui::TableSetColumnIndex(2);
        if (kind == SearchKind::kWords)
          ImGui::Text("%.0f", cache.scores[i]);
        else if (kind == SearchKind::kRelation)
          ImGui::Text("%.3g", cache.scores[i]);
        else
          ImGui::Text("%.4f", table.decoder_cosine[row]);
        ImGui::TableSetColumnIndex(3);
        if (kind == SearchKind::kWords) {
          const FeatureDetail* d = results ? results->find(table.layer[row], table.feature[row]) : nullptr;
          ImGui::TextUnformatted(d && d->has_description ? d->description.text.c_str() : "");
        } else {
          ImGui::Text("%.2e", table.visual_energy[row]);
        }
      }
    }
    ImGui::EndTable();
  }
}

}  // namespace

void draw_feature_list(AppState& state) {
  static bool features_shown = false;
  if (!ImGui::BeginTabBar("left_tabs")) return;
  bool shown_now = false;
  if (ImGui::BeginTabItem("Features")) {
    shown_now = true;
    draw_feature_search(state, !features_shown);
    ImGui::EndTabItem();
  }
  features_shown = shown_now;
  if (ImGui::BeginTabItem("Bookmarks")) {
    draw_bookmarks_panel(state);
    ImGui::EndTabItem();
  }
  ImGui::EndTabBar();
}

}  // namespace sightline::ui
