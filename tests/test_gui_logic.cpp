// The explorer's pure logic, without GL or a display: ticks, transforms, the spatial
// index (against brute force), the adapted-set recount (against brute force), density
// binning and colouring, colormaps, settings JSON, snapshots, the synthetic generator,
// CSV export, option parsing, benchmark statistics, background tasks.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <thread>

#include "core/common/error.h"
#include "core/io/json_util.h"
#include "tests/test_util.h"
#include "ui/adapted_set.h"
#include "ui/app.h"
#include "ui/bench_path.h"
#include "ui/plot/colormap.h"
#include "ui/plot/export.h"
#include "ui/plot/spatial_index.h"
#include "ui/plot/ticks.h"
#include "ui/plot/transform.h"
#include "ui/scatter_model.h"
#include "ui/settings.h"
#include "ui/snapshot.h"
#include "ui/synthetic.h"
#include "ui/task_list.h"

using namespace sightline;
using namespace sightline::ui;
using plot::Range;
using plot::ViewRect;

namespace {

// A random table with clusters and exact duplicates (ties), for the cross-checks.
FeatureTable random_table(size_t n, int layers, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0, 1);
  std::uniform_real_distribution<float> uniform(0, 1);
  FeatureTable t;
  t.num_layers = layers;
  t.source = "random";
  for (size_t i = 0; i < n; ++i) {
    const bool cluster = uniform(rng) < 0.5f;
    float c = cluster ? 0.4f + 0.05f * normal(rng) : uniform(rng) * 2 - 1;
    float e = std::pow(10.0f, cluster ? -2 + 0.3f * normal(rng) : -6 + 5 * uniform(rng));
    if (i % 97 == 5 && i > 0) {  // duplicates of an earlier point
      c = t.decoder_cosine[i / 2];
      e = t.visual_energy[i / 2];
    }
    t.layer.push_back(static_cast<uint16_t>(rng() % layers));
    t.feature.push_back(static_cast<int32_t>(i));
    t.visual_energy.push_back(e);
    t.decoder_cosine.push_back(std::clamp(c, -1.0f, 1.0f));
    t.flags.push_back(static_cast<uint8_t>(i % 50 == 0 ? kFlagSpatialCandidate : 0));
  }
  return t;
}

}  // namespace

// ---- ticks ------------------------------------------------------------------------------

TEST(GuiTicks, NiceStepsAreOneTwoFiveTimesAPowerOfTen) {
  EXPECT_DOUBLE_EQ(plot::nice_step(10, 6), 2);
  EXPECT_DOUBLE_EQ(plot::nice_step(1, 11), 0.1);
  EXPECT_DOUBLE_EQ(plot::nice_step(0.7, 8), 0.1);
  EXPECT_DOUBLE_EQ(plot::nice_step(100, 3), 50);
  EXPECT_DOUBLE_EQ(plot::nice_step(3e-5, 4), 1e-5);
  EXPECT_EQ(plot::nice_step(0, 5), 0);
  EXPECT_EQ(plot::nice_step(std::numeric_limits<double>::infinity(), 5), 0);
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> exponent(-8, 8), ticks(2, 20);
  for (int k = 0; k < 2000; ++k) {
    const double span = std::pow(10.0, exponent(rng));
    const int max_ticks = static_cast<int>(ticks(rng));
    const double step = plot::nice_step(span, max_ticks);
    const double mantissa = step / std::pow(10.0, std::floor(std::log10(step) + 1e-12));
    EXPECT_TRUE(std::fabs(mantissa - 1) < 1e-9 || std::fabs(mantissa - 2) < 1e-9 || std::fabs(mantissa - 5) < 1e-9)
        << "step " << step;
    EXPECT_LE(span / step, max_ticks - 1 + 1e-9);
    // The next smaller nice step would put more than max_ticks ticks on the span.
    const double smaller = mantissa > 1.5 ? step * (mantissa > 3 ? 0.4 : 0.5) : step * 0.5;
    EXPECT_GT(span / smaller, max_ticks - 1 - 1e-9);
  }
}

