// Small helpers shared by the SAE module: dtype names and shape strings for messages.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

namespace sightline::sae_detail {

// "float32" | "f32" | "float", "bfloat16" | "bf16", "float16" | "f16" | "half",
// "float64" | "f64"; throws naming the unsupported name.
c10::ScalarType parse_dtype(const std::string& name);
// The canonical name of a floating dtype ("float32", ...), c10's name otherwise.
std::string dtype_name(c10::ScalarType type);
// "[a, b, c]" for error messages.
std::string shape_string(c10::IntArrayRef shape);

}  // namespace sightline::sae_detail
