// NumPy .npy files (format spec: numpy/lib/format.py). Little-endian, C order only.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

namespace sightline {

// Reads a .npy file (versions 1.0, 2.0 and 3.0) into an owned CPU tensor. dtypes:
// <f8 <f4 <f2 <i8 <i4 <i2 |i1 |u1 |b1 (-> double, float, half, long, int, short, char,
// byte, bool). Throws Error naming the file and the header field at fault (bad magic,
// unsupported descr, fortran_order True, malformed shape, truncated or oversized data).
at::Tensor read_npy(const std::string& path);

// Writes `t` (any device; made contiguous on CPU) as a version 1.0 .npy file (2.0 only
// if the header would exceed 65535 bytes), keeping its dtype; the header is padded so
// the data starts 64-byte aligned, as numpy does. Written to path + ".tmp" then renamed.
// BFloat16 and other dtypes numpy lacks throw naming the file.
void write_npy(const std::string& path, const at::Tensor& t);

}  // namespace sightline
