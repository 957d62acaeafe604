// Progress and cooperative cancel for long work. Analysis code takes a Progress& and
// calls tick()/check_cancel(); the job runner or the UI polls the atomics each frame.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace sightline {

class Progress {
 public:
  // Starts a phase of `total` units (0 = unknown) named `label`.
  void begin(const std::string& label, int64_t total);
  void set_total(int64_t total) { total_.store(total); }
  void tick(int64_t units = 1) { done_.fetch_add(units); }
  void set_done(int64_t units) { done_.store(units); }
  int64_t done() const { return done_.load(); }
  int64_t total() const { return total_.load(); }
  std::string label() const;
  // Fraction in [0, 1], or -1 when the total is unknown.
  double fraction() const;
  // Seconds left at the mean rate since begin(), or -1 when not yet known.
  double eta_seconds() const;
  double elapsed_seconds() const;

  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }
  // Throws Cancelled when cancel() has been called.
  void check_cancel() const;

 private:
  std::atomic<int64_t> done_{0};
  std::atomic<int64_t> total_{0};
  std::atomic<bool> cancelled_{false};
  mutable std::mutex mutex_;
  std::string label_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// A Progress that nobody watches, for callers that do not care.
Progress& null_progress();

}  // namespace sightline
