#include "ui/layout.h"

#include <imgui.h>

#include <algorithm>

#include "ui/plot/colormap.h"
#include "ui/views.h"

namespace sightline::ui {

namespace {

constexpr float kSplitter = 6;  // pixels

// A bar that changes *size by the mouse drag along x (vertical bar) or y; sign = -1 when
// the pane grows in the opposite direction of the drag.
void splitter(const char* id, bool vertical, float length, float* size, float min_size, float max_size, float sign) {
  ImGui::InvisibleButton(id, vertical ? ImVec2(kSplitter, length) : ImVec2(length, kSplitter));
  const bool hovered = ImGui::IsItemHovered(), active = ImGui::IsItemActive();
  if (hovered || active) ImGui::SetMouseCursor(vertical ? ImGuiMouseCursor_ResizeEW : ImGuiMouseCursor_ResizeNS);
  if (active) {
    const ImVec2 delta = ImGui::GetIO().MouseDelta;
    *size += sign * (vertical ? delta.x : delta.y);
  }
  *size = std::clamp(*size, min_size, std::max(min_size, max_size));
  const ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
  ImGui::GetWindowDrawList()->AddRectFilled(
      a, b, ImGui::GetColorU32(active ? ImGuiCol_SeparatorActive : hovered ? ImGuiCol_SeparatorHovered : ImGuiCol_Separator,
                               active || hovered ? 1.0f : 0.35f));
}

void draw_menu(AppState& state, LayoutEvents& events) {
  if (!ImGui::BeginMenuBar()) return;
  if (ImGui::BeginMenu("File")) {
    if (ImGui::BeginMenu("Synthetic data")) {
      for (size_t n : {size_t{32768}, size_t{262144}, size_t{1048576}}) {
        const std::string label = std::to_string(n) + " features";
        if (ImGui::MenuItem(label.c_str())) {
          events.generate_synthetic = true;
          events.synthetic_features = n;
        }
      }
      ImGui::EndMenu();
    }
    ImGui::Separator();
    if (ImGui::MenuItem("Quit", "Ctrl+Q")) events.quit = true;
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("View")) {
    if (ImGui::BeginMenu("Colormap")) {
      for (int i = 0; i < plot::kColormapCount; ++i) {
        const auto map = static_cast<plot::Colormap>(i);
        if (plot::colormap_is_diverging(map)) continue;
        if (ImGui::MenuItem(plot::colormap_name(map), nullptr, state.colormap == map)) {
          state.colormap = map;
          state.settings.colormap = plot::colormap_name(map);
        }
      }
      ImGui::EndMenu();
    }
    ImGui::SetNextItemWidth(120);
    ImGui::SliderFloat("point size", &state.settings.point_size, 1.0f, 8.0f, "%.0f px");
    ImGui::SetNextItemWidth(120);
    ImGui::InputInt("density above", &state.settings.density_threshold, 10000, 100000);
    state.settings.density_threshold = std::max(0, state.settings.density_threshold);
    if (ImGui::MenuItem("Reset layout")) {
      const Settings defaults;
      state.settings.left_width = defaults.left_width;
      state.settings.right_width = defaults.right_width;
      state.settings.bottom_height = defaults.bottom_height;
      state.settings.jobs_fraction = defaults.jobs_fraction;
    }
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("Debug")) {
    ImGui::MenuItem("Widget gallery", nullptr, &state.show_gallery);
    ImGui::MenuItem("ImGui demo", nullptr, &state.show_demo);
    ImGui::MenuItem("ImGui metrics", nullptr, &state.show_metrics);
    ImGui::EndMenu();
  }
  const auto features = state.snapshot->features.data();
  const std::string source = !state.db_path.empty() ? state.db_path : features ? features->source : "no data";
  const float width = ImGui::CalcTextSize(source.c_str()).x;
  ImGui::SameLine(std::max(ImGui::GetCursorPosX() + 20, ImGui::GetWindowWidth() - width - 20));
  ImGui::TextDisabled("%s", source.c_str());
  ImGui::EndMenuBar();
}

void draw_centre(AppState& state) {
  if (!ImGui::BeginTabBar("views")) return;
  using Draw = void (*)(AppState&);
  const struct {
    const char* name;
    const char* label;
    Draw draw;
  } tabs[] = {{"scatter", "Fig. 2 scatter", draw_scatter_view},
              {"layers", "Per layer (Fig. 7)", draw_layers_view},
              {"curves", "Curves (Fig. 1/5/6)", draw_curves_view},
              {"sweep", "Sweep (Fig. 8)", draw_sweep_view},
              {"heatmaps", "Heat maps (Fig. 13)", draw_heatmaps_view},
              {"heads", "Heads (Fig. 13/14)", draw_heads_view},
              {"overlays", "Overlays (Fig. 4/15)", draw_overlays_view},
              {"ablation", "Ablation (Tables 1-2)", draw_ablation_view},
              {"fig9", "Firing (Fig. 9)", draw_firing_view}};
  for (const auto& tab : tabs) {
    const bool bring = state.requested_view == tab.name;
    if (ImGui::BeginTabItem(tab.label, nullptr, bring ? ImGuiTabItemFlags_SetSelected : 0)) {
      ImGui::BeginChild(tab.name);
      tab.draw(state);
      ImGui::EndChild();
      ImGui::EndTabItem();
    }
  }
  state.requested_view.clear();
  ImGui::EndTabBar();
}

}  // namespace

LayoutEvents draw_main_window(AppState& state) {
  LayoutEvents events;
  const ImGuiViewport* viewport = ImGui::GetMainViewport();
  ImGui::SetNextWindowPos(viewport->WorkPos);
  ImGui::SetNextWindowSize(viewport->WorkSize);
  ImGui::PushStyleVar(ImGuiStyleVar_WindowRounding, 0);
  ImGui::PushStyleVar(ImGuiStyleVar_WindowBorderSize, 0);
  ImGui::PushStyleVar(ImGuiStyleVar_ItemSpacing, ImVec2(0, 0));
  const ImGuiWindowFlags flags = ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove |
                                 ImGuiWindowFlags_NoBringToFrontOnFocus | ImGuiWindowFlags_MenuBar |
                                 ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoBackground;
  ImGui::Begin("Sightline", nullptr, flags);
  ImGui::PopStyleVar(3);
  draw_menu(state, events);

  Settings& s = state.settings;
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  s.bottom_height = std::clamp(s.bottom_height, 60.0f, std::max(60.0f, avail.y - 200));
  const float top_height = avail.y - s.bottom_height - kSplitter;
  s.left_width = std::clamp(s.left_width, 150.0f, std::max(150.0f, avail.x - s.right_width - 300));
  s.right_width = std::clamp(s.right_width, 150.0f, std::max(150.0f, avail.x - s.left_width - 300));
  const float centre_width = avail.x - s.left_width - s.right_width - 2 * kSplitter;
  const ImGuiWindowFlags pane = ImGuiWindowFlags_None;

  ImGui::PushStyleVar(ImGuiStyleVar_ItemSpacing, ImVec2(0, 0));
  ImGui::BeginChild("left", ImVec2(s.left_width, top_height), true, pane);
  ImGui::PushStyleVar(ImGuiStyleVar_ItemSpacing, ImVec2(8, 4));
  draw_feature_list(state);
  ImGui::PopStyleVar();
  ImGui::EndChild();
  ImGui::SameLine();
  splitter("split_left", true, top_height, &s.left_width, 150, avail.x - s.right_width - 300, 1);
  ImGui::SameLine();
  ImGui::BeginChild("centre", ImVec2(centre_width, top_height), true, pane);
  ImGui::PushStyleVar(ImGuiStyleVar_ItemSpacing, ImVec2(8, 4));
  draw_centre(state);
  ImGui::PopStyleVar();
  ImGui::EndChild();
  ImGui::SameLine();
  splitter("split_right", true, top_height, &s.right_width, 150, avail.x - s.left_width - 300, -1);
  ImGui::SameLine();
  ImGui::BeginChild("right", ImVec2(s.right_width, top_height), true, pane);
  ImGui::PushStyleVar(ImGuiStyleVar_ItemSpacing, ImVec2(8, 4));
  draw_feature_page(state);
  ImGui::PopStyleVar();
  ImGui::EndChild();

  splitter("split_bottom", false, avail.x, &s.bottom_height, 60, avail.y - 200, -1);
  const float jobs_width = std::clamp(s.jobs_fraction * avail.x, 150.0f, std::max(150.0f, avail.x - 150));
  float jobs = jobs_width;
  ImGui::BeginChild("jobs", ImVec2(jobs, s.bottom_height), true, pane);
  ImGui::PushStyleVar(ImGuiStyleVar_ItemSpacing, ImVec2(8, 4));
  draw_jobs_pane(state);
  ImGui::PopStyleVar();
  ImGui::EndChild();
  ImGui::SameLine();
  splitter("split_jobs", true, s.bottom_height, &jobs, 150, avail.x - 150, 1);
  if (jobs != jobs_width) s.jobs_fraction = std::clamp(jobs / std::max(avail.x, 1.0f), 0.1f, 0.9f);
  ImGui::SameLine();
  ImGui::BeginChild("log", ImVec2(0, s.bottom_height), true, pane);
  ImGui::PushStyleVar(ImGuiStyleVar_ItemSpacing, ImVec2(8, 4));
  draw_log_pane(state);
  ImGui::PopStyleVar();
  ImGui::EndChild();
  ImGui::PopStyleVar();
  ImGui::End();

  if (state.show_demo) ImGui::ShowDemoWindow(&state.show_demo);
  if (state.show_metrics) ImGui::ShowMetricsWindow(&state.show_metrics);
  if (state.show_gallery) draw_gallery_window(state, &state.show_gallery);
  return events;
}

}  // namespace sightline::ui
