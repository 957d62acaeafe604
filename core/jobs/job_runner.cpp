#include "core/jobs/job_runner.h"

#include <algorithm>
#include <map>

#include "core/common/error.h"
#include "core/store/store.h"

namespace sightline {

// ---------------------------------------------------------------------------------------
// StageContext
// ---------------------------------------------------------------------------------------

void StageContext::write(const std::function<void(Store&)>& fn) {
  if (committed_) fail("stage '{}': write() after commit()", name_);
  store_.transaction([&] { fn(store_); });
}

void StageContext::commit(const std::function<void(Store&)>& fn, const std::string& result_json) {
  if (committed_) fail("stage '{}': commit() called twice", name_);
  StageRecord done;
  done.run_id = run_id_;
  done.name = name_;
  done.status = StageStatus::kDone;
  done.started_at = started_at_;
  done.options_hash = key_;
  done.result_json = result_json;
  store_.transaction([&] {
    if (fn) fn(store_);
    done.finished_at = now_ms();
    store_.put_stage(done);
  });
  committed_ = true;
  result_json_ = result_json;
}

const StageSnapshot* RunSnapshot::find(const std::string& name) const {
  for (const auto& s : stages)
    if (s.name == name) return &s;
  return nullptr;
}

// ---------------------------------------------------------------------------------------
// JobRunner: set-up and public calls
// ---------------------------------------------------------------------------------------

JobRunner::JobRunner(Store& store, int64_t run_id, std::vector<Stage> stages, JobOptions options)
    : store_(store), run_id_(run_id), stages_(std::move(stages)), options_(std::move(options)) {
  keys_ = stage_keys(stages_);  // validates the graph
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < stages_.size(); ++i) index[stages_[i].name] = i;
  for (const std::string& f : options_.force)
    if (!index.count(f)) fail("job options: forced stage '{}' is not in the graph", f);
  deps_.resize(stages_.size());
  for (size_t i = 0; i < stages_.size(); ++i)
    for (const std::string& d : stages_[i].deps) deps_[i].push_back(index.at(d));
  if (store_.read_only()) fail("file '{}': the job runner needs the store opened read-write", store_.path());
  if (!store_.run(run_id_)) fail("file '{}': table 'runs': no run with id {}", store_.path(), run_id_);
  state_.resize(stages_.size());
  for (size_t i = 0; i < stages_.size(); ++i) progress_.push_back(std::make_unique<Progress>());
  options_.threads = std::max(1, std::min<int>(options_.threads, static_cast<int>(std::max<size_t>(1, stages_.size()))));
}

JobRunner::~JobRunner() {
  cancel();
  std::lock_guard<std::mutex> join(join_mutex_);
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

void JobRunner::start() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (started_) fail("job runner for run {}: start() called twice", run_id_);
    started_ = true;
    run_status_ = StageStatus::kRunning;
  }
  ++version_;
  // The store is written by the workers, not here: start() is called from the UI thread
  // and must not wait for another thread's transaction.
  std::lock_guard<std::mutex> join(join_mutex_);
  for (int t = 0; t < options_.threads; ++t) threads_.emplace_back([this] { worker(); });
}

void JobRunner::wait() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!started_) return;
    cv_.wait(lock, [this] { return finished_.load(); });
  }
  std::lock_guard<std::mutex> join(join_mutex_);
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

RunSnapshot JobRunner::run() {
  start();
  wait();
  return snapshot();
}

void JobRunner::cancel() {
  cancel_requested_.store(true);
  for (auto& p : progress_) p->cancel();
  ++version_;
  cv_.notify_all();
}

