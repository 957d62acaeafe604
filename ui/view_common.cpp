// Helpers shared by the view files.
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

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

plot::PlotOptions heat_map_plot_options(const HeatMap& map, ImVec2 size) {
  plot::PlotOptions options;
  options.title = map.title;
  options.x.label = map.x_label;
  options.y.label = map.y_label;
  options.legend = false;
  options.size = size;
  options.has_initial_view = true;
  options.initial_view = {{0, static_cast<double>(map.cols)}, {0, static_cast<double>(map.rows)}};
  // Cells span [c, c + 1]: label them at their centres.
  const auto cell_ticks = [](int n, std::vector<plot::Tick>& ticks) {
    const int step = std::max(1, (n + 15) / 16);
    for (int c = 0; c < n; c += step) ticks.push_back({c + 0.5, std::to_string(c)});
  };
  cell_ticks(map.cols, options.x.ticks);
  cell_ticks(map.rows, options.y.ticks);
  return options;
}

}  // namespace sightline::ui
