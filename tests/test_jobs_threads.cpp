// JobRunner under real concurrency (the check-sanitizers TSan build runs this): two
// workers run independent chains of stages that tick progress, stream rows and commit,
// while a UI thread polls snapshot() as every frame does; then a second runner on the same
// store reuses every stage under the same polling.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/jobs/job_runner.h"
#include "core/store/store.h"
#include "tests/test_util.h"

using namespace sightline;

namespace {

// pending < running < any terminal status: the order a stage's status may move in.
int status_rank(StageStatus s) {
  if (s == StageStatus::kPending) return 0;
  if (s == StageStatus::kRunning) return 1;
  return 2;
}

// Polls runner.snapshot() on its own thread until the run finished; returns the first
// problems seen (statuses moving backwards, version going back, progress out of range).
class SnapshotPoller {
 public:
  explicit SnapshotPoller(const JobRunner& runner) : runner_(runner), thread_([this] { poll(); }) {}
  std::vector<std::string> join() {
    thread_.join();
    return problems_;
  }
  int64_t polls() const { return polls_; }

 private:
  void poll() {
    std::vector<int> rank;
    uint64_t version = 0;
    bool finished = false;
    do {
      const RunSnapshot snap = runner_.snapshot();
      finished = snap.finished;
      ++polls_;
      if (rank.empty()) rank.assign(snap.stages.size(), 0);
      if (snap.version < version) note("version went back from " + std::to_string(version));
      version = snap.version;
      for (size_t i = 0; i < snap.stages.size(); ++i) {
        const StageSnapshot& s = snap.stages[i];
        const int r = status_rank(s.status);
        if (r < rank[i]) note("stage '" + s.name + "' moved back to " + to_string(s.status));
        rank[i] = std::max(rank[i], r);
        if (s.status == StageStatus::kRunning) {
          if (s.total > 0 && (s.done < 0 || s.done > s.total))
            note("stage '" + s.name + "' done " + std::to_string(s.done) + " of " + std::to_string(s.total));
          if (s.fraction > 1) note("stage '" + s.name + "' fraction " + std::to_string(s.fraction));
        }
        if (snap.finished && !is_terminal(s.status)) note("finished with stage '" + s.name + "' not terminal");
      }
    } while (!finished);
  }
  void note(const std::string& what) {
    if (problems_.size() < 10) problems_.push_back(what);
  }

  const JobRunner& runner_;
  std::vector<std::string> problems_;
  int64_t polls_ = 0;
  std::thread thread_;  // last: starts after the members it uses exist
};

// kChains independent chains of kDepth stages: "c<chain>s<step>" depends on the step before.
std::vector<Stage> chain_graph(std::atomic<int64_t>& ran) {
  constexpr int kChains = 4, kDepth = 3, kTicks = 400;
  std::vector<Stage> stages;
  for (int c = 0; c < kChains; ++c) {
    for (int s = 0; s < kDepth; ++s) {
      Stage stage;
      stage.name = "c" + std::to_string(c) + "s" + std::to_string(s);
      if (s > 0) stage.deps = {"c" + std::to_string(c) + "s" + std::to_string(s - 1)};
      stage.options_hash = hash_options("ticks=" + std::to_string(kTicks));
      const std::string name = stage.name;
      stage.run = [name, &ran](StageContext& ctx) {
        ++ran;
        ctx.progress().begin("ticking " + name, kTicks);
        for (int t = 0; t < kTicks; ++t) {
          ctx.check_cancel();
          ctx.progress().tick();
          // Streamed rows, visible to readers before the stage is done.
          if (t % 100 == 99)
            ctx.write([&](Store& store) {
              store.put_selection(ctx.run_id(), name + "#" + std::to_string(t / 100), {{1, t}});
            });
        }
        ctx.commit([&](Store& store) { store.put_selection(ctx.run_id(), name, {{2, 2}}); },
                   R"({"ticks":)" + std::to_string(kTicks) + "}");
      };
      stage.reset = [name](Store& store, int64_t run_id) {
        for (int k = 0; k < kTicks / 100; ++k) store.delete_selection(run_id, name + "#" + std::to_string(k));
      };
      stages.push_back(std::move(stage));
    }
  }
  return stages;
}

}  // namespace

