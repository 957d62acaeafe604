// core/figures: canvas rasterisation (pixel checks), ticks and labels, PNG round trip,
// and the chart helpers (scatter density path, bars, heat maps, layout).
#include <gtest/gtest.h>
#include <stb_image.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <random>

#include "core/figures/axes.h"
#include "core/figures/canvas.h"
#include "core/figures/charts.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace sightline;

namespace {

constexpr Rgb kRed{220, 0, 0};

bool is_white(Rgb c) { return c == colors::kWhite; }

struct Box {
  int x0 = 1 << 30, y0 = 1 << 30, x1 = -1, y1 = -1;
  bool empty() const { return x1 < 0; }
};

// Bounding box of the pixels in `area` for which pred(colour) holds.
template <typename Pred>
Box bounding_box(const Canvas& c, const Rect& area, Pred pred) {
  Box b;
  for (int y = area.y; y < area.y + area.h; ++y)
    for (int x = area.x; x < area.x + area.w; ++x)
      if (pred(c.pixel(x, y))) {
        b.x0 = std::min(b.x0, x);
        b.y0 = std::min(b.y0, y);
        b.x1 = std::max(b.x1, x);
        b.y1 = std::max(b.y1, y);
      }
  return b;
}

void expect_ticks(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-9 * std::max(1.0, std::abs(want[i]))) << i;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Canvas
// ---------------------------------------------------------------------------------------

TEST(FiguresCanvas, LineFromCornerToCornerColoursTheDiagonal) {
  Canvas c(10, 10);
  c.draw_line(0, 0, 9, 9, colors::kBlack, 1);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(c.pixel(i, i), colors::kBlack) << i;
  // Next to the diagonal: partial coverage (anti-aliased), neither white nor black.
  const Rgb side = c.pixel(1, 0);
  EXPECT_GT(side.r, 0);
  EXPECT_LT(side.r, 255);
  // Far from it: untouched.
  for (int i = 0; i + 3 < 10; ++i) {
    EXPECT_TRUE(is_white(c.pixel(i + 3, i)));
    EXPECT_TRUE(is_white(c.pixel(i, i + 3)));
  }
}

TEST(FiguresCanvas, HorizontalLineAtIntegerRowIsOnePixelThick) {
  Canvas c(20, 9);
  c.draw_line(2, 4, 17, 4, kRed, 1);
  for (int x = 2; x <= 17; ++x) {
    EXPECT_EQ(c.pixel(x, 4), kRed) << x;
    EXPECT_TRUE(is_white(c.pixel(x, 3)));
    EXPECT_TRUE(is_white(c.pixel(x, 5)));
  }
  EXPECT_TRUE(is_white(c.pixel(0, 4)));
  EXPECT_TRUE(is_white(c.pixel(19, 4)));
}

TEST(FiguresCanvas, RectFillsExactlyAndClips) {
  Canvas c(12, 10);
  c.fill_rect(3, 4, 5, 2, kRed);
  for (int y = 0; y < 10; ++y)
    for (int x = 0; x < 12; ++x) {
      const bool in = x >= 3 && x < 8 && y >= 4 && y < 6;
      EXPECT_EQ(c.pixel(x, y), in ? kRed : colors::kWhite) << x << "," << y;
    }
  Canvas d(6, 6);
  d.fill_rect(-2, -2, 4, 4, kRed);  // only [0, 2) x [0, 2) is on the canvas
  int red = 0;
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 6; ++x) red += d.pixel(x, y) == kRed;
  EXPECT_EQ(red, 4);
  EXPECT_EQ(d.pixel(1, 1), kRed);
}

