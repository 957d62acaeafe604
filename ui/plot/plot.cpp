// Index of this file:
// [SECTION] State kept per plot and per frame
// [SECTION] Layout, axes and ticks
// [SECTION] begin_plot / end_plot: interaction
// [SECTION] Items: lines, heat maps, drag lines
// [SECTION] Colorbar
// [SECTION] Custom-item helpers
// [SECTION] Export and frame hooks
// ImVec2 arithmetic from imgui_internal.h.
#define IMGUI_DEFINE_MATH_OPERATORS
#include "ui/plot/plot.h"

#include <imgui_internal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include "ui/gl/capture.h"
#include "ui/gl/draw_callback.h"
#include "ui/gl/gl.h"
#include "ui/gl/shader.h"
#include "ui/gl/texture.h"
#include "ui/plot/ticks.h"

namespace sightline::plot {

//-----------------------------------------------------------------------------
// [SECTION] State kept per plot and per frame
//-----------------------------------------------------------------------------

namespace {

struct PlotState {
  ViewRect view;
  bool initialized = false;
  bool fit_requested = false;
  // Interaction in progress.
  bool panning = false;
  bool pan_moved = false;
  ImVec2 press_pos;
  bool boxing = false;
  ImVec2 box_start;
  ImGuiID dragging_line = 0;
  std::set<std::string> hidden;
  // Exports: requested from the menu, carried out on the next frame.
  bool export_png_pending = false;
  bool export_csv_pending = false;
};

struct LegendItem {
  std::string label;
  ImU32 color;
  LegendMarker marker;
};

struct HoverCandidate {
  double distance = 1e30;  // pixels
  std::string text;
  ImVec2 pixel;
  ImU32 color = 0;
};

// The plot between begin_plot and end_plot.
struct Current {
  ImGuiID id = 0;
  std::string name;
  PlotState* state = nullptr;
  PlotOptions options;
  ImRect frame, area;
  Transform transform;
  ImDrawList* draw_list = nullptr;
  bool area_hovered = false;
  bool line_claimed = false;  // a drag line took this frame's mouse press
  bool line_hovered = false;
  bool clicked = false;
  double click_x = 0, click_y = 0;
  bool box_done = false;
  ViewRect box;
  bool have_extent = false;
  Range extent_x, extent_y;
  int item_count = 0;
  std::vector<LegendItem> legend;
  HoverCandidate hover;
  bool collecting_csv = false;
  std::vector<SeriesData> csv_series;
  struct Grid {
    std::string label;
    std::vector<float> values;
    int rows = 0, cols = 0;
  };
  std::vector<Grid> csv_grids;
  bool export_png_now = false;
};

struct CaptureRequest {
  ImRect rect;
  std::string path;
};

// GL objects of heat maps, drawn from an ImDrawList callback during rendering.
struct HeatmapTexture {
  gl::Texture2D texture;
  const float* source = nullptr;
  int rows = 0, cols = 0;
  uint64_t version = 0;
};

struct HeatmapDraw {
  GLuint values = 0, colormap = 0;
  float range_min = 0, range_max = 1;
  float uv[4] = {0, 0, 1, 1};
  ImRect pixels;  // visible part, screen coordinates
};

struct Module {
  ImGuiContext* context = nullptr;  // the context the plot states belong to
  int frame = 0;                     // its frame count at the last begin_plot
  std::unordered_map<ImGuiID, PlotState> plots;
  Current current;
  bool in_plot = false;
  std::vector<CaptureRequest> captures;
  std::string export_dir = ".";
  std::map<std::string, std::pair<bool, bool>> requested_exports;  // id -> (png, csv)
  std::map<std::pair<ImGuiID, std::string>, std::unique_ptr<HeatmapTexture>> heatmap_textures;
  std::vector<std::unique_ptr<HeatmapDraw>> heatmap_draws;  // alive until the next frame
  std::unique_ptr<gl::ShaderProgram> heatmap_program;
  GLuint quad_vao = 0;
};

Module& module() {
  static Module m;
  return m;
}

Current& cur() { return module().current; }

constexpr float kPickRadius = 12.0f;  // pixels
constexpr float kLineGrab = 5.0f;     // pixels either side of a drag line

ImVec2 to_screen(const Transform& t, double x, double y) {
  return ImVec2(static_cast<float>(t.to_pixel_x(x)), static_cast<float>(t.to_pixel_y(y)));
}

void include_extent(Range x, Range y) {
  Current& c = cur();
  if (!std::isfinite(x.min) || !std::isfinite(x.max) || !std::isfinite(y.min) || !std::isfinite(y.max)) return;
  if (!c.have_extent) {
    c.extent_x = x;
    c.extent_y = y;
    c.have_extent = true;
    return;
  }
  c.extent_x = {std::min(c.extent_x.min, x.min), std::max(c.extent_x.max, x.max)};
  c.extent_y = {std::min(c.extent_y.min, y.min), std::max(c.extent_y.max, y.max)};
}

std::string sanitize(const std::string& name) {
  std::string out;
  for (char ch : name) out += std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' ? ch : '_';
  return out.empty() ? "plot" : out;
}

//-----------------------------------------------------------------------------
// [SECTION] Layout, axes and ticks
//-----------------------------------------------------------------------------

std::vector<Tick> axis_ticks(const AxisOptions& axis, Range r, float pixels, float spacing) {
  if (!axis.ticks.empty()) {
    std::vector<Tick> shown;
    for (const Tick& t : axis.ticks)
      if (t.value >= r.min && t.value <= r.max) shown.push_back(t);
    return shown;
  }
  // At least three: a narrow plot still gets a tick besides zero.
  const int max_ticks = std::max(3, static_cast<int>(pixels / spacing));
  return axis.scale == AxisScale::kLog10 ? log10_ticks(r.min, r.max, max_ticks) : linear_ticks(r.min, r.max, max_ticks);
}

void draw_grid(const Current& c, ImDrawList* dl) {
  const ImU32 grid = ImGui::GetColorU32(ImGuiCol_Border, c.options.opaque_content ? 0.35f : 0.55f);
  const ImRect& a = c.area;
  const ViewRect& v = c.transform.view();
  for (const Tick& t : axis_ticks(c.options.x, v.x, a.GetWidth(), 90)) {
    const float px = static_cast<float>(c.transform.to_pixel_x(t.value));
    dl->AddLine(ImVec2(px, a.Min.y), ImVec2(px, a.Max.y), grid);
  }
  for (const Tick& t : axis_ticks(c.options.y, v.y, a.GetHeight(), 45)) {
    const float py = static_cast<float>(c.transform.to_pixel_y(t.value));
    dl->AddLine(ImVec2(a.Min.x, py), ImVec2(a.Max.x, py), grid);
  }
}

void draw_axes(const Current& c) {
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImGuiStyle& style = ImGui::GetStyle();
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text);
  const ImU32 tick = ImGui::GetColorU32(ImGuiCol_Text, 0.6f);
  const ImRect& a = c.area;
  if (!c.options.opaque_content) {
    dl->AddRectFilled(a.Min, a.Max, ImGui::GetColorU32(ImGuiCol_FrameBg, 0.6f));
    draw_grid(c, dl);
  }
  const ViewRect& v = c.transform.view();
  float label_end = -INFINITY;  // right edge of the last x label: fixed ticks may crowd
  for (const Tick& t : axis_ticks(c.options.x, v.x, a.GetWidth(), 90)) {
    const float px = static_cast<float>(c.transform.to_pixel_x(t.value));
    dl->AddLine(ImVec2(px, a.Max.y), ImVec2(px, a.Max.y + 4), tick);
    const ImVec2 size = ImGui::CalcTextSize(t.label.c_str());
    if (px - size.x / 2 < label_end + 6) continue;
    dl->AddText(ImVec2(px - size.x / 2, a.Max.y + 5), text, t.label.c_str());
    label_end = px + size.x / 2;
  }
  for (const Tick& t : axis_ticks(c.options.y, v.y, a.GetHeight(), 45)) {
    const float py = static_cast<float>(c.transform.to_pixel_y(t.value));
    dl->AddLine(ImVec2(a.Min.x - 4, py), ImVec2(a.Min.x, py), tick);
    const ImVec2 size = ImGui::CalcTextSize(t.label.c_str());
    dl->AddText(ImVec2(a.Min.x - 6 - size.x, py - size.y / 2), text, t.label.c_str());
  }
  const float line = ImGui::GetTextLineHeight();
  if (!c.options.x.label.empty()) {
    const ImVec2 size = ImGui::CalcTextSize(c.options.x.label.c_str());
    dl->AddText(ImVec2((a.Min.x + a.Max.x - size.x) / 2, a.Max.y + 6 + line), text, c.options.x.label.c_str());
  }
  // ImGui 1.86 draws no rotated text: the y label sits above the axis.
  if (!c.options.y.label.empty())
    dl->AddText(ImVec2(c.frame.Min.x + style.FramePadding.x, a.Min.y - line - 3), text, c.options.y.label.c_str());
  if (!c.options.title.empty()) {
    const ImVec2 size = ImGui::CalcTextSize(c.options.title.c_str());
    dl->AddText(ImVec2((a.Min.x + a.Max.x - size.x) / 2, c.frame.Min.y), text, c.options.title.c_str());
  }
}

// Left margin wide enough for the y tick labels of the current view.
float left_margin(const PlotOptions& o, const ViewRect& view, float height) {
  float widest = ImGui::CalcTextSize("0.0").x;
  for (const Tick& t : axis_ticks(o.y, view.y, height, 45))
    widest = std::max(widest, ImGui::CalcTextSize(t.label.c_str()).x);
  return widest + 12;
}

void draw_legend(Current& c) {
  if (!c.options.legend || c.legend.empty()) return;
  ImDrawList* dl = c.draw_list;
  const float line = ImGui::GetTextLineHeight();
  float width = 0;
  for (const auto& item : c.legend) width = std::max(width, ImGui::CalcTextSize(item.label.c_str()).x);
  const float swatch = line * 0.8f, pad = 5;
  const ImVec2 size(width + swatch + 3 * pad, c.legend.size() * (line + 2) + 2 * pad);
  const ImVec2 origin(c.area.Max.x - size.x - 8, c.area.Min.y + 8);
  dl->AddRectFilled(origin, origin + size, ImGui::GetColorU32(ImGuiCol_PopupBg, 0.85f), 3);
  dl->AddRect(origin, origin + size, ImGui::GetColorU32(ImGuiCol_Border), 3);
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  for (size_t i = 0; i < c.legend.size(); ++i) {
    const LegendItem& item = c.legend[i];
    const ImVec2 row(origin.x + pad, origin.y + pad + i * (line + 2));
    const ImRect row_rect(row, ImVec2(origin.x + size.x - pad, row.y + line));
    const bool hidden = c.state->hidden.count(item.label) > 0;
    const ImU32 color = hidden ? ImGui::GetColorU32(ImGuiCol_TextDisabled) : item.color;
    const ImVec2 centre(row.x + swatch / 2, row.y + line / 2);
    const float h = swatch / 2;
    switch (item.marker) {
      case LegendMarker::kLine:
        dl->AddLine(ImVec2(row.x, centre.y), ImVec2(row.x + swatch, centre.y), color, 2);
        break;
      case LegendMarker::kSquare:
        dl->AddRectFilled(centre - ImVec2(h, h), centre + ImVec2(h, h), color);
        break;
      case LegendMarker::kHollowSquare:
        dl->AddRect(centre - ImVec2(h, h), centre + ImVec2(h, h), color, 0, 0, 2);
        break;
      case LegendMarker::kCircle:
        dl->AddCircleFilled(centre, h * 0.8f, color);
        break;
      case LegendMarker::kCross:
        dl->AddLine(centre - ImVec2(h, h), centre + ImVec2(h, h), color, 2);
        dl->AddLine(centre + ImVec2(-h, h), centre + ImVec2(h, -h), color, 2);
        break;
    }
    dl->AddText(ImVec2(row.x + swatch + pad, row.y),
                hidden ? ImGui::GetColorU32(ImGuiCol_TextDisabled) : ImGui::GetColorU32(ImGuiCol_Text),
                item.label.c_str());
    if (c.area_hovered && row_rect.Contains(mouse) && ImGui::IsMouseClicked(0)) {
      if (hidden)
        c.state->hidden.erase(item.label);
      else
        c.state->hidden.insert(item.label);
      c.line_claimed = true;  // the click was for the legend, not a pan
    }
  }
}

}  // namespace

