// Our small ImPlot-like plotting module. One options struct per call; data as plain
// const float* + count + stride. A plot has axes with nice ticks, zoom (wheel) and pan
// (left drag), double-click to fit, hover tooltips, a legend (click hides an item), box
// selection (right drag), draggable threshold lines, and PNG / CSV export from its
// context menu (right click). Large point sets are not drawn through ImGui: draw them
// into a texture (ui/gl/scatter_renderer) and show it with draw_list()->AddImage.
//
// Usage (ImGui thread only):
//   plot::PlotOptions opt;  opt.x.label = "cosine";
//   if (plot::begin_plot("fvu", opt)) {
//     plot::plot_line({"text"}, xs, ys, n);
//     if (plot::drag_line_x({"eps"}, &eps)) recount();
//     plot::end_plot();
//   }
#pragma once

#include <imgui.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ui/plot/colormap.h"
#include "ui/plot/export.h"
#include "ui/plot/ticks.h"
#include "ui/plot/transform.h"

namespace sightline::plot {

enum class AxisScale {
  kLinear,
  kLog10,  // coordinates are log10 of the quantity; ticks are labelled with the quantity
};

struct AxisOptions {
  std::string label;
  AxisScale scale = AxisScale::kLinear;
  bool locked = false;  // no zoom or pan along this axis
  // Fixed ticks (value in axis units, label) instead of nice steps: a categorical axis such
  // as a heat map's grid values. Those outside the view are not drawn.
  std::vector<Tick> ticks;
};

struct PlotOptions {
  std::string title;               // drawn above the plot area; may be empty
  ImVec2 size{0, 0};               // <= 0: all the available width / height
  AxisOptions x, y;
  bool has_initial_view = false;   // show initial_view at first (else fit the data)
  ViewRect initial_view;
  bool legend = true;
  bool box_select = false;         // right drag selects a rectangle: see box_selected()
  const ViewRect* set_view = nullptr;  // forces this view now (scripted cameras, tests)
  // The items paint the whole area themselves (the GPU scatter): no background fill, and
  // the grid is drawn over the items instead of under them.
  bool opaque_content = false;
};

// Starts a plot; returns false when it is clipped away (then do not call end_plot).
bool begin_plot(const char* id, const PlotOptions& options);
void end_plot();

struct LineOptions {
  const char* label = "";  // legend / tooltip name; "##x" hides it from the legend
  ImU32 color = 0;         // 0: the next colour of the palette
  float thickness = 1.5f;
  bool markers = false;    // also draw a dot at each point
};
// A polyline through (xs[i], ys[i]); NaN breaks the line. stride in bytes.
void plot_line(const LineOptions& options, const float* xs, const float* ys, int count,
               int stride = sizeof(float));

struct HeatmapOptions {
  const char* label = "";
  Colormap colormap = Colormap::kViridis;
  double value_min = 0, value_max = 0;  // equal: the data's range (symmetric if diverging)
  bool diverging = false;               // range symmetric about zero
  ViewRect bounds{{0, 0}, {0, 0}};      // data rectangle covered; empty: [0, cols] x [0, rows]
  uint64_t data_version = 0;            // re-upload only when this changes (0: every frame)
  // printf format of one double (e.g. "%.0f"): each cell's value written in it, in black
  // or white against its colour, when every cell is large enough for its text; nullptr: none.
  const char* annotate_format = nullptr;
  bool annotate_compact = false;  // magnitudes >= 10^4 written as "16k", "1.2M" instead
  // Names of the rows / columns for the hover tooltip (else their indices).
  std::vector<std::string> row_names, col_names;
};
// A rows x cols row-major matrix drawn through the colormap shader; row 0 at the bottom.
// Non-finite cells are left blank (the plot background) and not annotated.
// Returns the value range used (for a colorbar).
Range plot_heatmap(const HeatmapOptions& options, const float* values, int rows, int cols);

struct PointsOptions {
  const char* label = "";  // legend / tooltip name; "##x" hides it from the legend
  ImU32 color = 0;         // 0: the next colour of the palette
  float radius = 3.5f;     // pixels (a 1-pixel dark rim is drawn around it)
};
// Unconnected round markers at (xs[i], ys[i]) (a scatter of a few thousand points at most;
// larger sets go through ui/gl/scatter_renderer); non-finite points are skipped. `names`
// (optional; entry i names point i, e.g. "L3:H1") follow the label in the hover tooltip.
void plot_points(const PointsOptions& options, const float* xs, const float* ys, int count,
                 const std::vector<std::string>* names = nullptr);

struct DragLineOptions {
  const char* id = "";  // unique within the plot; also the hover label
  ImU32 color = IM_COL32(255, 255, 255, 255);
  float thickness = 2.0f;
};
// A vertical line at *x (or horizontal at *y) that the user drags; true when it moved.
bool drag_line_x(const DragLineOptions& options, double* x);
bool drag_line_y(const DragLineOptions& options, double* y);

struct ColorbarOptions {
  Colormap colormap = Colormap::kViridis;
  Range range{0, 1};
  ImVec2 size{60, 0};  // height <= 0: the available height
  std::string label;
};
// A vertical colour scale with ticks, as its own widget (place it beside a heat map).
void colorbar(const char* id, const ColorbarOptions& options);

// --- Custom items: call between begin_plot and end_plot ------------------------------
const Transform& transform();           // data <-> screen pixels of the plot area
ImDrawList* draw_list();                // clipped to the plot area
PixelRect plot_area();                  // the area in screen pixels
bool hovered();                         // the mouse is over the area (not over a dragged line)
const std::string& hover_text();        // the tooltip the items drawn so far show ("" when none)
bool mouse_position(double* x, double* y);  // the mouse in data units; false when outside
bool clicked(double* x, double* y);     // a left click (press + release, no drag) ended now
bool box_selected(ViewRect* rect);      // a right-drag box ended now (data units)
void add_extent(Range x, Range y);      // data extent for "fit"
enum class LegendMarker { kLine, kSquare, kHollowSquare, kCircle, kCross };
void legend_entry(const char* label, ImU32 color, LegendMarker marker);
bool item_hidden(const char* label);    // the user hid it by clicking its legend entry
bool exporting_csv();                   // a CSV export collects data this frame
void add_export_series(SeriesData series);
void request_fit();
const ViewRect& view();

// --- Frame hooks (the app shell calls these) ------------------------------------------
void new_frame();  // after ImGui::NewFrame
// After the frame is rendered to the back buffer, before swapping: performs PNG exports.
void process_captures(int framebuffer_height);
void set_export_dir(const std::string& dir);
// Exports plot `id` (the begin_plot id) the next time it is drawn, as the context menu
// does: <export dir>/<id>.png (after rendering) and / or <id>.csv (its series).
void request_export(const std::string& id, bool png, bool csv);
void shutdown();   // deletes GL resources (before the context is destroyed)

// The palette colour of item k.
ImU32 palette_color(int k);

}  // namespace sightline::plot
