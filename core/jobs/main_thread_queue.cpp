#include "core/jobs/main_thread_queue.h"

#include <exception>

namespace sightline {

void MainThreadQueue::post(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mutex_);
  callbacks_.push_back(std::move(fn));
}

size_t MainThreadQueue::drain() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    batch.swap(callbacks_);
  }
  std::exception_ptr first_error;
  for (auto& fn : batch) {
    try {
      if (fn) fn();
    } catch (...) {
      if (!first_error) first_error = std::current_exception();
    }
  }
  if (first_error) std::rethrow_exception(first_error);
  return batch.size();
}

size_t MainThreadQueue::pending() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return callbacks_.size();
}

}  // namespace sightline
