// Constants shared by the tokenizers and the engine.
#pragma once

#include <cstdint>

namespace sightline {

// LLaVA's IMAGE_TOKEN_INDEX: the id that marks where a sequence's image tokens go.
inline constexpr int64_t kImageTokenIndex = -200;

}  // namespace sightline
