#include "core/jobs/worker_queue.h"

#include <algorithm>

namespace sightline {

WorkerQueue::WorkerQueue(int threads) {
  for (int t = 0; t < std::max(1, threads); ++t) threads_.emplace_back([this] { worker(); });
}

WorkerQueue::~WorkerQueue() {
  std::deque<Job> dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    dropped.swap(queue_);
    for (auto& r : running_) r.state->progress.cancel();
  }
  cv_.notify_all();
  for (auto& job : dropped) job.drop();
  for (auto& t : threads_) t.join();
}

void WorkerQueue::enqueue(Job job) {
  std::vector<Job> dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) {
      dropped.push_back(std::move(job));
    } else {
      if (!job.key.empty()) {
        for (auto it = queue_.begin(); it != queue_.end();) {
          if (it->key == job.key) {
            dropped.push_back(std::move(*it));
            it = queue_.erase(it);
          } else {
            ++it;
          }
        }
        for (auto& r : running_)
          if (r.key == job.key) r.state->progress.cancel();
      }
      queue_.push_back(std::move(job));
    }
  }
  cv_.notify_one();
  // Outside the lock: fulfilling a promise may wake a thread that submits again.
  for (auto& d : dropped) d.drop();
}

size_t WorkerQueue::queued() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

void WorkerQueue::cancel_all() {
  std::deque<Job> dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    dropped.swap(queue_);
    for (auto& r : running_) r.state->progress.cancel();
  }
  for (auto& job : dropped) job.drop();
}

void WorkerQueue::worker() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping
    Job job = std::move(queue_.front());
    queue_.pop_front();
    const bool cancelled = job.state->progress.cancelled();
    if (!cancelled) running_.push_back({job.key, job.state});
    lock.unlock();
    if (cancelled)
      job.drop();
    else
      job.run();  // never throws: exceptions go into the promise
    lock.lock();
    running_.erase(std::remove_if(running_.begin(), running_.end(),
                                  [&](const Running& r) { return r.state == job.state; }),
                   running_.end());
  }
}

}  // namespace sightline
