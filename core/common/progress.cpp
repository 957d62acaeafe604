#include "core/common/progress.h"

#include "core/common/error.h"

namespace sightline {

void Progress::begin(const std::string& label, int64_t total) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    label_ = label;
    start_ = std::chrono::steady_clock::now();
  }
  done_.store(0);
  total_.store(total);
}

std::string Progress::label() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return label_;
}

double Progress::fraction() const {
  const int64_t total = total_.load();
  if (total <= 0) return -1.0;
  const double f = static_cast<double>(done_.load()) / static_cast<double>(total);
  return f < 0 ? 0 : (f > 1 ? 1 : f);
}

double Progress::elapsed_seconds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double Progress::eta_seconds() const {
  const double f = fraction();
  if (f <= 0) return -1.0;
  return elapsed_seconds() * (1.0 - f) / f;
}

void Progress::check_cancel() const {
  if (cancelled_.load()) throw Cancelled();
}

Progress& null_progress() {
  static thread_local Progress progress;
  return progress;
}

}  // namespace sightline
