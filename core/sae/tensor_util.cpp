#include "core/sae/tensor_util.h"

#include <torch/types.h>

#include "core/common/error.h"

namespace sightline::sae_detail {

c10::ScalarType parse_dtype(const std::string& name) {
  if (name == "float32" || name == "f32" || name == "float") return torch::kFloat32;
  if (name == "bfloat16" || name == "bf16") return torch::kBFloat16;
  if (name == "float16" || name == "f16" || name == "half") return torch::kFloat16;
  if (name == "float64" || name == "f64") return torch::kFloat64;
  fail("dtype '{}' is not supported (float32, bfloat16, float16, float64)", name);
}

std::string dtype_name(c10::ScalarType type) {
  switch (type) {
    case torch::kFloat32: return "float32";
    case torch::kBFloat16: return "bfloat16";
    case torch::kFloat16: return "float16";
    case torch::kFloat64: return "float64";
    default: return c10::toString(type);
  }
}

std::string shape_string(c10::IntArrayRef shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

}  // namespace sightline::sae_detail
