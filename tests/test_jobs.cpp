// JobRunner: graph checks, dependency order, skip-if-done, staleness downstream, failure
// propagation, cooperative cancel, atomic commit, reset of partial rows, parallel stages.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "core/common/error.h"
#include "core/jobs/job_runner.h"
#include "core/store/store.h"
#include "tests/test_util.h"

using namespace sightline;

namespace {

struct Fixture {
  Store store;
  int64_t run_id = 0;
};

Fixture make_store(const std::string& tag) {
  Fixture f{Store::open(sightline::test::scratch_dir(tag) + "/store.db"), 0};
  RunRecord r;
  r.name = tag;
  f.run_id = f.store.create_run(r);
  return f;
}

// A stage that records its execution in `log` and commits one selection row.
Stage logging_stage(const std::string& name, std::vector<std::string> deps, std::vector<std::string>& log,
                    std::mutex& mutex, const std::string& options = "") {
  Stage s;
  s.name = name;
  s.deps = std::move(deps);
  s.options_hash = hash_options(options);
  s.run = [name, &log, &mutex](StageContext& ctx) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      log.push_back(name);
    }
    ctx.commit([&](Store& store) { store.put_selection(ctx.run_id(), name, {{1, 1}}); },
               R"({"stage":")" + name + "\"}");
  };
  return s;
}

}  // namespace

TEST(StageGraph, RejectsBadGraphsNamingTheStage) {
  auto noop = [](StageContext&) {};
  auto message = [](const std::vector<Stage>& stages) {
    try {
      topological_order(stages);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message({{"a", {"ghost"}, "", noop, {}}}).find("'a' depends on unknown stage 'ghost'"), std::string::npos);
  EXPECT_NE(message({{"a", {}, "", noop, {}}, {"a", {}, "", noop, {}}}).find("'a' is declared twice"),
            std::string::npos);
  EXPECT_NE(message({{"a", {"a"}, "", noop, {}}}).find("depends on itself"), std::string::npos);
  EXPECT_NE(message({{"a", {}, "", nullptr, {}}}).find("no run function"), std::string::npos);
  const std::string cycle =
      message({{"x", {}, "", noop, {}}, {"a", {"c"}, "", noop, {}}, {"b", {"a"}, "", noop, {}}, {"c", {"b"}, "", noop, {}}});
  EXPECT_NE(cycle.find("cycle a -> c -> b -> a"), std::string::npos) << cycle;
}

TEST(StageGraph, KeysFollowUpstreamOptions) {
  auto noop = [](StageContext&) {};
  std::vector<Stage> g = {{"adapt", {}, "o1", noop, {}}, {"diff", {"adapt"}, "o2", noop, {}}, {"other", {}, "o3", noop, {}}};
  const auto k1 = stage_keys(g);
  g[0].options_hash = "o1-changed";
  const auto k2 = stage_keys(g);
  EXPECT_NE(k1[0], k2[0]);
  EXPECT_NE(k1[1], k2[1]);  // downstream of the change
  EXPECT_EQ(k1[2], k2[2]);  // unrelated
  EXPECT_EQ(hash_options(""), "cbf29ce484222325");  // FNV-1a 64 offset basis: stable across builds
  EXPECT_EQ(hash_options("a"), "af63dc4c8601ec8c");
}

TEST(JobRunner, RunsInDependencyOrderAndCommits) {
  auto f = make_store("order");
  std::vector<std::string> log;
  std::mutex mutex;
  // Declared out of order on purpose.
  std::vector<Stage> g = {logging_stage("ablate", {"diff", "attribute"}, log, mutex),
                          logging_stage("attribute", {"diff"}, log, mutex),
                          logging_stage("adapt", {}, log, mutex), logging_stage("diff", {"adapt"}, log, mutex),
                          logging_stage("world", {}, log, mutex)};
  JobRunner runner(f.store, f.run_id, g);
  const RunSnapshot snap = runner.run();
  EXPECT_TRUE(snap.ok());
  EXPECT_EQ(log, (std::vector<std::string>{"adapt", "diff", "attribute", "ablate", "world"}));
  for (const auto& s : snap.stages) {
    EXPECT_EQ(s.status, StageStatus::kDone) << s.name;
    EXPECT_FALSE(s.reused);
    EXPECT_EQ(s.result_json, R"({"stage":")" + s.name + "\"}");
    const auto record = f.store.stage(f.run_id, s.name);
    ASSERT_TRUE(record);
    EXPECT_EQ(record->status, StageStatus::kDone);
    EXPECT_GT(record->finished_at, 0);
    EXPECT_EQ(f.store.selection(f.run_id, s.name).size(), 1u);
  }
  EXPECT_EQ(f.store.run(f.run_id)->status, StageStatus::kDone);
  EXPECT_EQ(snap.stages[0].name, "ablate");  // snapshot keeps declaration order
  EXPECT_NE(snap.find("world"), nullptr);
  EXPECT_EQ(snap.find("nope"), nullptr);
  EXPECT_THROW(runner.start(), Error);
  EXPECT_THROW(runner.progress("nope"), Error);
}

