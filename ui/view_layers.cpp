// Fig. 7: the adapted set per layer under the live thresholds (|A| per layer) and the mean
// decoder cosine per layer (all features, and A's). Recounted in one pass whenever eps
// or p_cos moves (AppState::update).
#include <imgui.h>

#include <vector>

#include "ui/plot/plot.h"
#include "ui/views.h"

namespace sightline::ui {

void draw_layers_view(AppState& state) {
  if (!draw_data_status(state.scatter.status(), "Per-layer counts")) return;
  const LayerCounts& counts = state.counts;
  const int layers = static_cast<int>(counts.adapted.size());
  std::vector<float> x(layers), adapted(layers), mean_all(layers), mean_a(layers);
  for (int l = 0; l < layers; ++l) {
    x[l] = static_cast<float>(l);
    adapted[l] = static_cast<float>(counts.adapted[l]);
    mean_all[l] = static_cast<float>(counts.mean_cosine[l]);
    mean_a[l] = counts.adapted[l] ? static_cast<float>(counts.mean_cosine_adapted[l]) : NAN;
  }
  ImGui::Text("eps = %.3g, p_cos = %.1f%% (c_f <= %.4f): |A| = %lld", state.thresholds.eps,
              state.thresholds.p_cos * 100, state.cosine_threshold(), static_cast<long long>(counts.adapted_total));
  const float height = (ImGui::GetContentRegionAvail().y - ImGui::GetStyle().ItemSpacing.y) / 2;

  plot::PlotOptions top;
  top.title = "Adapted features per layer";
  top.x.label = "layer";
  top.y.label = "|A| in layer";
  top.size = ImVec2(0, height);
  if (plot::begin_plot("fig7_counts", top)) {
    plot::plot_line({"|A|", 0, 2.0f, true}, x.data(), adapted.data(), layers);
    plot::end_plot();
  }
  plot::PlotOptions bottom;
  bottom.title = "Mean decoder cosine per layer";
  bottom.x.label = "layer";
  bottom.y.label = "mean c_f";
  bottom.size = ImVec2(0, height);
  if (plot::begin_plot("fig7_cosine", bottom)) {
    plot::plot_line({"all features", 0, 2.0f, true}, x.data(), mean_all.data(), layers);
    plot::plot_line({"features in A", 0, 2.0f, true}, x.data(), mean_a.data(), layers);
    plot::end_plot();
  }
}

}  // namespace sightline::ui