TEST(JobRunnerThreads, UiPollsWhileTwoWorkersRunAndCommit) {
  Store store = Store::open(sightline::test::scratch_dir("jobs-threads") + "/store.db");
  RunRecord record;
  record.name = "threads";
  const int64_t run_id = store.create_run(record);
  std::atomic<int64_t> ran{0};
  const std::vector<Stage> graph = chain_graph(ran);
  JobOptions options;
  options.threads = 2;

  {
    JobRunner runner(store, run_id, graph, options);
    runner.start();
    SnapshotPoller poller(runner);
    runner.wait();
    const std::vector<std::string> problems = poller.join();
    for (const auto& p : problems) ADD_FAILURE() << p;
    EXPECT_GT(poller.polls(), 0);
    const RunSnapshot snap = runner.snapshot();
    ASSERT_TRUE(snap.ok());
    for (const auto& s : snap.stages) {
      EXPECT_EQ(s.status, StageStatus::kDone) << s.name;
      EXPECT_FALSE(s.reused) << s.name;
      EXPECT_EQ(s.result_json, R"({"ticks":400})") << s.name;
      EXPECT_EQ(s.done, 400) << s.name;
      EXPECT_EQ(store.selection(run_id, s.name).size(), 1u) << s.name;
      for (int k = 0; k < 4; ++k) EXPECT_EQ(store.selection(run_id, s.name + "#" + std::to_string(k)).size(), 1u);
    }
  }
  EXPECT_EQ(ran.load(), static_cast<int64_t>(graph.size()));

  // Same options: every stage is reused, nothing reruns; the poller runs again meanwhile.
  JobRunner again(store, run_id, graph, options);
  again.start();
  SnapshotPoller poller(again);
  again.wait();
  for (const auto& p : poller.join()) ADD_FAILURE() << p;
  const RunSnapshot snap = again.snapshot();
  ASSERT_TRUE(snap.ok());
  for (const auto& s : snap.stages) EXPECT_TRUE(s.reused) << s.name;
  EXPECT_EQ(ran.load(), static_cast<int64_t>(graph.size()));
  EXPECT_EQ(store.run(run_id)->status, StageStatus::kDone);
}

TEST(JobRunnerThreads, CancelFromTheUiThreadWhileWorkersRun) {
  Store store = Store::open(sightline::test::scratch_dir("jobs-threads-cancel") + "/store.db");
  RunRecord record;
  record.name = "cancel";
  const int64_t run_id = store.create_run(record);
  // Two stages that spin on check_cancel until the UI cancels; one behind each.
  std::atomic<int> spinning{0};
  auto spin = [&](StageContext& ctx) {
    ctx.progress().begin("spinning", 0);
    ++spinning;
    for (;;) {
      ctx.progress().tick();
      ctx.check_cancel();
      std::this_thread::yield();
    }
  };
  std::vector<Stage> graph = {{"a", {}, "", spin, {}},
                              {"b", {}, "", spin, {}},
                              {"a2", {"a"}, "", [](StageContext&) {}, {}},
                              {"b2", {"b"}, "", [](StageContext&) {}, {}}};
  JobOptions options;
  options.threads = 2;
  JobRunner runner(store, run_id, graph, options);
  runner.start();
  SnapshotPoller poller(runner);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (spinning.load() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  EXPECT_EQ(spinning.load(), 2) << "the two spinning stages did not run at the same time";
  runner.cancel();
  runner.wait();
  for (const auto& p : poller.join()) ADD_FAILURE() << p;
  const RunSnapshot snap = runner.snapshot();
  EXPECT_TRUE(snap.finished);
  EXPECT_EQ(snap.status, StageStatus::kCancelled);
  for (const auto& s : snap.stages) EXPECT_EQ(s.status, StageStatus::kCancelled) << s.name;
  EXPECT_EQ(store.run(run_id)->status, StageStatus::kCancelled);
}
