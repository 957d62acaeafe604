// The plot module's interaction, driven through a headless ImGui context (no window, no
// GL: line plots and drag lines draw only into ImGui's draw lists): wheel zoom, drag
// pan, click, box selection, drag lines reporting whether they moved, legend toggles, hover
// tooltips naming the point.
#include <gtest/gtest.h>
#include <imgui.h>

#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "ui/plot/plot.h"

using namespace sightline;

namespace {

// One ImGui context with a built font atlas; each frame() runs `body` inside a window
// at (0, 0) of 800 x 600 with the given mouse state.
class HeadlessImGui {
 public:
  HeadlessImGui() {
    context_ = ImGui::CreateContext();
    ImGuiIO& io = ImGui::GetIO();
    io.IniFilename = nullptr;
    io.DisplaySize = ImVec2(800, 600);
    io.DeltaTime = 1.0f / 60;
    unsigned char* pixels = nullptr;
    int w = 0, h = 0;
    io.Fonts->GetTexDataAsRGBA32(&pixels, &w, &h);
  }
  ~HeadlessImGui() { ImGui::DestroyContext(context_); }

  void frame(ImVec2 mouse, bool left, bool right, float wheel, const std::function<void()>& body) {
    ImGuiIO& io = ImGui::GetIO();
    io.MousePos = mouse;
    io.MouseDown[0] = left;
    io.MouseDown[1] = right;
    io.MouseWheel = wheel;
    ImGui::NewFrame();
    plot::new_frame();
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(ImVec2(800, 600));
    ImGui::Begin("test", nullptr, ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove);
    body();
    ImGui::End();
    ImGui::Render();
  }

