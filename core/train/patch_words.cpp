#include "core/train/patch_words.h"

#include <torch/types.h>

#include "core/common/error.h"
#include "core/train/patch_targets.h"

namespace sightline {

std::vector<std::vector<int64_t>> patch_words(const Scene& scene, const WorldOptions& world, int grid,
                                              const WordTokenizer& tok) {
  PatchTargetSpec spec;
  spec.grid = grid;
  const auto t = patch_targets(scene, world, spec);
  auto id = [&](const std::string& w) {
    const auto i = tok.word_id(w);
    check(i.has_value(), "patch words: '{}' is not in the world vocabulary", w);
    return *i;
  };
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(grid) * grid);
  for (int r = 0; r < grid; ++r) {
    for (int c = 0; c < grid; ++c) {
      const size_t p = static_cast<size_t>(r) * grid + c;
      // Patch cells in the text grid's units (the text grid may be coarser than the patches).
      auto& words = out[p];
      words.push_back(id("x" + std::to_string(c * world.grid / grid)));
      words.push_back(id("y" + std::to_string(r * world.grid / grid)));
      const int o = t.object[p];
      if (o < 0) continue;
      const Object& obj = scene.objects[static_cast<size_t>(o)];
      int layer = 0;
      for (const Object& other : scene.objects) layer += other.depth < obj.depth;
      words.push_back(id(size_name(obj.size)));
      words.push_back(id(colour_name(obj.colour)));
      words.push_back(id(shape_name(obj.shape)));
      words.push_back(id("z" + std::to_string(layer)));
      if (obj.shape == Shape::Arrow && obj.facing != Facing::None) words.push_back(id(facing_name(obj.facing)));
      if (obj.shape == Shape::Sign && obj.text != 0) {
        const char lower = static_cast<char>(obj.text >= 'A' && obj.text <= 'Z' ? obj.text - 'A' + 'a' : obj.text);
        words.push_back(id(std::string(1, lower)));
      }
    }
  }
  return out;
}

at::Tensor patch_word_bags(const std::vector<Scene>& scenes, const WorldOptions& world, int grid,
                           const WordTokenizer& tok) {
  const int64_t P = static_cast<int64_t>(grid) * grid;
  auto bags = torch::zeros({static_cast<int64_t>(scenes.size()) * P, tok.vocab_size()}, torch::kFloat32);
  auto acc = bags.accessor<float, 2>();
  for (size_t n = 0; n < scenes.size(); ++n) {
    const auto words = patch_words(scenes[n], world, grid, tok);
    for (int64_t p = 0; p < P; ++p) {
      for (int64_t w : words[static_cast<size_t>(p)]) acc[static_cast<int64_t>(n) * P + p][w] += 1.f;
    }
  }
  return bags.view({static_cast<int64_t>(scenes.size()), P, tok.vocab_size()});
}

at::Tensor patch_word_embeddings(const std::vector<Scene>& scenes, const WorldOptions& world, int grid,
                                 const WordTokenizer& tok, const at::Tensor& embed) {
  return torch::matmul(patch_word_bags(scenes, world, grid, tok).to(embed.device(), embed.scalar_type()), embed);
}

}  // namespace sightline
