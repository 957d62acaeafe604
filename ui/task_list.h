// Background work for the explorer: each task runs on its own thread with a Progress the
// jobs pane polls every frame (progress bar, cancel). Tasks publish their results into
// DataSlots themselves; the list only tracks them. Thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/common/progress.h"

namespace sightline::ui {

enum class TaskState { kRunning, kDone, kFailed, kCancelled };

// A copy of one task's state for drawing.
struct TaskView {
  uint64_t id = 0;
  std::string name;
  TaskState state = TaskState::kRunning;
  std::string label;     // the Progress phase label
  double fraction = -1;  // -1 = unknown
  double seconds = 0;    // elapsed (running) or total (finished)
  std::string error;
};

class TaskList {
 public:
  TaskList() = default;
  ~TaskList();  // cancels and joins every task
  TaskList(const TaskList&) = delete;
  TaskList& operator=(const TaskList&) = delete;

  // Runs work(progress) on a new thread. An exception marks the task failed with its
  // message (Cancelled marks it cancelled); it never escapes the thread.
  uint64_t start(const std::string& name, std::function<void(Progress&)> work);
  std::vector<TaskView> tasks() const;
  bool any_running() const;
  void cancel(uint64_t id);
  void cancel_all();
  // Blocks until every task has finished.
  void join_all();
  // Forgets finished tasks (running ones stay).
  void clear_finished();

 private:
  struct Task {
    uint64_t id = 0;
    std::string name;
    Progress progress;
    std::atomic<int> state{static_cast<int>(TaskState::kRunning)};
    std::string error;  // written before state leaves kRunning
    std::atomic<double> seconds{0};
    std::thread thread;
  };
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<Task>> tasks_;
  uint64_t next_id_ = 1;
};

}  // namespace sightline::ui
