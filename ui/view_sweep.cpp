// Fig. 8: the threshold sweep as heat maps over eps (rows) x p_cos (columns). The top row
// is what stage 2 stored (|A|, its Jaccard overlap with the run's A and the correlation
// of per-layer counts); the bottom row is recomputed live from the loaded features on the
// same grid (|A| and the share of stage 3's spatial candidates that A keeps). A ring marks
// the current thresholds (dragged in the Fig. 2 scatter) on every map.
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "ui/plot/plot.h"
#include "ui/threshold_sweep.h"
#include "ui/views.h"

namespace sightline::ui {

namespace {

struct SweepMap {
  std::string key, title;
  std::vector<float> values;  // rows x cols
  const std::vector<double>* eps = nullptr;
  const std::vector<double>* p_cos = nullptr;
  plot::Colormap colormap = plot::Colormap::kViridis;
  plot::Range fixed{0, 0};  // empty: the data's range
  const char* format = "%.0f";
};

std::string grid_label(double v) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", v);
  return text;
}

std::vector<plot::Tick> grid_ticks(const std::vector<double>& grid) {
  std::vector<plot::Tick> ticks;
  for (size_t i = 0; i < grid.size(); ++i) ticks.push_back({static_cast<double>(i) + 0.5, grid_label(grid[i])});
  return ticks;
}

void draw_sweep_map(AppState& state, const SweepMap& map, ImVec2 size) {
  const float colorbar_width = 64;
  const int rows = static_cast<int>(map.eps->size()), cols = static_cast<int>(map.p_cos->size());
  ImGui::BeginGroup();
  plot::PlotOptions options;
  options.title = map.title;
  options.x.label = "p_cos";
  options.y.label = "eps";
  options.x.ticks = grid_ticks(*map.p_cos);
  options.y.ticks = grid_ticks(*map.eps);
  options.legend = false;
  options.size = ImVec2(size.x - colorbar_width, size.y);
  options.has_initial_view = true;
  options.initial_view = {{0, static_cast<double>(cols)}, {0, static_cast<double>(rows)}};
  plot::HeatmapOptions h;
  h.label = map.title.c_str();
  h.colormap = map.colormap;
  h.value_min = map.fixed.min;
  h.value_max = map.fixed.max;
  h.annotate_format = map.format;
  h.annotate_compact = true;
  for (double e : *map.eps) h.row_names.push_back(grid_label(e));
  for (double p : *map.p_cos) h.col_names.push_back(grid_label(p));
  plot::Range range{0, 1};
  if (plot::begin_plot(("sweep_" + map.key).c_str(), options)) {
    range = plot::plot_heatmap(h, map.values.data(), rows, cols);
    // The current thresholds: a frame one cell wide around their position (their cell when
    // they are grid values, between cells otherwise), white inside black for any colour.
    const double mx = sweep_axis_position(*map.p_cos, state.thresholds.p_cos);
    const double my = sweep_axis_position(*map.eps, state.thresholds.eps);
    if (std::isfinite(mx) && std::isfinite(my)) {
      const plot::Transform& t = plot::transform();
      const ImVec2 lo(static_cast<float>(t.to_pixel_x(mx - 0.5)), static_cast<float>(t.to_pixel_y(my + 0.5)));
      const ImVec2 hi(static_cast<float>(t.to_pixel_x(mx + 0.5)), static_cast<float>(t.to_pixel_y(my - 0.5)));
      plot::draw_list()->AddRect(lo, hi, IM_COL32(0, 0, 0, 255), 0, 0, 5.0f);
      plot::draw_list()->AddRect(lo, hi, packed_color(kColorSweepMarker), 0, 0, 2.0f);
    }
    SweepMapReport report;
    report.key = map.key;
    report.title = map.title;
    report.plot.drawn = true;
    report.plot.area = plot::plot_area();
    report.plot.view = plot::view();
    report.rows = rows;
    report.cols = cols;
    report.range = range;
    report.colormap = plot::colormap_name(map.colormap);
    state.sweep_report.maps.push_back(std::move(report));
    state.sweep_report.marker_x = mx;
    state.sweep_report.marker_y = my;
    plot::end_plot();
  }
  ImGui::SameLine();
  plot::colorbar(("sweep_colorbar_" + map.key).c_str(), {map.colormap, range, ImVec2(colorbar_width - 8, size.y), ""});
  ImGui::EndGroup();
}

// One row of maps sharing the width (a third each when there are three).
void draw_map_row(AppState& state, const std::vector<SweepMap>& maps, ImVec2 size) {
  const float spacing = 10;
  const float n = static_cast<float>(std::max<size_t>(maps.size(), 1));
  const float width = std::floor((size.x - (n - 1) * spacing) / n);
  for (size_t i = 0; i < maps.size(); ++i) {
    if (i > 0) ImGui::SameLine(0, spacing);
    draw_sweep_map(state, maps[i], ImVec2(width, size.y));
  }
}

std::vector<float> as_floats(const std::vector<int64_t>& v, double scale = 1) {
  std::vector<float> out;
  for (int64_t x : v) out.push_back(static_cast<float>(static_cast<double>(x) * scale));
  return out;
}

}  // namespace

