// Helpers shared by the view files.
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "ui/views.h"

namespace sightline::ui {

bool draw_data_status(const DataStatus& status, const char* what) {
  if (status.state == DataState::kReady) return true;
  char line[512];
  ImVec4 color = ImGui::GetStyle().Colors[ImGuiCol_Text];
  switch (status.state) {
    case DataState::kComputing:
      std::snprintf(line, sizeof(line), "%s: computing... %s", what, status.message.c_str());
      break;
    case DataState::kMissing:
      std::snprintf(line, sizeof(line), "%s: no data: %s", what, status.message.c_str());
      color = ImGui::GetStyle().Colors[ImGuiCol_TextDisabled];
      break;
    case DataState::kFailed:
      std::snprintf(line, sizeof(line), "%s: failed: %s", what, status.message.c_str());
      color = ImVec4(1.0f, 0.45f, 0.4f, 1.0f);
      break;
    case DataState::kReady:
      break;
  }
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float wrap = std::max(200.0f, avail.x - 40);
  const ImVec2 size = ImGui::CalcTextSize(line, nullptr, false, wrap);
  ImGui::SetCursorPos(ImVec2(ImGui::GetCursorPosX() + std::max(0.0f, (avail.x - size.x) / 2),
                             ImGui::GetCursorPosY() + std::max(0.0f, avail.y / 2 - size.y)));
  ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + wrap);
  ImGui::TextColored(color, "%s", line);
  ImGui::PopTextWrapPos();
  if (status.state == DataState::kComputing) {
    ImGui::SetCursorPosX(ImGui::GetCursorPosX() + std::max(0.0f, (avail.x - 300) / 2));
    if (status.progress >= 0)
      ImGui::ProgressBar(static_cast<float>(status.progress), ImVec2(300, 0));
    else
      ImGui::ProgressBar(static_cast<float>(std::fmod(ImGui::GetTime() * 0.5, 1.0)), ImVec2(300, 0), "working");
  }
  return false;
}

std::string feature_name(const FeatureTable& table, int64_t row) {
  if (row < 0 || row >= static_cast<int64_t>(table.size())) return "(none)";
  return "L" + std::to_string(table.layer[row]) + " #" + std::to_string(table.feature[row]);
}

}  // namespace sightline::ui