RunSnapshot JobRunner::snapshot() const {
  RunSnapshot snap;
  snap.run_id = run_id_;
  snap.stages.resize(stages_.size());
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (size_t i = 0; i < stages_.size(); ++i) {
      StageSnapshot& s = snap.stages[i];
      s.name = stages_[i].name;
      s.status = state_[i].status;
      s.reused = state_[i].reused;
      s.error = state_[i].error;
      s.result_json = state_[i].result_json;
    }
    snap.status = run_status_;
    snap.finished = finished_.load();
  }
  snap.cancel_requested = cancel_requested_.load();
  snap.version = version_.load();
  for (size_t i = 0; i < stages_.size(); ++i) {
    const Progress& p = *progress_[i];
    StageSnapshot& s = snap.stages[i];
    s.label = p.label();
    s.done = p.done();
    s.total = p.total();
    s.fraction = p.fraction();
    if (s.status == StageStatus::kRunning) {
      s.elapsed_seconds = p.elapsed_seconds();
      s.eta_seconds = p.eta_seconds();
    }
  }
  return snap;
}

const Progress& JobRunner::progress(const std::string& stage) const {
  for (size_t i = 0; i < stages_.size(); ++i)
    if (stages_[i].name == stage) return *progress_[i];
  fail("job runner for run {}: no stage '{}'", run_id_, stage);
}

// ---------------------------------------------------------------------------------------
// JobRunner: scheduling
// ---------------------------------------------------------------------------------------

int JobRunner::next_ready_locked() const {
  for (size_t i = 0; i < stages_.size(); ++i) {
    if (state_[i].claimed) continue;
    const bool ready = std::all_of(deps_[i].begin(), deps_[i].end(),
                                   [this](size_t d) { return is_terminal(state_[d].status); });
    if (ready) return static_cast<int>(i);
  }
  return -1;
}

bool JobRunner::all_terminal_locked() const {
  return std::all_of(state_.begin(), state_.end(), [](const StageState& s) { return is_terminal(s.status); });
}

void JobRunner::worker() {
  // Every worker passes here before touching a stage, so this precedes the final status.
  std::call_once(run_marked_running_, [this] {
    try {
      store_.set_run_status(run_id_, StageStatus::kRunning);
    } catch (const std::exception&) {
      // Only the run list's label; stage records are what resume relies on.
    }
  });
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    const int next = next_ready_locked();
    if (next < 0) {
      if (all_terminal_locked()) break;
      cv_.wait(lock);
      continue;
    }
    const size_t i = static_cast<size_t>(next);
    state_[i].claimed = true;
    // What the dependencies left behind, read under the lock; the store is touched only
    // after unlocking so snapshot() never waits on a transaction.
    bool deps_reused = true, dep_cancelled = false;
    std::string failed_dep, failed_root;
    for (size_t d : deps_[i]) {
      const StageState& dep = state_[d];
      deps_reused = deps_reused && dep.status == StageStatus::kDone && dep.reused;
      if (dep.status == StageStatus::kCancelled) dep_cancelled = true;
      if (failed_dep.empty() && (dep.status == StageStatus::kFailed || dep.status == StageStatus::kSkipped)) {
        failed_dep = stages_[d].name;
        failed_root = dep.status == StageStatus::kFailed ? stages_[d].name : dep.root_failure;
      }
    }
    lock.unlock();
    Outcome out;
    try {
      out = process(i, deps_reused, failed_dep, failed_root, dep_cancelled);
    } catch (const std::exception& e) {  // bookkeeping failed (e.g. the disk is full)
      out.status = StageStatus::kFailed;
      out.error = e.what();
    }
    lock.lock();
    StageState& st = state_[i];
    st.status = out.status;
    st.reused = out.reused;
    st.error = out.error;
    st.result_json = out.result_json;
    st.root_failure = out.root_failure;
    ++version_;
    cv_.notify_all();
  }
  if (!finalizing_) finalize_locked(lock);
}