TEST(JobRunner, SkipsDoneStagesAndRerunsStaleOnes) {
  auto f = make_store("skip");
  std::vector<std::string> log;
  std::mutex mutex;
  auto graph = [&](const std::string& adapt_options) {
    return std::vector<Stage>{logging_stage("adapt", {}, log, mutex, adapt_options),
                              logging_stage("diff", {"adapt"}, log, mutex),
                              logging_stage("world", {}, log, mutex)};
  };
  ASSERT_TRUE(JobRunner(f.store, f.run_id, graph("eps=1e-3")).run().ok());
  EXPECT_EQ(log.size(), 3u);

  log.clear();
  RunSnapshot again = JobRunner(f.store, f.run_id, graph("eps=1e-3")).run();
  EXPECT_TRUE(again.ok());
  EXPECT_TRUE(log.empty());  // nothing recomputed
  for (const auto& s : again.stages) EXPECT_TRUE(s.reused) << s.name;
  EXPECT_EQ(again.find("diff")->result_json, R"({"stage":"diff"})");

  // New options upstream: that stage and everything downstream of it rerun.
  log.clear();
  RunSnapshot changed = JobRunner(f.store, f.run_id, graph("eps=1e-2")).run();
  EXPECT_TRUE(changed.ok());
  EXPECT_EQ(log, (std::vector<std::string>{"adapt", "diff"}));
  EXPECT_TRUE(changed.find("world")->reused);

  // Forcing a stage reruns it and its dependants.
  log.clear();
  JobOptions force;
  force.force = {"adapt"};
  EXPECT_TRUE(JobRunner(f.store, f.run_id, graph("eps=1e-2"), force).run().ok());
  EXPECT_EQ(log, (std::vector<std::string>{"adapt", "diff"}));
  force.force = {"missing"};
  EXPECT_THROW(JobRunner(f.store, f.run_id, graph("eps=1e-2"), force), Error);
}

TEST(JobRunner, FailureSkipsDependantsOnly) {
  auto f = make_store("failure");
  std::vector<std::string> log;
  std::mutex mutex;
  Stage bad;
  bad.name = "attribute";
  bad.deps = {"diff"};
  bad.run = [](StageContext& ctx) {
    ctx.write([&](Store& store) { store.put_selection(ctx.run_id(), "partial", {{3, 3}}); });
    throw Error("file 'mean_image.safetensors': tensor 'mean' missing");
  };
  std::vector<Stage> g = {logging_stage("diff", {}, log, mutex), bad,
                          logging_stage("heads", {"attribute"}, log, mutex),
                          logging_stage("report", {"heads", "diff"}, log, mutex),
                          logging_stage("ablate", {"diff"}, log, mutex)};
  JobRunner runner(f.store, f.run_id, g);
  const RunSnapshot snap = runner.run();
  EXPECT_FALSE(snap.ok());
  EXPECT_EQ(snap.status, StageStatus::kFailed);
  EXPECT_EQ(log, (std::vector<std::string>{"diff", "ablate"}));
  EXPECT_EQ(snap.find("attribute")->status, StageStatus::kFailed);
  EXPECT_EQ(snap.find("attribute")->error, "file 'mean_image.safetensors': tensor 'mean' missing");
  EXPECT_EQ(snap.find("heads")->status, StageStatus::kSkipped);
  EXPECT_EQ(snap.find("heads")->error, "skipped: dependency 'attribute' failed");
  EXPECT_EQ(snap.find("report")->status, StageStatus::kSkipped);
  EXPECT_EQ(snap.find("report")->error, "skipped: dependency 'heads' was skipped because 'attribute' failed");
  EXPECT_EQ(snap.find("ablate")->status, StageStatus::kDone);
  // The store says the same.
  EXPECT_EQ(f.store.stage(f.run_id, "attribute")->status, StageStatus::kFailed);
  EXPECT_EQ(f.store.stage(f.run_id, "attribute")->error, "file 'mean_image.safetensors': tensor 'mean' missing");
  EXPECT_EQ(f.store.stage(f.run_id, "heads")->status, StageStatus::kSkipped);
  EXPECT_EQ(f.store.run(f.run_id)->status, StageStatus::kFailed);
}

