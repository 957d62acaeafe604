// Debug > Widget gallery: every widget of ui/plot on toy data, as living documentation
// (the way imgui_demo.cpp documents ImGui). Change a widget, look here first.
#include <imgui.h>

#include <cmath>
#include <vector>

#include "ui/plot/colormap.h"
#include "ui/plot/plot.h"
#include "ui/plot/ticks.h"
#include "ui/views.h"

namespace sightline::ui {

void draw_gallery_window(AppState& state, bool* open) {
  ImGui::SetNextWindowSize(ImVec2(760, 720), ImGuiCond_FirstUseEver);
  if (!ImGui::Begin("Widget gallery", open)) {
    ImGui::End();
    return;
  }
  if (ImGui::CollapsingHeader("Line plot + drag lines", ImGuiTreeNodeFlags_DefaultOpen)) {
    static double threshold_x = 3.0, threshold_y = 0.5;
    static int moves = 0;
    std::vector<float> x(200), s(200), c(200);
    for (int i = 0; i < 200; ++i) {
      x[i] = i * 0.05f;
      s[i] = std::sin(x[i]);
      c[i] = std::cos(x[i]) * std::exp(-0.1f * x[i]);
    }
    plot::PlotOptions options;
    options.title = "plot_line: wheel zooms, drag pans, double-click fits, right-click exports";
    options.x.label = "x";
    options.y.label = "y";
    options.box_select = true;
    options.size = ImVec2(0, 260);
    if (plot::begin_plot("gallery_lines", options)) {
      plot::plot_line({"sin(x)"}, x.data(), s.data(), 200);
      plot::plot_line({"cos(x) exp(-x/10)", 0, 2.5f, false}, x.data(), c.data(), 200);
      if (plot::drag_line_x({"vertical threshold", IM_COL32(120, 200, 255, 255)}, &threshold_x)) ++moves;
      if (plot::drag_line_y({"horizontal threshold", IM_COL32(255, 170, 60, 255)}, &threshold_y)) ++moves;
      plot::ViewRect box;
      static plot::ViewRect last_box{{0, 0}, {0, 0}};
      if (plot::box_selected(&box)) last_box = box;
      if (last_box.x.span() > 0)
        plot::draw_list()->AddRect(ImVec2(static_cast<float>(plot::transform().to_pixel_x(last_box.x.min)),
                                          static_cast<float>(plot::transform().to_pixel_y(last_box.y.max))),
                                   ImVec2(static_cast<float>(plot::transform().to_pixel_x(last_box.x.max)),
                                          static_cast<float>(plot::transform().to_pixel_y(last_box.y.min))),
                                   IM_COL32(120, 220, 255, 255));
      plot::end_plot();
    }
    ImGui::Text("thresholds: x = %.3f, y = %.3f (moved %d frames)", threshold_x, threshold_y, moves);
  }
  if (ImGui::CollapsingHeader("Heat map + colorbar", ImGuiTreeNodeFlags_DefaultOpen)) {
    static int map_index = 0;
    static bool diverging = false;
    const char* names[plot::kColormapCount];
    for (int i = 0; i < plot::kColormapCount; ++i) names[i] = plot::colormap_name(static_cast<plot::Colormap>(i));
    ImGui::SetNextItemWidth(160);
    ImGui::Combo("colormap", &map_index, names, plot::kColormapCount);
    ImGui::SameLine();
    ImGui::Checkbox("signed data (symmetric range)", &diverging);
    static std::vector<float> values;
    const int rows = 24, cols = 40;
    if (values.empty()) {
      values.resize(rows * cols);
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) values[r * cols + c] = std::sin(r * 0.3f) * std::cos(c * 0.2f);
    }
    plot::PlotOptions options;
    options.title = "plot_heatmap: rows x cols through the colormap shader";
    options.legend = false;
    options.size = ImVec2(ImGui::GetContentRegionAvail().x - 80, 260);
    plot::HeatmapOptions h;
    h.label = "toy";
    h.colormap = static_cast<plot::Colormap>(map_index);
    h.diverging = diverging;
    h.data_version = 1;
    plot::Range range{0, 1};
    if (plot::begin_plot("gallery_heatmap", options)) {
      range = plot::plot_heatmap(h, values.data(), rows, cols);
      plot::end_plot();
    }
    ImGui::SameLine();
    plot::colorbar("gallery_colorbar", {h.colormap, range, ImVec2(70, 260), ""});
  }
  if (ImGui::CollapsingHeader("Colormaps")) {
    for (int i = 0; i < plot::kColormapCount; ++i) {
      const auto map = static_cast<plot::Colormap>(i);
      const ImVec2 p = ImGui::GetCursorScreenPos();
      ImDrawList* dl = ImGui::GetWindowDrawList();
      for (int k = 0; k < 64; ++k) {
        const auto c = plot::colormap_sample(map, k / 63.0);
        dl->AddRectFilled(ImVec2(p.x + k * 5, p.y), ImVec2(p.x + k * 5 + 5, p.y + 16), IM_COL32(c[0], c[1], c[2], 255));
      }
      ImGui::Dummy(ImVec2(330, 16));
      ImGui::SameLine();
      ImGui::Text("%s%s", plot::colormap_name(map), plot::colormap_is_diverging(map) ? " (diverging)" : "");
    }
  }
  if (ImGui::CollapsingHeader("Nice ticks")) {
    static float lo = -0.37f, hi = 12.3f;
    static int max_ticks = 8;
    ImGui::DragFloatRange2("range", &lo, &hi, 0.01f);
    ImGui::SliderInt("max ticks", &max_ticks, 2, 20);
    std::string line;
    for (const auto& t : plot::linear_ticks(lo, hi, max_ticks)) line += t.label + "  ";
    ImGui::Text("linear: %s", line.c_str());
    line.clear();
    for (const auto& t : plot::log10_ticks(lo, hi, max_ticks)) line += t.label + "  ";
    ImGui::Text("log10:  %s", line.c_str());
  }
  if (ImGui::CollapsingHeader("Data states")) {
    ImGui::TextUnformatted("What a view shows while its data is not ready:");
    ImGui::BeginChild("states", ImVec2(0, 160), true);
    DataStatus computing{DataState::kComputing, "indexing 1048576 features", 0.4};
    draw_data_status(computing, "example");
    ImGui::EndChild();
    ImGui::BeginChild("states2", ImVec2(0, 100), true);
    DataStatus missing{DataState::kMissing, "run stage 4, attribution patching", -1};
    draw_data_status(missing, "example");
    ImGui::EndChild();
  }
  (void)state;
  ImGui::End();
}

}  // namespace sightline::ui