void JobRunner::finalize_locked(std::unique_lock<std::mutex>& lock) {
  finalizing_ = true;
  bool all_done = true, any_cancelled = false;
  for (const StageState& s : state_) {
    all_done = all_done && s.status == StageStatus::kDone;
    any_cancelled = any_cancelled || s.status == StageStatus::kCancelled;
  }
  const StageStatus status =
      all_done ? StageStatus::kDone : (any_cancelled ? StageStatus::kCancelled : StageStatus::kFailed);
  lock.unlock();
  try {
    store_.set_run_status(run_id_, status);
  } catch (const std::exception&) {
    // The stages' own records are what resume reads; a run status that could not be
    // written only affects the run list's label.
  }
  lock.lock();
  run_status_ = status;
  finished_.store(true);
  ++version_;
  cv_.notify_all();
}

void JobRunner::set_status(size_t i, StageStatus status) {
  std::lock_guard<std::mutex> lock(mutex_);
  state_[i].status = status;
  ++version_;
}

// ---------------------------------------------------------------------------------------
// JobRunner: one stage
// ---------------------------------------------------------------------------------------

JobRunner::Outcome JobRunner::process(size_t i, bool deps_reused, const std::string& failed_dep,
                                      const std::string& failed_root, bool dep_cancelled) {
  const Stage& stage = stages_[i];
  Outcome out;
  if (deps_reused && !options_.force.count(stage.name)) {
    const auto record = store_.stage(run_id_, stage.name);
    if (record && record->status == StageStatus::kDone && record->options_hash == keys_[i]) {
      out.status = StageStatus::kDone;
      out.reused = true;
      out.result_json = record->result_json;
      return out;
    }
  }

  StageRecord record;
  record.run_id = run_id_;
  record.name = stage.name;
  record.options_hash = keys_[i];
  record.finished_at = now_ms();
  if (!failed_dep.empty()) {
    out.status = StageStatus::kSkipped;
    out.root_failure = failed_root;
    out.error = failed_dep == failed_root
                    ? fmt::format("skipped: dependency '{}' failed", failed_dep)
                    : fmt::format("skipped: dependency '{}' was skipped because '{}' failed", failed_dep, failed_root);
  } else if (dep_cancelled || cancel_requested_.load()) {
    out.status = StageStatus::kCancelled;
    out.error = "not started: run cancelled";
  } else {
    return execute(i);
  }
  record.status = out.status;
  record.error = out.error;
  store_.put_stage(record);
  return out;
}

JobRunner::Outcome JobRunner::execute(size_t i) {
  const Stage& stage = stages_[i];
  Progress& progress = *progress_[i];
  StageRecord record;
  record.run_id = run_id_;
  record.name = stage.name;
  record.status = StageStatus::kRunning;
  record.started_at = now_ms();
  record.options_hash = keys_[i];
  // Reset and "running" in one transaction: a crash after it leaves "running" (recovered
  // to "pending" at the next open) with no stale rows of an earlier attempt.
  store_.transaction([&] {
    if (stage.reset) stage.reset(store_, run_id_);
    store_.put_stage(record);
  });
  set_status(i, StageStatus::kRunning);
  progress.begin(stage.name, 0);

  Outcome out;
  StageContext ctx(store_, run_id_, stage.name, keys_[i], record.started_at, progress);
  try {
    stage.run(ctx);
    if (!ctx.committed()) ctx.commit(nullptr, "{}");
    out.status = StageStatus::kDone;
    out.result_json = ctx.result_json_;
    return out;
  } catch (const Cancelled&) {
    out.status = StageStatus::kCancelled;
    out.error = "cancelled";
  } catch (const std::exception& e) {
    out.status = StageStatus::kFailed;
    out.error = e.what();
  } catch (...) {
    out.status = StageStatus::kFailed;
    out.error = "unknown exception (not derived from std::exception)";
  }
  record.status = out.status;
  record.error = out.error;
  record.finished_at = now_ms();
  try {
    store_.put_stage(record);
  } catch (const std::exception& e) {
    out.error += fmt::format(" (and recording it failed: {})", e.what());
  }
  return out;
}

}  // namespace sightline
