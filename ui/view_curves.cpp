// Fig. 1 / 5 / 6: each published CurveSet as one line plot (FVU during adaptation, mean
// decoder cosine per layer per regime, ...).
#include <imgui.h>

#include <algorithm>

#include "ui/plot/plot.h"
#include "ui/views.h"

namespace sightline::ui {

void draw_curves_view(AppState& state) {
  if (!draw_data_status(state.snapshot->curves.status(), "Curves")) return;
  const auto sets = state.snapshot->curves.data();
  if (sets->empty()) {
    ImGui::TextDisabled("no curves were published");
    return;
  }
  const float spacing = ImGui::GetStyle().ItemSpacing.y;
  const float height = std::max(220.0f, (ImGui::GetContentRegionAvail().y - spacing) / std::min<size_t>(sets->size(), 2));
  ImGui::BeginChild("curves_scroll");
  for (size_t i = 0; i < sets->size(); ++i) {
    const CurveSet& set = (*sets)[i];
    plot::PlotOptions options;
    options.title = set.title;
    options.x.label = set.x_label;
    options.y.label = set.y_label;
    options.y.scale = set.log_y ? plot::AxisScale::kLog10 : plot::AxisScale::kLinear;
    options.size = ImVec2(0, height);
    ImGui::PushID(static_cast<int>(i));
    if (plot::begin_plot(("curves_" + std::to_string(i)).c_str(), options)) {
      for (const Curve& c : set.curves)
        plot::plot_line({c.label.c_str()}, c.x.data(), c.y.data(),
                        static_cast<int>(std::min(c.x.size(), c.y.size())));
      plot::end_plot();
    }
    ImGui::PopID();
  }
  ImGui::EndChild();
}

}  // namespace sightline::ui
