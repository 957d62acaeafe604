// Spatial relations between two objects of a scene, computed from the same pixel masks the
// renderer draws (raster.h), with VSR's relation strings. Every relation has a "true"
// region and a "false" region separated by an ambiguous band (Truth::Ambiguous) that the
// datasets never ask about, so that each asked case is visually unambiguous.
//
// Terms (A = subject, B = object; thresholds from WorldOptions::relation, in grid cells
// c = image_size / grid unless in pixels):
//   gap(A, B)      Chebyshev distance between the two masks in pixels: 0 = they overlap,
//                  1 = they touch (8-neighbours), d = d - 1 background pixels between them
//                  (255 beyond kDistanceCap).
//   overlap(A, B)  number of pixels in both masks.
//   box            the mask's inclusive pixel bounding box; hgap / vgap = background
//                  columns / rows between the boxes (negative when the boxes overlap on
//                  that axis); vov = rows shared by the boxes / the smaller box height.
//   contained      inside(A, B) or inside(B, A) is true.
//   apart          gap >= contact_false_gap_px + 1 (at least 3 background pixels between).
//
//   left of        T: x_B - x_A >= axis_margin (1 c); F: x_A - x_B >= 1 c; Amb if contained.
//   right of       left of (B, A).
//   above          T: y_B - y_A >= 1 c (y grows downwards); F: y_A - y_B >= 1 c; Amb if contained.
//   below          above (B, A).
//   touching       T: gap <= 1, overlap <= touching_max_overlap (20%) of the smaller mask,
//                  not contained; F: apart.
//   on top of      T: touching, y_B - y_A >= c / 2, A's box bottom <= B's box top + 2 px, and
//                  the boxes share >= 50% of the narrower width (A rests on B);
//                  F: not touching (apart), or B rests on A, or touching side by side
//                  (vov >= 0.5).
//   under          on top of (B, A).
//   beside         T: vov >= beside_min_overlap (0.5) and 0 <= hgap <= beside_max_gap (1 c);
//                  F: hgap >= beside_false_gap (2.5 c), or vov = 0 and vgap >= c / 2.
//   next to        same as beside (VSR has both words).
//   at the left side of   T: beside and left of; F: either is false. (right: mirrored)
//   near           with g = Euclidean box gap sqrt(max(hgap,0)^2 + max(vgap,0)^2):
//                  T: g <= near_max_gap (1 c); F: g >= far_min_gap (2.5 c).
//   far from       the converse of near.
//   inside         T: B is not a sign, A is drawn in front of B, and A's mask grown by one
//                  pixel lies within B's footprint (a ring's footprint includes its hole);
//                  F: apart, or B inside A.
//   contains       inside (B, A).
//   in front of    needs overlap >= max(min_overlap_px, min_overlap_fraction * smaller
//                  mask) and not contained (else Amb); T: A is drawn after B; F: before.
//   behind         in front of (B, A).
//   facing         A must be an arrow (else Amb) and the centres >= 1 c apart (else Amb);
//                  T: the angle between A's direction and B - A is <= facing_true_deg (30);
//                  F: >= facing_false_deg (75).
//   facing away from   T: the angle to B - A is >= 180 - 30; F: <= 180 - 75.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/world/raster.h"
#include "core/world/scene.h"

