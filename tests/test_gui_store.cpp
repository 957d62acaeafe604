// The explorer's store loader: a store written through the Store API comes back as the
// feature table and curves the views draw, value for value; a bad or empty store becomes
// a failed / missing slot and a log line, never an exception on the UI thread.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>

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
  size_t row = 0;
  for (int layer : S::kLayers)
    for (int i = 0; i < S::kPerLayer; ++i, ++row) {
      SCOPED_TRACE("layer " + std::to_string(layer) + " feature " + std::to_string(i));
      EXPECT_EQ(t.layer[row], layer);
      EXPECT_EQ(t.feature[row], i);
      EXPECT_FLOAT_EQ(t.visual_energy[row], static_cast<float>(S::energy(layer, i)));
      EXPECT_FLOAT_EQ(t.decoder_cosine[row], static_cast<float>(S::cosine(layer, i)));
      uint8_t flags = 0;
      if (S::adapted(i)) flags |= kFlagAdapted;
      if (S::spatial(i)) flags |= kFlagSpatialFeature;
      if (S::analysed(layer, i)) flags |= kFlagAnalysed;
      EXPECT_EQ(t.flags[row], flags);
    }
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
  EXPECT_EQ(snapshot->heat_maps.status().state, DataState::kMissing);
  expect_written_features(*snapshot->features.data(), path);
  expect_written_curves(*snapshot->curves.data());
  const auto views = tasks.tasks();
  ASSERT_EQ(views.size(), 1u);
  EXPECT_EQ(views[0].state, TaskState::kDone);
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
    for (const DataStatus& s : {snapshot->features.status(), snapshot->curves.status(), snapshot->heat_maps.status()}) {
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