//-----------------------------------------------------------------------------
// [SECTION] begin_plot / end_plot: interaction
//-----------------------------------------------------------------------------

bool begin_plot(const char* id, const PlotOptions& options) {
  Module& m = module();
  IM_ASSERT(!m.in_plot && "begin_plot: the previous plot was not ended");
  if (m.context != ImGui::GetCurrentContext() || ImGui::GetFrameCount() < m.frame) {
    // IDs are per context: a new context (possibly at a freed one's address, hence the
    // frame counter going back) starts with fresh views.
    m.plots.clear();
    m.context = ImGui::GetCurrentContext();
  }
  m.frame = ImGui::GetFrameCount();
  ImGuiWindow* window = ImGui::GetCurrentWindow();
  if (window->SkipItems) return false;
  const ImGuiID plot_id = window->GetID(id);
  PlotState& state = m.plots[plot_id];

  ImVec2 size = options.size;
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  if (size.x <= 0) size.x = std::max(avail.x, 120.0f);
  if (size.y <= 0) size.y = std::max(avail.y, 100.0f);
  const ImVec2 pos = ImGui::GetCursorScreenPos();

  Current& c = m.current;
  c = Current{};
  c.id = plot_id;
  c.name = id;
  c.state = &state;
  c.options = options;
  c.frame = ImRect(pos, pos + size);

  if (!state.initialized) {
    state.view = options.has_initial_view ? options.initial_view : ViewRect{{0, 1}, {0, 1}};
    state.fit_requested = !options.has_initial_view;
    state.initialized = true;
  }
  if (options.set_view) state.view = *options.set_view;

  const float line = ImGui::GetTextLineHeight();
  const float top = (options.title.empty() ? 0 : line + 4) + (options.y.label.empty() ? 6 : line + 6);
  const float bottom = line + 8 + (options.x.label.empty() ? 0 : line + 2);
  const float left = left_margin(options, state.view, size.y - top - bottom);
  c.area = ImRect(ImVec2(pos.x + left, pos.y + top), ImVec2(pos.x + size.x - 8, pos.y + size.y - bottom));
  if (c.area.GetWidth() < 10 || c.area.GetHeight() < 10) c.area.Max = c.area.Min + ImVec2(10, 10);

  ImGui::PushID(id);
  ImGui::SetCursorScreenPos(pos);
  ImGui::InvisibleButton("##plot", size, ImGuiButtonFlags_MouseButtonLeft | ImGuiButtonFlags_MouseButtonRight);
  const bool item_hovered = ImGui::IsItemHovered();
  const ImGuiIO& io = ImGui::GetIO();
  c.area_hovered = item_hovered && c.area.Contains(io.MousePos);

  // Interaction with the view, before anything is drawn with it.
  Transform t(PixelRect{c.area.Min.x, c.area.Min.y, c.area.Max.x, c.area.Max.y}, state.view);
  if (c.area_hovered && io.MouseWheel != 0 && !options.set_view) {
    const double factor = std::pow(1.2, -io.MouseWheel);
    const bool x_only = io.KeyCtrl, y_only = io.KeyShift;
    state.view = zoom_about(state.view, t.to_data_x(io.MousePos.x), t.to_data_y(io.MousePos.y),
                            options.x.locked || y_only ? 1.0 : factor, options.y.locked || x_only ? 1.0 : factor);
  }
  if (state.panning) {
    const ImVec2 moved = io.MousePos - state.press_pos;
    if (std::fabs(moved.x) + std::fabs(moved.y) > 3) state.pan_moved = true;
    if (state.pan_moved && (io.MouseDelta.x != 0 || io.MouseDelta.y != 0) && !options.set_view) {
      state.view = pan_by_pixels(state.view, t, options.x.locked ? 0 : io.MouseDelta.x,
                                 options.y.locked ? 0 : io.MouseDelta.y);
    }
    if (!ImGui::IsMouseDown(0)) {
      if (!state.pan_moved) {
        c.clicked = true;
        c.click_x = t.to_data_x(io.MousePos.x);
        c.click_y = t.to_data_y(io.MousePos.y);
      }
      state.panning = false;
    }
  }
  if (state.boxing && !ImGui::IsMouseDown(1)) {
    state.boxing = false;
    const ImVec2 a = state.box_start, b = io.MousePos;
    if (options.box_select && std::fabs(a.x - b.x) > 4 && std::fabs(a.y - b.y) > 4) {
      c.box_done = true;
      const double x0 = t.to_data_x(a.x), x1 = t.to_data_x(b.x);
      const double y0 = t.to_data_y(a.y), y1 = t.to_data_y(b.y);
      c.box = {{std::min(x0, x1), std::max(x0, x1)}, {std::min(y0, y1), std::max(y0, y1)}};
    } else {
      ImGui::OpenPopup("##context");
    }
  }
  if (c.area_hovered && ImGui::IsMouseDoubleClicked(0)) state.fit_requested = true;

  c.transform = Transform(PixelRect{c.area.Min.x, c.area.Min.y, c.area.Max.x, c.area.Max.y}, state.view);
  if (const auto it = m.requested_exports.find(id); it != m.requested_exports.end()) {
    state.export_png_pending = state.export_png_pending || it->second.first;
    state.export_csv_pending = state.export_csv_pending || it->second.second;
    m.requested_exports.erase(it);
  }
  c.collecting_csv = state.export_csv_pending;
  state.export_csv_pending = false;
  c.export_png_now = state.export_png_pending;
  state.export_png_pending = false;

  draw_axes(c);
  c.draw_list = ImGui::GetWindowDrawList();
  c.draw_list->PushClipRect(c.area.Min, c.area.Max, true);
  m.in_plot = true;
  return true;
}

