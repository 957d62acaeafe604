#include "ui/task_list.h"

#include <spdlog/spdlog.h>

#include "core/common/error.h"

namespace sightline::ui {

TaskList::~TaskList() {
  cancel_all();
  join_all();
}

uint64_t TaskList::start(const std::string& name, std::function<void(Progress&)> work) {
  auto task = std::make_shared<Task>();
  std::lock_guard<std::mutex> lock(mutex_);
  task->id = next_id_++;
  task->name = name;
  Task* raw = task.get();
  task->thread = std::thread([raw, work = std::move(work)] {
    TaskState final_state = TaskState::kDone;
    try {
      work(raw->progress);
    } catch (const Cancelled&) {
      final_state = TaskState::kCancelled;
    } catch (const std::exception& e) {
      raw->error = e.what();
      final_state = TaskState::kFailed;
      spdlog::error("task '{}': {}", raw->name, e.what());
    }
    raw->seconds.store(raw->progress.elapsed_seconds());
    raw->state.store(static_cast<int>(final_state));
  });
  tasks_.push_back(task);
  return task->id;
}

std::vector<TaskView> TaskList::tasks() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<TaskView> out;
  for (const auto& t : tasks_) {
    TaskView v;
    v.id = t->id;
    v.name = t->name;
    v.state = static_cast<TaskState>(t->state.load());
    v.label = t->progress.label();
    v.fraction = t->progress.fraction();
    v.seconds = v.state == TaskState::kRunning ? t->progress.elapsed_seconds() : t->seconds.load();
    if (v.state == TaskState::kFailed) v.error = t->error;
    out.push_back(std::move(v));
  }
  return out;
}

bool TaskList::any_running() const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& t : tasks_)
    if (t->state.load() == static_cast<int>(TaskState::kRunning)) return true;
  return false;
}

void TaskList::cancel(uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& t : tasks_)
    if (t->id == id) t->progress.cancel();
}

void TaskList::cancel_all() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& t : tasks_) t->progress.cancel();
}

void TaskList::join_all() {
  std::vector<std::shared_ptr<Task>> tasks;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    tasks = tasks_;
  }
  for (const auto& t : tasks)
    if (t->thread.joinable()) t->thread.join();
}

void TaskList::clear_finished() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::shared_ptr<Task>> keep;
  for (auto& t : tasks_) {
    if (t->state.load() == static_cast<int>(TaskState::kRunning)) {
      keep.push_back(t);
    } else if (t->thread.joinable()) {
      t->thread.join();  // finished: returns at once
    }
  }
  tasks_.swap(keep);
}

}  // namespace sightline::ui
