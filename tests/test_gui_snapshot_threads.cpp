// The explorer's hand-over of results between threads, exercised concurrently for real
// (the check-sanitizers TSan build runs these): producer threads publish into DataSlots
// while a reader thread takes copies, and the UI loop (AppState::update, as each frame
// runs it) indexes tables that synthetic-data tasks publish from their own threads.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ui/app_state.h"
#include "ui/snapshot.h"

using namespace sightline;
using namespace sightline::ui;

namespace {

// Table number `iteration` of producer `producer`: 1..7 rows that all name their maker, so
// a reader can tell a torn or freed table from a whole one.
std::shared_ptr<const FeatureTable> producer_table(int producer, int iteration, int producers) {
  auto t = std::make_shared<FeatureTable>();
  const size_t rows = 1 + static_cast<size_t>(iteration % 7);
  t->num_layers = producers;
  t->layer.assign(rows, static_cast<uint16_t>(producer));
  t->feature.assign(rows, iteration);
  t->visual_energy.assign(rows, static_cast<float>(iteration));
  t->decoder_cosine.assign(rows, 0.5f);
  t->flags.assign(rows, kFlagAdapted);
  t->source = "producer " + std::to_string(producer) + ":" + std::to_string(iteration);
  return t;
}

// "" when t is one whole table from producer_table, else what is wrong with it.
std::string table_problem(const FeatureTable& t, int producers) {
  if (t.size() == 0) return "empty table";
  const int producer = t.layer[0];
  const int iteration = t.feature[0];
  if (producer >= producers) return "bad producer " + std::to_string(producer);
  if (t.size() != 1 + static_cast<size_t>(iteration % 7)) return "size " + std::to_string(t.size()) + " for " + t.source;
  if (t.source != "producer " + std::to_string(producer) + ":" + std::to_string(iteration))
    return "source '" + t.source + "' for producer " + std::to_string(producer) + ":" + std::to_string(iteration);
  if (t.feature.size() != t.size() || t.visual_energy.size() != t.size() || t.decoder_cosine.size() != t.size() ||
      t.flags.size() != t.size())
    return "column sizes disagree in " + t.source;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t.layer[i] != producer || t.feature[i] != iteration || t.visual_energy[i] != static_cast<float>(iteration))
      return "row " + std::to_string(i) + " of " + t.source + " is not its own";
  }
  return "";
}

}  // namespace

TEST(GuiSnapshotThreads, ProducersPublishWhileAReaderReads) {
  constexpr int kProducers = 3;
  constexpr int kPublishes = 1500;
  DataSlot<FeatureTable> slot;
  std::atomic<int> finished{0};

  // Problems seen by the reader, reported after the join (the first few only).
  std::mutex problems_mutex;
  std::vector<std::string> problems;
  auto report = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(problems_mutex);
    if (problems.size() < 10) problems.push_back(what);
  };

  int64_t reads = 0, non_null = 0;
  std::thread reader([&] {
    std::vector<int> last_iteration(kProducers, -1);
    uint64_t last_version = 0;
    std::vector<std::shared_ptr<const FeatureTable>> held;  // old copies must stay intact
    bool producers_done = false;
    do {
      producers_done = finished.load() == kProducers;
      // Version first: publish() stores the data before it bumps the version, so a
      // version > 0 promises a table (AppState::update relies on this order).
      const uint64_t version = slot.version();
      const auto table = slot.data();
      const DataStatus status = slot.status();
      ++reads;
      if (version < last_version) report("version went back from " + std::to_string(last_version));
      last_version = version;
      if (version > 0 && !table) report("version " + std::to_string(version) + " but no table");
      if (status.state != DataState::kComputing && status.state != DataState::kReady && version > 0)
        report("unexpected state " + std::to_string(static_cast<int>(status.state)));
      if (status.state == DataState::kComputing && (status.progress < -1 || status.progress > 1))
        report("progress " + std::to_string(status.progress));
      if (!table) continue;
      ++non_null;
      const std::string problem = table_problem(*table, kProducers);
      if (!problem.empty()) {
        report(problem);
        continue;
      }
      // One producer's tables appear in the order it published them.
      const int producer = table->layer[0], iteration = table->feature[0];
      if (iteration < last_iteration[producer])
        report(table->source + " after iteration " + std::to_string(last_iteration[producer]));
      last_iteration[producer] = iteration;
      if (reads % 97 == 0) held.push_back(table);
    } while (!producers_done);
    for (const auto& t : held) {
      const std::string problem = table_problem(*t, kProducers);
      if (!problem.empty()) report("held copy changed: " + problem);
    }
  });

  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPublishes; ++i) {
        slot.begin("producer " + std::to_string(p));
        auto table = producer_table(p, i, kProducers);
        slot.set_progress(static_cast<double>(i) / kPublishes);
        slot.publish(std::move(table));
      }
      ++finished;
    });
  }
  for (auto& t : producers) t.join();
  reader.join();

  for (const auto& p : problems) ADD_FAILURE() << p;
  EXPECT_GT(reads, 0);
  EXPECT_GT(non_null, 0);
  EXPECT_EQ(slot.version(), static_cast<uint64_t>(kProducers * kPublishes));
  EXPECT_EQ(slot.status().state, DataState::kReady);
  const auto last = slot.data();
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(table_problem(*last, kProducers), "");
  EXPECT_EQ(last->feature[0], kPublishes - 1);  // the final publish is some producer's last
}

TEST(GuiSnapshotThreads, UiLoopIndexesTablesPublishedByTasks) {
  constexpr size_t kFeatures = 2000;
  constexpr int kRounds = 12;
  AppState state;
  int64_t frames = 0, frames_with_model = 0;
  for (int round = 0; round < kRounds; ++round) {
    // Two generators overlap, so tables arrive while the previous one is being indexed.
    start_synthetic_data(state, kFeatures, 2 * round + 1);
    start_synthetic_data(state, kFeatures, 2 * round + 2);
    do {
      state.update();  // one frame: starts indexing a new table, recounts A
      ++frames;
      if (const auto model = state.model()) {
        ++frames_with_model;
        ASSERT_EQ(model->table().size(), kFeatures);
        ASSERT_NO_THROW(model->table().validate());
        // update() recounted A for this model on this frame.
        ASSERT_EQ(state.counts.total.size(), static_cast<size_t>(model->table().num_layers));
        int64_t counted = 0;
        for (const int64_t n : state.counts.total) counted += n;
        ASSERT_EQ(counted, static_cast<int64_t>(kFeatures));
      }
      for (const TaskView& task : state.tasks.tasks()) ASSERT_NE(task.state, TaskState::kFailed) << task.error;
      state.tasks.clear_finished();
    } while (state.tasks.any_running());
    // The last frame may have run just before the last publish: one more frame indexes
    // whatever table is newest, and then the scatter shows exactly that table.
    state.update();
    state.tasks.join_all();
    state.update();
    const auto model = state.model();
    ASSERT_NE(model, nullptr) << "round " << round;
    EXPECT_EQ(model->table_ptr(), state.snapshot->features.data()) << "round " << round;
    EXPECT_EQ(state.scatter.status().state, DataState::kReady) << "round " << round;
  }
  EXPECT_EQ(state.snapshot->features.version(), static_cast<uint64_t>(2 * kRounds));
  EXPECT_GE(frames, kRounds);
  EXPECT_GT(frames_with_model, 0);  // rounds after the first start with a model on screen
}
