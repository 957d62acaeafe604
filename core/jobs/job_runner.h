// Runs a stage graph (stage_graph.h) for one run of the store, on worker threads, with
// resume, cooperative cancel and per-stage status for a UI that polls every frame.
//
// Guarantees:
//  - A stage is "done" in the store only if its results were committed in the same
//    transaction that marked it done (StageContext::commit). A process killed mid-stage
//    leaves it "running" (reset to "pending" by the next read-write Store::open) or not
//    recorded: never half-done.
//  - Resume: a stage already done with the same key (stage_keys(): its options_hash and
//    its dependencies' keys), whose dependencies were all reused too, is not recomputed.
//    Anything else reruns after its reset hook removed earlier rows, so a rerun never
//    duplicates what an interrupted attempt wrote.
//  - A failing stage is marked "failed" with its message; stages that depend on it,
//    directly or not, are marked "skipped" ("skipped: dependency 'X' failed"). Stages that
//    do not depend on it still run.
//  - cancel() stops the run cooperatively: running stages see Cancelled from
//    check_cancel() and are marked "cancelled"; stages not started are marked "cancelled"
//    ("not started: run cancelled"), except those that can be reused as they are.
//  - After a run every stage's store status is terminal, so "done" in the store always
//    means "results valid for the options of the last run".
//  - Stages run in dependency order, earlier-declared first among the ready ones; with
//    JobOptions::threads > 1 independent stages run at the same time.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/common/progress.h"
#include "core/jobs/stage_graph.h"
#include "core/store/records.h"

namespace sightline {

class JobRunner;

// What a running stage gets: its progress / cancel handle and the store, with the two
// ways to write results.
class StageContext {
 public:
  const std::string& name() const { return name_; }
  int64_t run_id() const { return run_id_; }
  // Report with begin()/tick(); the UI polls it. cancel() of the run reaches it.
  Progress& progress() { return progress_; }
  // Throws Cancelled when the run was cancelled.
  void check_cancel() const { progress_.check_cancel(); }
  // The run's (read-write) store, for reading upstream stages' results. Write through
  // write() / commit() so writes are transactional.
  Store& store() { return store_; }

  // Runs fn(store) in its own transaction, committed now: for large results streamed
  // while the stage runs (readers see them at once). The stage is not done after it; the
  // reset hook must be able to remove these rows when the stage reruns.
  void write(const std::function<void(Store&)>& fn);
  // Runs fn(store) (may be empty) and marks the stage done with `result_json`, in ONE
  // transaction. At most once, as the stage's last act; if run() throws afterwards the
  // stage is marked failed after all. A stage that returns without calling commit() is
  // committed with no extra rows and result "{}".
  void commit(const std::function<void(Store&)>& fn, const std::string& result_json = "{}");
  bool committed() const { return committed_; }

 private:
  friend class JobRunner;
  StageContext(Store& store, int64_t run_id, std::string name, std::string key, int64_t started_at,
               Progress& progress)
      : store_(store), run_id_(run_id), name_(std::move(name)), key_(std::move(key)), started_at_(started_at),
        progress_(progress) {}

  Store& store_;
  int64_t run_id_;
  std::string name_;
  std::string key_;
  int64_t started_at_;
  Progress& progress_;
  bool committed_ = false;
  std::string result_json_;
};

struct JobOptions {
  // Worker threads: stages with no path between them may run at once when > 1. Analysis
  // stages use every core themselves, so the default runs one stage at a time.
  int threads = 1;
  // Stages to recompute even when done with the same key (their dependants rerun too).
  std::set<std::string> force;
};

// One stage as the UI sees it: status, plus its live progress (read from atomics when
// the snapshot is taken).
struct StageSnapshot {
  std::string name;
  StageStatus status = StageStatus::kPending;
  bool reused = false;  // done by an earlier run with the same key; not recomputed now
  std::string error;    // failure / skip / cancel message
  std::string result_json;  // the committed result summary once done
  std::string label;        // the stage's current progress phase
  int64_t done = 0;
  int64_t total = 0;
  double fraction = -1;  // [0, 1], or -1 when the total is unknown
  double elapsed_seconds = 0;
  double eta_seconds = -1;
};

struct RunSnapshot {
  int64_t run_id = 0;
  std::vector<StageSnapshot> stages;  // declaration order
  // kPending before start(), kRunning, then kDone (all stages done), kCancelled
  // (cancel() was called and something did not finish) or kFailed.
  StageStatus status = StageStatus::kPending;
  bool finished = false;
  bool cancel_requested = false;
  uint64_t version = 0;  // bumps at every status change

  // The stage called `name`, or nullptr.
  const StageSnapshot* find(const std::string& name) const;
  bool ok() const { return finished && status == StageStatus::kDone; }
};

class JobRunner {
 public:
  // Validates the graph (topological_order) and the store (read-write, run exists) and
  // throws Error otherwise. Starts nothing. `store` must outlive the runner.
  JobRunner(Store& store, int64_t run_id, std::vector<Stage> stages, JobOptions options = {});
  // Cancels the run and waits for the worker threads (a running stage must reach a
  // check_cancel() or return).
  ~JobRunner();
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  // Starts the workers (which mark the run "running" in the store); returns at once
  // without touching the store. Throws if called twice.
  void start();
  // Blocks until every stage reached a terminal status. Returns at once if never started.
  void wait();
  // start() + wait(), then the final snapshot (the CLI's entry point).
  RunSnapshot run();
  // Requests a cooperative cancel of the whole run (thread-safe, returns at once).
  void cancel();
  bool finished() const { return finished_.load(); }
  // Cheap change detector: bumps at every stage status change.
  uint64_t version() const { return version_.load(); }
  // The current state, safe to call every frame from any thread: a short lock to copy
  // the statuses, then the progress atomics. Never waits on the store.
  RunSnapshot snapshot() const;
  // The live progress of a stage (throws Error for an unknown name).
  const Progress& progress(const std::string& stage) const;

 private:
  struct StageState {
    StageStatus status = StageStatus::kPending;
    bool claimed = false;
    bool reused = false;
    std::string error;
    std::string result_json;
    std::string root_failure;  // the failed stage a skip traces back to
  };
  struct Outcome {
    StageStatus status = StageStatus::kFailed;
    bool reused = false;
    std::string error;
    std::string result_json;
    std::string root_failure;
  };

  void worker();
  int next_ready_locked() const;
  bool all_terminal_locked() const;
  Outcome process(size_t i, bool deps_reused, const std::string& failed_dep, const std::string& failed_root,
                  bool dep_cancelled);
  Outcome execute(size_t i);
  void set_status(size_t i, StageStatus status);
  void finalize_locked(std::unique_lock<std::mutex>& lock);

  Store& store_;
  int64_t run_id_;
  std::vector<Stage> stages_;
  std::vector<std::string> keys_;
  std::vector<std::vector<size_t>> deps_;  // dependency indices per stage
  JobOptions options_;
  std::vector<std::unique_ptr<Progress>> progress_;  // one per stage, stable addresses

  mutable std::mutex mutex_;  // guards state_, run_status_, finalizing_ and threads_
  std::condition_variable cv_;
  std::vector<StageState> state_;
  StageStatus run_status_ = StageStatus::kPending;
  bool started_ = false;
  bool finalizing_ = false;
  std::vector<std::thread> threads_;
  std::mutex join_mutex_;
  std::once_flag run_marked_running_;
  std::atomic<bool> cancel_requested_{false};
  std::atomic<bool> finished_{false};
  std::atomic<uint64_t> version_{0};
};

}  // namespace sightline