TEST(FiguresCanvas, AntiAliasedRectCoversFractions) {
  Canvas c(6, 6);
  // Pixel i spans [i - 0.5, i + 0.5]: this covers pixels 2 and 3 of row 2 exactly.
  c.fill_rect_aa(1.5, 1.5, 3.5, 2.5, colors::kBlack);
  EXPECT_EQ(c.pixel(2, 2), colors::kBlack);
  EXPECT_EQ(c.pixel(3, 2), colors::kBlack);
  EXPECT_TRUE(is_white(c.pixel(1, 2)));
  EXPECT_TRUE(is_white(c.pixel(4, 2)));
  EXPECT_TRUE(is_white(c.pixel(2, 1)));
  // Half of pixel (4, 4).
  c.fill_rect_aa(3.5, 3.5, 4.0, 4.5, colors::kBlack);
  EXPECT_NEAR(c.pixel(4, 4).r, 128, 1);
}

TEST(FiguresCanvas, ClipKeepsDrawingInside) {
  Canvas c(20, 20);
  c.set_clip(5, 5, 10, 10);
  c.draw_line(0, 10, 19, 10, kRed, 3);
  c.fill_rect(0, 0, 20, 3, kRed);
  c.reset_clip();
  EXPECT_TRUE(is_white(c.pixel(2, 10)));
  EXPECT_TRUE(is_white(c.pixel(17, 10)));
  EXPECT_TRUE(is_white(c.pixel(10, 1)));
  EXPECT_EQ(c.pixel(10, 10), kRed);
}

TEST(FiguresCanvas, MarkersFillAroundTheirCentre) {
  for (Marker m : {Marker::kCircle, Marker::kSquare, Marker::kDiamond, Marker::kTriangle, Marker::kCross}) {
    Canvas c(30, 30);
    c.draw_marker(15, 15, m, 5, kRed);
    EXPECT_EQ(c.pixel(15, 15), kRed) << static_cast<int>(m);
    const Box b = bounding_box(c, {0, 0, 30, 30}, [](Rgb p) { return !is_white(p); });
    EXPECT_GE(b.x0, 9);
    EXPECT_LE(b.x1, 21);
    EXPECT_GE(b.y0, 9);
    EXPECT_LE(b.y1, 21);
  }
}

TEST(FiguresCanvas, TextStaysInItsBoxAndAnchorsMoveIt) {
  Canvas c(200, 60);
  const std::string text = "FVU 0.25";
  c.draw_text(10, 10, text, {2, colors::kBlack});
  const Box b = bounding_box(c, {0, 0, 200, 60}, [](Rgb p) { return !is_white(p); });
  ASSERT_FALSE(b.empty());
  EXPECT_GE(b.x0, 10);
  EXPECT_GE(b.y0, 10);
  EXPECT_LE(b.x1, 10 + text_width(text, 2));
  EXPECT_LE(b.y1, 10 + text_height(text, 2));
  EXPECT_GT(b.x1 - b.x0, text_width(text, 2) * 0.8);

  Canvas d(200, 60);
  d.draw_text(100, 30, text, {2, colors::kBlack, HAlign::kCenter, VAlign::kMiddle});
  const Box m = bounding_box(d, {0, 0, 200, 60}, [](Rgb p) { return !is_white(p); });
  EXPECT_NEAR((m.x0 + m.x1) / 2.0, 100, 3);
  EXPECT_NEAR((m.y0 + m.y1) / 2.0, 30, 3);

  // Vertical text: taller than wide.
  Canvas v(60, 200);
  v.draw_text(30, 100, text, {2, colors::kBlack, HAlign::kCenter, VAlign::kMiddle, true});
  const Box vb = bounding_box(v, {0, 0, 60, 200}, [](Rgb p) { return !is_white(p); });
  EXPECT_GT(vb.y1 - vb.y0, 3 * (vb.x1 - vb.x0));
  EXPECT_NEAR((vb.y0 + vb.y1) / 2.0, 100, 3);
}

TEST(FiguresCanvas, NonAsciiTextIsDrawnAsPlaceholders) {
  Canvas c(100, 30);
  c.draw_text(2, 2, "c\xc3\xa9\x01~", {2, colors::kBlack});  // UTF-8 and a control byte
  EXPECT_FALSE(bounding_box(c, {0, 0, 100, 30}, [](Rgb p) { return !is_white(p); }).empty());
  EXPECT_EQ(text_width("??", 2), text_width("\xc3\xa9", 2));
}

