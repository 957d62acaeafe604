// Callbacks from worker threads to the main (UI) thread: posted from anywhere, run by the
// main loop once per frame (Tracy's deferred-callback pattern), so UI state is only ever
// touched on the thread that owns the ImGui context.
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <vector>

namespace sightline {

class MainThreadQueue {
 public:
  // Queues fn to run at the next drain(). Thread-safe.
  void post(std::function<void()> fn);
  // Runs, in posting order, the callbacks posted before this call (ones they post run at
  // the next drain, so a frame never loops forever). If some throw, the rest still run
  // and the first exception is rethrown at the end. Returns the number run. Call from
  // the main thread only.
  size_t drain();
  // Callbacks waiting for drain().
  size_t pending() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::function<void()>> callbacks_;
};

}  // namespace sightline