TEST(GuiTicks, TicksAreMultiplesInsideTheRange) {
  const auto ticks = plot::nice_ticks(-0.37, 12.3, 8);
  ASSERT_FALSE(ticks.empty());
  EXPECT_DOUBLE_EQ(ticks.front(), 0);
  EXPECT_DOUBLE_EQ(ticks.back(), 12);
  for (size_t i = 1; i < ticks.size(); ++i) EXPECT_NEAR(ticks[i] - ticks[i - 1], 2, 1e-12);
  EXPECT_TRUE(plot::nice_ticks(1, 1, 5).empty());
  EXPECT_TRUE(plot::nice_ticks(2, 1, 5).empty());
  const auto through_zero = plot::nice_ticks(-1, 1, 5);
  EXPECT_NE(std::find(through_zero.begin(), through_zero.end(), 0.0), through_zero.end());
  EXPECT_FALSE(std::signbit(*std::find(through_zero.begin(), through_zero.end(), 0.0)));
}

TEST(GuiTicks, LabelsHaveJustEnoughDecimals) {
  EXPECT_EQ(plot::format_tick(0.25, 0.05), "0.25");
  EXPECT_EQ(plot::format_tick(3, 1), "3");
  EXPECT_EQ(plot::format_tick(0.5, 0.1), "0.5");
  EXPECT_EQ(plot::format_tick(20, 10), "20");
  EXPECT_EQ(plot::format_tick(2e-5, 1e-5), "2e-05");
  const auto lin = plot::linear_ticks(0, 1, 6);
  ASSERT_EQ(lin.size(), 6u);
  EXPECT_EQ(lin[1].label, "0.2");
}

TEST(GuiTicks, Log10AxisLabelsDecadesOrValues) {
  const auto decades = plot::log10_ticks(-9.3, 0.2, 12);
  ASSERT_FALSE(decades.empty());
  for (const auto& t : decades) EXPECT_DOUBLE_EQ(t.value, std::round(t.value));
  EXPECT_EQ(decades.back().label, "1e0");
  EXPECT_EQ(decades.front().label, "1e-9");
  const auto fine = plot::log10_ticks(-3.2, -2.4, 5);  // less than two decades: values
  ASSERT_FALSE(fine.empty());
  EXPECT_EQ(fine.front().label, "0.000631");  // 10^-3.2
  EXPECT_EQ(plot::log10_ticks(-20, 0, 5).size(), 5u);  // steps of 5 decades
}

// ---- transforms -------------------------------------------------------------------------

TEST(GuiTransform, RoundTripsAndOrientation) {
  const plot::Transform t({100, 50, 500, 350}, {{-1, 1}, {-9, 0}});
  EXPECT_DOUBLE_EQ(t.to_pixel_x(-1), 100);
  EXPECT_DOUBLE_EQ(t.to_pixel_x(1), 500);
  EXPECT_DOUBLE_EQ(t.to_pixel_y(0), 50);    // the top of the view is the top pixel row
  EXPECT_DOUBLE_EQ(t.to_pixel_y(-9), 350);
  EXPECT_DOUBLE_EQ(t.scale_x(), 200);
  EXPECT_NEAR(t.scale_y(), 300.0 / 9, 1e-12);
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(-10, 10);
  for (int i = 0; i < 1000; ++i) {
    const double x = u(rng), y = u(rng);
    EXPECT_NEAR(t.to_data_x(t.to_pixel_x(x)), x, 1e-9);
    EXPECT_NEAR(t.to_data_y(t.to_pixel_y(y)), y, 1e-9);
  }
}

TEST(GuiTransform, ZoomKeepsTheAnchorAndPanFollowsTheMouse) {
  const ViewRect v{{0, 10}, {-5, 5}};
  const ViewRect z = plot::zoom_about(v, 2, 1, 0.5, 0.25);
  EXPECT_DOUBLE_EQ(z.x.span(), 5);
  EXPECT_DOUBLE_EQ(z.y.span(), 2.5);
  // The anchor keeps its relative position.
  EXPECT_NEAR((2 - z.x.min) / z.x.span(), (2 - v.x.min) / v.x.span(), 1e-12);
  EXPECT_NEAR((1 - z.y.min) / z.y.span(), (1 - v.y.min) / v.y.span(), 1e-12);
  const ViewRect tiny = plot::zoom_about(v, 5, 0, 1e-20, 1e-20, 1e-6);
  EXPECT_NEAR(tiny.x.span(), 1e-6, 1e-15);

  const plot::Transform t({0, 0, 100, 100}, v);
  const ViewRect p = plot::pan_by_pixels(v, t, 10, 20);  // drag right and down
  EXPECT_NEAR(p.x.min, -1, 1e-12);                        // content moves right: view moves left
  EXPECT_NEAR(p.y.min, -3, 1e-12);                        // content moves down: view moves up
  // The data point under the mouse before the drag is under it after.
  const plot::Transform after({0, 0, 100, 100}, p);
  EXPECT_NEAR(after.to_pixel_x(t.to_data_x(30)), 40, 1e-9);
  EXPECT_NEAR(after.to_pixel_y(t.to_data_y(30)), 50, 1e-9);
}

