// The log pane: the last lines of the process log (spdlog), coloured by level, with a
// filter; follows the end unless the user scrolled up.
#include <imgui.h>

#include <string>

#include "ui/views.h"

namespace sightline::ui {

void draw_log_pane(AppState& state) {
  static char filter[64] = "";
  static uint64_t seen = 0;
  ImGui::TextUnformatted("Log");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(180);
  ImGui::InputTextWithHint("##filter", "filter", filter, sizeof(filter));
  ImGui::SameLine();
  if (ImGui::SmallButton("clear") && state.log) state.log->clear();
  ImGui::Separator();
  ImGui::BeginChild("log_scroll", ImVec2(0, 0), false, ImGuiWindowFlags_HorizontalScrollbar);
  if (state.log) {
    const uint64_t version = state.log->version();
    const bool follow = ImGui::GetScrollY() >= ImGui::GetScrollMaxY() - 1;
    for (const LogLine& line : state.log->lines()) {
      if (filter[0] && line.text.find(filter) == std::string::npos) continue;
      ImVec4 color = ImGui::GetStyle().Colors[ImGuiCol_Text];
      if (line.level >= spdlog::level::err)
        color = ImVec4(1, 0.45f, 0.4f, 1);
      else if (line.level == spdlog::level::warn)
        color = ImVec4(1, 0.8f, 0.3f, 1);
      else if (line.level <= spdlog::level::debug)
        color = ImGui::GetStyle().Colors[ImGuiCol_TextDisabled];
      ImGui::TextColored(color, "%s", line.text.c_str());
    }
    if (version != seen && follow) ImGui::SetScrollHereY(1.0f);
    seen = version;
  }
  ImGui::EndChild();
}

}  // namespace sightline::ui
