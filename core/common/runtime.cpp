#include "core/common/runtime.h"

#include <torch/torch.h>

#include <cstdlib>
#include <thread>

#include "core/common/error.h"

namespace sightline {

void init_runtime(int threads) {
  if (threads <= 0) {
    if (const char* env = std::getenv("OMP_NUM_THREADS")) threads = std::atoi(env);
  }
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
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