 private:
  ImGuiContext* context_;
};

const float kXs[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
const float kYs[] = {0, 1, 4, 9, 16, 25, 36, 49, 64, 81, 100};

struct Observed {
  plot::ViewRect view;
  plot::PixelRect area;
  bool clicked = false;
  double click_x = 0, click_y = 0;
  bool boxed = false;
  plot::ViewRect box;
  bool line_moved = false;
  bool hidden = false;
};

// A fixed plot: view [0, 10] x [0, 100], a line and a vertical drag line at *x_line.
Observed draw_plot(double* x_line) {
  Observed o;
  plot::PlotOptions options;
  options.has_initial_view = true;
  options.initial_view = {{0, 10}, {0, 100}};
  options.box_select = true;
  options.size = ImVec2(700, 500);
  options.x.label = "x";
  if (plot::begin_plot("p", options)) {
    plot::plot_line({"squares"}, kXs, kYs, 11);
    o.line_moved = plot::drag_line_x({"threshold"}, x_line);
    o.clicked = plot::clicked(&o.click_x, &o.click_y);
    o.boxed = plot::box_selected(&o.box);
    o.hidden = plot::item_hidden("squares");
    o.view = plot::view();
    o.area = plot::plot_area();
    plot::end_plot();
  }
  return o;
}

}  // namespace

TEST(GuiPlotInteraction, WheelZoomsAboutTheMouse) {
  HeadlessImGui imgui;
  double line = 8;
  Observed o;
  imgui.frame({-100, -100}, false, false, 0, [&] { o = draw_plot(&line); });
  const plot::Transform t(o.area, o.view);
  const ImVec2 mouse(static_cast<float>(t.to_pixel_x(2.5)), static_cast<float>(t.to_pixel_y(40)));
  imgui.frame(mouse, false, false, 0, [&] { o = draw_plot(&line); });
  imgui.frame(mouse, false, false, 1, [&] { o = draw_plot(&line); });
  EXPECT_LT(o.view.x.span(), 10 * 0.9);
  EXPECT_LT(o.view.y.span(), 100 * 0.9);
  const plot::Transform z(o.area, o.view);
  // The point under the mouse stays put (to half a pixel: the area's left margin follows
  // the width of the new tick labels).
  EXPECT_NEAR(z.to_pixel_x(2.5), mouse.x, 0.5);
  EXPECT_NEAR(z.to_pixel_y(40), mouse.y, 0.5);
}

TEST(GuiPlotInteraction, DragPansAndAStillPressIsAClick) {
  HeadlessImGui imgui;
  double line = 9.5;
  Observed o;
  imgui.frame({-100, -100}, false, false, 0, [&] { o = draw_plot(&line); });
  const plot::Transform t(o.area, o.view);
  const ImVec2 start(static_cast<float>(t.to_pixel_x(3)), static_cast<float>(t.to_pixel_y(50)));
  imgui.frame(start, false, false, 0, [&] { o = draw_plot(&line); });
  imgui.frame(start, true, false, 0, [&] { o = draw_plot(&line); });
  imgui.frame(ImVec2(start.x + 20, start.y + 20), true, false, 0, [&] { o = draw_plot(&line); });
  imgui.frame(ImVec2(start.x + 70, start.y + 10), true, false, 0, [&] { o = draw_plot(&line); });
  imgui.frame(ImVec2(start.x + 70, start.y + 10), false, false, 0, [&] { o = draw_plot(&line); });
  EXPECT_FALSE(o.clicked);  // a drag is not a click
  const plot::Transform after(o.area, o.view);
  // The data point grabbed at the start follows the mouse.
  EXPECT_NEAR(after.to_data_x(start.x + 70), 3, 1e-3);
  EXPECT_NEAR(after.to_data_y(start.y + 10), 50, 1e-2);
  EXPECT_DOUBLE_EQ(line, 9.5);  // the drag line did not move

  // Press and release in place: a click at that data position.
  const ImVec2 at(static_cast<float>(after.to_pixel_x(4)), static_cast<float>(after.to_pixel_y(20)));
  imgui.frame(at, false, false, 0, [&] { o = draw_plot(&line); });
  imgui.frame(at, true, false, 0, [&] { o = draw_plot(&line); });
  imgui.frame(at, false, false, 0, [&] { o = draw_plot(&line); });
  ASSERT_TRUE(o.clicked);
  EXPECT_NEAR(o.click_x, 4, 0.05);
  EXPECT_NEAR(o.click_y, 20, 0.5);
}

TEST(GuiPlotInteraction, DragLineReportsMovesAndTakesThePress) {
  HeadlessImGui imgui;
  double line = 5;
  Observed o;
  imgui.frame({-100, -100}, false, false, 0, [&] { o = draw_plot(&line); });
  const plot::Transform t(o.area, o.view);
  const ImVec2 on_line(static_cast<float>(t.to_pixel_x(5)) + 2, static_cast<float>(t.to_pixel_y(30)));
  imgui.frame(on_line, false, false, 0, [&] { o = draw_plot(&line); });
  EXPECT_FALSE(o.line_moved);
  imgui.frame(on_line, true, false, 0, [&] { o = draw_plot(&line); });
  const float target = static_cast<float>(t.to_pixel_x(7));
  imgui.frame(ImVec2(target, on_line.y + 30), true, false, 0, [&] { o = draw_plot(&line); });
  EXPECT_TRUE(o.line_moved);
  EXPECT_NEAR(line, 7, 0.02);
  imgui.frame(ImVec2(target, on_line.y + 30), true, false, 0, [&] { o = draw_plot(&line); });
  EXPECT_FALSE(o.line_moved);  // held still: no move reported
  imgui.frame(ImVec2(target, on_line.y + 30), false, false, 0, [&] { o = draw_plot(&line); });
  // The view did not pan while the line was dragged.
  EXPECT_DOUBLE_EQ(o.view.x.min, 0);
  EXPECT_DOUBLE_EQ(o.view.y.min, 0);
}

TEST(GuiPlotInteraction, RightDragSelectsABox) {
  HeadlessImGui imgui;
  double line = 9.9;
  Observed o;
  imgui.frame({-100, -100}, false, false, 0, [&] { o = draw_plot(&line); });
  const plot::Transform t(o.area, o.view);
  const ImVec2 a(static_cast<float>(t.to_pixel_x(2)), static_cast<float>(t.to_pixel_y(80)));
  const ImVec2 b(static_cast<float>(t.to_pixel_x(6)), static_cast<float>(t.to_pixel_y(10)));
  imgui.frame(a, false, false, 0, [&] { o = draw_plot(&line); });
  imgui.frame(a, false, true, 0, [&] { o = draw_plot(&line); });
  imgui.frame(b, false, true, 0, [&] { o = draw_plot(&line); });
  EXPECT_FALSE(o.boxed);
  imgui.frame(b, false, false, 0, [&] { o = draw_plot(&line); });
  ASSERT_TRUE(o.boxed);
  EXPECT_NEAR(o.box.x.min, 2, 0.02);
  EXPECT_NEAR(o.box.x.max, 6, 0.02);
  EXPECT_NEAR(o.box.y.min, 10, 0.3);
  EXPECT_NEAR(o.box.y.max, 80, 0.3);
  EXPECT_DOUBLE_EQ(o.view.x.min, 0);  // a box does not move the view
}

TEST(GuiPlotInteraction, LegendClickHidesAnItem) {
  HeadlessImGui imgui;
  double line = 9.9;
  Observed o;
  imgui.frame({-100, -100}, false, false, 0, [&] { o = draw_plot(&line); });
  // The legend sits at the area's top-right corner: its single row.
  const float line_height = ImGui::GetTextLineHeight();
  const ImVec2 row(static_cast<float>(o.area.x1) - 30, static_cast<float>(o.area.y0) + 8 + 5 + line_height / 2);
  imgui.frame(row, false, false, 0, [&] { o = draw_plot(&line); });
  imgui.frame(row, true, false, 0, [&] { o = draw_plot(&line); });
  imgui.frame(row, false, false, 0, [&] { o = draw_plot(&line); });
  EXPECT_TRUE(o.hidden);
  EXPECT_FALSE(o.clicked);  // the press went to the legend
  EXPECT_DOUBLE_EQ(o.view.x.min, 0);
}

TEST(GuiPlotInteraction, CsvExportWritesTheDrawnSeries) {
  HeadlessImGui imgui;
  const std::string dir = test::scratch_dir("gui-export");
  plot::set_export_dir(dir);
  plot::request_export("p", false, true);
  double line = 9.9;
  imgui.frame({-100, -100}, false, false, 0, [&] { draw_plot(&line); });
  plot::set_export_dir(".");
  std::ifstream in(dir + "/p.csv");
  ASSERT_TRUE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str().rfind("series,x,y\nsquares,0,0\nsquares,1,1\nsquares,2,4\n", 0), 0u) << text.str();
  EXPECT_NE(text.str().find("squares,10,100\n"), std::string::npos);
}

