// What the find / Fig. 9 tests add to the GuiStoreSpec store (tests/test_gui_store_util.h):
// shift statistics for every feature, an autointerp results file with descriptions and
// token examples, and (3, 40)'s top samples with per-token activations that match them.
#pragma once

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "core/io/json_util.h"
#include "tests/test_gui_store_util.h"

namespace sightline::test {

struct FindSpec {
  // p_base: 10^-(1 + 0.1 * (i % 25)) (layer 7 a little lower); feature 99 never fired on D_base.
  static double p_base(int layer, int i) {
    if (i == 99) return 0;
    return std::pow(10.0, -1.0 - 0.1 * (i % 25) - (layer == 7 ? 0.05 : 0.0));
  }
  // p_spatial: adapted features fire 10^0.8 times more often on spatial questions, the
  // others 10^0.4 times less; feature 99 fires there at 1e-3.
  static double p_skill(int layer, int i) {
    if (i == 99) return 1e-3;
    const double shift = GuiStoreSpec::adapted(i) ? std::pow(10.0, 0.8) : std::pow(10.0, -0.4);
    return std::min(1.0, p_base(layer, i) * shift);
  }
  // OCR statistics: the first ten features of layer 3 only.
  static bool has_ocr(int layer, int i) { return layer == 3 && i < 10; }
  static double ocr_odds_ratio(int i) { return 1.0 + 0.25 * i; }

  struct Described {
    int layer, feature;
    const char* text;
    double f1;
  };
  // The descriptions; (3, 5)'s prompt A failed (no text).
  static std::vector<Described> described() {
    return {{3, 40, "objects to the left of the red cube", 0.8},
            {7, 40, "shapes left of other shapes", 0.6},
            {3, 20, "the word left in spatial questions", 0.9},
            {7, 0, "the leftmost shape in a row", 0.7},
            {3, 60, "things above the ball", 0.5},
            {3, 5, "", std::nan("")}};
  }
  // (3, 40)'s top sample k: its question's pieces and the feature's activation on each.
  static std::vector<std::string> tokens(int k) {
    if (k == 0) return {"Is", " the", " cube", " left", " of", " the", " ball", "?"};
    if (k == 1) return {"What", " is", " left", " of", " the", " cube", "?"};
    return {"The", " ball", " is", " left", " of", " the", " cube", "."};
  }
  static std::vector<float> activations(int k) {
    if (k == 0) return {0.0f, 0.1f, 0.3f, 2.0f, 0.8f, 0.0f, 0.2f, 0.0f};  // " left" = 2.0, the feature's max
    if (k == 1) return {0.0f, 0.0f, 1.5f, 0.6f, 0.0f, 0.1f, 0.0f};
    return {0.0f, 0.2f, 0.0f, 1.2f, 0.4f, 0.0f, 0.3f, 0.0f};
  }
};

// Writes the FindSpec additions into the store at `db` (run `run`, written by
// write_gui_store): every feature's shift statistics, the autointerp stage record and its
// results file beside the store, and (3, 40)'s top activations with token_acts = BOS 0
// followed by the example's activations.
inline void write_find_extras(const std::string& db, int64_t run) {
  using S = GuiStoreSpec;
  using F = FindSpec;
  Store store = Store::open(db);
  std::vector<FeatureValue> p_base, p_skill, delta_p, odds, ocr;
  for (int layer : S::kLayers)
    for (int i = 0; i < S::kPerLayer; ++i) {
      const double pb = F::p_base(layer, i), ps = F::p_skill(layer, i);
      p_base.push_back({layer, i, pb});
      p_skill.push_back({layer, i, ps});
      delta_p.push_back({layer, i, ps - pb});
      odds.push_back({layer, i, (ps + 0.5) / (pb + 0.5)});
      if (F::has_ocr(layer, i)) ocr.push_back({layer, i, F::ocr_odds_ratio(i)});
    }
  store.set_feature_metric(run, "p_base", p_base);
  store.set_feature_metric(run, "p_skill", p_skill);
  store.set_feature_metric(run, "delta_p", delta_p);
  store.set_feature_metric(run, "odds_ratio", odds);
  store.set_feature_metric(run, "ocr_odds_ratio", ocr);

  std::vector<TopActivation> top = store.top_activations(run, 3, 40);
  for (TopActivation& a : top) {
    a.token_acts = {0.0f};
    for (float v : F::activations(a.rank)) a.token_acts.push_back(v);
  }
  store.put_top_activations(run, top);

  nlohmann::json features = nlohmann::json::array();
  for (const auto& d : F::described()) {
    nlohmann::json examples = nlohmann::json::array();
    if (d.layer == 3 && d.feature == 40)
      for (int k = 0; k < 3; ++k)
        examples.push_back({{"sample_id", "sample-" + std::to_string(k)},
                            {"dataset", k == 2 ? "vsr" : "vqa"},
                            {"tokens", F::tokens(k)},
                            {"activations", F::activations(k)}});
    features.push_back({{"layer", d.layer},
                        {"feature", d.feature},
                        {"selections", {"spatial"}},
                        {"description", d.text},
                        {"f1", std::isfinite(d.f1) ? nlohmann::json(d.f1) : nlohmann::json(nullptr)},
                        {"examples", examples},
                        {"error", std::string(d.text).empty() ? "prompt A: endpoint timed out" : ""}});
  }
  const std::filesystem::path dir = std::filesystem::path(db).parent_path() / "run-1" / "autointerp";
  std::filesystem::create_directories(dir);
  write_json_file((dir / "results.json").string(), {{"model", "stub"}, {"features", features}});
  StageRecord stage;
  stage.run_id = run;
  stage.name = "autointerp";
  stage.status = StageStatus::kDone;
  stage.result_json = nlohmann::json{{"features", features.size()}, {"results_file", "run-1/autointerp/results.json"}}.dump();
  store.put_stage(stage);
}

}  // namespace sightline::test
