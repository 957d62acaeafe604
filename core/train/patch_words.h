// The words a patch of a shapes-world image stands for, in the base LM's vocabulary: its
// own grid cell ("x5", "y2") and, when an object dominates it, that object's words as the
// scene description gives them (size, colour, shape, layer "z1", "pointing left",
// "letter q"). The alignment stage teaches the projector to map each patch to the sum of
// these words' input embeddings, so the frozen LM first meets image tokens that read like
// its own text; captioning then aligns the rest.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "core/tokenizer/word_tokenizer.h"
#include "core/world/scene.h"

namespace sightline {

// Word ids per patch (grid x grid, row-major).
std::vector<std::vector<int64_t>> patch_words(const Scene& scene, const WorldOptions& world, int grid,
                                              const WordTokenizer& tok);

// Word counts per patch: [N, P, V] float32 (a bag of words per patch).
at::Tensor patch_word_bags(const std::vector<Scene>& scenes, const WorldOptions& world, int grid,
                           const WordTokenizer& tok);

// Sum of the words' embeddings per patch: [N, P, D] from embed [V, D].
at::Tensor patch_word_embeddings(const std::vector<Scene>& scenes, const WorldOptions& world, int grid,
                                 const WordTokenizer& tok, const at::Tensor& embed);

}  // namespace sightline