void end_plot() {
  Module& m = module();
  IM_ASSERT(m.in_plot && "end_plot without begin_plot");
  Current& c = m.current;
  PlotState& state = *c.state;
  const ImGuiIO& io = ImGui::GetIO();

  if (c.options.opaque_content) draw_grid(c, c.draw_list);
  draw_legend(c);
  if (state.boxing && c.options.box_select) {
    const ImU32 fill = IM_COL32(120, 220, 255, 40), edge = IM_COL32(120, 220, 255, 200);
    c.draw_list->AddRectFilled(state.box_start, io.MousePos, fill);
    c.draw_list->AddRect(state.box_start, io.MousePos, edge);
  }
  if (!c.hover.text.empty() && c.area_hovered && !state.panning && !c.line_hovered) {
    c.draw_list->AddCircle(c.hover.pixel, 5, c.hover.color ? c.hover.color : IM_COL32_WHITE, 12, 2);
    ImGui::SetTooltip("%s", c.hover.text.c_str());
  }
  c.draw_list->PopClipRect();
  c.draw_list->AddRect(c.area.Min, c.area.Max, ImGui::GetColorU32(ImGuiCol_Border));

  // New presses start a pan (left) or a box / the context menu (right), unless a drag
  // line or the legend took the press.
  if (c.area_hovered && ImGui::IsMouseClicked(0) && !c.line_claimed) {
    state.panning = true;
    state.pan_moved = false;
    state.press_pos = io.MousePos;
  }
  if (c.area_hovered && ImGui::IsMouseClicked(1)) {
    // Released after a drag: a box (when enabled); released in place: the context menu.
    state.boxing = true;
    state.box_start = io.MousePos;
  }

  if (ImGui::BeginPopup("##context")) {
    if (ImGui::MenuItem("Fit to data", "double-click")) state.fit_requested = true;
    if (ImGui::MenuItem("Export PNG")) state.export_png_pending = true;
    if (ImGui::MenuItem("Export CSV")) state.export_csv_pending = true;
    if (!state.hidden.empty() && ImGui::MenuItem("Show all items")) state.hidden.clear();
    ImGui::EndPopup();
  }

  const std::string base = (std::filesystem::path(m.export_dir) / sanitize(c.name)).string();
  if (c.collecting_csv) {
    try {
      if (!c.csv_series.empty()) {
        write_series_csv(base + ".csv", c.csv_series);
        spdlog::info("plot '{}': exported {} series to {}.csv", c.name, c.csv_series.size(), base);
      }
      for (const auto& g : c.csv_grids) {
        const std::string path = base + "_" + sanitize(g.label) + ".csv";
        write_grid_csv(path, g.values.data(), g.rows, g.cols);
        spdlog::info("plot '{}': exported a {}x{} grid to {}", c.name, g.rows, g.cols, path);
      }
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
    }
  }
  if (c.export_png_now) m.captures.push_back({c.frame, base + ".png"});

  if (state.fit_requested && c.have_extent) {
    state.view = fit_view(c.extent_x, c.extent_y);
    state.fit_requested = false;
  }
  // The cursor already sits after the plot's InvisibleButton, the last item, so SameLine()
  // after end_plot() places the next widget to the plot's right.
  ImGui::PopID();
  m.in_plot = false;
}

