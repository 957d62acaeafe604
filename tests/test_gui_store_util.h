// A small project store with known values, written through the Store API, for the
// explorer's store-loader tests (test_gui_store.cpp) and its screenshot test.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "core/pipeline/store_keys.h"
#include "core/store/store.h"
#include "tests/test_util.h"

namespace sightline::test {

// Layers 3 and 7 hold features 0..99 each (num_layers = 8). Feature i is adapted when
// i % 5 == 0 (40 features): E_v in [0.05, 0.11], c_f in [0.2, 0.4]. The others have
// E_v < 1e-4 (below the default eps 1e-3) and c_f in [0.9, 0.99], so the explorer's
// default thresholds (eps 1e-3, p_cos 25%) put exactly the adapted ones in A.
// Spatial: adapted with i % 20 == 0. Analysed (ablation rows): (3, 40) and (7, 60).
// Layer 7 also has features 100..102 with E_v only (no c_f): the loader leaves them out.
struct GuiStoreSpec {
  static constexpr int kLayers[2] = {3, 7};
  static constexpr int kPerLayer = 100;
  static bool adapted(int i) { return i % 5 == 0; }
  static bool spatial(int i) { return i % 20 == 0; }
  static bool analysed(int layer, int i) { return (layer == 3 && i == 40) || (layer == 7 && i == 60); }
  static double energy(int layer, int i) {
    return adapted(i) ? 0.05 + 0.01 * (i % 7) + 0.001 * layer : 1e-5 * (1 + i % 3);
  }
  static double cosine(int layer, int i) { return adapted(i) ? 0.2 + 0.002 * i + 0.001 * layer : 0.9 + 0.0009 * i; }
  // Curves: steps 0..3 for regimes "image" and "text" on both layers.
  static int64_t tokens(int step) { return 1000 * (step + 1); }
  static double fvu(int layer, int regime, int step) { return 0.5 / (1 + step) + 0.01 * layer + 0.1 * regime; }
  static double l0(int layer, int regime, int step) { return 40.0 - 5 * step + layer + 3 * regime; }
  static double mean_cosine(int layer, int regime) { return 0.95 - 0.01 * layer - 0.2 * regime; }
};

inline const char* gui_store_regime(int r) { return r == 0 ? "image" : "text"; }

// Writes the store described by GuiStoreSpec to `path` (a run named "gui-test") and
// returns the run id.
inline int64_t write_gui_store(const std::string& path) {
  using S = GuiStoreSpec;
  Store store = Store::open(path);
  RunRecord run;
  run.name = "gui-test";
  const int64_t id = store.create_run(run);
  std::vector<FeatureRow> rows;
  for (int layer : S::kLayers)
    for (int i = 0; i < S::kPerLayer; ++i) {
      FeatureRow r;
      r.layer = layer;
      r.feature = i;
      r.visual_energy = S::energy(layer, i);
      r.decoder_cosine = S::cosine(layer, i);
      r.adapted = S::adapted(i) ? 1 : 0;
      r.spatial = S::spatial(i) ? 1 : 0;
      rows.push_back(r);
    }
  for (int i = 100; i < 103; ++i) {
    FeatureRow r;
    r.layer = 7;
    r.feature = i;
    r.visual_energy = 0.5;
    rows.push_back(r);
  }
  store.upsert_features(id, rows);
  std::vector<AblationRow> ablations(2);
  ablations[0].layer = 3;
  ablations[0].feature = 40;
  ablations[1].layer = 7;
  ablations[1].feature = 60;
  store.put_ablations(id, ablations);

  std::vector<CurvePoint> points;
  for (int layer : S::kLayers)
    for (int r = 0; r < 2; ++r) {
      for (int step = 0; step < 4; ++step) {
        points.push_back({store_keys::kFvu, layer, gui_store_regime(r), step, S::tokens(step), store_keys::kHeldout,
                          S::fvu(layer, r, step)});
        points.push_back({store_keys::kL0, layer, gui_store_regime(r), step, S::tokens(step), store_keys::kHeldout,
                          S::l0(layer, r, step)});
        // Training MSE is not a held-out curve: the loader must not show it.
        points.push_back({store_keys::kMse, layer, gui_store_regime(r), step, S::tokens(step), store_keys::kTrain, 9.0});
      }
      points.push_back({store_keys::kDecoderCosine, layer, gui_store_regime(r), 0, 0, store_keys::kMean,
                        S::mean_cosine(layer, r)});
    }
  store.put_curve_points(id, points);
  return id;
}

}  // namespace sightline::test
