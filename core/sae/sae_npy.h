// SAE encode / decode of .npy files, for `sightline inspect sae-encode / sae-decode`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/sae/sae.h"

namespace sightline {

// Reads x [N, d_model] (any float or integer dtype) from `input`, writes the feature
// activations h [N, d_sae] as float32 to `output` (in the SAE's convention: residual
// units along unit decoder directions). Rows go through the SAE `chunk_rows` at a time.
// A shape mismatch throws "file '<input>': shape [..] does not match SAE '<sae_name>':
// expected [N, d_model]". Returns the written shape.
std::vector<int64_t> encode_npy_file(const Sae& sae, const std::string& sae_name, const std::string& input,
                                     const std::string& output, int64_t chunk_rows = 1024);

// The reverse: h [N, d_sae] from `input` -> x_hat [N, d_model] float32 in `output`.
std::vector<int64_t> decode_npy_file(const Sae& sae, const std::string& sae_name, const std::string& input,
                                     const std::string& output, int64_t chunk_rows = 1024);

}  // namespace sightline
