// Helpers shared by the libFuzzer targets (tests/fuzz/fuzz_*.cpp): the loaders under test
// read files, so each input is written to a file in a per-process scratch directory.
// Every target calls its loader and swallows sightline::Error, the documented way to
// reject bad input; anything else (a crash, a sanitizer report, another exception, an
// escaped check) is a finding.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace sightline::fuzz {

// <tmp>/sightline-fuzz-XXXXXX/<name>, the directory made once per process and removed at
// exit (crash inputs are kept by libFuzzer itself, not here).
inline std::string scratch_path(const std::string& name) {
  static const std::string dir = [] {
    std::string pattern = (std::filesystem::temp_directory_path() / "sightline-fuzz-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    static std::string remove_at_exit;
    remove_at_exit = pattern;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(remove_at_exit, ec);
    });
    return pattern;
  }();
  return dir + "/" + name;
}

// Writes the input to `path` (replacing it); aborts when it cannot (not a finding of the
// loader, but the run would be meaningless).
inline void write_input(const std::string& path, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
}

// The input as text.
inline std::string_view as_text(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

// A finding that is not a crash by itself: prints it and aborts, so libFuzzer saves the input.
[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "FUZZ FINDING: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace sightline::fuzz