TEST(JobRunner, FailedCommitRollsBackResultsAndDoneMark) {
  auto f = make_store("commit-fails");
  Stage s;
  s.name = "diff";
  s.run = [](StageContext& ctx) {
    ctx.commit([&](Store& store) {
      store.put_selection(ctx.run_id(), "adapted", {{1, 2}, {3, 4}});
      throw Error("disk full (simulated)");
    });
  };
  const RunSnapshot snap = JobRunner(f.store, f.run_id, {s}).run();
  EXPECT_EQ(snap.find("diff")->status, StageStatus::kFailed);
  EXPECT_TRUE(f.store.selection(f.run_id, "adapted").empty());
  EXPECT_EQ(f.store.stage(f.run_id, "diff")->status, StageStatus::kFailed);

  // Throwing after a successful commit still fails the stage: "done" must mean success.
  Stage late = s;
  late.run = [](StageContext& ctx) {
    ctx.commit([&](Store& store) { store.put_selection(ctx.run_id(), "adapted", {{1, 2}}); });
    EXPECT_THROW(ctx.commit(nullptr), Error);  // at most once
    throw Error("post-commit check failed");
  };
  const RunSnapshot snap2 = JobRunner(f.store, f.run_id, {late}).run();
  EXPECT_EQ(snap2.find("diff")->status, StageStatus::kFailed);
  EXPECT_EQ(f.store.stage(f.run_id, "diff")->status, StageStatus::kFailed);
}

TEST(JobRunner, ResetRemovesRowsOfEarlierAttempts) {
  auto f = make_store("reset");
  bool fail_now = true;
  Stage s;
  s.name = "tops";
  s.reset = [](Store& store, int64_t run) { store.clear(run, StoreTable::kTopActivations); };
  s.run = [&](StageContext& ctx) {
    for (int chunk = 0; chunk < 4; ++chunk) {
      ctx.write([&](Store& store) {
        std::vector<TopActivation> rows;
        for (int k = 0; k < 5; ++k) {
          TopActivation a;
          a.layer = 1;
          a.feature = chunk * 5 + k;
          a.sample_id = "s" + std::to_string(k);
          a.dataset = "vqav2";
          rows.push_back(a);
        }
        store.put_top_activations(ctx.run_id(), rows);
      });
      // Partial rows are visible to readers while the stage runs.
      EXPECT_EQ(ctx.store().count_rows("samples", ctx.run_id()), (chunk + 1) * 5);
      if (fail_now && chunk == 1) throw Error("worker died");
    }
  };
  EXPECT_EQ(JobRunner(f.store, f.run_id, {s}).run().find("tops")->status, StageStatus::kFailed);
  EXPECT_EQ(f.store.count_rows("samples", f.run_id), 10);  // partial rows stay until the rerun
  fail_now = false;
  EXPECT_TRUE(JobRunner(f.store, f.run_id, {s}).run().ok());
  EXPECT_EQ(f.store.count_rows("samples", f.run_id), 20);
}

