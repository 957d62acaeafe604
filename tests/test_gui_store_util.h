// A small project store with known values, written through the Store API, for the
// explorer's store-loader tests (test_gui_store.cpp) and its screenshot test.
#pragma once

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "core/pipeline/store_keys.h"
#include "core/store/store.h"
#include "tests/test_util.h"

namespace sightline::test {

// Layers 3 and 7 hold features 0..99 each (num_layers = 8). Feature i is adapted when
// i % 5 == 0 (40 features): E_v in [0.05, 0.11], c_f in [0.2, 0.4]. The others have
// E_v < 1e-4 (below the default eps 1e-3) and c_f in [0.9, 0.99], so the explorer's
// default thresholds (eps 1e-3, p_cos 25%) put exactly the adapted ones in A.
// Spatial: adapted with i % 20 == 0 (the "spatial" column says so for i % 40 == 0, the
// selection "spatial" for all of them). Spatial candidates (selection
// "spatial_candidates"): the spatial ones and i == 10 (lexically persistent). OCR
// candidate and feature: (3, 15). Analysed (ablation rows): (3, 40) and (7, 60). Layer 7 also has features 100..102 with E_v only
// (no c_f): the loader leaves them out.
// Stage 3-5 results: skill metrics and vsr_or:<relation> extras for every candidate; three
// top activations (4 x 4 patch grids) and head scores (4 head layers x 4 heads, methods A,
// B, exact) for (3, 40); head scores (A) for (7, 60); a patching row for (3, 40). Stage 2:
// a 4 x 3 threshold sweep (sweep_count, sweep_jaccard, sweep_correlation).
struct GuiStoreSpec {
  static constexpr int kLayers[2] = {3, 7};
  static constexpr int kPerLayer = 100;
  static bool adapted(int i) { return i % 5 == 0; }
  static bool spatial(int i) { return i % 20 == 0; }
  static bool analysed(int layer, int i) { return (layer == 3 && i == 40) || (layer == 7 && i == 60); }
  // Spatial candidates: the spatial features and feature 10, which fails the lexical filter.
  static bool candidate(int i) { return spatial(i) || i == 10; }
  static double p_base(int i) { return 0.01 * (1 + i % 4); }
  static double p_skill(int layer, int i) { return 0.3 + 0.001 * i + 0.01 * layer; }
  static double odds_ratio(int layer, int i) { return 5 + 0.1 * i + layer; }
  // "vsr_or:<relation>" extras: above > left of > near for every candidate.
  static double relation_or(int k, int layer, int i) {
    return k == 0 ? 4 + layer + 0.01 * i : k == 1 ? 2 + 0.01 * i : 1.5;
  }
  static const char* relation(int k) { return k == 0 ? "above" : k == 1 ? "left of" : "near"; }
  // Top activation k of (3, 40): patch 5 + k is its hottest.
  static float patch_act(int k, int p) { return p == 5 + k ? 2.0f - 0.25f * k : 0.01f * p; }
  // Head (head_layer, head) scores, signed; the top head by |score| is (2, 1) for A,
  // (1, 3) for B and (3, 0) for exact. Away from the tops, A rises with k = 4 * head_layer
  // + head as exact patching does (Fig. 14: agreement) and B falls (disagreement).
  static double head_score(int method, int head_layer, int head) {
    static const int top[3][2] = {{2, 1}, {1, 3}, {3, 0}};
    if (head_layer == top[method][0] && head == top[method][1]) return 1.0 - 0.2 * method;
    const int k = head_layer * 4 + head;
    if (method == 1) return 0.3 - 0.03 * k;
    return 0.01 * k - 0.08 - 0.01 * method;
  }
  static const char* method(int m) { return m == 0 ? "A" : m == 1 ? "B" : "exact"; }
  static double energy(int layer, int i) {
    return adapted(i) ? 0.05 + 0.01 * (i % 7) + 0.001 * layer : 1e-5 * (1 + i % 3);
  }
  static double cosine(int layer, int i) { return adapted(i) ? 0.2 + 0.002 * i + 0.001 * layer : 0.9 + 0.0009 * i; }
  // Curves: steps 0..3 for regimes "image" and "text" on both layers.
  static int64_t tokens(int step) { return 1000 * (step + 1); }
  static double fvu(int layer, int regime, int step) { return 0.5 / (1 + step) + 0.01 * layer + 0.1 * regime; }
  static double l0(int layer, int regime, int step) { return 40.0 - 5 * step + layer + 3 * regime; }
  static double mean_cosine(int layer, int regime) { return 0.95 - 0.01 * layer - 0.2 * regime; }
  // Stage 2's threshold sweep (regime "text"): eps rows x p_cos columns. |A| falls with
  // eps and rises with p_cos: the largest count is (0, 0.5), the smallest (0.01, 0.1).
  static constexpr double kSweepEps[4] = {0, 1e-4, 1e-3, 1e-2};
  static constexpr double kSweepPcos[3] = {0.1, 0.25, 0.5};
  static double sweep_count(int r, int c) { return 100 - 20 * r + 30 * c; }
  static double sweep_jaccard(int r, int c) { return sweep_count(r, c) / (sweep_count(r, c) + 60); }
  static double sweep_correlation(int r, int c) { return 0.8 - 0.5 * r + 0.1 * c; }
};

inline const char* gui_store_regime(int r) { return r == 0 ? "image" : "text"; }

// For a table read back from the store (FeatureTable, ShiftTable: `layer` and `feature`
// per row): expects its rows to be GuiStoreSpec's features in (layer, feature) order and
// calls check(row, layer, i) for each, inside a trace naming the feature.
template <typename Table, typename Check>
void expect_each_gui_store_feature(const Table& t, Check check) {
  size_t row = 0;
  for (int layer : GuiStoreSpec::kLayers)
    for (int i = 0; i < GuiStoreSpec::kPerLayer; ++i, ++row) {
      SCOPED_TRACE("layer " + std::to_string(layer) + " feature " + std::to_string(i));
      ASSERT_LT(row, t.layer.size());
      EXPECT_EQ(t.layer[row], layer);
      EXPECT_EQ(t.feature[row], i);
      check(row, layer, i);
    }
}

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
      r.spatial = i % 40 == 0 ? 1 : 0;
      if (S::candidate(i) || (layer == 3 && i == 15)) {
        r.p_base = S::p_base(i);
        r.p_skill = S::p_skill(layer, i);
        r.delta_p = r.p_skill - r.p_base;
        r.odds_ratio = S::odds_ratio(layer, i);
        r.lexical_persistent = i == 10 ? 1 : 0;
        r.vsr_or = S::relation_or(0, layer, i);
        for (int k = 0; k < 3; ++k) r.extra[store_keys::vsr_relation_key(S::relation(k))] = S::relation_or(k, layer, i);
      }
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
  std::vector<FeatureRef> candidates, spatial;
  for (int layer : S::kLayers)
    for (int i = 0; i < S::kPerLayer; ++i) {
      if (S::candidate(i)) candidates.push_back({layer, i});
      if (S::spatial(i)) spatial.push_back({layer, i});
    }
  store.put_selection(id, store_keys::candidates_selection(store_keys::kSpatialSkill), candidates);
  store.put_selection(id, store_keys::kSpatialSelection, spatial);
  store.put_selection(id, store_keys::candidates_selection("ocr"), {{3, 15}});
  store.put_selection(id, "ocr", {{3, 15}});