namespace sightline {

enum class Truth : uint8_t { False, True, Ambiguous };

enum class Relation : uint8_t {
  LeftOf,
  RightOf,
  Above,
  Below,
  OnTopOf,
  Under,
  Beside,
  NextTo,
  AtLeftSideOf,
  AtRightSideOf,
  Near,
  FarFrom,
  Touching,
  Inside,
  Contains,
  InFrontOf,
  Behind,
  Facing,
  FacingAwayFrom,
};

struct RelationInfo {
  Relation relation;
  std::string name;           // VSR relation string: "left of", "contains", ...
  std::string meta_category;  // VSR meta-category (rel_meta_category_dict.txt)
  // true for relations used as "is <name>" ("is left of"); false for "contains".
  bool copula = true;
};

// All relations of the world, in enum order. 19 relations over 6 VSR meta-categories:
// Projective (left of, right of, above, below, on top of, under, beside, in front of,
// behind), Adjacency (at the left side of, at the right side of), Proximity (near, far
// from), Topological (touching, inside, contains), Orientation (facing, facing away
// from), Unallocated (next to).
const std::vector<RelationInfo>& relation_table();
const RelationInfo& relation_info(Relation relation);
// nullopt for a name that is not one of the world's relations.
std::optional<Relation> relation_from_name(const std::string& name);

// Distances beyond this many pixels are not needed (the contact thresholds are below it;
// validate_world_options keeps them there) and read as 255.
constexpr int kDistanceCap = 8;

// Chebyshev distance transform of a mask: per pixel, the distance to the nearest set
// pixel (0 on the mask), or 255 when that is more than kDistanceCap.
std::vector<uint8_t> chebyshev_distance(const Mask& mask);
// gap between `mask` and the mask whose distance transform is `distance`: min over mask
// pixels of distance (255 when `mask` is empty or everything is beyond kDistanceCap).
int mask_gap(const Mask& mask, const std::vector<uint8_t>& distance);

// Masks and derived quantities of one scene, computed once; answers relation queries.
class SceneGeometry {
 public:
  SceneGeometry(const Scene& scene, const WorldOptions& options);

  size_t size() const { return masks_.size(); }
  const Scene& scene() const { return scene_; }
  const Mask& mask(size_t i) const { return masks_[i]; }
  const Mask& footprint(size_t i) const { return footprints_[i]; }
  // Pixels of object i left visible by the objects drawn after it.
  int64_t visible_area(size_t i) const { return visible_[i]; }

  int gap(size_t a, size_t b) const { return gap_[a * size() + b]; }
  int64_t overlap(size_t a, size_t b) const { return overlap_[a * size() + b]; }
  // Whether relation(a, b) holds; Ambiguous for a == b or inside the ambiguous band.
  Truth relation(Relation relation, size_t a, size_t b) const;

 private:
  bool inside_true(size_t a, size_t b) const { return inside_[a * size() + b] != 0; }
  bool compute_inside(size_t a, size_t b) const;
  bool contained(size_t a, size_t b) const { return inside_true(a, b) || inside_true(b, a); }
  bool rests_on(size_t a, size_t b) const;
  int hgap(size_t a, size_t b) const;
  int vgap(size_t a, size_t b) const;
  double vertical_overlap(size_t a, size_t b) const;
  Truth axis(double delta) const;
  Truth touching(size_t a, size_t b) const;
  Truth on_top_of(size_t a, size_t b) const;
  Truth beside(size_t a, size_t b) const;
  Truth near(size_t a, size_t b) const;
  Truth inside(size_t a, size_t b) const;
  Truth in_front_of(size_t a, size_t b) const;
  Truth facing(size_t a, size_t b, bool away) const;

  Scene scene_;
  WorldOptions options_;
  double cell_ = 8.0;
  std::vector<Mask> masks_;
  std::vector<Mask> footprints_;
  std::vector<int64_t> visible_;
  // Per ordered pair (a * size + b), computed once: relations ask for them repeatedly.
  std::vector<int> gap_;
  std::vector<int64_t> overlap_;
  std::vector<uint8_t> inside_;
};

// Why `scene` is unfit for a dataset, or "" when it is fit: an object that leaves the
// image (a 1-pixel border is kept), repeated colours or depths, a sign smaller than
// min_sign_size or without a character from sign_characters, an arrow without a
// direction (or facing/text on the wrong shape), an object less than half visible, or a
// sign or arrow covered at all (its text or direction must stay readable).
std::string scene_problem(const Scene& scene, const SceneGeometry& geometry, const WorldOptions& options);

}  // namespace sightline
