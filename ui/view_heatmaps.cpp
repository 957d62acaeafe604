// Fig. 13 / 14: layer x head attribution maps (methods A and B), drawn through the
// colormap shader, each with its colour scale. Signed maps use the diverging colormap.
#include <imgui.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ui/plot/plot.h"
#include "ui/views.h"

namespace sightline::ui {

void draw_heatmaps_view(AppState& state) {
  if (!draw_data_status(state.snapshot->heat_maps.status(), "Heat maps")) return;
  const auto maps = state.snapshot->heat_maps.data();
  if (maps->empty()) {
    ImGui::TextDisabled("no heat maps were published");
    return;
  }
  const uint64_t version = state.snapshot->heat_maps.version();
  const float colorbar_width = 70;
  const float width = (ImGui::GetContentRegionAvail().x - ImGui::GetStyle().ItemSpacing.x) /
                      std::min<size_t>(maps->size(), 2);
  ImGui::BeginChild("heatmaps_scroll");
  const float height = std::max(260.0f, ImGui::GetContentRegionAvail().y - 2);
  for (size_t i = 0; i < maps->size(); ++i) {
    const HeatMap& map = (*maps)[i];
    if (i % 2 == 1) ImGui::SameLine();
    ImGui::PushID(static_cast<int>(i));
    ImGui::BeginGroup();
    const plot::PlotOptions options = heat_map_plot_options(map, ImVec2(width - colorbar_width, height));
    plot::HeatmapOptions h;
    h.label = map.title.c_str();
    h.diverging = map.diverging;
    h.colormap = map.diverging ? plot::Colormap::kCoolWarm : state.colormap;
    h.data_version = version;
    plot::Range range{0, 1};
    if (plot::begin_plot(("heatmap_" + std::to_string(i)).c_str(), options)) {
      range = plot::plot_heatmap(h, map.values.data(), map.rows, map.cols);
      plot::end_plot();
    }
    ImGui::SameLine();
    plot::colorbar("colorbar", {h.colormap, range, ImVec2(colorbar_width - 10, options.size.y), ""});
    ImGui::EndGroup();
    ImGui::PopID();
  }
  ImGui::EndChild();
}

}  // namespace sightline::ui