TEST(FiguresCanvas, BadSizesAreErrors) {
  EXPECT_NE(test::error_of([] { Canvas c(0, 10); }).find("canvas"), std::string::npos);
  EXPECT_NE(test::error_of([] { Canvas c(10, 100000); }).find("canvas"), std::string::npos);
  Canvas c(4, 4);
  EXPECT_NE(test::error_of([&] { c.pixel(4, 0); }).find("outside"), std::string::npos);
}

TEST(FiguresCanvas, ColorMapsEndsAndMissing) {
  EXPECT_EQ(colormap(ColorMap::kViridis, 0), (Rgb{68, 1, 84}));
  EXPECT_EQ(colormap(ColorMap::kViridis, 1), (Rgb{253, 231, 37}));
  EXPECT_EQ(colormap(ColorMap::kViridis, 2), colormap(ColorMap::kViridis, 1));
  EXPECT_EQ(colormap(ColorMap::kDiverging, 0.5), (Rgb{247, 247, 247}));
  EXPECT_EQ(colormap(ColorMap::kDiverging, std::nan("")), colors::kMissing);
  EXPECT_NE(palette_color(0), palette_color(1));
  EXPECT_EQ(palette_color(0), palette_color(10));
}

// ---------------------------------------------------------------------------------------
// Ticks and labels
// ---------------------------------------------------------------------------------------

TEST(FiguresTicks, NiceStepsForKnownRanges) {
  expect_ticks(nice_ticks(0, 1, 6), {0, 0.2, 0.4, 0.6, 0.8, 1.0});
  expect_ticks(nice_ticks(0, 97, 6), {0, 20, 40, 60, 80});
  expect_ticks(nice_ticks(0.0013, 0.0091, 5), {0.002, 0.004, 0.006, 0.008});
  expect_ticks(nice_ticks(-0.3, 1.04, 6), {0, 0.5, 1.0});
  expect_ticks(nice_ticks(-0.3, 1.04, 8), {-0.2, 0, 0.2, 0.4, 0.6, 0.8, 1.0});
  expect_ticks(nice_ticks(-0.5, 2.5, 8, true), {0, 1, 2});
  expect_ticks(nice_ticks(3, 3), {3});
  EXPECT_DOUBLE_EQ(nice_step(7, 6), 2);
  EXPECT_DOUBLE_EQ(nice_step(3, 6), 1);
  EXPECT_DOUBLE_EQ(nice_step(0.3, 6), 0.1);
  EXPECT_DOUBLE_EQ(nice_step(0.3, 6, true), 1);
  EXPECT_DOUBLE_EQ(nice_step(4500, 6), 1000);
  EXPECT_TRUE(nice_ticks(NAN, 1).empty());
  // Exactly zero, not 1e-17.
  const auto t = nice_ticks(-0.3, 0.3, 7);
  EXPECT_TRUE(std::find(t.begin(), t.end(), 0.0) != t.end());
}

TEST(FiguresTicks, LogTicks) {
  expect_ticks(log_ticks(1e-5, 1, 8), {1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1});
  expect_ticks(log_ticks(0.7, 2e12, 5), {1, 1e3, 1e6, 1e9, 1e12});
  expect_ticks(log_ticks(0.3, 20), {0.5, 1, 2, 5, 10, 20});
  // Under a decade with too few 1-2-5 values: linear nice ticks inside.
  expect_ticks(log_ticks(1000, 4000), {1000, 2000, 3000, 4000});
  EXPECT_TRUE(log_ticks(0, 10).empty());
  Axis a;
  a.lo = 1;
  a.hi = 100;
  a.scale = Scale::kLog;
  EXPECT_DOUBLE_EQ(a.fraction(10), 0.5);
  EXPECT_TRUE(std::isnan(a.fraction(0)));
  EXPECT_TRUE(std::isnan(a.fraction(-1)));
}

