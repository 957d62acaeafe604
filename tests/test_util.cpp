#include "tests/test_util.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sys/wait.h>
#include <vector>

namespace fs = std::filesystem;

namespace sightline::test {

std::string fixtures_dir() {
  const fs::path dir = fs::path(SIGHTLINE_SOURCE_DIR) / ".." / "shared" / "fixtures";
  if (fs::is_directory(dir)) return fs::weakly_canonical(dir).string();
  return "";
}

namespace {
struct ScratchRegistry {
  std::mutex mutex;
  std::vector<fs::path> dirs;
  ~ScratchRegistry() {
    if (std::getenv("SIGHTLINE_KEEP_SCRATCH")) return;
    for (const auto& d : dirs) {
      std::error_code ec;
      fs::remove_all(d, ec);
    }
  }
};
ScratchRegistry& registry() {
  static ScratchRegistry r;
  return r;
}
}  // namespace

std::string micro_world_dir() {
  const char* env = std::getenv("SIGHTLINE_MICRO_WORLD");
  return env && std::filesystem::exists(std::filesystem::path(env) / "manifest.json") ? std::string(env)
                                                                                       : std::string();
}

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string scratch_dir(const std::string& tag) {
  std::random_device rd;
  const fs::path dir = fs::temp_directory_path() /
                       ("sightline-test-" + tag + "-" + std::to_string(rd()) + std::to_string(rd()));
  fs::create_directories(dir);
  std::lock_guard<std::mutex> lock(registry().mutex);
  registry().dirs.push_back(dir);
  return dir.string();
}

CommandResult run_cli(const std::string& args) {
  CommandResult result;
  const std::string command = std::string("'") + SIGHTLINE_BINARY + "' " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer{};
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.out.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace sightline::test
