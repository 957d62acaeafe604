// libFuzzer target: the safetensors reader (SafetensorsFile: header validation, load of
// every tensor) and a write-read round trip of whatever it accepted, which must give the
// same bytes back.
#include <ATen/ATen.h>

#include <cstring>
#include <utility>
#include <vector>

#include "core/common/error.h"
#include "core/io/safetensors.h"
#include "tests/fuzz/fuzz_util.h"

using namespace sightline;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::scratch_path("input.safetensors");
  fuzz::write_input(path, data, size);
  try {
    SafetensorsFile file(path);
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const std::string& name : file.names()) {
      const SafetensorsEntry& e = file.entry(name);
      at::Tensor t = file.load(name);
      if (static_cast<uint64_t>(t.nbytes()) != e.end - e.begin)
        fuzz::finding("tensor '" + name + "' loaded " + std::to_string(t.nbytes()) + " bytes, header spans " +
                      std::to_string(e.end - e.begin));
      tensors.emplace_back(name, std::move(t));
    }
    const std::string copy = fuzz::scratch_path("copy.safetensors");
    save_safetensors(copy, tensors, file.metadata());
    SafetensorsFile again(copy);
    if (again.names() != file.names() || again.metadata() != file.metadata())
      fuzz::finding("round trip changed the names or the metadata");
    for (const auto& [name, t] : tensors) {
      const at::Tensor u = again.load(name);
      if (u.scalar_type() != t.scalar_type() || u.sizes() != t.sizes() ||
          (t.nbytes() > 0 && std::memcmp(u.data_ptr(), t.data_ptr(), t.nbytes()) != 0))
        fuzz::finding("round trip changed tensor '" + name + "'");
    }
  } catch (const Error&) {
    // Rejected with a message naming the file: the expected outcome for bad input.
  }
  return 0;
}
