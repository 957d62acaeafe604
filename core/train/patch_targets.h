// Dense per-patch targets for pretraining the shapes world's vision tower (the "CLIP"
// stage). A frozen tower must hand the language model everything the questions need, so
// each patch token is taught what is visible in it: the object that dominates it (colour,
// shape, size, grid cell of its centre, facing, sign character), which colours and shapes
// are present at all, and whether two objects meet (contact) or overlap there.
#pragma once

#include <cstdint>
#include <vector>

#include "core/world/scene.h"

namespace sightline {

struct PatchTargetSpec {
  int grid = 8;        // patches per side (image_size / patch_size)
  int n_colours = 8;   // classes below are 1 + index; 0 = no object
  int n_shapes = 7;
  int n_sizes = 3;
  int n_cells = 8;     // grid cells of object centres in the world's text
  int n_facings = 4;
  int n_chars = 36;    // 'A'-'Z', '0'-'9'
  int min_dominant_pixels = 6;  // fewer visible pixels: the patch has no dominant object
  // Relational targets (below) for the world's relations against each other colour.
  bool relations = false;
};

// Class-index heads (each value in [0, classes)) and multi-label heads (0/1), per patch.
struct PatchTargets {
  std::vector<int64_t> colour, shape, size, cell_x, cell_y, facing, character;  // [P]
  std::vector<float> colours_present;  // [P, n_colours]
  std::vector<float> shapes_present;   // [P, n_shapes]
  std::vector<float> contact;          // [P]: two objects' visible pixels are 4-adjacent here
  std::vector<float> overlap;          // [P]: two objects' masks cover one pixel here
  std::vector<int> object;             // [P]: index of the dominant object in scene.objects, -1 none
  // With spec.relations: per patch, relation r of its dominant object A against the object
  // B of colour c (colours are unique in a scene), at [p, r * n_colours + c]: 1 true, 0
  // false; relation_known is 1 where that is decided (a dominant object, a B of that
  // colour, and r(A, B) outside its ambiguous band), else 0 and the target is ignored.
  int n_relations = 0;
  std::vector<float> relation, relation_known;  // [P, n_relations * n_colours]
};

PatchTargets patch_targets(const Scene& scene, const WorldOptions& world, const PatchTargetSpec& spec);

// Class index of a sign character (0 = none), per PatchTargetSpec::n_chars.
int64_t character_class(char c);

}  // namespace sightline
