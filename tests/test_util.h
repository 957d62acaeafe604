// Shared helpers for the test suite: where the fixtures are, scratch directories,
// running the CLI.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "core/common/error.h"

namespace sightline::test {

// ../shared/fixtures beside the project root, or "" when absent (a user's clone).
std::string fixtures_dir();

// Skips the current test with a message when the fixtures are absent.
#define SIGHTLINE_REQUIRE_FIXTURES()                                             \
  do {                                                                           \
    if (::sightline::test::fixtures_dir().empty())                               \
      GTEST_SKIP() << "../shared/fixtures not found: skipping fixture test";     \
  } while (0)

// The message of the sightline::Error that f throws; a test failure when it throws
// nothing or something else.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ::sightline::Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected sightline::Error, got another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected sightline::Error, nothing thrown";
  return "";
}

// Spins (yielding, no sleeps) until pred() or `seconds` have passed; returns pred().
template <typename Pred>
bool wait_until(Pred pred, double seconds = 10.0) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// Whole-file binary write and read.
inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}
inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The micro world the ctest fixture built (env SIGHTLINE_MICRO_WORLD, holding a
// manifest.json), or "" when there is none.
std::string micro_world_dir();

// The first line of a text file ("" when it cannot be read).
std::string first_line(const std::string& path);

// A fresh empty directory under the system temp dir, removed at process exit.
std::string scratch_dir(const std::string& tag);

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
};
// Runs the sightline CLI with `args` (a shell-quoted string) and captures its output.
CommandResult run_cli(const std::string& args);

}  // namespace sightline::test