TEST(FiguresTicks, Labels) {
  EXPECT_EQ(format_tick(0.2, 0.2), "0.2");
  EXPECT_EQ(format_tick(15, 5), "15");
  EXPECT_EQ(format_tick(0, 0.2), "0");
  EXPECT_EQ(format_tick(1e-17, 0.2), "0");
  EXPECT_EQ(format_tick(-0.4, 0.2), "-0.4");
  EXPECT_EQ(format_tick(3000, 1000), "3k");
  EXPECT_EQ(format_tick(250000, 50000), "250k");
  EXPECT_EQ(format_tick(1.5e6, 5e5), "1.5M");
  EXPECT_EQ(format_tick(2.5e-4, 5e-5), "2.5e-4");
  EXPECT_EQ(format_log_tick(1e-4), "1e-4");
  EXPECT_EQ(format_log_tick(0.05), "5e-2");
  EXPECT_EQ(format_log_tick(0.5), "0.5");
  EXPECT_EQ(format_log_tick(2000), "2k");
  EXPECT_EQ(format_log_tick(2e5), "200k");
  EXPECT_EQ(format_log_tick(100), "100");
  EXPECT_EQ(format_log_tick(1e4), "10k");
  EXPECT_EQ(format_log_tick(1e6), "1M");
  EXPECT_EQ(format_value(1234), "1234");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(-0.5), "-0.5");
  EXPECT_EQ(format_value(1e-5), "1e-5");
  EXPECT_EQ(format_value(0.05), "0.05");
  EXPECT_EQ(format_value(1.5e6), "1.5M");
  EXPECT_EQ(format_value(std::nan("")), "-");
}

TEST(FiguresTicks, FitAxis) {
  const Axis a = fit_axis({1, 3, NAN, 2}, Scale::kLinear, 0.1);
  EXPECT_DOUBLE_EQ(a.lo, 0.8);
  EXPECT_DOUBLE_EQ(a.hi, 3.2);
  const Axis z = fit_axis({1, 3}, Scale::kLinear, 0, true);
  EXPECT_DOUBLE_EQ(z.lo, 0);
  const Axis l = fit_axis({0, -1, 10, 1000}, Scale::kLog, 0);  // non-positive ignored
  EXPECT_DOUBLE_EQ(l.lo, 10);
  EXPECT_NEAR(l.hi, 1000, 1e-9);
  const Axis empty = fit_axis({}, Scale::kLinear);
  EXPECT_LT(empty.lo, empty.hi);
  const Axis one = fit_axis({5}, Scale::kLinear, 0);
  EXPECT_LT(one.lo, 5);
  EXPECT_GT(one.hi, 5);
}

// ---------------------------------------------------------------------------------------
// PNG
// ---------------------------------------------------------------------------------------

TEST(FiguresPng, RoundTripThroughStbImage) {
  Canvas c(17, 11);
  std::mt19937 rng(7);
  for (int y = 0; y < 11; ++y)
    for (int x = 0; x < 17; ++x)
      c.set_pixel(x, y, {static_cast<uint8_t>(rng()), static_cast<uint8_t>(rng()), static_cast<uint8_t>(rng())});
  const auto bytes = encode_png(c);
  int w = 0, h = 0, n = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> decoded(
      stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &n, 3), stbi_image_free);
  ASSERT_TRUE(decoded);
  ASSERT_EQ(w, 17);
  ASSERT_EQ(h, 11);
  EXPECT_TRUE(std::equal(c.rgb().begin(), c.rgb().end(), decoded.get()));

  const std::string dir = test::scratch_dir("figures-png");
  const std::string path = dir + "/out.png";
  save_png(path, c);
  save_png(path, c);  // replaces
  EXPECT_EQ(test::read_bytes(path), std::string(bytes.begin(), bytes.end()));
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);  // no temporary left behind
}

