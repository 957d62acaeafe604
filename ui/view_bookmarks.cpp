// The left pane's Bookmarks tab: the store's named feature lists (Store::bookmarks), one
// shown at a time with its features and notes; a click selects a feature and makes the
// list the set J / K step through; x deletes a bookmark (on a task: ui/find_loader.h).
#include <imgui.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "ui/find_loader.h"
#include "ui/views.h"

namespace sightline::ui {

namespace {

// The table rows of a list's features that the current table has, in list order.
std::vector<uint32_t> bookmark_rows(const std::vector<Bookmark>& list, const RowIndex& index) {
  std::vector<uint32_t> rows;
  for (const Bookmark& b : list) {
    const int64_t row = index.find(b.layer, b.feature);
    if (row >= 0) rows.push_back(static_cast<uint32_t>(row));
  }
  return rows;
}

}  // namespace

void draw_bookmarks_panel(AppState& state) {
  const DataStatus status = state.snapshot->bookmarks.status();
  if (status.state != DataState::kReady) {
    ImGui::PushTextWrapPos(0);
    ImGui::TextDisabled("%s %s", status.state == DataState::kComputing ? "reading..." :
                                 status.state == DataState::kFailed    ? "failed:" : "no bookmarks:",
                        status.message.c_str());
    ImGui::PopTextWrapPos();
    return;
  }
  const auto lists = state.snapshot->bookmarks.data();
  const std::vector<std::string> names = lists->names();
  if (names.empty()) {
    ImGui::PushTextWrapPos(0);
    ImGui::TextDisabled("No bookmarks yet: open a feature and click the star on its page to add it to a list.");
    ImGui::PopTextWrapPos();
    return;
  }
  std::string& open = state.find.bookmarks_open;
  if (std::find(names.begin(), names.end(), open) == names.end()) open = names.front();

  const auto model = state.model();
  const RowIndex* index = model ? &state.find.row_index(model->table(), model->serial()) : nullptr;
  ImGui::TextDisabled("lists");
  if (ImGui::BeginListBox("##lists", ImVec2(-1, std::min<float>(5.0f, static_cast<float>(names.size())) *
                                                    ImGui::GetTextLineHeightWithSpacing() + 6))) {
    for (const std::string& name : names) {
      const std::string label = name + "  (" + std::to_string(lists->list(name).size()) + ")";
      if (ImGui::Selectable(label.c_str(), name == open)) {
        open = name;
        if (index) state.find.nav.set("bookmarks '" + name + "'", bookmark_rows(lists->list(name), *index));
      }
    }
    ImGui::EndListBox();
  }
  const std::vector<Bookmark> list = lists->list(open);
  const std::string nav_name = "bookmarks '" + open + "'";
  if (index && ImGui::SmallButton("step through this list (J / K)"))
    state.find.nav.set(nav_name, bookmark_rows(list, *index));

  const ImGuiTableFlags flags = ImGuiTableFlags_ScrollY | ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV |
                                ImGuiTableFlags_SizingStretchProp;
  if (!ImGui::BeginTable("bookmark_table", 4, flags)) return;
  ImGui::TableSetupScrollFreeze(0, 1);
  ImGui::TableSetupColumn("layer", 0, 0.6f);
  ImGui::TableSetupColumn("feature", 0, 0.8f);
  ImGui::TableSetupColumn("note", 0, 2.5f);
  ImGui::TableSetupColumn("", ImGuiTableColumnFlags_WidthFixed, 18);
  ImGui::TableHeadersRow();
  int64_t delete_id = -1;
  for (const Bookmark& b : list) {
    ImGui::PushID(static_cast<int>(b.id));
    ImGui::TableNextRow();
    ImGui::TableSetColumnIndex(0);
    const int64_t row = index ? index->find(b.layer, b.feature) : -1;
    char label[32];
    std::snprintf(label, sizeof(label), "%d##bm", b.layer);
    if (row >= 0) {
      if (ImGui::Selectable(label, row == state.selected, ImGuiSelectableFlags_SpanAllColumns |
                                                            ImGuiSelectableFlags_AllowItemOverlap)) {
        state.select(row);
        if (state.find.nav.name != nav_name) state.find.nav.set(nav_name, bookmark_rows(list, *index));
      }
    } else {
      ImGui::TextDisabled("%d", b.layer);
    }
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("%s%s\nadded %s", row >= 0 ? "" : "not in this run's feature table\n", b.note.c_str(),
                        format_timestamp(b.created_at).c_str());
    ImGui::TableSetColumnIndex(1);
    ImGui::Text("%d", b.feature);
    ImGui::TableSetColumnIndex(2);
    ImGui::TextUnformatted(b.note.c_str());
    ImGui::TableSetColumnIndex(3);
    if (ImGui::SmallButton("x")) delete_id = b.id;
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("delete this bookmark");
    ImGui::PopID();
  }
  ImGui::EndTable();
  if (delete_id >= 0) start_bookmark_delete(state.tasks, state.snapshot, lists->path, delete_id);
}

}  // namespace sightline::ui
