// The log pane's source: a spdlog sink keeping the last lines in memory.
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sightline::ui {

struct LogLine {
  spdlog::level::level_enum level = spdlog::level::info;
  std::string text;  // "12:34:56 message"
};

class LogBuffer : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit LogBuffer(size_t capacity = 4000) : capacity_(capacity) {}
  // A copy of the kept lines, oldest first.
  std::vector<LogLine> lines();
  // Bumped by every new line (the pane scrolls to the end when it changes).
  uint64_t version();
  void clear();

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  size_t capacity_;
  std::deque<LogLine> lines_;
  uint64_t version_ = 0;
};

// Adds a LogBuffer to the default logger's sinks; remove it with uninstall_log_buffer.
std::shared_ptr<LogBuffer> install_log_buffer();
void uninstall_log_buffer(const std::shared_ptr<LogBuffer>& buffer);

}  // namespace sightline::ui