void draw_sweep_view(AppState& state) {
  state.sweep_report = SweepReport{};
  if (!draw_data_status(state.scatter.status(), "Threshold sweep")) return;
  const DataStatus stored_status = state.snapshot->sweep.status();
  const auto stored = stored_status.state == DataState::kReady ? state.snapshot->sweep.data() : nullptr;
  ImGui::TextWrapped("Threshold sweep (Fig. 8): A = {E_v > eps and c_f in the bottom p_cos of all cosines}. Framed: "
                     "the current eps = %.3g, p_cos = %.3g (drag them in the Fig. 2 scatter).",
                     state.thresholds.eps, state.thresholds.p_cos);
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float gap = 8;
  // Two rows of maps; the live row's note takes a line or two.
  const float row_height = std::max(220.0f, std::floor((avail.y - gap - 2 * ImGui::GetTextLineHeightWithSpacing()) / 2));

  // Stored by stage 2.
  if (stored) {
    std::vector<SweepMap> maps;
    const std::pair<const char*, std::string> stored_metrics[] = {
        {"count", "|A| (stored, regime " + stored->regime + ")"},
        {"jaccard", "Jaccard overlap with the run's A"},
        {"layer_correlation", "per-layer count correlation with A"}};
    for (const auto& [key, title] : stored_metrics) {
      const auto it = stored->metrics.find(key);
      if (it == stored->metrics.end()) continue;
      SweepMap m;
      m.key = key;
      m.title = title;
      m.values = it->second;
      m.eps = &stored->eps;
      m.p_cos = &stored->p_cos;
      if (m.key == "jaccard") {
        m.fixed = {0, 1};
        m.format = "%.2f";
      } else if (m.key == "layer_correlation") {
        m.fixed = {-1, 1};
        m.colormap = plot::Colormap::kCoolWarm;
        m.format = "%.2f";
      } else {
        m.colormap = state.colormap;
      }
      maps.push_back(std::move(m));
    }
    draw_map_row(state, maps, ImVec2(avail.x, row_height));
  } else {
    ImGui::BeginChild("sweep_stored_status", ImVec2(avail.x, std::floor(row_height / 3)));
    draw_data_status(stored_status, "Stored sweep");
    ImGui::EndChild();
  }
  ImGui::Dummy(ImVec2(0, gap));

  // Live from the loaded features.
  const DataStatus live_status = state.live_sweep.status();
  if (live_status.state != DataState::kReady) {
    ImGui::BeginChild("sweep_live_status", ImVec2(avail.x, row_height));
    draw_data_status(live_status, "Live sweep");
    ImGui::EndChild();
    state.sweep_report.drawn = !state.sweep_report.maps.empty();
    return;
  }
  const auto live = state.live_sweep.data();
  std::vector<SweepMap> maps;
  SweepMap count;
  count.key = "live_count";
  count.title = "|A| now (live, " + std::to_string(state.model()->table().size()) + " features)";
  count.values = as_floats(live->adapted);
  count.eps = &live->eps;
  count.p_cos = &live->p_cos;
  count.colormap = state.colormap;
  maps.push_back(std::move(count));
  if (live->candidates > 0) {
    SweepMap kept;
    kept.key = "live_candidates";
    kept.title = "% of the " + std::to_string(live->candidates) + " spatial candidates in A (live)";
    kept.values = as_floats(live->candidates_in, 100.0 / static_cast<double>(live->candidates));
    kept.eps = &live->eps;
    kept.p_cos = &live->p_cos;
    kept.colormap = state.colormap;
    kept.fixed = {0, 100};
    maps.push_back(std::move(kept));
  }
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyle().Colors[ImGuiCol_TextDisabled]);
  ImGui::TextWrapped("Live, on the %s grid, with the explorer's p_cos rule (the k-th smallest cosine, "
                     "k = ceil(p_cos n)): "
                     "at the current thresholds |A| = %lld as in the Per-layer view. It counts the float32 cosines the "
                     "explorer holds, so cosines that only differ beyond float precision tie.%s",
                     stored ? "stored" : "stage 2 default", static_cast<long long>(state.counts.adapted_total),
                     live->candidates == 0 ? " No spatial candidates are flagged (stage 3)." : "");
  ImGui::PopStyleColor();
  const float remaining = ImGui::GetContentRegionAvail().y;
  draw_map_row(state, maps, ImVec2(avail.x, std::max(220.0f, remaining - 2)));
  state.sweep_report.drawn = true;
}

}  // namespace sightline::ui
