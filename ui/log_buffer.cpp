#include "ui/log_buffer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

namespace sightline::ui {

std::vector<LogLine> LogBuffer::lines() {
  std::lock_guard<std::mutex> lock(mutex_);
  return {lines_.begin(), lines_.end()};
}

uint64_t LogBuffer::version() {
  std::lock_guard<std::mutex> lock(mutex_);
  return version_;
}

void LogBuffer::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  lines_.clear();
  ++version_;
}

void LogBuffer::sink_it_(const spdlog::details::log_msg& msg) {
  // Called with mutex_ held by base_sink.
  const std::time_t t = std::chrono::system_clock::to_time_t(msg.time);
  std::tm local{};
  localtime_r(&t, &local);
  char stamp[16];
  std::strftime(stamp, sizeof(stamp), "%H:%M:%S ", &local);
  lines_.push_back({msg.level, stamp + std::string(msg.payload.data(), msg.payload.size())});
  while (lines_.size() > capacity_) lines_.pop_front();
  ++version_;
}

std::shared_ptr<LogBuffer> install_log_buffer() {
  auto buffer = std::make_shared<LogBuffer>();
  spdlog::default_logger()->sinks().push_back(buffer);
  return buffer;
}

void uninstall_log_buffer(const std::shared_ptr<LogBuffer>& buffer) {
  auto& sinks = spdlog::default_logger()->sinks();
  sinks.erase(std::remove(sinks.begin(), sinks.end(), buffer), sinks.end());
}

}  // namespace sightline::ui
