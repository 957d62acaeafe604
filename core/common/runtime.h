// Process-wide runtime set-up: torch threads, logging level, default device.
#pragma once

#include <string>

namespace sightline {

// Sets torch's intra-op threads (0 = all cores, or OMP_NUM_THREADS when set).
void init_runtime(int threads = 0);

// "cpu", "cuda", "cuda:1"; "auto" picks CUDA when the LibTorch build and a GPU have it.
// Returned as a string so headers stay free of torch types; see to_device() in
// core/common/torch_util.h.
std::string resolve_device(const std::string& requested);

}  // namespace sightline