  std::vector<TopActivation> top;
  for (int k = 0; k < 3; ++k) {
    TopActivation a;
    a.layer = 3;
    a.feature = 40;
    a.rank = k;
    a.sample_id = "sample-" + std::to_string(k);
    a.dataset = k == 2 ? store_keys::kDatasetVsr : store_keys::kDatasetVqa;
    a.max_activation = 5.0 - k;
    a.token_acts = {0.0f, 1.0f + k, 0.5f};
    for (int p = 0; p < 16; ++p) a.patch_acts.push_back(S::patch_act(k, p));
    top.push_back(a);
  }
  store.put_top_activations(id, top);
  std::vector<HeadScore> heads;
  for (int m = 0; m < 3; ++m)
    for (int hl = 0; hl < 4; ++hl)
      for (int h = 0; h < 4; ++h) {
        heads.push_back({3, 40, S::method(m), hl, h, S::head_score(m, hl, h)});
        if (m == 0) heads.push_back({7, 60, S::method(m), hl, h, -S::head_score(m, hl, h)});
      }
  store.put_head_scores(id, heads);
  PatchingRow patching;
  patching.layer = 3;
  patching.feature = 40;
  patching.spearman_a = 0.7;
  patching.spearman_b = 0.55;
  store.put_patching(id, {patching});

  std::vector<AblationRow> ablations(2);
  ablations[0].layer = 3;
  ablations[0].feature = 40;
  ablations[0].d_vsr_acc = -4.5;
  ablations[0].d_vsr_prob = -0.02;
  ablations[0].d_vqa_acc = -0.3;
  ablations[0].d_ctrl = -0.5;
  ablations[0].vsr_or = 3.2;
  ablations[0].n_samples = 120;
  ablations[0].relations = {"above", "left of"};
  ablations[1].layer = 7;
  ablations[1].feature = 60;
  ablations[1].d_vsr_acc = -1.25;
  ablations[1].n_samples = 80;
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
  // The sweep cells, eps-major as stage 2 writes them.
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 3; ++c) {
      const int64_t step = r * 3 + c;
      const std::pair<const char*, double> cell[] = {{"eps", S::kSweepEps[r]},
                                                     {"p_cos", S::kSweepPcos[c]},
                                                     {"count", S::sweep_count(r, c)},
                                                     {"jaccard", S::sweep_jaccard(r, c)},
                                                     {"layer_correlation", S::sweep_correlation(r, c)}};
      for (const auto& [key, value] : cell) points.push_back({store_keys::kSweep, -1, "text", step, 0, key, value});
    }
  store.put_curve_points(id, points);
  return id;
}

}  // namespace sightline::test