TEST(GuiTransform, FitPadsAndWidensDegenerateRanges) {
  const ViewRect f = plot::fit_view({0, 10}, {2, 2}, 0.1);
  EXPECT_DOUBLE_EQ(f.x.min, -1);
  EXPECT_DOUBLE_EQ(f.x.max, 11);
  EXPECT_DOUBLE_EQ(f.y.min, 1.5);
  EXPECT_DOUBLE_EQ(f.y.max, 2.5);
  const ViewRect l = plot::lerp_view({{0, 1}, {0, 1}}, {{2, 3}, {4, 5}}, 0.5);
  EXPECT_DOUBLE_EQ(l.x.min, 1);
  EXPECT_DOUBLE_EQ(l.y.max, 3);
}

// ---- spatial index ----------------------------------------------------------------------

TEST(GuiSpatialIndex, NearestMatchesBruteForceUnderAnisotropicMetric) {
  const FeatureTable t = random_table(20000, 8, 11);
  std::vector<float> y(t.size());
  for (size_t i = 0; i < t.size(); ++i) y[i] = log_energy(t.visual_energy[i]);
  plot::GridIndex index;
  index.build(t.decoder_cosine.data(), y.data(), t.size());
  ASSERT_EQ(index.size(), t.size());
  std::mt19937 rng(12);
  std::uniform_real_distribution<double> ux(-1.2, 1.2), uy(-7, 0), scale(50, 5000), radius(2, 40);
  int found = 0;
  for (int q = 0; q < 3000; ++q) {
    const double qx = ux(rng), qy = uy(rng), sx = scale(rng), sy = scale(rng) / 20, r = radius(rng);
    const int odd_layers = q % 3 == 0;  // every third query filters to odd layers
    auto accept = [&](uint32_t id) { return !odd_layers || t.layer[id] % 2 == 1; };
    const plot::PickHit hit = index.nearest(qx, qy, sx, sy, r, accept);
    int64_t best = -1;
    double best_d2 = r * r;
    for (size_t i = 0; i < t.size(); ++i) {
      if (!accept(static_cast<uint32_t>(i))) continue;
      const double dx = (t.decoder_cosine[i] - qx) * sx, dy = (y[i] - qy) * sy;
      const double d2 = dx * dx + dy * dy;
      if (d2 < best_d2 || (d2 == best_d2 && best >= 0 && static_cast<int64_t>(i) < best) ||
          (d2 == best_d2 && best < 0)) {
        best_d2 = d2;
        best = static_cast<int64_t>(i);
      }
    }
    ASSERT_EQ(hit.id, best) << "query " << q << " at (" << qx << ", " << qy << ")";
    if (best >= 0) {
      EXPECT_NEAR(hit.distance, std::sqrt(best_d2), 1e-9);
      ++found;
    }
  }
  EXPECT_GT(found, 300);  // the queries exercised hits, not only misses
}

TEST(GuiSpatialIndex, BoxQueryAndVisibleRunsMatchBruteForce) {
  const FeatureTable t = random_table(5000, 4, 21);
  std::vector<float> y(t.size());
  for (size_t i = 0; i < t.size(); ++i) y[i] = log_energy(t.visual_energy[i]);
  plot::GridIndex index;
  index.build(t.decoder_cosine.data(), y.data(), t.size(), 3.0);
  std::mt19937 rng(22);
  std::uniform_real_distribution<double> ux(-1.5, 1.5), uy(-8, 1);
  for (int q = 0; q < 300; ++q) {
    double x0 = ux(rng), x1 = ux(rng), y0 = uy(rng), y1 = uy(rng);
    if (x0 > x1) std::swap(x0, x1);
    if (y0 > y1) std::swap(y0, y1);
    const ViewRect rect{{x0, x1}, {y0, y1}};
    std::vector<uint32_t> got;
    index.query_rect(rect, [](uint32_t) { return true; }, got);
    std::sort(got.begin(), got.end());
    std::vector<uint32_t> want;
    for (size_t i = 0; i < t.size(); ++i)
      if (t.decoder_cosine[i] >= x0 && t.decoder_cosine[i] <= x1 && y[i] >= y0 && y[i] <= y1)
        want.push_back(static_cast<uint32_t>(i));
    ASSERT_EQ(got, want);
    // The runs cover every point inside the view.
    std::vector<uint8_t> covered(t.size(), 0);
    size_t run_total = 0;
    for (const auto& [b, e] : index.runs_in(rect)) {
      run_total += e - b;
      for (uint32_t p = b; p < e; ++p) covered[index.ids()[p]] = 1;
    }
    for (uint32_t id : want) ASSERT_TRUE(covered[id]);
    EXPECT_EQ(index.count_in(rect), run_total);
  }
  // Sorted copies hold the same points as the input.
  for (size_t p = 0; p < index.size(); ++p) {
    EXPECT_EQ(index.sorted_x()[p], t.decoder_cosine[index.ids()[p]]);
    EXPECT_EQ(index.sorted_y()[p], y[index.ids()[p]]);
  }
}

