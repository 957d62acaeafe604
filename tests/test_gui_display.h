// Running GUI screenshot tests where an X display may be missing: a test runs in this
// process when a display opens; otherwise the whole suite re-runs once under xvfb-run
// (this binary, filtered to the suite) and each test reports the child's outcome here;
// with neither, it skips. The same scheme as test_gui_screenshot.cpp, for any suite.
#pragma once

#include <gtest/gtest.h>

#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>

namespace sightline::test {

inline constexpr const char* kGuiDisplayChildEnv = "SIGHTLINE_GUI_DISPLAY_CHILD";

inline bool gui_display_opens() {
  const char* display = std::getenv("DISPLAY");
  if (!display || !*display) return false;
  if (!glfwInit()) return false;
  glfwTerminate();
  return true;
}

struct GuiChildRun {
  int exit_code = -1;
  std::string output;
  std::map<std::string, std::string> outcome;  // test name -> "OK", "FAILED", "SKIPPED"
};

// Runs `suite`'s tests once under xvfb-run and parses their outcomes (cached per suite).
inline const GuiChildRun& gui_child_run(const std::string& suite) {
  static std::map<std::string, std::unique_ptr<GuiChildRun>> runs;
  auto& run = runs[suite];
  if (run) return *run;
  run = std::make_unique<GuiChildRun>();
  // -n: start the free-display search away from the usual :99 where other sessions sit.
  const int server = 200 + static_cast<int>(getpid() % 700);
  const std::string command = std::string(kGuiDisplayChildEnv) + "=1 xvfb-run -a -n " + std::to_string(server) +
                              " -s '-screen 0 1600x1000x24' /proc/" + std::to_string(getpid()) +
                              "/exe --gtest_filter='" + suite + ".*' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return *run;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) run->output.append(buffer, n);
  run->exit_code = pclose(pipe);
  const std::pair<std::string, const char*> markers[] = {{"[       OK ] " + suite + ".", "OK"},
                                                         {"[  FAILED  ] " + suite + ".", "FAILED"},
                                                         {"[  SKIPPED ] " + suite + ".", "SKIPPED"}};
  for (const auto& [marker, tag] : markers) {
    size_t at = 0;
    while ((at = run->output.find(marker, at)) != std::string::npos) {
      at += marker.size();
      const size_t end = run->output.find_first_of(" \n", at);
      run->outcome[run->output.substr(at, end - at)] = tag;
    }
  }
  return *run;
}

enum class GuiWhere { kHere, kDone, kSkip };

// Where the current test's body runs (see the file comment); reports the child's failures.
inline GuiWhere gui_where_to_run() {
  if (gui_display_opens()) return GuiWhere::kHere;
  if (std::getenv(kGuiDisplayChildEnv)) {
    ADD_FAILURE() << "xvfb-run gave no usable display";
    return GuiWhere::kDone;
  }
  if (std::system("command -v xvfb-run >/dev/null 2>&1") != 0) return GuiWhere::kSkip;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const GuiChildRun& run = gui_child_run(info->test_suite_name());
  const auto it = run.outcome.find(info->name());
  if (it == run.outcome.end()) {
    ADD_FAILURE() << "the xvfb-run child did not report " << info->name() << " (exit " << run.exit_code << "):\n"
                  << run.output;
  } else if (it->second == std::string("FAILED")) {
    ADD_FAILURE() << "failed under xvfb-run:\n" << run.output;
  } else if (it->second == std::string("SKIPPED")) {
    return GuiWhere::kSkip;
  }
  return GuiWhere::kDone;
}

}  // namespace sightline::test

// A screenshot test starts with this: run here, or report the child's outcome, or skip.
#define SIGHTLINE_GUI_TEST_NEEDS_DISPLAY()                                                   \
  do {                                                                                       \
    const ::sightline::test::GuiWhere where_ = ::sightline::test::gui_where_to_run();        \
    if (where_ == ::sightline::test::GuiWhere::kSkip)                                        \
      GTEST_SKIP() << "no X display can be opened and xvfb-run is absent (or the child "     \
                      "skipped): skipping the screenshot test";                              \
    if (where_ == ::sightline::test::GuiWhere::kDone) return;                                \
  } while (0)