TEST(FiguresPng, UnwritablePathIsNamed) {
  Canvas c(4, 4);
  const std::string path = test::scratch_dir("figures-png-bad") + "/missing/dir/out.png";
  const std::string message = test::error_of([&] { save_png(path, c); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
}

// ---------------------------------------------------------------------------------------
// Charts
// ---------------------------------------------------------------------------------------

TEST(FiguresCharts, ScatterDensityPathHasThePointPathsBoundingBox) {
  std::mt19937 rng(3);
  std::normal_distribution<double> normal(0, 1);
  ScatterChart chart;
  for (int i = 0; i < 4000; ++i) {
    chart.x.push_back(normal(rng));
    chart.y.push_back(0.5 * normal(rng) + 0.2 * chart.x.back());
  }
  // Outliers that set the box.
  chart.x.insert(chart.x.end(), {-6, 5, 0.3});
  chart.y.insert(chart.y.end(), {0.1, -2, 3.5});
  chart.color = kRed;
  chart.radius = 2;
  chart.alpha = 1;
  chart.title = "cloud";
  auto reddish = [](Rgb p) { return p.r - p.g > 40; };

  Canvas points(640, 480), density(640, 480);
  const ScatterResult a = draw_scatter(points, {0, 0, 640, 480}, chart);
  chart.density_threshold = 100;
  const ScatterResult b = draw_scatter(density, {0, 0, 640, 480}, chart);
  EXPECT_FALSE(a.density);
  EXPECT_TRUE(b.density);
  EXPECT_EQ(a.drawn, chart.x.size());
  EXPECT_EQ(b.drawn, chart.x.size());
  ASSERT_EQ(a.area.x, b.area.x);
  ASSERT_EQ(a.area.w, b.area.w);
  const Box pa = bounding_box(points, a.area, reddish), pb = bounding_box(density, b.area, reddish);
  ASSERT_FALSE(pa.empty());
  ASSERT_FALSE(pb.empty());
  const int tolerance = b.cell;
  EXPECT_NEAR(pa.x0, pb.x0, tolerance);
  EXPECT_NEAR(pa.x1, pb.x1, tolerance);
  EXPECT_NEAR(pa.y0, pb.y0, tolerance);
  EXPECT_NEAR(pa.y1, pb.y1, tolerance);
  // The box spans most of the area (the outliers are near its edges, 4% padding).
  EXPECT_GT(pa.x1 - pa.x0, a.area.w * 0.85);
}

TEST(FiguresCharts, ScatterCountsSkippedPointsAndHandlesAMillion) {
  ScatterChart chart;
  chart.x_scale = Scale::kLog;
  chart.x = {1, 10, 0, -1, NAN};
  chart.y = {1, 2, 3, 4, 5};
  Canvas c(300, 200);
  const ScatterResult r = draw_scatter(c, {0, 0, 300, 200}, chart);
  EXPECT_EQ(r.drawn, 2u);
  EXPECT_EQ(r.skipped, 3u);

  // 1M features take the density path (fast: one pass, no per-point raster).
  ScatterChart big;
  big.x.resize(1000000);
  big.y.resize(1000000);
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> u(0, 1);
  for (size_t i = 0; i < big.x.size(); ++i) {
    big.x[i] = u(rng);
    big.y[i] = big.x[i] * u(rng);
  }
  Canvas d(800, 600);
  const ScatterResult rb = draw_scatter(d, {0, 0, 800, 600}, big);
  EXPECT_TRUE(rb.density);
  EXPECT_EQ(rb.drawn, 1000000u);

  ScatterChart bad;
  bad.x = {1, 2};
  bad.y = {1};
  EXPECT_NE(test::error_of([&] { draw_scatter(c, {0, 0, 300, 200}, bad); }).find("scatter"), std::string::npos);
}

TEST(FiguresCharts, LineChartDrawsEachSeriesInsideTheArea) {
  LineChart chart;
  chart.title = "FVU";
  chart.x_label = "tokens";
  chart.y_label = "fvu";
  chart.x_scale = Scale::kLog;
  chart.series.push_back({"text", {1e3, 1e4, 1e5}, {0.9, 0.3, 0.1}, palette_color(2)});
  chart.series.push_back({"random", {1e3, 1e4, 1e5}, {1.0, 0.8, 0.6}, palette_color(3), 2, true});
  Canvas c(500, 350);
  const Rect area = draw_line_chart(c, {0, 0, 500, 350}, chart);
  for (size_t s = 0; s < 2; ++s) {
    const Rgb color = chart.series[s].color;
    const Box b = bounding_box(c, {0, 0, 500, 350}, [&](Rgb p) { return p == color; });
    ASSERT_FALSE(b.empty()) << s;
    EXPECT_GE(b.x0, area.x);
    EXPECT_LE(b.x1, area.x + area.w);
    EXPECT_GE(b.y0, area.y);
    EXPECT_LE(b.y1, area.y + area.h);
  }
  // The random line lies above the text line at the right end (higher FVU).
  const int x = area.x + area.w - 20;
  int y_text = -1, y_random = -1;
  for (int y = area.y; y < area.y + area.h; ++y) {
    if (c.pixel(x, y) == chart.series[0].color && y_text < 0) y_text = y;
    if (c.pixel(x, y) == chart.series[1].color && y_random < 0) y_random = y;
  }
  ASSERT_GE(y_text, 0);
  ASSERT_GE(y_random, 0);
  EXPECT_LT(y_random, y_text);
}

TEST(FiguresCharts, BarHeightsAreProportional) {
  BarChart chart;
  chart.categories = {"0", "1", "2"};
  chart.series.push_back({"adapted", {1, 2, 4}, kRed});
  chart.legend = LegendPosition::kNone;
  Canvas c(400, 300);
  const Rect area = draw_bar_chart(c, {0, 0, 400, 300}, chart);
  std::vector<int> heights;
  for (int i = 0; i < 3; ++i) {
    // Column through the bar's centre: category i sits at (i + 0.5) / 3 of the area.
    const int x = static_cast<int>(area.x + (i + 0.5) * area.w / 3.0);
    int h = 0;
    for (int y = area.y; y < area.y + area.h; ++y) h += c.pixel(x, y) == kRed;
    heights.push_back(h);
  }
  EXPECT_GT(heights[0], 0);
  EXPECT_NEAR(heights[1], 2.0 * heights[0], 2);
  EXPECT_NEAR(heights[2], 4.0 * heights[0], 3);
  chart.series[0].values = {1, 2};
  EXPECT_NE(test::error_of([&] { draw_bar_chart(c, {0, 0, 400, 300}, chart); }).find("3 categories"),
            std::string::npos);
}

TEST(FiguresCharts, HeatMapCellsTakeTheirColoursRowZeroOnTop) {
  HeatMap map;
  map.rows = 2;
  map.cols = 3;
  map.values = {0, 1, 2, 3, 4, NAN};
  map.colorbar_label = "score";
  Canvas c(500, 360);
  const Rect area = draw_heat_map(c, {0, 0, 500, 360}, map);
  auto centre = [&](int r, int col) {
    return c.pixel(static_cast<int>(area.x + (col + 0.5) * area.w / 3.0), static_cast<int>(area.y + (r + 0.5) * area.h / 2.0));
  };
  EXPECT_EQ(centre(0, 0), colormap(ColorMap::kViridis, 0));
  EXPECT_EQ(centre(1, 1), colormap(ColorMap::kViridis, 1));
  EXPECT_EQ(centre(0, 2), colormap(ColorMap::kViridis, 0.5));
  EXPECT_EQ(centre(1, 2), colors::kMissing);
  // The colour bar right of the cells shows the top of the map near its top.
  bool found_top = false;
  for (int x = area.x + area.w; x < 500 && !found_top; ++x) found_top = c.pixel(x, area.y + 3) == colormap(ColorMap::kViridis, 1.0 - 3.0 / (area.h - 1));
  EXPECT_TRUE(found_top);

  map.values.pop_back();
  EXPECT_NE(test::error_of([&] { draw_heat_map(c, {0, 0, 500, 360}, map); }).find("5 values"), std::string::npos);
}

TEST(FiguresCharts, SymmetricHeatMapCentresZeroOnWhite) {
  HeatMap map;
  map.rows = 1;
  map.cols = 3;
  map.values = {-2, 0, 1};
  map.map = ColorMap::kDiverging;
  map.symmetric = true;
  Canvas c(400, 200);
  const Rect area = draw_heat_map(c, {0, 0, 400, 200}, map);
  const int y = area.y + area.h / 2;
  EXPECT_EQ(c.pixel(static_cast<int>(area.x + 0.5 * area.w / 3), y), colormap(ColorMap::kDiverging, 0));
  EXPECT_EQ(c.pixel(static_cast<int>(area.x + 1.5 * area.w / 3), y), colormap(ColorMap::kDiverging, 0.5));
  EXPECT_EQ(c.pixel(static_cast<int>(area.x + 2.5 * area.w / 3), y), colormap(ColorMap::kDiverging, 0.75));
}

TEST(FiguresCharts, GridLayoutTilesTheArea) {
  const auto cells = grid_layout({10, 20, 400, 300}, 5, 3, 8);
  ASSERT_EQ(cells.size(), 5u);
  for (size_t i = 0; i < cells.size(); ++i) {
    EXPECT_GE(cells[i].x, 10);
    EXPECT_LE(cells[i].x + cells[i].w, 410);
    EXPECT_LE(cells[i].y + cells[i].h, 320);
    for (size_t j = i + 1; j < cells.size(); ++j) {
      const bool apart = cells[i].x + cells[i].w <= cells[j].x || cells[j].x + cells[j].w <= cells[i].x ||
                         cells[i].y + cells[i].h <= cells[j].y || cells[j].y + cells[j].h <= cells[i].y;
      EXPECT_TRUE(apart) << i << " " << j;
    }
  }
  EXPECT_EQ(cells[3].y, cells[4].y);
  EXPECT_GT(cells[3].y, cells[0].y);
  EXPECT_TRUE(grid_layout({0, 0, 10, 10}, 0, 3).empty());
}

TEST(FiguresCharts, BestLegendAvoidsDrawnCorners) {
  Canvas c(300, 200);
  const Rect area{0, 0, 300, 200};
  // Data in three corners; only the bottom-left is empty.
  c.fill_rect(150, 0, 150, 100, kRed);
  c.fill_rect(0, 0, 150, 100, kRed);
  c.fill_rect(150, 100, 150, 100, kRed);
  auto red_pixels = [&] {
    int n = 0;
    for (int y = 0; y < 200; ++y)
      for (int x = 0; x < 300; ++x) n += c.pixel(x, y) == kRed;
    return n;
  };
  const int before = red_pixels();
  draw_legend(c, area, {{"series", colors::kBlack, LegendEntry::Kind::kLine}}, LegendPosition::kBest);
  EXPECT_EQ(red_pixels(), before);
  bool border_bottom_left = false;  // the legend's grey border
  for (int y = 100; y < 200; ++y)
    for (int x = 0; x < 150; ++x) border_bottom_left = border_bottom_left || c.pixel(x, y) == Rgb{200, 200, 200};
  EXPECT_TRUE(border_bottom_left);
}

TEST(FiguresCharts, FigureTitleShrinksToFitTheCanvas) {
  const std::string title = "A rather long figure title that would overflow";
  Canvas c(300, 80);
  const int used = draw_figure_title(c, title, "and a subtitle");
  EXPECT_GT(used, 20);
  const Box b = bounding_box(c, {0, 0, 300, 80}, [](Rgb p) { return !is_white(p); });
  ASSERT_FALSE(b.empty());
  EXPECT_GT(b.x0, 0);
  EXPECT_LT(b.x1, 299);
  EXPECT_LE(b.y1, used);
}