TEST(GuiSpatialIndex, RejectsNonFinitePointsAndHandlesDegenerateInput) {
  const float xs[] = {0, 1, NAN}, ys[] = {0, 1, 2};
  plot::GridIndex index;
  try {
    index.build(xs, ys, 3);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("point 2"), std::string::npos) << e.what();
  }
  const float same[] = {0.5f, 0.5f, 0.5f};
  index.build(same, same, 3);
  const auto hit = index.nearest(0.5, 0.5, 10, 10, 1, [](uint32_t) { return true; });
  EXPECT_EQ(hit.id, 0);  // ties go to the lowest id
  plot::GridIndex empty;
  empty.build(xs, ys, 0);
  EXPECT_EQ(empty.nearest(0, 0, 1, 1, 100, [](uint32_t) { return true; }).id, -1);
}

// ---- adapted set ------------------------------------------------------------------------

TEST(GuiAdaptedSet, PercentileThresholdSelectsTheBottomFraction) {
  std::vector<float> cosines;
  for (int i = 0; i < 1000; ++i) cosines.push_back(static_cast<float>((i * 7919) % 1000) / 1000.0f);
  CosineQuantiles q;
  q.build(cosines);
  for (double p : {0.001, 0.1, 0.25, 0.5, 0.999, 1.0}) {
    const double thr = q.threshold_for(p);
    const auto at_or_below = std::count_if(cosines.begin(), cosines.end(), [&](float c) { return c <= thr; });
    EXPECT_EQ(at_or_below, static_cast<long>(std::ceil(p * 1000 - 1e-9))) << p;
    EXPECT_NEAR(q.fraction_at_or_below(thr), std::ceil(p * 1000 - 1e-9) / 1000, 1e-12);
  }
  EXPECT_EQ(q.threshold_for(0), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(q.fraction_at_or_below(-2), 0);
  EXPECT_EQ(q.fraction_at_or_below(2), 1);
}

TEST(GuiAdaptedSet, LiveRecountEqualsBruteForce) {
  const FeatureTable t = random_table(30000, 12, 31);
  CosineQuantiles q;
  q.build(t.decoder_cosine);
  std::mt19937 rng(32);
  std::uniform_real_distribution<double> log_eps(-7, -1), p_cos(0, 1);
  for (int k = 0; k < 40; ++k) {
    const double eps = std::pow(10.0, log_eps(rng)), p = p_cos(rng);
    const double thr = q.threshold_for(p);
    const LayerCounts counts = count_adapted(t, eps, thr);
    std::vector<int64_t> want(12, 0);
    std::vector<double> sum(12, 0);
    int64_t total = 0;
    for (size_t i = 0; i < t.size(); ++i) {
      // Brute force straight from the definition (METHOD.md stage 2).
      const bool bottom = static_cast<double>(t.decoder_cosine[i]) <= thr;
      if (t.visual_energy[i] > eps && bottom) {
        ++want[t.layer[i]];
        sum[t.layer[i]] += t.decoder_cosine[i];
        ++total;
      }
    }
    EXPECT_EQ(counts.adapted, want);
    EXPECT_EQ(counts.adapted_total, total);
    for (int l = 0; l < 12; ++l)
      if (want[l]) {
        EXPECT_NEAR(counts.mean_cosine_adapted[l], sum[l] / want[l], 1e-9);
      }
  }
}

// ---- scatter model: pick, box, density --------------------------------------------------

TEST(GuiScatterModel, PickAndBoxRespectTheLayerFilter) {
  auto table = std::make_shared<const FeatureTable>(random_table(8000, 6, 41));
  const ScatterModel model(table);
  LayerMask mask(6, 0);
  mask[2] = 1;
  const auto rows = model.select_box({{-1, 1}, {-12, 1}}, mask);
  ASSERT_FALSE(rows.empty());
  for (uint32_t r : rows) EXPECT_EQ(table->layer[r], 2);
  EXPECT_TRUE(std::is_sorted(rows.begin(), rows.end()));
  const auto all = model.select_box({{-1, 1}, {-12, 1}}, {});
  EXPECT_EQ(all.size(), table->size());
  // A pick at a layer-2 feature's own position finds a feature of layer 2 at distance 0.
  const uint32_t r = rows[rows.size() / 2];
  const int64_t hit = model.pick(table->decoder_cosine[r], model.log_energy()[r], 500, 50, 5, mask);
  ASSERT_GE(hit, 0);
  EXPECT_EQ(table->layer[hit], 2);
  EXPECT_EQ(table->decoder_cosine[hit], table->decoder_cosine[r]);
}

TEST(GuiScatterModel, DensityBinsMatchBruteForce) {
  auto table = std::make_shared<const FeatureTable>(random_table(20000, 5, 51));
  const ScatterModel model(table);
  const ViewRect view{{-0.5, 0.9}, {-5, -1}};
  const double eps = 1e-3, thr = model.quantiles().threshold_for(0.3);
  LayerMask mask(5, 1);
  mask[4] = 0;
  DensityImage image;
  model.bin_density(view, 37, 23, eps, thr, mask, image);
  std::vector<float> want(37 * 23 * 2, 0);
  size_t inside = 0;
  for (size_t i = 0; i < table->size(); ++i) {
    if (table->layer[i] == 4) continue;
    const double fx = (table->decoder_cosine[i] - view.x.min) / view.x.span() * 37;
    const double fy = (model.log_energy()[i] - view.y.min) / view.y.span() * 23;
    if (fx < 0 || fy < 0 || fx >= 37 || fy >= 23) continue;
    const size_t cell = (static_cast<size_t>(fy) * 37 + static_cast<size_t>(fx)) * 2;
    want[cell] += 1;
    if (model.log_energy()[i] > std::log10(eps) && table->decoder_cosine[i] <= thr) want[cell + 1] += 1;
    ++inside;
  }
  EXPECT_EQ(image.counts, want);
  EXPECT_EQ(image.binned, inside);
  EXPECT_EQ(image.max_all, *std::max_element(want.begin(), want.end()));
  EXPECT_GT(inside, 1000u);

  std::vector<uint8_t> rgba;
  colorize_density(image, plot::Colormap::kViridis, {240, 80, 170}, rgba);
  ASSERT_EQ(rgba.size(), 37u * 23 * 4);
  size_t pink = 0, mapped = 0;
  for (size_t b = 0; b < 37u * 23; ++b) {
    const uint8_t* px = rgba.data() + 4 * b;
    if (want[2 * b] == 0) {
      EXPECT_EQ(px[3], 0) << "an empty bin must be transparent";
    } else if (want[2 * b + 1] > 0) {
      EXPECT_TRUE(px[0] == 240 && px[1] == 80 && px[2] == 170 && px[3] == 255);
      ++pink;
    } else {
      EXPECT_EQ(px[3], 255);
      ++mapped;
    }
  }
  EXPECT_GT(pink, 0u);
  EXPECT_GT(mapped, 0u);
}

// ---- colormaps --------------------------------------------------------------------------

TEST(GuiColormap, OklabRoundTripsAndTablesHitTheirAnchors) {
  std::mt19937 rng(61);
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 0; i < 500; ++i) {
    const std::array<double, 3> rgb{u(rng), u(rng), u(rng)};
    const auto back = plot::oklab_to_srgb(plot::srgb_to_oklab(rgb));
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(back[c], rgb[c], 1e-5);  // matrices to 10 digits
  }
  EXPECT_NEAR(plot::srgb_to_oklab({1, 1, 1})[0], 1.0, 1e-4);  // white: L = 1
  const auto& viridis = plot::colormap_table(plot::Colormap::kViridis);
  ASSERT_EQ(viridis.size(), 256u);
  EXPECT_EQ(viridis.front(), (plot::Rgba8{0x44, 0x01, 0x54, 255}));
  EXPECT_EQ(viridis.back(), (plot::Rgba8{0xFD, 0xE7, 0x25, 255}));
  // Sequential maps get lighter monotonically.
  for (auto map : {plot::Colormap::kViridis, plot::Colormap::kMagma, plot::Colormap::kInferno,
                   plot::Colormap::kPlasma, plot::Colormap::kCividis, plot::Colormap::kGray}) {
    const auto& table = plot::colormap_table(map);
    double previous = -1;
    for (const auto& c : table) {
      const double l = plot::srgb_to_oklab({c[0] / 255.0, c[1] / 255.0, c[2] / 255.0})[0];
      EXPECT_GE(l, previous - 0.01) << plot::colormap_name(map);
      previous = l;
    }
    EXPECT_EQ(plot::colormap_from_name(plot::colormap_name(map)), map);
  }
  EXPECT_TRUE(plot::colormap_is_diverging(plot::Colormap::kCoolWarm));
  EXPECT_FALSE(plot::colormap_from_name("jet").has_value());
  EXPECT_EQ(plot::colormap_sample(plot::Colormap::kGray, NAN), (plot::Rgba8{0, 0, 0, 255}));
  EXPECT_EQ(plot::colormap_sample(plot::Colormap::kGray, 7), (plot::Rgba8{255, 255, 255, 255}));
}

