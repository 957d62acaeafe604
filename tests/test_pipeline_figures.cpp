// core/pipeline/report_figures: the report's PNG figures from a store filled through the
// Store API (no pipeline run): which files appear for which data, and that they decode
// to non-blank images holding the figure's colours.
#include <gtest/gtest.h>
#include <stb_image.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <random>
#include <set>

#include "core/figures/canvas.h"
#include "core/pipeline/report_figures.h"
#include "core/pipeline/store_keys.h"
#include "core/store/store.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace sightline;

namespace {

namespace k = store_keys;

struct Decoded {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
  bool has(Rgb c) const {
    for (size_t i = 0; i + 2 < rgb.size(); i += 3)
      if (rgb[i] == c.r && rgb[i + 1] == c.g && rgb[i + 2] == c.b) return true;
    return false;
  }
  // Fraction of pixels that are not white.
  double ink() const {
    size_t n = 0;
    for (size_t i = 0; i + 2 < rgb.size(); i += 3) n += !(rgb[i] == 255 && rgb[i + 1] == 255 && rgb[i + 2] == 255);
    return static_cast<double>(n) / (rgb.size() / 3);
  }
  size_t distinct_colours() const {
    std::set<uint32_t> seen;
    for (size_t i = 0; i + 2 < rgb.size(); i += 3) seen.insert(rgb[i] << 16 | rgb[i + 1] << 8 | rgb[i + 2]);
    return seen.size();
  }
};

Decoded decode(const std::string& path) {
  Decoded d;
  int n = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> data(stbi_load(path.c_str(), &d.width, &d.height, &n, 3), stbi_image_free);
  if (!data) {
    ADD_FAILURE() << "cannot decode " << path;
    return d;
  }
  d.rgb.assign(data.get(), data.get() + static_cast<size_t>(d.width) * d.height * 3);
  return d;
}

CurvePoint point(const char* name, int layer, const std::string& regime, int64_t step, int64_t tokens,
                 const std::string& key, double value) {
  CurvePoint p;
  p.name = name;
  p.layer = layer;
  p.regime = regime;
  p.step = step;
  p.tokens = tokens;
  p.key = key;
  p.value = value;
  return p;
}

// A run as stages 1-2 (and a little of stage 4) would leave it: 3 layers x 4 regimes of FVU
// curves, per-layer cosines and statistics, 3 x 200 features, a 3 x 4 sweep, head scores.
void fill(Store& store, int64_t run) {
  const std::vector<std::string> regimes{"full", "image", "text", "random"};
  std::vector<CurvePoint> curves;
  for (int layer = 0; layer < 3; ++layer) {
    for (size_t r = 0; r < regimes.size(); ++r)
      for (int step = 1; step <= 8; ++step) {
        const int64_t tokens = 1000LL << step;  // 2k .. 256k: a log axis
        const double fvu = 0.05 + 0.2 * static_cast<double>(r) + 0.5 / step;
        curves.push_back(point(k::kFvu, layer, regimes[r], step, tokens, k::kHeldout, fvu));
        curves.push_back(point(k::kL0, layer, regimes[r], step, tokens, k::kHeldout, 20.0 + step));
      }
    for (size_t r = 0; r < regimes.size(); ++r)
      curves.push_back(point(k::kDecoderCosine, layer, regimes[r], 0, 0, k::kMean, r == 3 ? 0.02 : 0.9 - 0.1 * r));
    const std::vector<std::pair<const char*, double>> stats{{"features", 200}, {"adapted", 10.0 + 5 * layer},
                                                            {"active", 150}, {"mean_cosine_all", 0.8},
                                                            {"mean_cosine_adapted", 0.4 + 0.05 * layer}};
    for (const auto& [key, v] : stats) curves.push_back(point(k::kLayerStats, layer, "text", 0, 0, key, v));
  }
  const std::vector<double> eps{0, 1e-4, 1e-3}, p_cos{0.1, 0.25, 0.4, 0.5};
  int64_t step = 0;
  for (double e : eps)
    for (double p : p_cos) {
      curves.push_back(point(k::kSweep, -1, "text", step, 0, "eps", e));
      curves.push_back(point(k::kSweep, -1, "text", step, 0, "p_cos", p));
      curves.push_back(point(k::kSweep, -1, "text", step, 0, "count", std::round(600 * p * (1 - 100 * e))));
      curves.push_back(point(k::kSweep, -1, "text", step, 0, "jaccard", 1 - std::abs(p - 0.25) - 100 * e));
      curves.push_back(point(k::kSweep, -1, "text", step, 0, "layer_correlation", 0.9 - p));
      ++step;
    }
  store.put_curve_points(run, curves);

  std::vector<FeatureRow> rows;
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(0, 1);
  for (int layer = 0; layer < 3; ++layer)
    for (int f = 0; f < 200; ++f) {
      FeatureRow row;
      row.layer = layer;
      row.feature = f;
      row.visual_energy = f % 10 == 0 ? 0.0 : std::pow(10.0, -6 + 5 * u(rng));
      row.decoder_cosine = u(rng);
      row.adapted = row.visual_energy > 1e-3 && row.decoder_cosine < 0.3 ? 1 : 0;
      row.spatial = row.adapted == 1 && f % 3 == 0 ? 1 : 0;
      rows.push_back(row);
    }
  store.upsert_features(run, rows);

  StageRecord diff;
  diff.run_id = run;
  diff.name = "diff";
  diff.status = StageStatus::kDone;
  diff.result_json = R"({"eps": 0.001, "p_cos": 0.25, "cosine_threshold": 0.3})";
  store.put_stage(diff);

  std::vector<HeadScore> heads;
  for (int feature : {7, 9})
    for (const char* method : {"A", "B"})
      for (int hl = 0; hl <= 2; ++hl)
        for (int h = 0; h < 4; ++h) heads.push_back({2, feature, method, hl, h, (h - 1.5) * (hl + 1) * 0.1});
  store.put_head_scores(run, heads);
}

std::vector<std::string> png_files(const std::string& dir) {
  std::vector<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST(PipelineFigures, FullStoreWritesEveryFigure) {
  const std::string dir = test::scratch_dir("pipeline-figures");
  Store store = Store::open(dir + "/run.db");
  RunRecord record;
  record.name = "figures";
  const int64_t run = store.create_run(record);
  fill(store, run);

  const auto written = write_report_figures(store, run, dir + "/report");
  const std::vector<std::string> expected{"fvu.png", "scatter_ev_cosine.png", "layers.png", "sweep.png", "heads.png"};
  EXPECT_EQ(written, expected);
  auto sorted = expected;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(png_files(dir + "/report"), sorted);  // and nothing else (no temporaries)

  for (const auto& name : expected) {
    const Decoded d = decode(dir + "/report/" + name);
    EXPECT_GE(d.width, 400) << name;
    EXPECT_GE(d.height, 300) << name;
    EXPECT_GT(d.ink(), 0.02) << name;
    EXPECT_GT(d.distinct_colours(), 20u) << name;
  }
  // Each figure holds its data's colours: regime lines, the adapted set, heat-map ends.
  const Decoded fvu = decode(dir + "/report/fvu.png");
  for (size_t r = 0; r < 4; ++r) EXPECT_TRUE(fvu.has(palette_color(r))) << r;
  const Decoded scatter = decode(dir + "/report/scatter_ev_cosine.png");
  EXPECT_TRUE(scatter.has(Rgb{221, 52, 151}));  // adapted (pink)
  EXPECT_TRUE(scatter.has(Rgb{0, 90, 200}));    // skill features (blue)
  const Decoded sweep = decode(dir + "/report/sweep.png");
  EXPECT_TRUE(sweep.has(colormap(ColorMap::kViridis, 1)));
  EXPECT_TRUE(sweep.has(colormap(ColorMap::kViridis, 0)));
  const Decoded heads = decode(dir + "/report/heads.png");
  EXPECT_TRUE(heads.has(colormap(ColorMap::kDiverging, 0)));
  EXPECT_TRUE(heads.has(colormap(ColorMap::kDiverging, 1)));

  // Written again: replaced in place, same list.
  EXPECT_EQ(write_report_figures(store, run, dir + "/report"), expected);
}

TEST(PipelineFigures, OnlyTheFiguresWithDataAreWritten) {
  const std::string dir = test::scratch_dir("pipeline-figures-partial");
  Store store = Store::open(dir + "/run.db");
  const int64_t run = store.create_run(RunRecord{});
  std::vector<CurvePoint> curves;
  for (int step = 0; step < 4; ++step) {
    curves.push_back(point(k::kSweep, -1, "text", step, 0, "eps", step < 2 ? 0.0 : 1e-3));
    curves.push_back(point(k::kSweep, -1, "text", step, 0, "p_cos", step % 2 ? 0.25 : 0.5));
    curves.push_back(point(k::kSweep, -1, "text", step, 0, "count", 10.0 * step));
  }
  store.put_curve_points(run, curves);
  EXPECT_EQ(write_report_figures(store, run, dir + "/out"), std::vector<std::string>{"sweep.png"});
  EXPECT_EQ(png_files(dir + "/out"), std::vector<std::string>{"sweep.png"});
}

TEST(PipelineFigures, EmptyRunWritesNothingAndMissingRunIsNamed) {
  const std::string dir = test::scratch_dir("pipeline-figures-empty");
  Store store = Store::open(dir + "/run.db");
  const int64_t run = store.create_run(RunRecord{});
  EXPECT_TRUE(write_report_figures(store, run, dir + "/out").empty());
  EXPECT_TRUE(png_files(dir + "/out").empty());
  const std::string message = test::error_of([&] { write_report_figures(store, run + 5, dir + "/out"); });
  EXPECT_NE(message.find("no run"), std::string::npos) << message;
  EXPECT_NE(message.find("run.db"), std::string::npos) << message;
}