//-----------------------------------------------------------------------------
// [SECTION] Items: lines, heat maps, drag lines
//-----------------------------------------------------------------------------

ImU32 palette_color(int k) {
  // Tableau 10: distinct on a dark background.
  static const ImU32 colors[] = {IM_COL32(78, 121, 167, 255),  IM_COL32(242, 142, 43, 255),
                                 IM_COL32(225, 87, 89, 255),   IM_COL32(118, 183, 178, 255),
                                 IM_COL32(89, 161, 79, 255),   IM_COL32(237, 201, 72, 255),
                                 IM_COL32(176, 122, 161, 255), IM_COL32(255, 157, 167, 255),
                                 IM_COL32(156, 117, 95, 255),  IM_COL32(186, 176, 172, 255)};
  return colors[((k % 10) + 10) % 10];
}

namespace {

// What every x / y series item does before drawing: a colour (the palette's next unless
// given), a legend entry, the data extent for "fit" and the CSV export's copy. Returns the
// colour, or 0 when the user hid the item through the legend.
ImU32 begin_series(const char* label, ImU32 given, LegendMarker marker, const float* xs, const float* ys, int count,
                   int stride) {
  Current& c = cur();
  const ImU32 color = given ? given : palette_color(c.item_count);
  ++c.item_count;
  const bool in_legend = label && label[0] && std::string(label).rfind("##", 0) != 0;
  if (in_legend) c.legend.push_back({label, color, marker});
  Range ex{INFINITY, -INFINITY}, ey{INFINITY, -INFINITY};
  SeriesData csv{label ? label : "", {}, {}};
  for (int i = 0; i < count; ++i) {
    const float x = *reinterpret_cast<const float*>(reinterpret_cast<const char*>(xs) + i * stride);
    const float y = *reinterpret_cast<const float*>(reinterpret_cast<const char*>(ys) + i * stride);
    if (c.collecting_csv) {
      csv.x.push_back(x);
      csv.y.push_back(y);
    }
    if (!std::isfinite(x) || !std::isfinite(y)) continue;
    ex = {std::min<double>(ex.min, x), std::max<double>(ex.max, x)};
    ey = {std::min<double>(ey.min, y), std::max<double>(ey.max, y)};
  }
  if (ex.min <= ex.max) include_extent(ex, ey);
  if (c.collecting_csv) c.csv_series.push_back(std::move(csv));
  return in_legend && c.state->hidden.count(label) ? 0 : color;
}

// Makes the point at pixel p (data x, y) the hover candidate when it is the nearest to the
// mouse so far; `name` and `suffix` (may be null) head the tooltip.
void consider_hover(const ImVec2& p, const std::string& name, const std::string* suffix, double x, double y,
                    ImU32 color) {
  Current& c = cur();
  if (!c.area_hovered) return;
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  const double d = std::hypot(p.x - mouse.x, p.y - mouse.y);
  if (d >= kPickRadius || d >= c.hover.distance) return;
  const double shown_y = c.options.y.scale == AxisScale::kLog10 ? std::pow(10.0, y) : y;
  char buffer[240];
  std::snprintf(buffer, sizeof(buffer), "%s%s%s\nx = %.6g\ny = %.6g", name.c_str(), suffix ? " " : "",
                suffix ? suffix->c_str() : "", x, shown_y);
  c.hover = {d, buffer, p, color};
}

}  // namespace