// ---- settings ---------------------------------------------------------------------------

TEST(GuiSettings, RoundTripAndDefaults) {
  const std::string dir = test::scratch_dir("gui-settings");
  Settings s;
  s.left_width = 412;
  s.bottom_height = 180;
  s.last_db = "/data/project.db";
  s.colormap = "magma";
  s.eps = 2.5e-4;
  s.p_cos = 0.1;
  s.density_threshold = 1234;
  const std::string path = dir + "/nested/gui.json";
  save_settings(path, s);
  const Settings back = load_settings(path);
  EXPECT_EQ(settings_to_json(back), settings_to_json(s));
  // Missing file -> defaults; missing keys -> defaults.
  EXPECT_EQ(settings_to_json(load_settings(dir + "/absent.json")), settings_to_json(Settings{}));
  const Settings partial = settings_from_json({{"colormap", "plasma"}}, "x.json");
  EXPECT_EQ(partial.colormap, "plasma");
  EXPECT_EQ(partial.left_width, Settings{}.left_width);
}

TEST(GuiSettings, BadFieldsNameTheFileAndField) {
  auto message = [](const nlohmann::json& j) {
    try {
      settings_from_json(j, "cfg/gui.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({{"left_width", "wide"}}).find("field 'left_width'"), std::string::npos);
  EXPECT_NE(message({{"colormap", "jet"}}).find("cfg/gui.json"), std::string::npos);
  EXPECT_NE(message({{"colormap", "jet"}}).find("colormap"), std::string::npos);
  EXPECT_NE(message({{"p_cos", 1.5}}).find("field 'p_cos'"), std::string::npos);
  EXPECT_NE(message({{"window_width", 10}}).find("field 'window_width'"), std::string::npos);
  const std::string dir = test::scratch_dir("gui-settings-bad");
  std::ofstream(dir + "/gui.json") << "{ \"left_width\": ";
  try {
    load_settings(dir + "/gui.json");
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/gui.json"), std::string::npos) << e.what();
  }
}

TEST(GuiSettings, PathFollowsXdgConfigHome) {
  const char* old_xdg = std::getenv("XDG_CONFIG_HOME");
  const std::string saved = old_xdg ? old_xdg : "";
  setenv("XDG_CONFIG_HOME", "/tmp/xdg-test", 1);
  EXPECT_EQ(default_settings_path(), "/tmp/xdg-test/sightline/gui.json");
  unsetenv("XDG_CONFIG_HOME");
  const char* home = std::getenv("HOME");
  if (home && *home) {
    EXPECT_EQ(default_settings_path(), std::string(home) + "/.config/sightline/gui.json");
  }
  if (old_xdg) setenv("XDG_CONFIG_HOME", saved.c_str(), 1);
}

// ---- snapshot and synthetic data --------------------------------------------------------

TEST(GuiSnapshot, SlotsPublishAtomicallyWithStates) {
  DataSlot<std::vector<int>> slot;
  EXPECT_EQ(slot.status().state, DataState::kMissing);
  EXPECT_EQ(slot.data(), nullptr);
  slot.set_missing("run stage 9");
  EXPECT_EQ(slot.status().message, "run stage 9");
  slot.begin("working");
  slot.set_progress(0.5);
  EXPECT_EQ(slot.status().state, DataState::kComputing);
  EXPECT_DOUBLE_EQ(slot.status().progress, 0.5);
  // A reader holds its copy while a writer publishes a new one from another thread.
  slot.publish(std::make_shared<const std::vector<int>>(3, 1));
  const auto first = slot.data();
  std::thread writer([&] { slot.publish(std::make_shared<const std::vector<int>>(5, 2)); });
  writer.join();
  EXPECT_EQ(first->size(), 3u);
  EXPECT_EQ(slot.data()->size(), 5u);
  EXPECT_EQ(slot.version(), 2u);
  EXPECT_EQ(slot.status().state, DataState::kReady);
  slot.fail("boom");
  EXPECT_EQ(slot.status().state, DataState::kFailed);
}

TEST(GuiSnapshot, FeatureTableValidationNamesTheField) {
  FeatureTable t = random_table(10, 3, 71);
  EXPECT_NO_THROW(t.validate());
  EXPECT_EQ(t.find(t.layer[4], t.feature[4]), 4);
  EXPECT_EQ(t.find(99, 0), -1);
  auto message = [](const FeatureTable& bad) {
    try {
      bad.validate();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  FeatureTable short_flags = t;
  short_flags.flags.pop_back();
  EXPECT_NE(message(short_flags).find("'flags'"), std::string::npos);
  FeatureTable bad_layer = t;
  bad_layer.layer[3] = 3;
  EXPECT_NE(message(bad_layer).find("row 3: field 'layer'"), std::string::npos);
  FeatureTable bad_energy = t;
  bad_energy.visual_energy[2] = -1;
  EXPECT_NE(message(bad_energy).find("'visual_energy'"), std::string::npos);
  FeatureTable bad_cos = t;
  bad_cos.decoder_cosine[1] = 1.5f;
  EXPECT_NE(message(bad_cos).find("'decoder_cosine'"), std::string::npos);
  EXPECT_FLOAT_EQ(log_energy(0), -10.0f);  // dead features sit on the floor
  EXPECT_FLOAT_EQ(log_energy(1e-3f), -3.0f);
}

TEST(GuiSynthetic, DeterministicPlausibleAndFlagged) {
  SyntheticOptions o;
  o.features = 40000;
  const FeatureTable a = make_synthetic_features(o);
  const FeatureTable b = make_synthetic_features(o);
  EXPECT_EQ(a.decoder_cosine, b.decoder_cosine);
  EXPECT_EQ(a.flags, b.flags);
  o.seed = 2;
  EXPECT_NE(make_synthetic_features(o).decoder_cosine, a.decoder_cosine);
  EXPECT_NO_THROW(a.validate());
  EXPECT_EQ(a.num_layers, 32);
  EXPECT_EQ(a.layer.front(), 0);
  EXPECT_EQ(a.layer.back(), 31);
  // A at the defaults: a few percent of all features, as the paper's ~5%.
  CosineQuantiles q;
  q.build(a.decoder_cosine);
  const LayerCounts counts = count_adapted(a, 1e-3, q.threshold_for(0.25));
  const double share = static_cast<double>(counts.adapted_total) / a.size();
  EXPECT_GT(share, 0.02);
  EXPECT_LT(share, 0.12);
  size_t flagged_a = 0, candidates = 0, spatial = 0, analysed = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    flagged_a += (a.flags[i] & kFlagAdapted) != 0;
    candidates += (a.flags[i] & kFlagSpatialCandidate) != 0;
    if (a.flags[i] & kFlagSpatialFeature) {
      ++spatial;
      EXPECT_TRUE(a.flags[i] & kFlagAdapted);
      EXPECT_TRUE(a.flags[i] & kFlagSpatialCandidate);
    }
    if (a.flags[i] & kFlagAnalysed) {
      ++analysed;
      EXPECT_TRUE(a.flags[i] & kFlagSpatialFeature);
    }
  }
  EXPECT_EQ(static_cast<int64_t>(flagged_a), counts.adapted_total);
  EXPECT_GT(candidates, 20u);
  EXPECT_GT(spatial, 3u);
  EXPECT_GT(analysed, 0u);
  EXPECT_LE(analysed, 24u);
  Progress cancelled;
  cancelled.cancel();
  EXPECT_THROW(make_synthetic_features(o, cancelled), Cancelled);
  const auto curves = make_synthetic_curves(32, 1);
  ASSERT_EQ(curves.size(), 2u);
  EXPECT_EQ(curves[1].curves[0].x.size(), 32u);
  const auto maps = make_synthetic_heat_maps(32, 32, 1);
  ASSERT_EQ(maps.size(), 2u);
  EXPECT_EQ(maps[0].values.size(), 32u * 32);
}

// ---- export, options, benchmark statistics, tasks ---------------------------------------

TEST(GuiExport, CsvFilesHoldTheSeries) {
  const std::string dir = test::scratch_dir("gui-csv");
  plot::write_series_csv(dir + "/s.csv", {{"a, \"b\"", {1, 2}, {3.5, -4}}, {"c", {0}, {1e-7}}});
  std::ifstream in(dir + "/s.csv");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "series,x,y\n\"a, \"\"b\"\"\",1,3.5\n\"a, \"\"b\"\"\",2,-4\nc,0,1e-07\n");
  const float grid[] = {1, 2, 3, 4, 5, 6};
  plot::write_grid_csv(dir + "/g.csv", grid, 2, 3);
  std::ifstream gin(dir + "/g.csv");
  std::stringstream gtext;
  gtext << gin.rdbuf();
  EXPECT_EQ(gtext.str(), "row,col0,col1,col2\n0,1,2,3\n1,4,5,6\n");
  EXPECT_THROW(plot::write_series_csv(dir + "/missing/dir/x.csv", {}), Error);
}

TEST(GuiOptions, SelectAndValidation) {
  EXPECT_EQ(parse_select("12:345"), std::make_pair(12, 345));
  for (const char* bad : {"12", "a:1", "1:", ":1", "1:2:3", "-1:2", "1:2x"}) {
    try {
      parse_select(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("--select"), std::string::npos);
    }
  }
  GuiOptions o;
  EXPECT_NO_THROW(validate(o));
  o.view = "nope";
  EXPECT_THROW(validate(o), Error);
  o = GuiOptions{};
  o.frames = 0;
  EXPECT_THROW(validate(o), Error);
  o = GuiOptions{};
  o.db_path = "/nonexistent/project.db";
  try {
    validate(o);
    ADD_FAILURE() << "accepted a missing --db";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/project.db"), std::string::npos);
  }
}

TEST(GuiBench, PercentilesAndCameraPath) {
  std::vector<double> samples;
  for (int i = 100; i >= 1; --i) samples.push_back(i);
  const Percentiles p = percentiles(samples);
  EXPECT_DOUBLE_EQ(p.p50, 50);
  EXPECT_DOUBLE_EQ(p.p90, 90);
  EXPECT_DOUBLE_EQ(p.p99, 99);
  EXPECT_DOUBLE_EQ(p.max, 100);
  EXPECT_DOUBLE_EQ(p.mean, 50.5);
  EXPECT_EQ(percentiles({}).count, 0u);
  const ViewRect full{{-0.1, 1.1}, {-9, 0}};
  const int frames = 400;
  double min_span = 1e9, max_span = 0;
  for (int k = 0; k < frames; ++k) {
    const ViewRect a = bench_camera(full, 0.9, -4, k, frames);
    min_span = std::min(min_span, a.x.span());
    max_span = std::max(max_span, a.x.span());
    if (k + 1 < frames) {  // a smooth path: no frame jumps by more than a fifth of a span
      const ViewRect b = bench_camera(full, 0.9, -4, k + 1, frames);
      EXPECT_LT(std::fabs((a.x.min + a.x.max) - (b.x.min + b.x.max)) / 2, 0.2 * a.x.span()) << k;
      EXPECT_LT(std::fabs(std::log(b.x.span() / a.x.span())), 0.2) << k;
    }
  }
  EXPECT_NEAR(max_span, full.x.span(), 1e-9);
  EXPECT_NEAR(min_span, full.x.span() / 40, 1e-3);
}

TEST(GuiTasks, ProgressFailureAndCancel) {
  TaskList tasks;
  tasks.start("ok", [](Progress& p) {
    p.begin("counting", 10);
    p.set_done(10);
  });
  tasks.start("fails", [](Progress&) { fail("file 'x': broken"); });
  tasks.start("cancelled", [](Progress& p) {
    for (int i = 0; i < 2000; ++i) {
      p.check_cancel();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  tasks.cancel_all();
  tasks.join_all();
  EXPECT_FALSE(tasks.any_running());
  const auto views = tasks.tasks();
  ASSERT_EQ(views.size(), 3u);
  EXPECT_EQ(views[0].state, TaskState::kDone);
  EXPECT_DOUBLE_EQ(views[0].fraction, 1.0);
  EXPECT_EQ(views[1].state, TaskState::kFailed);
  EXPECT_EQ(views[1].error, "file 'x': broken");
  EXPECT_EQ(views[2].state, TaskState::kCancelled);
  tasks.clear_finished();
  EXPECT_TRUE(tasks.tasks().empty());
}
