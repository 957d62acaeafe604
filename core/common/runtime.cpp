#include "core/common/runtime.h"

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/types.h>

#include <dlfcn.h>

#include <cstdlib>
#include <thread>

#include "core/common/error.h"

namespace sightline {

void init_runtime(int threads) {
  if (threads <= 0) {
    if (const char* env = std::getenv("OMP_NUM_THREADS")) threads = std::atoi(env);
  }
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
  // OpenBLAS threads spin (sched_yield) inside every small GEMM, and the engine's
  // attention is many small GEMMs: on a shared 2-core machine that made training several
  // times slower, while one BLAS thread under torch's own parallelism measured the same
  // forward speed (tests/bench/bench_forward). SIGHTLINE_BLAS_THREADS overrides.
  int blas_threads = 1;
  if (const char* env = std::getenv("SIGHTLINE_BLAS_THREADS")) blas_threads = std::max(1, std::atoi(env));
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(blas_threads);
}

std::string resolve_device(const std::string& requested) {
  if (requested.empty() || requested == "auto") {
    return torch::cuda::is_available() ? "cuda" : "cpu";
  }
  try {
    const torch::Device device(requested);
    if (device.is_cuda() && !torch::cuda::is_available()) {
      fail("device '{}': this LibTorch build or machine has no CUDA", requested);
    }
  } catch (const c10::Error&) {
    fail("device '{}': not a device name (try cpu, cuda, cuda:1)", requested);
  }
  return requested;
}

}  // namespace sightline