TEST(JobRunner, CancelMidStage) {
  auto f = make_store("cancel");
  std::atomic<int64_t> iterations{0};
  Stage loop;
  loop.name = "sweep";
  loop.run = [&](StageContext& ctx) {
    ctx.progress().begin("sweeping thresholds", 1000000000);
    for (;;) {
      ctx.progress().tick();
      ++iterations;
      ctx.check_cancel();
      std::this_thread::yield();
    }
  };
  Stage after;
  after.name = "report";
  after.deps = {"sweep"};
  after.run = [](StageContext&) { FAIL() << "a stage after a cancelled one ran"; };
  Stage first;
  first.name = "adapt";
  first.run = [](StageContext&) {};

  JobRunner runner(f.store, f.run_id, {first, loop, after});
  EXPECT_EQ(runner.snapshot().status, StageStatus::kPending);
  runner.start();
  ASSERT_TRUE(test::wait_until([&] {
    const RunSnapshot s = runner.snapshot();
    return s.find("sweep")->status == StageStatus::kRunning && s.find("sweep")->done > 100;
  }));
  const RunSnapshot mid = runner.snapshot();
  EXPECT_EQ(mid.status, StageStatus::kRunning);
  EXPECT_EQ(mid.find("sweep")->label, "sweeping thresholds");
  EXPECT_GT(mid.find("sweep")->fraction, 0.0);
  EXPECT_EQ(mid.find("adapt")->status, StageStatus::kDone);
  const uint64_t version = runner.version();
  runner.cancel();
  runner.wait();
  const RunSnapshot snap = runner.snapshot();
  EXPECT_TRUE(snap.finished);
  EXPECT_TRUE(snap.cancel_requested);
  EXPECT_GT(snap.version, version);
  EXPECT_EQ(snap.status, StageStatus::kCancelled);
  EXPECT_EQ(snap.find("adapt")->status, StageStatus::kDone);
  EXPECT_EQ(snap.find("sweep")->status, StageStatus::kCancelled);
  EXPECT_EQ(snap.find("report")->status, StageStatus::kCancelled);
  EXPECT_EQ(snap.find("report")->error, "not started: run cancelled");
  EXPECT_EQ(f.store.stage(f.run_id, "sweep")->status, StageStatus::kCancelled);
  EXPECT_EQ(f.store.run(f.run_id)->status, StageStatus::kCancelled);
  const int64_t stopped_at = iterations.load();
  EXPECT_GT(stopped_at, 100);
}

TEST(JobRunner, IndependentStagesRunInParallel) {
  auto f = make_store("parallel");
  // Each stage waits until the other has started: only possible with two workers.
  std::atomic<int> started{0};
  auto rendezvous = [&](StageContext& ctx) {
    ++started;
    if (!test::wait_until([&] { return started.load() >= 2; }, 10.0))
      throw Error("stage '" + ctx.name() + "' ran alone");
  };
  Stage a{"image-regime", {}, "", rendezvous, {}};
  Stage b{"text-regime", {}, "", rendezvous, {}};
  Stage c{"diff", {"image-regime", "text-regime"}, "", [](StageContext&) {}, {}};
  JobOptions options;
  options.threads = 2;
  const RunSnapshot snap = JobRunner(f.store, f.run_id, {a, b, c}, options).run();
  EXPECT_TRUE(snap.ok()) << snap.find("image-regime")->error << snap.find("text-regime")->error;
}

TEST(JobRunner, RequiresWritableStoreAndExistingRun) {
  const std::string path = sightline::test::scratch_dir("runner-checks") + "/store.db";
  int64_t run = 0;
  {
    Store store = Store::open(path);
    RunRecord r;
    r.name = "x";
    run = store.create_run(r);
    Stage s{"a", {}, "", [](StageContext&) {}, {}};
    EXPECT_THROW(JobRunner(store, run + 1, {s}), Error);
  }
  Store reader = Store::open(path, Store::Mode::kReadOnly);
  Stage s{"a", {}, "", [](StageContext&) {}, {}};
  EXPECT_THROW(JobRunner(reader, run, {s}), Error);
}