void plot_line(const LineOptions& options, const float* xs, const float* ys, int count, int stride) {
  Current& c = cur();
  const ImU32 color = begin_series(options.label, options.color, LegendMarker::kLine, xs, ys, count, stride);
  if (!color) return;
  auto x_at = [&](int i) { return *reinterpret_cast<const float*>(reinterpret_cast<const char*>(xs) + i * stride); };
  auto y_at = [&](int i) { return *reinterpret_cast<const float*>(reinterpret_cast<const char*>(ys) + i * stride); };
  const std::string name = options.label ? options.label : "";

  // Polylines in chunks keep each ImGui draw command small.
  constexpr int kChunk = 4096;
  std::vector<ImVec2> points;
  points.reserve(std::min(count, kChunk + 1));
  auto flush = [&] {
    if (points.size() >= 2) c.draw_list->AddPolyline(points.data(), static_cast<int>(points.size()), color, 0,
                                                     options.thickness);
    if (points.size() == 1 || options.markers)
      for (const auto& p : points) c.draw_list->AddCircleFilled(p, options.thickness + 1.5f, color, 8);
    points.clear();
  };
  for (int i = 0; i < count; ++i) {
    const float x = x_at(i), y = y_at(i);
    if (!std::isfinite(x) || !std::isfinite(y)) {
      flush();
      continue;
    }
    const ImVec2 p = to_screen(c.transform, x, y);
    points.push_back(p);
    consider_hover(p, name, nullptr, x, y, color);
    if (static_cast<int>(points.size()) > kChunk) {
      const ImVec2 last = points.back();
      flush();
      points.push_back(last);
    }
  }
  flush();
}

void plot_points(const PointsOptions& options, const float* xs, const float* ys, int count,
                 const std::vector<std::string>* names) {
  Current& c = cur();
  const ImU32 color = begin_series(options.label, options.color, LegendMarker::kCircle, xs, ys, count, sizeof(float));
  if (!color) return;
  const std::string label = options.label ? options.label : "";
  const ImU32 outline = IM_COL32(0, 0, 0, 200);
  for (int i = 0; i < count; ++i) {
    if (!std::isfinite(xs[i]) || !std::isfinite(ys[i])) continue;
    const ImVec2 p = to_screen(c.transform, xs[i], ys[i]);
    // A dark rim keeps overlapping markers apart.
    c.draw_list->AddCircleFilled(p, options.radius + 1.0f, outline, 12);
    c.draw_list->AddCircleFilled(p, options.radius, color, 12);
    const bool named = names && static_cast<int>(names->size()) > i;
    consider_hover(p, label, named ? &(*names)[static_cast<size_t>(i)] : nullptr, xs[i], ys[i], color);
  }
}

