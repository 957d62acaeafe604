// Errors: one exception type whose message names the file, tensor, line or field at
// fault. The CLI prints what() on one line and exits non-zero; the GUI shows it in the
// job's pane.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace sightline {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Thrown when a long job stops because its cancel token was set.
class Cancelled : public Error {
 public:
  Cancelled() : Error("cancelled") {}
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

// check(cond, "...") throws Error with the formatted message when cond is false.
template <typename... Args>
void check(bool condition, fmt::format_string<Args...> format, Args&&... args) {
  if (!condition) throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace sightline
