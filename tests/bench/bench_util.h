// Shared pieces of the benchmarks in tests/bench/: their command-line flags and wall-clock
// timing. Header-only: each bench_*.cpp is its own executable.
#pragma once

#include <chrono>
#include <cstdlib>
#include <cstring>

namespace sightline::bench {

// The integer after the last `name` in argv ("--threads 2"), or `fallback` when the flag
// is absent. Unknown flags are ignored: scripts/bench passes the same arguments (e.g.
// --threads) to every bench.
template <typename T>
T flag(int argc, char** argv, const char* name, T fallback) {
  for (int i = argc - 2; i >= 1; --i) {
    if (std::strcmp(argv[i], name) == 0) return static_cast<T>(std::atoll(argv[i + 1]));
  }
  return fallback;
}

// --threads N: the torch thread count for init_runtime (0 = its default).
inline int threads_flag(int argc, char** argv) { return flag(argc, argv, "--threads", 0); }

// Wall-clock seconds since t0.
inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace sightline::bench