namespace {

void heatmap_callback(const ImDrawList*, const ImDrawCmd* cmd) {
  const auto* d = static_cast<const HeatmapDraw*>(cmd->UserCallbackData);
  if (!module().heatmap_program || !gl::set_callback_viewport(cmd, d->pixels.Min, d->pixels.Max)) return;
  gl::ShaderProgram& p = *module().heatmap_program;
  p.use();
  glUniform4f(p.uniform("u_uv_rect"), d->uv[0], d->uv[1], d->uv[2], d->uv[3]);
  glUniform1f(p.uniform("u_depth"), 0.0f);
  glUniform2f(p.uniform("u_range"), d->range_min, d->range_max);
  gl::bind_sampler(p.uniform("u_colormap"), 1, d->colormap);
  gl::bind_sampler(p.uniform("u_values"), 0, d->values);
  glBindVertexArray(module().quad_vao);
  glDrawArrays(GL_TRIANGLE_STRIP, 0, 4);
}

// A cell's annotation text.
std::string cell_text(const HeatmapOptions& options, double v) {
  char text[48];
  if (options.annotate_compact && std::fabs(v) >= 1e6)
    std::snprintf(text, sizeof(text), "%.3gM", v / 1e6);
  else if (options.annotate_compact && std::fabs(v) >= 1e4)
    std::snprintf(text, sizeof(text), "%.0fk", v / 1e3);
  else
    std::snprintf(text, sizeof(text), options.annotate_format, v);
  return text;
}

// Writes each cell's value over it (heat map annotations): all of them when every text
// fits its cell, else none (a map half labelled reads as if the rest were missing).
void annotate_cells(const HeatmapOptions& options, const float* values, int rows, int cols, const ViewRect& bounds,
                    Range range) {
  Current& c = cur();
  const double cell_w = std::fabs(c.transform.to_pixel_x(bounds.x.min + bounds.x.span() / cols) -
                                  c.transform.to_pixel_x(bounds.x.min));
  const double cell_h = std::fabs(c.transform.to_pixel_y(bounds.y.min + bounds.y.span() / rows) -
                                  c.transform.to_pixel_y(bounds.y.min));
  if (cell_h < ImGui::GetTextLineHeight() + 2) return;
  const size_t n = static_cast<size_t>(rows) * cols;
  std::vector<std::string> texts(n);
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(values[i])) continue;
    texts[i] = cell_text(options, values[i]);
    if (ImGui::CalcTextSize(texts[i].c_str()).x + 4 > cell_w) return;
  }
  for (int r = 0; r < rows; ++r)
    for (int k = 0; k < cols; ++k) {
      const size_t i = static_cast<size_t>(r) * cols + k;
      if (texts[i].empty()) continue;
      const ImVec2 size = ImGui::CalcTextSize(texts[i].c_str());
      const ImVec2 centre = to_screen(c.transform, bounds.x.min + (k + 0.5) * bounds.x.span() / cols,
                                      bounds.y.min + (r + 0.5) * bounds.y.span() / rows);
      // Dark text on light colours (Rec. 601 luma of the cell's colour).
      const double t = range.span() > 0 ? std::clamp((values[i] - range.min) / range.span(), 0.0, 1.0) : 0.5;
      const Rgba8 cell = colormap_sample(options.colormap, t);
      const double luma = 0.299 * cell[0] + 0.587 * cell[1] + 0.114 * cell[2];
      const ImU32 ink = luma > 140 ? IM_COL32(10, 10, 10, 255) : IM_COL32(245, 245, 245, 255);
      c.draw_list->AddText(ImVec2(centre.x - size.x / 2, centre.y - size.y / 2), ink, texts[i].c_str());
    }
}

}  // namespace

