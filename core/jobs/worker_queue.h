// Background work for the UI: a queue of requests run on worker threads, each with a
// future-like handle the UI polls once per frame ("computing..." until ready), and
// superseding (a newer request for the same view cancels the stale one). Results go to
// the main thread through the handle or a MainThreadQueue (main_thread_queue.h).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/common/error.h"
#include "core/common/progress.h"

namespace sightline {

namespace detail {
// Shared between a Request handle and the queue's job.
struct RequestState {
  Progress progress;
};
}  // namespace detail

// Handle to a submitted request. Move-only; get() once.
template <typename T>
class Request {
 public:
  Request() = default;
  bool valid() const { return future_.valid(); }
  // Non-blocking: true once the result, an exception or Cancelled is available.
  bool ready() const {
    return future_.valid() && future_.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }
  void wait() const { future_.wait(); }
  // The result. Rethrows what the request threw, or Cancelled when it was cancelled or
  // superseded (before it ran, or at a check_cancel() while running). Once.
  T get() { return future_.get(); }
  // Cancels: a queued request is dropped, a running one sees Cancelled at its next
  // check_cancel().
  void cancel() {
    if (state_) state_->progress.cancel();
  }
  // The request's progress (label / done / total) while it runs.
  const Progress& progress() const { return state_->progress; }

 private:
  friend class WorkerQueue;
  std::future<T> future_;
  std::shared_ptr<detail::RequestState> state_;
};

class WorkerQueue {
 public:
  // Starts `threads` workers (at least 1).
  explicit WorkerQueue(int threads = 1);
  // Drops queued requests (their handles report Cancelled), cancels running ones and
  // joins the workers.
  ~WorkerQueue();
  WorkerQueue(const WorkerQueue&) = delete;
  WorkerQueue& operator=(const WorkerQueue&) = delete;

  // Queues fn(Progress&) -> R and returns its handle. Requests run in submission order.
  // A non-empty `key` supersedes: requests with the same key still queued are dropped
  // and running ones are cancelled, so only the newest request for a view does work.
  template <typename F>
  auto submit(F&& fn, const std::string& key = "") -> Request<std::invoke_result_t<std::decay_t<F>&, Progress&>>;

  // Requests waiting for a worker.
  size_t queued() const;
  // Cancels everything queued or running.
  void cancel_all();

 private:
  struct Job {
    std::string key;
    std::shared_ptr<detail::RequestState> state;
    std::function<void()> run;   // runs the request and fulfils its promise
    std::function<void()> drop;  // fulfils its promise with Cancelled
  };
  struct Running {
    std::string key;
    std::shared_ptr<detail::RequestState> state;
  };
  void enqueue(Job job);
  void worker();

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::vector<Running> running_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

template <typename F>
auto WorkerQueue::submit(F&& fn, const std::string& key) -> Request<std::invoke_result_t<std::decay_t<F>&, Progress&>> {
  using R = std::invoke_result_t<std::decay_t<F>&, Progress&>;
  // shared_ptr holders: std::function needs copyable targets, and fn may be move-only.
  auto promise = std::make_shared<std::promise<R>>();
  auto callable = std::make_shared<std::decay_t<F>>(std::forward<F>(fn));
  auto state = std::make_shared<detail::RequestState>();
  Request<R> request;
  request.future_ = promise->get_future();
  request.state_ = state;
  Job job;
  job.key = key;
  job.state = state;
  job.run = [promise, callable, state] {
    try {
      state->progress.check_cancel();
      if constexpr (std::is_void_v<R>) {
        (*callable)(state->progress);
        promise->set_value();
      } else {
        promise->set_value((*callable)(state->progress));
      }
    } catch (...) {
      promise->set_exception(std::current_exception());
    }
  };
  job.drop = [promise] { promise->set_exception(std::make_exception_ptr(Cancelled())); };
  enqueue(std::move(job));
  return request;
}

}  // namespace sightline
