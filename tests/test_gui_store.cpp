// The explorer's store loader: a store written through the Store API comes back as the
// feature table and curves the views draw, value for value; a bad or empty store becomes
// a failed / missing slot and a log line, never an exception on the UI thread.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <string>
#include <tuple>

#include "core/common/error.h"
#include "tests/test_gui_store_util.h"
#include "ui/log_buffer.h"
#include "ui/snapshot.h"
#include "ui/store_loader.h"
#include "ui/task_list.h"

using namespace sightline;
using namespace sightline::ui;
using S = test::GuiStoreSpec;

namespace {

std::string make_store() {
  const std::string path = test::scratch_dir("gui-store") + "/project.db";
  test::write_gui_store(path);
  return path;
}

void expect_written_features(const FeatureTable& t, const std::string& path) {
  EXPECT_EQ(t.source, path);
  EXPECT_EQ(t.num_layers, 8);
  ASSERT_EQ(t.size(), 200u) << "features without c_f are left out";
  test::expect_each_gui_store_feature(t, [&](size_t row, int layer, int i) {
    EXPECT_FLOAT_EQ(t.visual_energy[row], static_cast<float>(S::energy(layer, i)));
    EXPECT_FLOAT_EQ(t.decoder_cosine[row], static_cast<float>(S::cosine(layer, i)));
    uint8_t flags = 0;
    if (S::adapted(i)) flags |= kFlagAdapted;
    if (S::spatial(i)) flags |= kFlagSpatialFeature;
    if (S::candidate(i)) flags |= kFlagSpatialCandidate;
    if (S::analysed(layer, i)) flags |= kFlagAnalysed;
    EXPECT_EQ(t.flags[row], flags);
  });
  EXPECT_NO_THROW(t.validate());
}

const Curve* find_curve(const CurveSet& set, const std::string& label) {
  for (const Curve& c : set.curves)
    if (c.label == label) return &c;
  return nullptr;
}

void expect_written_curves(const std::vector<CurveSet>& sets) {
  // FVU for layers 3 and 7, L0 for layers 3 and 7, the cosine per layer; no MSE.
  ASSERT_EQ(sets.size(), 5u);
  for (int m = 0; m < 2; ++m)
    for (int k = 0; k < 2; ++k) {
      const int layer = S::kLayers[k];
      const CurveSet& set = sets[m * 2 + k];
      EXPECT_EQ(set.title, std::string(m == 0 ? "Held-out FVU" : "Held-out L0") + ", layer " + std::to_string(layer));
      EXPECT_EQ(set.log_y, m == 0);
      EXPECT_EQ(set.fvu_layer, m == 0 ? layer : -1) << "the final-FVU table reads the FVU sets only";
      ASSERT_EQ(set.curves.size(), 2u) << set.title;
      for (int r = 0; r < 2; ++r) {
        const Curve* c = find_curve(set, test::gui_store_regime(r));
        ASSERT_NE(c, nullptr) << set.title << ": regime " << test::gui_store_regime(r);
        ASSERT_EQ(c->x.size(), 4u);
        ASSERT_EQ(c->y.size(), 4u);
        for (int step = 0; step < 4; ++step) {
          EXPECT_FLOAT_EQ(c->x[step], static_cast<float>(S::tokens(step)));
          const double want = m == 0 ? std::log10(S::fvu(layer, r, step)) : S::l0(layer, r, step);
          EXPECT_FLOAT_EQ(c->y[step], static_cast<float>(want)) << set.title << " step " << step;
        }
      }
    }
  const CurveSet& cos = sets[4];
  EXPECT_EQ(cos.title, "Mean decoder cosine per layer");
  EXPECT_EQ(cos.fvu_layer, -1);
  ASSERT_EQ(cos.curves.size(), 2u);
  for (int r = 0; r < 2; ++r) {
    const Curve* c = find_curve(cos, test::gui_store_regime(r));
    ASSERT_NE(c, nullptr);
    ASSERT_EQ(c->x.size(), 2u);
    for (int k = 0; k < 2; ++k) {
      EXPECT_FLOAT_EQ(c->x[k], static_cast<float>(S::kLayers[k]));
      EXPECT_FLOAT_EQ(c->y[k], static_cast<float>(S::mean_cosine(S::kLayers[k], r)));
    }
  }
}

bool log_has(LogBuffer& log, spdlog::level::level_enum level, const std::string& text) {
  for (const LogLine& line : log.lines())
    if (line.level == level && line.text.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST(GuiStore, ReadStoreReturnsWhatWasWritten) {
  const std::string path = make_store();
  const StoreData data = read_store(path);
  EXPECT_EQ(data.path, path);
  EXPECT_EQ(data.run_name, "gui-test");
  EXPECT_EQ(data.skipped_features, 3u);
  expect_written_features(data.features, path);
  expect_written_curves(data.curves);
}

TEST(GuiStore, ReadStorePicksTheNewestRunOrTheNamedOne) {
  const std::string path = make_store();
  int64_t newer = 0;
  {
    Store store = Store::open(path);
    RunRecord run;
    run.name = "later";
    newer = store.create_run(run);
    FeatureRow row;
    row.layer = 1;
    row.feature = 5;
    row.visual_energy = 0.25;
    row.decoder_cosine = -0.5;
    store.upsert_features(newer, {row});
  }
  const StoreData latest = read_store(path);
  EXPECT_EQ(latest.run_id, newer);
  ASSERT_EQ(latest.features.size(), 1u);
  EXPECT_EQ(latest.features.num_layers, 2);
  EXPECT_FLOAT_EQ(latest.features.decoder_cosine[0], -0.5f);
  EXPECT_EQ(latest.features.flags[0], 0) << "adapted / spatial not computed: no flags";
  EXPECT_TRUE(latest.curves.empty());
  expect_written_features(read_store(path, "gui-test").features, path);
  try {
    read_store(path, "nope");
    ADD_FAILURE() << "read a run that does not exist";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(GuiStore, LoaderPublishesIntoTheSnapshotSlots) {
  const std::string path = make_store();
  auto snapshot = std::make_shared<Snapshot>();
  TaskList tasks;
  start_store_load(tasks, snapshot, path);
  tasks.join_all();
  ASSERT_EQ(snapshot->features.status().state, DataState::kReady) << snapshot->features.status().message;
  ASSERT_EQ(snapshot->curves.status().state, DataState::kReady) << snapshot->curves.status().message;
  ASSERT_EQ(snapshot->results.status().state, DataState::kReady) << snapshot->results.status().message;
  EXPECT_EQ(snapshot->results.data()->features.size(), 13u);
  // Fig. 13 for the run: each method's map is the mean over the features it scored.
  ASSERT_EQ(snapshot->heat_maps.status().state, DataState::kReady) << snapshot->heat_maps.status().message;
  const auto& maps = *snapshot->heat_maps.data();
  ASSERT_FALSE(maps.empty());
  const std::vector<std::string> methods = {"A", "B", "exact"};
  size_t m = 0;
  for (const std::string& method : methods) {
    std::map<std::pair<int, int>, std::pair<double, int>> sum;
    int scored = 0;
    for (const auto& [ref, d] : snapshot->results.data()->features) {
      auto it = d.heads.find(method);
      if (it == d.heads.end() || it->second.empty()) continue;
      ++scored;
      for (const HeadScore& h : it->second) {
        sum[{h.head_layer, h.head}].first += h.score;
        ++sum[{h.head_layer, h.head}].second;
      }
    }
    if (scored == 0) continue;
    ASSERT_LT(m, maps.size()) << method;
    const HeatMap& map = maps[m++];
    EXPECT_NE(map.title.find("method " + method), std::string::npos) << map.title;
    for (const auto& [cell, v] : sum) {
      EXPECT_NEAR(map.values[static_cast<size_t>(cell.first) * map.cols + cell.second], v.first / v.second, 1e-5)
          << method << " L" << cell.first << " H" << cell.second;
    }
  }
  EXPECT_EQ(m, maps.size());
  expect_written_features(*snapshot->features.data(), path);
  expect_written_curves(*snapshot->curves.data());
  const auto views = tasks.tasks();
  ASSERT_EQ(views.size(), 1u);
  EXPECT_EQ(views[0].state, TaskState::kDone);
}

TEST(GuiStore, RunHeadMapsAverageEachMethodOverItsFeatures) {
  RunResults results;
  auto add = [&](int feature, const std::string& method, std::vector<std::tuple<int, int, double>> cells) {
    FeatureDetail& d = results.features[FeatureRef{1, feature}];
    for (const auto& [layer, head, score] : cells) {
      HeadScore s;
      s.layer = 1;
      s.feature = feature;
      s.method = method;
      s.head_layer = layer;
      s.head = head;
      s.score = score;
      d.heads[method].push_back(s);
    }
  };
  add(5, "A", {{0, 0, 1.0}, {0, 1, -2.0}, {1, 1, 4.0}});
  add(6, "A", {{0, 0, 3.0}, {1, 1, 0.0}});
  add(6, "exact", {{1, 0, 0.5}});
  results.features[FeatureRef{0, 9}];  // a feature with no head scores counts for no method
  const auto maps = run_head_heat_maps(results);
  ASSERT_EQ(maps.size(), 2u);  // A and exact; B has no scores
  EXPECT_NE(maps[0].title.find("method A: mean over 2 features"), std::string::npos) << maps[0].title;
  ASSERT_EQ(maps[0].rows, 2);
  ASSERT_EQ(maps[0].cols, 2);
  EXPECT_FLOAT_EQ(maps[0].values[0], 2.0f);   // (1 + 3) / 2
  EXPECT_FLOAT_EQ(maps[0].values[1], -2.0f);  // one feature scored it
  EXPECT_FLOAT_EQ(maps[0].values[2], 0.0f);   // unscored
  EXPECT_FLOAT_EQ(maps[0].values[3], 2.0f);   // (4 + 0) / 2
  EXPECT_TRUE(maps[0].diverging);
  EXPECT_NE(maps[1].title.find("method exact: mean over 1 feature"), std::string::npos) << maps[1].title;
  EXPECT_FLOAT_EQ(maps[1].values[static_cast<size_t>(1) * maps[1].cols + 0], 0.5f);
  EXPECT_FALSE(maps[1].diverging);
}

TEST(GuiStore, ARunWithoutResultsLeavesTheSlotsMissingWithTheStageToRun) {
  const std::string path = test::scratch_dir("gui-store-empty") + "/empty.db";
  {
    Store store = Store::open(path);
    RunRecord run;
    run.name = "fresh";
    store.create_run(run);
  }
  auto snapshot = std::make_shared<Snapshot>();
  TaskList tasks;
  start_store_load(tasks, snapshot, path);
  tasks.join_all();
  const DataStatus features = snapshot->features.status(), curves = snapshot->curves.status();
  EXPECT_EQ(features.state, DataState::kMissing);
  EXPECT_NE(features.message.find("stage 2"), std::string::npos) << features.message;
  EXPECT_EQ(curves.state, DataState::kMissing);
  EXPECT_NE(curves.message.find("stage 1"), std::string::npos) << curves.message;
  EXPECT_EQ(snapshot->features.data(), nullptr);
  const DataStatus results = snapshot->results.status();
  EXPECT_EQ(results.state, DataState::kMissing);
  EXPECT_NE(results.message.find("stages 3-5"), std::string::npos) << results.message;
  const DataStatus sweep = snapshot->sweep.status();
  EXPECT_EQ(sweep.state, DataState::kMissing);
  EXPECT_NE(sweep.message.find("stage 2"), std::string::npos) << sweep.message;
}

TEST(GuiStore, ABadOrMissingStoreFailsTheSlotsAndLogsTheError) {
  const std::string dir = test::scratch_dir("gui-store-bad");
  const std::string garbage = dir + "/garbage.db", absent = dir + "/absent.db", no_run = dir + "/no-run.db";
  {
    std::ofstream out(garbage);
    out << "this is not a SQLite database, just some text that is long enough to have a header\n";
  }
  { Store::open(no_run); }
  auto log = install_log_buffer();
  for (const std::string& path : {garbage, absent, no_run}) {
    SCOPED_TRACE(path);
    auto snapshot = std::make_shared<Snapshot>();
    TaskList tasks;
    EXPECT_NO_THROW(start_store_load(tasks, snapshot, path));
    tasks.join_all();
    for (const DataStatus& s : {snapshot->features.status(), snapshot->curves.status(), snapshot->heat_maps.status(),
                                 snapshot->results.status(), snapshot->sweep.status()}) {
      EXPECT_EQ(s.state, DataState::kFailed);
      EXPECT_NE(s.message.find(path), std::string::npos) << s.message;
    }
    const auto views = tasks.tasks();
    ASSERT_EQ(views.size(), 1u);
    EXPECT_EQ(views[0].state, TaskState::kFailed);
    EXPECT_TRUE(log_has(*log, spdlog::level::err, path)) << "the log pane names the file";
  }
  uninstall_log_buffer(log);
}

TEST(GuiStore, ReadsSkillMetricsTopActivationsHeadsPatchingAndAblations) {
  const std::string path = make_store();
  const RunResults r = read_store(path).results;
  EXPECT_EQ(r.source, path);
  // The spatial candidates of both layers (6 each) and the OCR feature (3, 15).
  ASSERT_EQ(r.features.size(), 13u);
  ASSERT_NE(r.find(3, 15), nullptr);
  EXPECT_EQ(r.find(3, 11), nullptr);
  for (int layer : S::kLayers)
    for (int i = 0; i < S::kPerLayer; ++i) {
      if (!S::candidate(i)) continue;
      SCOPED_TRACE("layer " + std::to_string(layer) + " feature " + std::to_string(i));
      const FeatureDetail* d = r.find(layer, i);
      ASSERT_NE(d, nullptr);
      EXPECT_EQ(d->ref, (FeatureRef{layer, i}));
      EXPECT_DOUBLE_EQ(d->metrics.at("p_base"), S::p_base(i));
      EXPECT_DOUBLE_EQ(d->metrics.at("p_skill"), S::p_skill(layer, i));
      EXPECT_DOUBLE_EQ(d->metrics.at("delta_p"), S::p_skill(layer, i) - S::p_base(i));
      EXPECT_DOUBLE_EQ(d->metrics.at("odds_ratio"), S::odds_ratio(layer, i));
      EXPECT_DOUBLE_EQ(d->metrics.at("lexical_persistent"), i == 10 ? 1.0 : 0.0);
      EXPECT_DOUBLE_EQ(d->metrics.at("vsr_or"), S::relation_or(0, layer, i));
      ASSERT_EQ(d->relations.size(), 3u);
      for (int k = 0; k < 3; ++k) {
        EXPECT_EQ(d->relations[k].first, S::relation(k)) << "strongest association first";
        EXPECT_DOUBLE_EQ(d->relations[k].second, S::relation_or(k, layer, i));
      }
      const bool analysed_top = layer == 3 && i == 40;
      EXPECT_EQ(d->top.size(), analysed_top ? 3u : 0u);
      EXPECT_EQ(d->has_patching, analysed_top);
    }
  const FeatureDetail& d = *r.find(3, 40);
  for (int k = 0; k < 3; ++k) {
    const TopActivation& a = d.top[k];
    EXPECT_EQ(a.rank, k);
    EXPECT_EQ(a.sample_id, "sample-" + std::to_string(k));
    EXPECT_EQ(a.dataset, k == 2 ? "vsr" : "vqa");
    EXPECT_DOUBLE_EQ(a.max_activation, 5.0 - k);
    EXPECT_EQ(a.token_acts, (std::vector<float>{0.0f, 1.0f + k, 0.5f}));
    ASSERT_EQ(a.patch_acts.size(), 16u);
    for (int p = 0; p < 16; ++p) EXPECT_FLOAT_EQ(a.patch_acts[p], S::patch_act(k, p));
  }
  ASSERT_EQ(d.heads.size(), 3u);
  for (int m = 0; m < 3; ++m) {
    const std::vector<HeadScore>& scores = d.heads.at(S::method(m));
    ASSERT_EQ(scores.size(), 16u);
    for (const HeadScore& h : scores) {
      EXPECT_EQ(h.method, S::method(m));
      EXPECT_DOUBLE_EQ(h.score, S::head_score(m, h.head_layer, h.head));
    }
  }
  EXPECT_DOUBLE_EQ(d.patching.spearman_a, 0.7);
  EXPECT_DOUBLE_EQ(d.patching.spearman_b, 0.55);
  const FeatureDetail& other = *r.find(7, 60);
  ASSERT_EQ(other.heads.size(), 1u);
  EXPECT_DOUBLE_EQ(other.heads.at("A").front().score, -S::head_score(0, 0, 0));

  ASSERT_EQ(r.ablations.size(), 2u);
  const AblationRow& a = r.ablations[0];
  EXPECT_EQ(a.layer, 3);
  EXPECT_EQ(a.feature, 40);
  EXPECT_DOUBLE_EQ(a.d_vsr_acc, -4.5);
  EXPECT_DOUBLE_EQ(a.d_vsr_prob, -0.02);
  EXPECT_DOUBLE_EQ(a.d_vqa_acc, -0.3);
  EXPECT_DOUBLE_EQ(a.d_ctrl, -0.5);
  EXPECT_DOUBLE_EQ(a.vsr_or, 3.2);
  EXPECT_EQ(a.n_samples, 120);
  EXPECT_EQ(a.relations, (std::vector<std::string>{"above", "left of"}));
  EXPECT_EQ(r.ablations[1].layer, 7);
  EXPECT_DOUBLE_EQ(r.ablations[1].d_vsr_acc, -1.25);
  EXPECT_TRUE(std::isnan(r.ablations[1].d_ctrl));
  EXPECT_EQ(r.ablations[1].n_samples, 80);
}

TEST(GuiStore, HeadHeatMapPlacesEachScoreAndRankHeadsOrdersByMagnitude) {
  const std::string path = make_store();
  const StoreData data = read_store(path);
  ASSERT_NE(data.results.find(3, 40), nullptr);
  const FeatureDetail& d = *data.results.find(3, 40);
  for (int m = 0; m < 3; ++m) {
    SCOPED_TRACE(S::method(m));
    const std::vector<HeadScore>& scores = d.heads.at(S::method(m));
    const HeatMap map = head_heat_map(scores, "t");
    ASSERT_EQ(map.rows, 4);
    ASSERT_EQ(map.cols, 4);
    EXPECT_TRUE(map.diverging) << "negative scores";
    for (int hl = 0; hl < 4; ++hl)
      for (int h = 0; h < 4; ++h)
        EXPECT_FLOAT_EQ(map.values[hl * 4 + h], static_cast<float>(S::head_score(m, hl, h)));
    const std::vector<HeadScore> ranked = rank_heads(scores);
    ASSERT_EQ(ranked.size(), 16u);
    for (size_t i = 1; i < ranked.size(); ++i) EXPECT_GE(std::fabs(ranked[i - 1].score), std::fabs(ranked[i].score));
  }
  const std::vector<HeadScore> ranked = rank_heads(d.heads.at("A"));
  EXPECT_EQ(ranked.front().head_layer, 2);
  EXPECT_EQ(ranked.front().head, 1);
  // |0.01 * 8 - 0.08| = 0: head (2, 0) is the weakest.
  EXPECT_EQ(ranked.back().head_layer, 2);
  EXPECT_EQ(ranked.back().head, 0);
  const HeatMap positive = head_heat_map({{0, 0, "A", 0, 2, 0.5}, {0, 0, "A", 1, 0, 0.25}}, "p");
  EXPECT_FALSE(positive.diverging);
  EXPECT_EQ(positive.rows, 2);
  EXPECT_EQ(positive.cols, 3);
  EXPECT_EQ(positive.values, (std::vector<float>{0, 0, 0.5f, 0.25f, 0, 0}));
}