Range plot_heatmap(const HeatmapOptions& options, const float* values, int rows, int cols) {
  Module& m = module();
  Current& c = m.current;
  ++c.item_count;
  Range range{options.value_min, options.value_max};
  if (rows <= 0 || cols <= 0 || !values) return range;
  const size_t n = static_cast<size_t>(rows) * cols;
  if (!(range.min < range.max)) {
    range = {INFINITY, -INFINITY};
    for (size_t i = 0; i < n; ++i) {
      if (!std::isfinite(values[i])) continue;
      range.min = std::min<double>(range.min, values[i]);
      range.max = std::max<double>(range.max, values[i]);
    }
    if (!(range.min <= range.max)) range = {0, 1};
    if (options.diverging) {
      const double a = std::max({std::fabs(range.min), std::fabs(range.max), 1e-30});
      range = {-a, a};
    }
    if (range.min == range.max) range = {range.min - 0.5, range.max + 0.5};
  }
  const ViewRect bounds = options.bounds.x.span() > 0 && options.bounds.y.span() > 0
                              ? options.bounds
                              : ViewRect{{0, static_cast<double>(cols)}, {0, static_cast<double>(rows)}};
  include_extent(bounds.x, bounds.y);
  const std::string label = options.label ? options.label : "";
  if (c.collecting_csv) c.csv_grids.push_back({label, std::vector<float>(values, values + n), rows, cols});

  // The value texture, uploaded when the data changed.
  auto& slot = m.heatmap_textures[{c.id, label}];
  if (!slot) slot = std::make_unique<HeatmapTexture>();
  if (options.data_version == 0 || slot->version != options.data_version || slot->source != values ||
      slot->rows != rows || slot->cols != cols) {
    slot->texture.upload(cols, rows, GL_R32F, values);
    slot->source = values;
    slot->rows = rows;
    slot->cols = cols;
    slot->version = options.data_version;
  }
  if (!m.heatmap_program) {
    m.heatmap_program = std::make_unique<gl::ShaderProgram>();
    m.heatmap_program->build("quad.vert.glsl", "heatmap.frag.glsl");
    glGenVertexArrays(1, &m.quad_vao);
  }

  // Only the visible part is drawn: its uv range and pixel rectangle.
  const ViewRect& v = c.transform.view();
  const double x0 = std::max(bounds.x.min, v.x.min), x1 = std::min(bounds.x.max, v.x.max);
  const double y0 = std::max(bounds.y.min, v.y.min), y1 = std::min(bounds.y.max, v.y.max);
  if (x0 < x1 && y0 < y1) {
    auto draw = std::make_unique<HeatmapDraw>();
    draw->values = slot->texture.id();
    draw->colormap = gl::colormap_texture(options.colormap);
    draw->range_min = static_cast<float>(range.min);
    draw->range_max = static_cast<float>(range.max);
    draw->uv[0] = static_cast<float>((x0 - bounds.x.min) / bounds.x.span());
    draw->uv[1] = static_cast<float>((y0 - bounds.y.min) / bounds.y.span());
    draw->uv[2] = static_cast<float>((x1 - bounds.x.min) / bounds.x.span());
    draw->uv[3] = static_cast<float>((y1 - bounds.y.min) / bounds.y.span());
    draw->pixels = ImRect(to_screen(c.transform, x0, y1), to_screen(c.transform, x1, y0));
    c.draw_list->AddCallback(heatmap_callback, draw.get());
    c.draw_list->AddCallback(ImDrawCallback_ResetRenderState, nullptr);
    m.heatmap_draws.push_back(std::move(draw));
  }

  if (options.annotate_format) annotate_cells(options, values, rows, cols, bounds, range);

  double mx = 0, my = 0;
  if (c.area_hovered && mouse_position(&mx, &my) && bounds.x.contains(mx) && bounds.y.contains(my)) {
    const int col = std::min(cols - 1, static_cast<int>((mx - bounds.x.min) / bounds.x.span() * cols));
    const int row = std::min(rows - 1, static_cast<int>((my - bounds.y.min) / bounds.y.span() * rows));
    const std::string row_name = static_cast<int>(options.row_names.size()) > row
                                     ? c.options.y.label + " " + options.row_names[static_cast<size_t>(row)]
                                     : "row " + std::to_string(row);
    const std::string col_name = static_cast<int>(options.col_names.size()) > col
                                     ? c.options.x.label + " " + options.col_names[static_cast<size_t>(col)]
                                     : "col " + std::to_string(col);
    char buffer[400];
    std::snprintf(buffer, sizeof(buffer), "%s\n%s, %s\nvalue %.5g", label.c_str(), row_name.c_str(),
                  col_name.c_str(), static_cast<double>(values[static_cast<size_t>(row) * cols + col]));
    const ImVec2 centre =
        to_screen(c.transform, bounds.x.min + (col + 0.5) * bounds.x.span() / cols,
                  bounds.y.min + (row + 0.5) * bounds.y.span() / rows);
    c.hover = {0, buffer, centre, IM_COL32_WHITE};
  }
  return range;
}

namespace {

bool drag_line(const DragLineOptions& options, double* value, bool vertical) {
  Current& c = cur();
  PlotState& state = *c.state;
  const ImGuiID line_id = ImGui::GetID(options.id);
  const ImGuiIO& io = ImGui::GetIO();
  const float pixel = static_cast<float>(vertical ? c.transform.to_pixel_x(*value) : c.transform.to_pixel_y(*value));
  const float mouse = vertical ? io.MousePos.x : io.MousePos.y;
  const bool near = c.area_hovered && std::fabs(mouse - pixel) <= kLineGrab && state.dragging_line == 0 &&
                    !state.panning && !state.boxing;
  bool moved = false;
  if (near && ImGui::IsMouseClicked(0)) {
    state.dragging_line = line_id;
    c.line_claimed = true;
  }
  const bool dragging = state.dragging_line == line_id;
  if (dragging) {
    if (ImGui::IsMouseDown(0)) {
      const double next = vertical ? c.transform.to_data_x(io.MousePos.x) : c.transform.to_data_y(io.MousePos.y);
      if (next != *value) {
        *value = next;
        moved = true;
      }
    } else {
      state.dragging_line = 0;
    }
  }
  if (near || dragging) {
    c.line_hovered = true;
    ImGui::SetMouseCursor(vertical ? ImGuiMouseCursor_ResizeEW : ImGuiMouseCursor_ResizeNS);
    ImGui::SetTooltip("%s", options.id);
  }
  const float p = static_cast<float>(vertical ? c.transform.to_pixel_x(*value) : c.transform.to_pixel_y(*value));
  const float thickness = options.thickness + ((near || dragging) ? 1.5f : 0.0f);
  if (vertical)
    c.draw_list->AddLine(ImVec2(p, c.area.Min.y), ImVec2(p, c.area.Max.y), options.color, thickness);
  else
    c.draw_list->AddLine(ImVec2(c.area.Min.x, p), ImVec2(c.area.Max.x, p), options.color, thickness);
  return moved;
}

}  // namespace

bool drag_line_x(const DragLineOptions& options, double* x) { return drag_line(options, x, true); }
bool drag_line_y(const DragLineOptions& options, double* y) { return drag_line(options, y, false); }

//-----------------------------------------------------------------------------
// [SECTION] Colorbar
//-----------------------------------------------------------------------------

