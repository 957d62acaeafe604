// Fig. 9, spatial distribution shift: (a) histograms of log10 firing frequency on D_base
// (the whole evaluation split) and on D_spatial (its questions with a spatial cue word),
// side by side in each bin, for all features, the adapted set, the spatial candidates or
// the spatial features, in one layer or all; (b) the spatial candidates under both splits
// (log10 p_base vs log10 p_spatial) with the selected spatial features filled and the
// diagonal p_spatial = p_base. Data: the shift stage's p_base / p_skill (ShiftTable).
// Both plots export PNG and CSV from their context menus.
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "ui/firing_histogram.h"
#include "ui/plot/plot.h"
#include "ui/views.h"

namespace sightline::ui {

namespace {

ImU32 firing_color(const Rgb8& c, uint8_t alpha = 255) { return packed_color(c, alpha); }

// The layers the table has, ascending.
std::vector<int> firing_layers(const ShiftTable& table) {
  std::vector<uint8_t> seen(static_cast<size_t>(std::max(table.num_layers, 0)), 0);
  for (uint16_t l : table.layer)
    if (l < seen.size()) seen[l] = 1;
  std::vector<int> out;
  for (size_t l = 0; l < seen.size(); ++l)
    if (seen[l]) out.push_back(static_cast<int>(l));
  return out;
}

void firing_histogram_plot(const FiringHistograms& h, const char* id, const std::string& title, ImVec2 size,
                           bool refit, Fig9Report& report) {
  plot::PlotOptions options;
  options.title = title;
  options.x.label = "firing frequency p_f (log scale)";
  options.x.scale = plot::AxisScale::kLog10;
  options.y.label = "features";
  options.size = size;
  if (!plot::begin_plot(id, options)) return;
  if (refit) plot::request_fit();
  int64_t top = 1;
  for (int k = 0; k < h.bins; ++k) top = std::max({top, h.base[k], h.skill[k]});
  // Headroom above the tallest bar keeps the legend (top right) off the bars.
  plot::add_extent({h.lo, 0.0}, {0.0, static_cast<double>(top) * 1.3});
  const plot::Transform& t = plot::transform();
  ImDrawList* draw = plot::draw_list();
  const bool hide_base = plot::item_hidden("D_base"), hide_skill = plot::item_hidden("D_spatial");
  // Each bin: D_base on its left half, D_spatial on its right half (no overlap, no blending).
  const double gap = h.width * 0.06;
  for (int k = 0; k < h.bins; ++k) {
    const double x0 = h.lo + k * h.width;
    const double xm = x0 + h.width / 2;
    const double y0 = t.to_pixel_y(0);
    if (h.base[k] > 0 && !hide_base)
      draw->AddRectFilled(ImVec2(static_cast<float>(t.to_pixel_x(x0 + gap)), static_cast<float>(t.to_pixel_y(h.base[k]))),
                          ImVec2(static_cast<float>(t.to_pixel_x(xm)), static_cast<float>(y0)),
                          firing_color(kColorFiringBase));
    if (h.skill[k] > 0 && !hide_skill)
      draw->AddRectFilled(ImVec2(static_cast<float>(t.to_pixel_x(xm)), static_cast<float>(t.to_pixel_y(h.skill[k]))),
                          ImVec2(static_cast<float>(t.to_pixel_x(x0 + h.width - gap)), static_cast<float>(y0)),
                          firing_color(kColorFiringSkill));
  }
  // The mean log10 p of each split: a triangle in its bars' colour on the top edge (a
  // line would cross the bars).
  const plot::PixelRect area = plot::plot_area();
  if (h.features > 0)
    for (int split = 0; split < 2; ++split) {
      if (split == 0 ? hide_base : hide_skill) continue;
      const float x = static_cast<float>(t.to_pixel_x(split == 0 ? h.base_mean_log : h.skill_mean_log));
      const float y = static_cast<float>(area.y0) + 1;
      draw->AddTriangleFilled(ImVec2(x - 6, y), ImVec2(x + 6, y), ImVec2(x, y + 10),
                              firing_color(split == 0 ? kColorFiringBase : kColorFiringSkill));
    }
  plot::legend_entry("D_base", firing_color(kColorFiringBase), plot::LegendMarker::kSquare);
  plot::legend_entry("D_spatial", firing_color(kColorFiringSkill), plot::LegendMarker::kSquare);
  double mx = 0, my = 0;
  if (plot::hovered() && plot::mouse_position(&mx, &my)) {
    const int k = static_cast<int>(std::floor((mx - h.lo) / h.width));
    if (k >= 0 && k < h.bins)
      ImGui::SetTooltip("p in [%.3g, %.3g)\nD_base: %lld features\nD_spatial: %lld features\n(triangles on top: "
                        "mean log10 p of each split)",
                        std::pow(10.0, h.lo + k * h.width), std::pow(10.0, h.lo + (k + 1) * h.width),
                        static_cast<long long>(h.base[k]), static_cast<long long>(h.skill[k]));
  }
  if (plot::exporting_csv()) {
    plot::SeriesData base{"D_base (log10 p bin centre, features)", {}, {}};
    plot::SeriesData skill{"D_spatial (log10 p bin centre, features)", {}, {}};
    for (int k = 0; k < h.bins; ++k) {
      base.x.push_back(h.bin_centre(k));
      base.y.push_back(static_cast<double>(h.base[k]));
      skill.x.push_back(h.bin_centre(k));
      skill.y.push_back(static_cast<double>(h.skill[k]));
    }
    plot::add_export_series(std::move(base));
    plot::add_export_series(std::move(skill));
  }
  report.drawn = true;
  report.area = area;
  report.view = plot::view();
  plot::end_plot();
}

// (b): the candidates of `layer` (-1 = all) at (log10 p_base, log10 p_spatial); p = 0 sits
// at the histogram's lowest bin edge.
void firing_candidate_plot(const ShiftTable& table, int layer, double floor_log, const char* id, ImVec2 size,
                           bool refit, AppState& state, Fig9Report& report) {
  plot::PlotOptions options;
  options.title = "(b) spatial candidates under both splits (filled: spatial features)";
  options.x.label = "p_f on D_base (log scale)";
  options.x.scale = plot::AxisScale::kLog10;
  options.y.label = "p_f on D_spatial";
  options.y.scale = plot::AxisScale::kLog10;
  options.size = size;
  if (!plot::begin_plot(id, options)) return;
  if (refit) plot::request_fit();
  auto lg = [&](float p) { return p > 0 ? std::max(std::log10(static_cast<double>(p)), floor_log) : floor_log; };
  std::vector<uint32_t> rows;
  double lo = 0;
  for (size_t i = 0; i < table.size(); ++i) {
    if (layer >= 0 && table.layer[i] != layer) continue;
    if (!(table.flags[i] & (kFlagSpatialCandidate | kFlagSpatialFeature))) continue;
    if (!std::isfinite(table.p_base[i]) || !std::isfinite(table.p_skill[i])) continue;
    rows.push_back(static_cast<uint32_t>(i));
    lo = std::min({lo, lg(table.p_base[i]), lg(table.p_skill[i])});
  }
  const float diagonal[2] = {static_cast<float>(lo - 0.25), 0.0f};
  plot::plot_line({"p_spatial = p_base", IM_COL32(180, 180, 180, 160), 1.0f, false}, diagonal, diagonal, 2);
  plot::add_extent({lo - 0.25, 0.1}, {lo - 0.25, 0.1});
  const plot::Transform& t = plot::transform();
  ImDrawList* draw = plot::draw_list();
  const auto model = state.model();
  int64_t selected_here = -1;
  if (model && state.selected >= 0 && state.selected < static_cast<int64_t>(model->table().size()))
    selected_here = table.find(model->table().layer[state.selected], model->table().feature[state.selected]);
  double best = 1e30;
  int64_t hover_row = -1;
  double mx = 0, my = 0;
  const bool mouse_in = plot::hovered() && plot::mouse_position(&mx, &my);
  // Spatial features (filled) first, so that a candidate at the same place stays visible.
  std::stable_partition(rows.begin(), rows.end(), [&](uint32_t i) { return (table.flags[i] & kFlagSpatialFeature) != 0; });
  for (uint32_t i : rows) {
    const ImVec2 p(static_cast<float>(t.to_pixel_x(lg(table.p_base[i]))),
                   static_cast<float>(t.to_pixel_y(lg(table.p_skill[i]))));
    if (table.flags[i] & kFlagSpatialFeature)
      draw->AddRectFilled(ImVec2(p.x - 4, p.y - 4), ImVec2(p.x + 4, p.y + 4), packed_color(kColorSpatial));
    else
      draw->AddRect(ImVec2(p.x - 5, p.y - 5), ImVec2(p.x + 5, p.y + 5), packed_color(kColorCandidate), 0, 0, 1.5f);
    if (static_cast<int64_t>(i) == selected_here) draw->AddCircle(p, 9, packed_color(kColorSelected), 16, 2);
    if (mouse_in) {
      const ImVec2 m = ImGui::GetIO().MousePos;
      const double dist = std::hypot(m.x - p.x, m.y - p.y);
      if (dist < 8 && dist < best) {
        best = dist;
        hover_row = i;
      }
    }
  }
  plot::legend_entry("spatial candidate", packed_color(kColorCandidate), plot::LegendMarker::kHollowSquare);
  plot::legend_entry("spatial feature", packed_color(kColorSpatial), plot::LegendMarker::kSquare);
  if (hover_row >= 0) {
    const size_t i = static_cast<size_t>(hover_row);
    ImGui::SetTooltip("L%d #%d\np_base %.4g\np_spatial %.4g\nodds ratio %.3g\nclick to select", table.layer[i],
                      table.feature[i], table.p_base[i], table.p_skill[i], table.odds_ratio[i]);
  }
  double cx = 0, cy = 0;
  if (plot::clicked(&cx, &cy) && hover_row >= 0 && model) {
    const RowIndex& index = state.find.row_index(model->table(), model->serial());
    const int64_t row = index.find(table.layer[static_cast<size_t>(hover_row)], table.feature[static_cast<size_t>(hover_row)]);
    if (row >= 0) state.select(row);
  }
  if (plot::exporting_csv()) {
    plot::SeriesData candidates{"candidates (log10 p_base, log10 p_spatial)", {}, {}};
    plot::SeriesData spatial{"spatial features (log10 p_base, log10 p_spatial)", {}, {}};
    for (uint32_t i : rows) {
      plot::SeriesData& s = table.flags[i] & kFlagSpatialFeature ? spatial : candidates;
      s.x.push_back(lg(table.p_base[i]));
      s.y.push_back(lg(table.p_skill[i]));
    }
    plot::add_export_series(std::move(candidates));
    plot::add_export_series(std::move(spatial));
  }
  report.scatter_drawn = true;
  report.scatter_area = plot::plot_area();
  report.scatter_view = plot::view();
  report.scatter_points = rows.size();
  plot::end_plot();
}

}  // namespace

void draw_firing_view(AppState& state) {
  Fig9Report& report = state.find.report.fig9;
  report = Fig9Report{};
  if (!draw_data_status(state.snapshot->shift.status(), "Firing frequencies (Fig. 9)")) return;
  const auto table = state.snapshot->shift.data();
  FindState& find = state.find;
  static uint64_t fitted_version = 0;
  static int fitted_set = -1, fitted_layer = -2;

  const std::vector<int> layers = firing_layers(*table);
  if (find.fig9_layer >= 0 && std::find(layers.begin(), layers.end(), find.fig9_layer) == layers.end())
    find.fig9_layer = -1;
  ImGui::SetNextItemWidth(180);
  if (ImGui::BeginCombo("##fig9_set", firing_set_name(static_cast<FiringSet>(find.fig9_set)))) {
    for (int s = 0; s < kFiringSetCount; ++s)
      if (ImGui::Selectable(firing_set_name(static_cast<FiringSet>(s)), s == find.fig9_set)) find.fig9_set = s;
    ImGui::EndCombo();
  }
  ImGui::SameLine();
  ImGui::SetNextItemWidth(120);
  const std::string layer_label = find.fig9_layer < 0 ? "all layers" : "layer " + std::to_string(find.fig9_layer);
  if (ImGui::BeginCombo("##fig9_layer", layer_label.c_str())) {
    if (ImGui::Selectable("all layers", find.fig9_layer < 0)) find.fig9_layer = -1;
    for (int l : layers)
      if (ImGui::Selectable(("layer " + std::to_string(l)).c_str(), l == find.fig9_layer)) find.fig9_layer = l;
    ImGui::EndCombo();
  }
  const FiringSet set = static_cast<FiringSet>(find.fig9_set);
  const FiringHistograms h = firing_histograms(*table, set, find.fig9_layer);
  ImGui::SameLine();
  ImGui::TextDisabled("%lld features; mean log10 p: base %.2f, spatial %.2f; never fired: base %lld, spatial %lld",
                      static_cast<long long>(h.features), h.base_mean_log, h.skill_mean_log,
                      static_cast<long long>(h.base_zero), static_cast<long long>(h.skill_zero));

  const bool refit = fitted_version != state.snapshot->shift.version() || fitted_set != find.fig9_set ||
                     fitted_layer != find.fig9_layer;
  fitted_version = state.snapshot->shift.version();
  fitted_set = find.fig9_set;
  fitted_layer = find.fig9_layer;
  const float avail = ImGui::GetContentRegionAvail().y - ImGui::GetStyle().ItemSpacing.y;
  const std::string title = std::string("(a) firing-frequency distributions, ") + firing_set_name(set) + ", " +
                            layer_label + ": D_base (every question) vs D_spatial (spatial cue words)";
  firing_histogram_plot(h, "fig9_histograms", title, ImVec2(0, std::max(200.0f, avail * 0.58f)), refit, report);
  firing_candidate_plot(*table, find.fig9_layer, h.lo, "fig9_candidates",
                        ImVec2(0, std::max(160.0f, ImGui::GetContentRegionAvail().y)), refit, state, report);
  report.set = firing_set_name(set);
  report.layer = find.fig9_layer;
  report.histograms = h;
}

}  // namespace sightline::ui
