#include "core/sae/sae_npy.h"

#include <torch/types.h>

#include <algorithm>
#include <functional>

#include "core/common/error.h"
#include "core/io/npy.h"
#include "core/sae/tensor_util.h"

namespace sightline {

namespace {

std::vector<int64_t> map_npy_rows(const std::string& sae_name, const std::string& input, const std::string& output,
                                  int64_t width, int64_t out_width, const char* what, int64_t chunk_rows,
                                  const std::function<at::Tensor(const at::Tensor&)>& fn) {
  check(chunk_rows > 0, "chunk_rows must be positive, got {}", chunk_rows);
  const auto x = read_npy(input);
  check(x.dim() == 2 && x.size(1) == width, "file '{}': shape {} does not match SAE '{}': expected [N, {}] ({} {})",
        input, sae_detail::shape_string(x.sizes()), sae_name, width, what, width);
  check(x.scalar_type() != torch::kBool, "file '{}': dtype bool cannot be an SAE input", input);
  torch::NoGradGuard no_grad;
  const int64_t n = x.size(0);
  auto out = torch::empty({n, out_width}, torch::kFloat32);
  for (int64_t off = 0; off < n; off += chunk_rows) {
    const int64_t m = std::min(chunk_rows, n - off);
    out.narrow(0, off, m).copy_(fn(x.narrow(0, off, m).to(torch::kFloat32)).to(torch::kCPU, torch::kFloat32));
  }
  write_npy(output, out);
  return {n, out_width};
}

}  // namespace

std::vector<int64_t> encode_npy_file(const Sae& sae, const std::string& sae_name, const std::string& input,
                                     const std::string& output, int64_t chunk_rows) {
  return map_npy_rows(sae_name, input, output, sae.d_model(), sae.d_sae(), "d_model", chunk_rows,
                      [&](const at::Tensor& x) { return sae.encode(x); });
}

std::vector<int64_t> decode_npy_file(const Sae& sae, const std::string& sae_name, const std::string& input,
                                     const std::string& output, int64_t chunk_rows) {
  return map_npy_rows(sae_name, input, output, sae.d_sae(), sae.d_model(), "d_sae", chunk_rows,
                      [&](const at::Tensor& h) { return sae.decode(h); });
}

}  // namespace sightline