void colorbar(const char* id, const ColorbarOptions& options) {
  ImGuiWindow* window = ImGui::GetCurrentWindow();
  if (window->SkipItems) return;
  ImVec2 size = options.size;
  if (size.y <= 0) size.y = std::max(ImGui::GetContentRegionAvail().y, 60.0f);
  const ImVec2 pos = ImGui::GetCursorScreenPos();
  ImGui::PushID(id);
  ImGui::InvisibleButton("##colorbar", size);
  ImGui::PopID();
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const float line = ImGui::GetTextLineHeight();
  const ImRect bar(ImVec2(pos.x + 4, pos.y + line + 6), ImVec2(pos.x + 18, pos.y + size.y - line - 8));
  // The 256x1 table drawn vertically: uv.x runs from the bottom (0) to the top (1).
  const ImTextureID texture = reinterpret_cast<ImTextureID>(static_cast<intptr_t>(gl::colormap_texture(options.colormap)));
  dl->AddImageQuad(texture, bar.Min, ImVec2(bar.Max.x, bar.Min.y), bar.Max, ImVec2(bar.Min.x, bar.Max.y),
                   ImVec2(1, 0.5f), ImVec2(1, 0.5f), ImVec2(0, 0.5f), ImVec2(0, 0.5f));
  dl->AddRect(bar.Min, bar.Max, ImGui::GetColorU32(ImGuiCol_Border));
  const Range r = options.range;
  if (r.span() > 0) {
    for (const Tick& t : linear_ticks(r.min, r.max, std::max(2, static_cast<int>(bar.GetHeight() / 40)))) {
      const float y = static_cast<float>(bar.Max.y - (t.value - r.min) / r.span() * bar.GetHeight());
      dl->AddLine(ImVec2(bar.Max.x, y), ImVec2(bar.Max.x + 3, y), ImGui::GetColorU32(ImGuiCol_Text));
      dl->AddText(ImVec2(bar.Max.x + 5, y - line / 2), ImGui::GetColorU32(ImGuiCol_Text), t.label.c_str());
    }
  }
  if (!options.label.empty()) dl->AddText(pos, ImGui::GetColorU32(ImGuiCol_Text), options.label.c_str());
}

//-----------------------------------------------------------------------------
// [SECTION] Custom-item helpers
//-----------------------------------------------------------------------------

const Transform& transform() { return cur().transform; }
ImDrawList* draw_list() { return cur().draw_list; }
PixelRect plot_area() {
  const ImRect& a = cur().area;
  return {a.Min.x, a.Min.y, a.Max.x, a.Max.y};
}
bool hovered() { return cur().area_hovered && !cur().line_hovered && cur().state->dragging_line == 0; }
const std::string& hover_text() { return cur().hover.text; }

bool mouse_position(double* x, double* y) {
  const Current& c = cur();
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  if (!c.area.Contains(mouse)) return false;
  *x = c.transform.to_data_x(mouse.x);
  *y = c.transform.to_data_y(mouse.y);
  return true;
}

bool clicked(double* x, double* y) {
  const Current& c = cur();
  if (!c.clicked) return false;
  *x = c.click_x;
  *y = c.click_y;
  return true;
}

bool box_selected(ViewRect* rect) {
  const Current& c = cur();
  if (!c.box_done || !c.options.box_select) return false;
  *rect = c.box;
  return true;
}

void add_extent(Range x, Range y) { include_extent(x, y); }
void legend_entry(const char* label, ImU32 color, LegendMarker marker) { cur().legend.push_back({label, color, marker}); }
bool item_hidden(const char* label) { return cur().state->hidden.count(label) > 0; }
bool exporting_csv() { return cur().collecting_csv; }
void add_export_series(SeriesData series) { cur().csv_series.push_back(std::move(series)); }
void request_fit() { cur().state->fit_requested = true; }
const ViewRect& view() { return cur().transform.view(); }

//-----------------------------------------------------------------------------
// [SECTION] Export and frame hooks
//-----------------------------------------------------------------------------

void new_frame() { module().heatmap_draws.clear(); }

void process_captures(int framebuffer_height) {
  Module& m = module();
  const ImDrawData* draw_data = ImGui::GetDrawData();
  const ImVec2 scale = draw_data ? draw_data->FramebufferScale : ImVec2(1, 1);
  for (const auto& request : m.captures) {
    try {
      const auto image = gl::read_pixels(
          static_cast<int>(request.rect.Min.x * scale.x), static_cast<int>(request.rect.Min.y * scale.y),
          static_cast<int>(request.rect.GetWidth() * scale.x), static_cast<int>(request.rect.GetHeight() * scale.y),
          framebuffer_height);
      gl::write_png(request.path, image);
      spdlog::info("plot: exported {}", request.path);
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
    }
  }
  m.captures.clear();
}

void set_export_dir(const std::string& dir) { module().export_dir = dir.empty() ? "." : dir; }

void request_export(const std::string& id, bool png, bool csv) {
  auto& request = module().requested_exports[id];
  request.first = request.first || png;
  request.second = request.second || csv;
}

void shutdown() {
  Module& m = module();
  m.plots.clear();
  m.context = nullptr;
  m.frame = 0;
  m.captures.clear();
  m.requested_exports.clear();
  m.heatmap_draws.clear();
  m.heatmap_textures.clear();
  m.heatmap_program.reset();
  if (m.quad_vao) glDeleteVertexArrays(1, &m.quad_vao);
  m.quad_vao = 0;
  gl::release_colormap_textures();
}

}  // namespace sightline::plot
