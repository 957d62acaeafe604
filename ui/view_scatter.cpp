// Fig. 2: every SAE feature of every layer at (decoder cosine c_f, log10 E_v), the
// adapted set A in pink under the live thresholds, spatial candidates / features and
// analysed features as markers. The points come from the GPU scatter (a vertex buffer
// uploaded once, or a density image when too many are in view); hover, click and box
// selection use the CPU grid index.
#include <imgui.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "ui/gpu_resources.h"
#include "ui/plot/plot.h"
#include "ui/scatter_style.h"
#include "ui/views.h"

namespace sightline::ui {

namespace {

constexpr double kHoverRadius = 8;  // pixels

void draw_toolbar(AppState& state, const ScatterModel& model) {
  ImGui::SetNextItemWidth(140);
  double log_eps = std::log10(std::max(state.thresholds.eps, 1e-12));
  float log_eps_f = static_cast<float>(log_eps);
  if (ImGui::SliderFloat("log10 eps", &log_eps_f, -8.0f, 0.0f, "%.2f")) state.thresholds.eps = std::pow(10.0, log_eps_f);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(140);
  float p_cos = static_cast<float>(state.thresholds.p_cos * 100);
  if (ImGui::SliderFloat("p_cos %", &p_cos, 0.0f, 100.0f, "%.1f")) state.thresholds.p_cos = p_cos / 100.0;
  ImGui::SameLine();
  if (ImGui::Button("Layers...")) ImGui::OpenPopup("layer_filter");
  if (ImGui::BeginPopup("layer_filter")) {
    const int layers = model.table().num_layers;
    LayerMask mask = state.layer_mask;
    if (mask.empty()) mask.assign(layers, 1);
    bool changed = false;
    if (ImGui::Button("All")) {
      mask.assign(layers, 1);
      changed = true;
    }
    ImGui::SameLine();
    if (ImGui::Button("None")) {
      mask.assign(layers, 0);
      changed = true;
    }
    for (int l = 0; l < layers; ++l) {
      if (l % 8 != 0) ImGui::SameLine();
      bool on = mask[l] != 0;
      char label[16];
      std::snprintf(label, sizeof(label), "%2d", l);
      if (ImGui::Checkbox(label, &on)) {
        mask[l] = on;
        changed = true;
      }
    }
    if (changed) state.set_layer_mask(std::move(mask));
    ImGui::EndPopup();
  }
  ImGui::SameLine();
  const size_t n = model.table().size();
  ImGui::Text("|A| = %lld (%.2f%% of %zu)   c_f <= %.4f", static_cast<long long>(state.counts.adapted_total),
              n ? 100.0 * state.counts.adapted_total / n : 0.0, n, state.cosine_threshold());
}

std::string describe(const AppState& state, const ScatterModel& model, int64_t row) {
  const FeatureTable& t = model.table();
  char text[256];
  const bool in_a = is_adapted(t.visual_energy[row], t.decoder_cosine[row], state.thresholds.eps,
                               state.cosine_threshold());
  std::snprintf(text, sizeof(text), "%s\nc_f = %.4f\nE_v = %.3g%s%s%s%s", feature_name(t, row).c_str(),
                t.decoder_cosine[row], t.visual_energy[row], in_a ? "\nin A" : "",
                t.flags[row] & kFlagSpatialCandidate ? "\nspatial candidate" : "",
                t.flags[row] & kFlagSpatialFeature ? "\nspatial feature" : "",
                t.flags[row] & kFlagAnalysed ? "\nanalysed" : "");
  return text;
}

}  // namespace

void draw_scatter_view(AppState& state) {
  if (!draw_data_status(state.scatter.status(), "Fig. 2 scatter")) return;
  const auto model_ptr = state.model();
  const ScatterModel& model = *model_ptr;
  const FeatureTable& table = model.table();
  draw_toolbar(state, model);

  plot::PlotOptions options;
  options.x.label = "decoder cosine c_f (base vs adapted SAE)";
  options.y.label = "visual energy E_v";
  options.y.scale = plot::AxisScale::kLog10;
  options.box_select = true;
  options.has_initial_view = true;
  options.initial_view = plot::fit_view(model.index().bounds().x, model.index().bounds().y);
  options.set_view = state.scatter_camera;
  // New data: start from its full view.
  if (state.scatter_fitted_serial != model.serial()) {
    state.scatter_fitted_serial = model.serial();
    if (!options.set_view) options.set_view = &options.initial_view;
  }
  options.opaque_content = true;
  if (!plot::begin_plot("fig2_scatter", options)) return;

  const plot::Transform& t = plot::transform();
  plot::add_extent(model.index().bounds().x, model.index().bounds().y);
  const plot::PixelRect area = plot::plot_area();

  if (!state.gpu) state.gpu = std::make_unique<GpuResources>();
  if (!state.gpu->scatter) state.gpu->scatter = std::make_unique<gl::ScatterRenderer>();
  gl::ScatterFrame frame;
  frame.area = area;
  frame.view = t.view();
  frame.eps = state.thresholds.eps;
  frame.cosine_threshold = state.cosine_threshold();
  frame.point_size = state.settings.point_size;
  frame.colormap = state.colormap;
  frame.mask = &state.layer_mask;
  frame.mask_version = state.layer_mask_version;
  frame.density_threshold = state.settings.density_threshold;
  for (int i = 0; i < 3; ++i) frame.background[i] = kColorPlotBackground[i] / 255.0f;
  state.gpu->scatter->prepare(model_ptr, frame, plot::draw_list());
  const auto& stats = state.gpu->scatter->stats();

  plot::legend_entry(stats.density ? "all features (density)" : "all features", packed_color(kColorAll),
                     plot::LegendMarker::kCircle);
  plot::legend_entry("adapted set A", packed_color(kColorAdapted), plot::LegendMarker::kCircle);
  plot::legend_entry("spatial candidates", packed_color(kColorCandidate), plot::LegendMarker::kHollowSquare);
  plot::legend_entry("spatial features", packed_color(kColorSpatial), plot::LegendMarker::kSquare);
  plot::legend_entry("analysed", packed_color(kColorAnalysed), plot::LegendMarker::kCross);

  // Threshold lines: eps on the log10 E_v axis, p_cos as the cosine of that percentile.
  double y_eps = std::log10(std::max(state.thresholds.eps, 1e-12));
  if (plot::drag_line_y({"eps (E_v threshold)", packed_color(kColorEpsLine, 230), 1.5f}, &y_eps))
    state.thresholds.eps = std::pow(10.0, y_eps);
  double x_cos = state.cosine_threshold();
  if (std::isfinite(x_cos) &&
      plot::drag_line_x({"p_cos (cosine percentile)", packed_color(kColorCosineLine, 230), 1.5f}, &x_cos))
    state.thresholds.p_cos = model.quantiles().fraction_at_or_below(x_cos);

  ImDrawList* dl = plot::draw_list();
  // Box-selected features: cyan rings (the first few thousand; the list shows all).
  const size_t ring_limit = std::min<size_t>(state.box_rows.size(), 4000);
  for (size_t i = 0; i < ring_limit; ++i) {
    const uint32_t row = state.box_rows[i];
    dl->AddCircle(ImVec2(static_cast<float>(t.to_pixel_x(table.decoder_cosine[row])),
                         static_cast<float>(t.to_pixel_y(model.log_energy()[row]))),
                  4, packed_color(kColorBox, 200), 8, 1.2f);
  }
  if (state.selected >= 0 && state.selected < static_cast<int64_t>(table.size())) {
    const ImVec2 p(static_cast<float>(t.to_pixel_x(table.decoder_cosine[state.selected])),
                   static_cast<float>(t.to_pixel_y(model.log_energy()[state.selected])));
    dl->AddCircle(p, 8, packed_color(kColorSelected), 20, 3.0f);
    dl->AddCircle(p, 12, packed_color(kColorSelected, 140), 24, 1.5f);
  }

  double mx = 0, my = 0;
  if (plot::hovered() && plot::mouse_position(&mx, &my)) {
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t row = model.pick(mx, my, t.scale_x(), t.scale_y(), kHoverRadius, state.layer_mask);
    state.scatter_report.last_pick_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (row >= 0) {
      dl->AddCircle(ImVec2(static_cast<float>(t.to_pixel_x(table.decoder_cosine[row])),
                           static_cast<float>(t.to_pixel_y(model.log_energy()[row]))),
                    6, packed_color(kColorHover), 16, 2.0f);
      ImGui::SetTooltip("%s", describe(state, model, row).c_str());
    }
  }
  double cx = 0, cy = 0;
  if (plot::clicked(&cx, &cy))
    state.select(model.pick(cx, cy, t.scale_x(), t.scale_y(), kHoverRadius, state.layer_mask));
  plot::ViewRect box;
  if (plot::box_selected(&box)) {
    state.set_box(model.select_box(box, state.layer_mask));
    spdlog::info("scatter: box c_f [{:.4f}, {:.4f}] x log10 E_v [{:.3f}, {:.3f}]: {} features", box.x.min, box.x.max,
                 box.y.min, box.y.max, state.box_rows.size());
  }
  if (plot::exporting_csv()) {
    plot::SeriesData s{"features (c_f, log10 E_v)", {}, {}};
    for (size_t i = 0; i < table.size(); ++i) {
      if (!layer_shown(state.layer_mask, table.layer[i])) continue;
      s.x.push_back(table.decoder_cosine[i]);
      s.y.push_back(model.log_energy()[i]);
    }
    plot::add_export_series(std::move(s));
  }

  auto& report = state.scatter_report;
  report.drawn = true;
  report.area = area;
  report.view = t.view();
  report.density = stats.density;
  report.points_in_view = stats.points_in_view;
  report.cosine_threshold = frame.cosine_threshold;

  char status[160];
  std::snprintf(status, sizeof(status), "%s, %zu in view%s", stats.density ? "density image" : "points",
                stats.points_in_view, state.box_rows.empty() ? "" : ", box selection in the feature list");
  if (plot::hovered())
    std::snprintf(status + std::strlen(status), sizeof(status) - std::strlen(status), ", pick %.3f ms",
                  report.last_pick_ms);
  const ImVec2 size = ImGui::CalcTextSize(status);
  dl->AddText(ImVec2(static_cast<float>(area.x0) + 6, static_cast<float>(area.y1) - size.y - 4),
              IM_COL32(200, 200, 200, 200), status);
  plot::end_plot();
}

}  // namespace sightline::ui
