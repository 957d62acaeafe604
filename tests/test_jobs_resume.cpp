// Resume after a crash: a child process is SIGKILLed in the middle of a stage (after two
// committed partial writes, inside a third transaction); the parent reopens the store,
// finds the stage not done, reruns only it, and ends with clean, complete results.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <set>

#include "core/common/error.h"
#include "core/jobs/job_runner.h"
#include "core/store/store.h"
#include "tests/test_util.h"

using namespace sightline;

namespace {

constexpr int kChunks = 4, kChunk = 250;

// rows [first, first + kChunk) of layer 6; `marker` tags rows written by the doomed attempt.
std::vector<FeatureRow> chunk_rows(int first, bool marker) {
  std::vector<FeatureRow> rows(kChunk);
  for (int i = 0; i < kChunk; ++i) {
    FeatureRow& r = rows[static_cast<size_t>(i)];
    r.layer = 6;
    r.feature = first + i;
    r.visual_energy = first + i;
    if (marker) r.p_base = 1.0;
  }
  return rows;
}

std::vector<Stage> pipeline(bool crash, int& adapt_runs) {
  Stage adapt;
  adapt.name = "adapt";
  adapt.options_hash = hash_options(R"({"regime":"text"})");
  adapt.run = [&adapt_runs](StageContext& ctx) {
    ++adapt_runs;
    ctx.commit([&](Store& store) { store.put_selection(ctx.run_id(), "adapted", {{6, 1}}); });
  };
  Stage collect;
  collect.name = "collect";
  collect.deps = {"adapt"};
  collect.options_hash = hash_options(R"({"eps":0.001})");
  collect.reset = [](Store& store, int64_t run) { store.clear(run, StoreTable::kFeatures); };
  collect.run = [crash](StageContext& ctx) {
    ctx.progress().begin("collecting", kChunks);
    for (int c = 0; c < kChunks; ++c) {
      if (crash && c == 2) {
        // Die inside an open transaction: these rows must never appear.
        ctx.store().transaction([&] {
          ctx.store().upsert_features(ctx.run_id(), chunk_rows(c * kChunk, crash));
          raise(SIGKILL);
        });
      }
      ctx.write([&](Store& store) { store.upsert_features(ctx.run_id(), chunk_rows(c * kChunk, crash)); });
      ctx.progress().tick();
      ctx.check_cancel();
    }
    ctx.commit([&](Store& store) { store.put_selection(ctx.run_id(), "collected", {{6, 0}}); },
               R"({"features":1000})");
  };
  return {adapt, collect};
}

}  // namespace

TEST(JobResume, KilledMidStageIsRerunWithoutDuplicates) {
  const std::string path = sightline::test::scratch_dir("resume") + "/store.db";
  int64_t run = 0;
  {
    Store store = Store::open(path);
    RunRecord r;
    r.name = "resume";
    run = store.create_run(r);
  }  // closed before fork(): a child must not inherit an open connection

  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    alarm(30);  // a hang in the child becomes SIGALRM, which the parent reports
    try {
      int adapt_runs = 0;
      Store store = Store::open(path);
      JobRunner(store, run, pipeline(/*crash=*/true, adapt_runs)).run();
    } catch (...) {
    }
    _exit(3);  // not reached: the stage kills the process
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  ASSERT_EQ(WTERMSIG(status), SIGKILL);

  {
    // What the kill left: adapt done, collect "running" with its two committed chunks.
    Store reader = Store::open(path, Store::Mode::kReadOnly);
    EXPECT_EQ(reader.stage(run, "adapt")->status, StageStatus::kDone);
    EXPECT_EQ(reader.stage(run, "collect")->status, StageStatus::kRunning);
    EXPECT_EQ(reader.count_features(run), 2 * kChunk);  // not the uncommitted third
    EXPECT_TRUE(reader.selection(run, "collected").empty());
  }

  Store store = Store::open(path);
  EXPECT_EQ(store.recovered_stages(), 1);
  const auto interrupted = store.stage(run, "collect");
  EXPECT_EQ(interrupted->status, StageStatus::kPending);
  EXPECT_NE(interrupted->error.find("interrupted"), std::string::npos);

  int adapt_runs = 0;
  const RunSnapshot snap = JobRunner(store, run, pipeline(/*crash=*/false, adapt_runs)).run();
  ASSERT_TRUE(snap.ok()) << snap.find("collect")->error;
  EXPECT_EQ(adapt_runs, 0);  // finished before the crash: reused
  EXPECT_TRUE(snap.find("adapt")->reused);
  EXPECT_FALSE(snap.find("collect")->reused);
  EXPECT_EQ(store.stage(run, "collect")->status, StageStatus::kDone);
  EXPECT_EQ(store.stage(run, "collect")->result_json, R"({"features":1000})");

  const auto rows = store.features(run);
  ASSERT_EQ(rows.size(), static_cast<size_t>(kChunks * kChunk));
  EXPECT_EQ(store.count_rows("features", run), kChunks * kChunk);
  std::set<FeatureRef> distinct;
  for (const auto& r : rows) {
    distinct.insert(r.ref());
    // The reset removed the doomed attempt's rows, so none of its markers survive.
    EXPECT_TRUE(std::isnan(r.p_base)) << "feature " << r.feature << " kept a row from the killed attempt";
    EXPECT_DOUBLE_EQ(r.visual_energy, r.feature);
  }
  EXPECT_EQ(distinct.size(), rows.size());
  EXPECT_EQ(store.selection(run, "collected").size(), 1u);
  EXPECT_EQ(store.integrity_report(), (std::vector<std::string>{"ok"}));
  EXPECT_EQ(store.run(run)->status, StageStatus::kDone);
}
