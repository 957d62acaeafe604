// Shared helpers for the test suite: where the fixtures are, scratch directories,
// running the CLI.
#pragma once

#include <gtest/gtest.h>

#include <string>

namespace sightline::test {

// ../shared/fixtures beside the project root, or "" when absent (a user's clone).
std::string fixtures_dir();

// Skips the current test with a message when the fixtures are absent.
#define SIGHTLINE_REQUIRE_FIXTURES()                                             \
  do {                                                                           \
    if (::sightline::test::fixtures_dir().empty())                               \
      GTEST_SKIP() << "../shared/fixtures not found: skipping fixture test";     \
  } while (0)

// A fresh empty directory under the system temp dir, removed at process exit.
std::string scratch_dir(const std::string& tag);

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
};
// Runs the sightline CLI with `args` (a shell-quoted string) and captures its output.
CommandResult run_cli(const std::string& args);

}  // namespace sightline::test