TEST(GuiPlotInteraction, HoverOverAPointNamesIt) {
  HeadlessImGui imgui;
  const float xs[] = {-0.5f, 0.0f, 0.5f}, ys[] = {1.0f, -1.0f, 0.25f};
  const std::vector<std::string> names = {"L0:H1", "L2:H3", "L4:H0"};
  plot::PixelRect area;
  plot::ViewRect view;
  std::string text;
  auto draw = [&] {
    plot::PlotOptions options;
    options.has_initial_view = true;
    options.initial_view = {{-1, 1}, {-2, 2}};
    options.size = ImVec2(600, 400);
    if (plot::begin_plot("points", options)) {
      plot::plot_points({"A"}, xs, ys, 3, &names);
      text = plot::hover_text();
      area = plot::plot_area();
      view = plot::view();
      plot::end_plot();
    }
  };
  imgui.frame({-100, -100}, false, false, 0, draw);
  EXPECT_EQ(text, "") << "the mouse is outside";
  const plot::Transform t(area, view);
  for (int i = 0; i < 3; ++i) {
    const ImVec2 near(static_cast<float>(t.to_pixel_x(xs[i])) + 3, static_cast<float>(t.to_pixel_y(ys[i])) - 2);
    imgui.frame(near, false, false, 0, draw);
    imgui.frame(near, false, false, 0, draw);
    EXPECT_EQ(text.rfind("A " + names[static_cast<size_t>(i)] + "\n", 0), 0u) << text;
  }
  // Between points, farther than the pick radius from each: no tooltip.
  const ImVec2 away(static_cast<float>(t.to_pixel_x(-0.75)), static_cast<float>(t.to_pixel_y(-1.5)));
  imgui.frame(away, false, false, 0, draw);
  EXPECT_EQ(text, "");
}
