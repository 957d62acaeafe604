// The jobs pane: running and finished tasks with progress bars and cancel, and the state
// of every published data slot (Tracy's loading stages, polled each frame).
#include <imgui.h>

#include <cstdio>

#include "ui/views.h"

namespace sightline::ui {

namespace {

const char* state_name(TaskState s) {
  switch (s) {
    case TaskState::kRunning:
      return "running";
    case TaskState::kDone:
      return "done";
    case TaskState::kFailed:
      return "failed";
    case TaskState::kCancelled:
      return "cancelled";
  }
  return "";
}

void slot_row(const char* name, const DataStatus& s) {
  ImGui::TableNextRow();
  ImGui::TableSetColumnIndex(0);
  ImGui::TextUnformatted(name);
  ImGui::TableSetColumnIndex(1);
  switch (s.state) {
    case DataState::kReady:
      ImGui::TextColored(ImVec4(0.5f, 0.9f, 0.5f, 1), "ready");
      break;
    case DataState::kComputing:
      ImGui::TextWrapped("computing... %s", s.message.c_str());
      break;
    case DataState::kMissing:
      ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyle().Colors[ImGuiCol_TextDisabled]);
      ImGui::TextWrapped("no data: %s", s.message.c_str());
      ImGui::PopStyleColor();
      break;
    case DataState::kFailed:
      ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1, 0.45f, 0.4f, 1));
      ImGui::TextWrapped("failed: %s", s.message.c_str());
      ImGui::PopStyleColor();
      break;
  }
}

}  // namespace

void draw_jobs_pane(AppState& state) {
  ImGui::TextUnformatted("Jobs");
  ImGui::SameLine();
  if (ImGui::SmallButton("clear finished")) state.tasks.clear_finished();
  ImGui::Separator();
  ImGui::BeginChild("jobs_scroll");
  const auto tasks = state.tasks.tasks();
  if (tasks.empty()) ImGui::TextDisabled("no jobs");
  for (const TaskView& t : tasks) {
    ImGui::PushID(static_cast<int>(t.id));
    ImGui::Text("%s", t.name.c_str());
    ImGui::SameLine(200);
    if (t.state == TaskState::kRunning) {
      char overlay[96];
      std::snprintf(overlay, sizeof(overlay), "%s  %.1f s", t.label.c_str(), t.seconds);
      ImGui::ProgressBar(t.fraction >= 0 ? static_cast<float>(t.fraction) : 0.0f, ImVec2(-70, 0), overlay);
      ImGui::SameLine();
      if (ImGui::SmallButton("cancel")) state.tasks.cancel(t.id);
    } else if (t.state == TaskState::kFailed) {
      ImGui::TextColored(ImVec4(1, 0.45f, 0.4f, 1), "failed after %.2f s: %s", t.seconds, t.error.c_str());
    } else {
      ImGui::TextDisabled("%s in %.2f s", state_name(t.state), t.seconds);
    }
    ImGui::PopID();
  }
  ImGui::Spacing();
  if (ImGui::BeginTable("slots", 2)) {
    ImGui::TableSetupColumn("slot", ImGuiTableColumnFlags_WidthFixed, ImGui::CalcTextSize("scatter index  ").x);
    ImGui::TableSetupColumn("state", ImGuiTableColumnFlags_WidthStretch);
    slot_row("feature table", state.snapshot->features.status());
    slot_row("scatter index", state.scatter.status());
    slot_row("curves", state.snapshot->curves.status());
    slot_row("heat maps", state.snapshot->heat_maps.status());
    slot_row("skills, heads, ablation", state.snapshot->results.status());
    slot_row("shift stats", state.snapshot->shift.status());
    slot_row("bookmarks", state.snapshot->bookmarks.status());
    ImGui::EndTable();
  }
  ImGui::EndChild();
}

}  // namespace sightline::ui
