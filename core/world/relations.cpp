#include "core/world/relations.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/common/error.h"

namespace sightline {

namespace {

constexpr double kPi = 3.14159265358979323846;

Truth both(Truth x, Truth y) {
  if (x == Truth::True && y == Truth::True) return Truth::True;
  if (x == Truth::False || y == Truth::False) return Truth::False;
  return Truth::Ambiguous;
}

Truth negate(Truth t) {
  if (t == Truth::True) return Truth::False;
  if (t == Truth::False) return Truth::True;
  return Truth::Ambiguous;
}

void facing_vector(Facing f, double* dx, double* dy) {
  *dx = f == Facing::Right ? 1 : (f == Facing::Left ? -1 : 0);
  *dy = f == Facing::Down ? 1 : (f == Facing::Up ? -1 : 0);
}

}  // namespace

const std::vector<RelationInfo>& relation_table() {
  static const std::vector<RelationInfo> table = {
      {Relation::LeftOf, "left of", "Projective", true},
      {Relation::RightOf, "right of", "Projective", true},
      {Relation::Above, "above", "Projective", true},
      {Relation::Below, "below", "Projective", true},
      {Relation::OnTopOf, "on top of", "Projective", true},
      {Relation::Under, "under", "Projective", true},
      {Relation::Beside, "beside", "Projective", true},
      {Relation::NextTo, "next to", "Unallocated", true},
      {Relation::AtLeftSideOf, "at the left side of", "Adjacency", true},
      {Relation::AtRightSideOf, "at the right side of", "Adjacency", true},
      {Relation::Near, "near", "Proximity", true},
      {Relation::FarFrom, "far from", "Proximity", true},
      {Relation::Touching, "touching", "Topological", true},
      {Relation::Inside, "inside", "Topological", true},
      {Relation::Contains, "contains", "Topological", false},
      {Relation::InFrontOf, "in front of", "Projective", true},
      {Relation::Behind, "behind", "Projective", true},
      {Relation::Facing, "facing", "Orientation", true},
      {Relation::FacingAwayFrom, "facing away from", "Orientation", true},
  };
  return table;
}

const RelationInfo& relation_info(Relation relation) {
  return relation_table()[static_cast<size_t>(relation)];
}

std::optional<Relation> relation_from_name(const std::string& name) {
  for (const RelationInfo& info : relation_table())
    if (info.name == name) return info.relation;
  return std::nullopt;
}

std::vector<uint8_t> chebyshev_distance(const Mask& mask) {
  const int n = mask.size;
  std::vector<uint8_t> d(static_cast<size_t>(n) * n, 255);
  if (mask.empty()) return d;
  // Distances up to kDistanceCap are exact inside the mask's box grown by the cap: the
  // king-move path to the nearest mask pixel stays inside that rectangle. Further
  // pixels keep 255.
  const int x0 = std::max(0, mask.x0 - kDistanceCap), x1 = std::min(n - 1, mask.x1 + kDistanceCap);
  const int y0 = std::max(0, mask.y0 - kDistanceCap), y1 = std::min(n - 1, mask.y1 + kDistanceCap);
  const int w = x1 - x0 + 3, h = y1 - y0 + 3;  // window with a 1-pixel border of 255
  std::vector<uint8_t> b(static_cast<size_t>(w) * h, 255);
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x)
      if (mask.at(x, y)) b[static_cast<size_t>(y - y0 + 1) * w + (x - x0 + 1)] = 0;
  const auto step = [](uint8_t here, uint8_t there) -> uint8_t {
    return there < 254 && there + 1 < here ? static_cast<uint8_t>(there + 1) : here;
  };
  // Two-pass chamfer with unit weights on all 8 neighbours = exact Chebyshev distance.
  for (int y = 1; y < h - 1; ++y) {
    uint8_t* row = &b[static_cast<size_t>(y) * w];
    const uint8_t* up = row - w;
    for (int x = 1; x < w - 1; ++x) {
      uint8_t v = row[x];
      v = step(v, row[x - 1]);
      v = step(v, up[x - 1]);
      v = step(v, up[x]);
      v = step(v, up[x + 1]);
      row[x] = v;
    }
  }
  for (int y = h - 2; y >= 1; --y) {
    uint8_t* row = &b[static_cast<size_t>(y) * w];
    const uint8_t* down = row + w;
    for (int x = w - 2; x >= 1; --x) {
      uint8_t v = row[x];
      v = step(v, row[x + 1]);
      v = step(v, down[x + 1]);
      v = step(v, down[x]);
      v = step(v, down[x - 1]);
      row[x] = v;
    }
  }
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) {
      const uint8_t v = b[static_cast<size_t>(y - y0 + 1) * w + (x - x0 + 1)];
      d[static_cast<size_t>(y) * n + x] = v <= kDistanceCap ? v : 255;
    }
  return d;
}

int mask_gap(const Mask& mask, const std::vector<uint8_t>& distance) {
  int best = 255;
  for (int y = mask.y0; y <= mask.y1; ++y)
    for (int x = mask.x0; x <= mask.x1; ++x)
      if (mask.at(x, y)) best = std::min<int>(best, distance[static_cast<size_t>(y) * mask.size + x]);
  return best;
}

SceneGeometry::SceneGeometry(const Scene& scene, const WorldOptions& options)
    : scene_(scene), options_(options), cell_(cell_size(options)) {
  if (scene.image_size != options.image_size)
    fail("world scene: image_size {} differs from the options' image_size {}", scene.image_size,
         options.image_size);
  const size_t n = scene.objects.size();
  std::vector<std::vector<uint8_t>> distance;
  for (const Object& o : scene.objects) {
    masks_.push_back(object_mask(o, options));
    footprints_.push_back(o.shape == Shape::Ring ? object_footprint(o, options) : masks_.back());
    distance.push_back(chebyshev_distance(masks_.back()));
  }
  // Visible pixels: not covered by an object drawn later (higher depth, or equal depth
  // and later in the list, as draw_order).
  visible_.assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    const Mask& m = masks_[i];
    for (int y = m.y0; y <= m.y1; ++y)
      for (int x = m.x0; x <= m.x1; ++x) {
        if (!m.at(x, y)) continue;
        bool covered = false;
        for (size_t j = 0; j < n && !covered; ++j) {
          if (j == i) continue;
          const bool later = scene.objects[j].depth > scene.objects[i].depth ||
                             (scene.objects[j].depth == scene.objects[i].depth && j > i);
          covered = later && masks_[j].at(x, y);
        }
        if (!covered) ++visible_[i];
      }
  }
  gap_.assign(n * n, 0);
  overlap_.assign(n * n, 0);
  inside_.assign(n * n, 0);
  for (size_t a = 0; a < n; ++a)
    for (size_t b = 0; b < n; ++b) {
      if (a == b) continue;
      gap_[a * n + b] = mask_gap(masks_[b], distance[a]);
      const Mask& ma = masks_[a];
      const Mask& mb = masks_[b];
      int64_t count = 0;
      for (int y = std::max(ma.y0, mb.y0); y <= std::min(ma.y1, mb.y1); ++y)
        for (int x = std::max(ma.x0, mb.x0); x <= std::min(ma.x1, mb.x1); ++x)
          if (ma.at(x, y) && mb.at(x, y)) ++count;
      overlap_[a * n + b] = count;
    }
  for (size_t a = 0; a < n; ++a)
    for (size_t b = 0; b < n; ++b)
      if (a != b) inside_[a * n + b] = compute_inside(a, b) ? 1 : 0;
}

bool SceneGeometry::compute_inside(size_t a, size_t b) const {
  const Object& oa = scene_.objects[a];
  const Object& ob = scene_.objects[b];
  if (ob.shape == Shape::Sign || oa.depth <= ob.depth) return false;
  const Mask& ma = masks_[a];
  const Mask& fb = footprints_[b];
  if (ma.empty()) return false;
  const int n = ma.size;
  for (int y = ma.y0; y <= ma.y1; ++y)
    for (int x = ma.x0; x <= ma.x1; ++x) {
      if (!ma.at(x, y)) continue;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int nx = x + dx, ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= n || ny >= n || !fb.at(nx, ny)) return false;
        }
    }
  return true;
}

int SceneGeometry::hgap(size_t a, size_t b) const {
  const Mask& ma = masks_[a];
  const Mask& mb = masks_[b];
  return std::max(mb.x0 - ma.x1, ma.x0 - mb.x1) - 1;
}

int SceneGeometry::vgap(size_t a, size_t b) const {
  const Mask& ma = masks_[a];
  const Mask& mb = masks_[b];
  return std::max(mb.y0 - ma.y1, ma.y0 - mb.y1) - 1;
}

double SceneGeometry::vertical_overlap(size_t a, size_t b) const {
  const Mask& ma = masks_[a];
  const Mask& mb = masks_[b];
  const int shared = std::min(ma.y1, mb.y1) - std::max(ma.y0, mb.y0) + 1;
  const int smaller = std::min(ma.height(), mb.height());
  if (shared <= 0 || smaller <= 0) return 0.0;
  return static_cast<double>(shared) / smaller;
}

Truth SceneGeometry::axis(double delta) const {
  const double margin = options_.relation.axis_margin * cell_;
  if (delta >= margin) return Truth::True;
  if (delta <= -margin) return Truth::False;
  return Truth::Ambiguous;
}

Truth SceneGeometry::touching(size_t a, size_t b) const {
  const int g = gap(a, b);
  if (g >= options_.relation.contact_false_gap_px + 1) return Truth::False;
  if (g > 1 || contained(a, b)) return Truth::Ambiguous;
  const double smaller = static_cast<double>(std::min(masks_[a].area, masks_[b].area));
  if (static_cast<double>(overlap(a, b)) <= options_.relation.touching_max_overlap * smaller) return Truth::True;
  return Truth::Ambiguous;
}

bool SceneGeometry::rests_on(size_t a, size_t b) const {
  if (touching(a, b) != Truth::True) return false;
  const Object& oa = scene_.objects[a];
  const Object& ob = scene_.objects[b];
  const Mask& ma = masks_[a];
  const Mask& mb = masks_[b];
  if (ob.y - oa.y < 0.5 * cell_) return false;
  if (ma.y1 > mb.y0 + 2) return false;
  const int shared = std::min(ma.x1, mb.x1) - std::max(ma.x0, mb.x0) + 1;
  return shared >= 0.5 * std::min(ma.width(), mb.width());
}

Truth SceneGeometry::on_top_of(size_t a, size_t b) const {
  const Truth t = touching(a, b);
  if (t == Truth::False) return Truth::False;
  if (t == Truth::Ambiguous) return Truth::Ambiguous;
  if (rests_on(a, b)) return Truth::True;
  if (rests_on(b, a) || vertical_overlap(a, b) >= 0.5) return Truth::False;
  return Truth::Ambiguous;
}

Truth SceneGeometry::beside(size_t a, size_t b) const {
  const RelationOptions& r = options_.relation;
  const int h = hgap(a, b);
  const double vov = vertical_overlap(a, b);
  if (vov >= r.beside_min_overlap && h >= 0 && h <= r.beside_max_gap * cell_) return Truth::True;
  if (h >= r.beside_false_gap * cell_ || (vov == 0.0 && vgap(a, b) >= 0.5 * cell_)) return Truth::False;
  return Truth::Ambiguous;
}

Truth SceneGeometry::near(size_t a, size_t b) const {
  const double gx = std::max(0, hgap(a, b));
  const double gy = std::max(0, vgap(a, b));
  const double g2 = gx * gx + gy * gy;
  const double near_max = options_.relation.near_max_gap * cell_;
  const double far_min = options_.relation.far_min_gap * cell_;
  if (g2 <= near_max * near_max) return Truth::True;
  if (g2 >= far_min * far_min) return Truth::False;
  return Truth::Ambiguous;
}

Truth SceneGeometry::inside(size_t a, size_t b) const {
  if (inside_true(a, b)) return Truth::True;
  if (gap(a, b) >= options_.relation.contact_false_gap_px + 1 || inside_true(b, a)) return Truth::False;
  return Truth::Ambiguous;
}

Truth SceneGeometry::in_front_of(size_t a, size_t b) const {
  if (contained(a, b)) return Truth::Ambiguous;
  const RelationOptions& r = options_.relation;
  const double smaller = static_cast<double>(std::min(masks_[a].area, masks_[b].area));
  const double need = std::max<double>(r.min_overlap_px, r.min_overlap_fraction * smaller);
  if (static_cast<double>(overlap(a, b)) < need) return Truth::Ambiguous;
  const int da = scene_.objects[a].depth, db = scene_.objects[b].depth;
  if (da == db) return Truth::Ambiguous;
  return da > db ? Truth::True : Truth::False;
}

Truth SceneGeometry::facing(size_t a, size_t b, bool away) const {
  const Object& oa = scene_.objects[a];
  const Object& ob = scene_.objects[b];
  if (oa.shape != Shape::Arrow || oa.facing == Facing::None) return Truth::Ambiguous;
  const double vx = ob.x - oa.x, vy = ob.y - oa.y;
  const double length = std::sqrt(vx * vx + vy * vy);
  if (length < cell_) return Truth::Ambiguous;
  double fx, fy;
  facing_vector(oa.facing, &fx, &fy);
  // cos(angle between the arrow and B - A), negated for "away" (angle -> 180 - angle).
  const double cosine = (away ? -1.0 : 1.0) * (vx * fx + vy * fy) / length;
  const double cos_true = std::cos(options_.relation.facing_true_deg * kPi / 180.0);
  const double cos_false = std::cos(options_.relation.facing_false_deg * kPi / 180.0);
  if (cosine >= cos_true) return Truth::True;
  if (cosine <= cos_false) return Truth::False;
  return Truth::Ambiguous;
}

Truth SceneGeometry::relation(Relation relation, size_t a, size_t b) const {
  if (a == b || a >= size() || b >= size()) return Truth::Ambiguous;
  const Object& oa = scene_.objects[a];
  const Object& ob = scene_.objects[b];
  switch (relation) {
    case Relation::LeftOf:
      return contained(a, b) ? Truth::Ambiguous : axis(ob.x - oa.x);
    case Relation::RightOf:
      return contained(a, b) ? Truth::Ambiguous : axis(oa.x - ob.x);
    case Relation::Above:
      return contained(a, b) ? Truth::Ambiguous : axis(ob.y - oa.y);
    case Relation::Below:
      return contained(a, b) ? Truth::Ambiguous : axis(oa.y - ob.y);
    case Relation::OnTopOf:
      return on_top_of(a, b);
    case Relation::Under:
      return on_top_of(b, a);
    case Relation::Beside:
    case Relation::NextTo:
      return beside(a, b);
    case Relation::AtLeftSideOf:
      return both(beside(a, b), this->relation(Relation::LeftOf, a, b));
    case Relation::AtRightSideOf:
      return both(beside(a, b), this->relation(Relation::RightOf, a, b));
    case Relation::Near:
      return near(a, b);
    case Relation::FarFrom:
      return negate(near(a, b));
    case Relation::Touching:
      return touching(a, b);
    case Relation::Inside:
      return inside(a, b);
    case Relation::Contains:
      return inside(b, a);
    case Relation::InFrontOf:
      return in_front_of(a, b);
    case Relation::Behind:
      return in_front_of(b, a);
    case Relation::Facing:
      return facing(a, b, false);
    case Relation::FacingAwayFrom:
      return facing(a, b, true);
  }
  return Truth::Ambiguous;
}

std::string scene_problem(const Scene& scene, const SceneGeometry& geometry, const WorldOptions& options) {
  const int size = options.image_size;
  if (scene.image_size != size) return fmt::format("image_size {} is not {}", scene.image_size, size);
  if (scene.objects.empty()) return "no objects";
  std::set<Colour> colours;
  std::set<int> depths;
  for (size_t i = 0; i < scene.objects.size(); ++i) {
    const Object& o = scene.objects[i];
    const double r = half_extent(o.size, options);
    if (o.x - r < 1 || o.y - r < 1 || o.x + r > size - 1 || o.y + r > size - 1)
      return fmt::format("object {} ({}) leaves the image", i, o.name());
    if (!colours.insert(o.colour).second) return fmt::format("colour {} used twice", colour_name(o.colour));
    if (!depths.insert(o.depth).second) return fmt::format("depth {} used twice", o.depth);
    if (o.shape == Shape::Sign) {
      if (o.text == 0 || options.sign_characters.find(o.text) == std::string::npos)
        return fmt::format("sign {} has no character from sign_characters", i);
      if (static_cast<int>(o.size) < static_cast<int>(min_sign_size(options)))
        return fmt::format("sign {} is too small for its glyph", i);
    } else if (o.text != 0) {
      return fmt::format("object {} ({}) carries text but is not a sign", i, o.name());
    }
    if ((o.shape == Shape::Arrow) != (o.facing != Facing::None))
      return fmt::format("object {} ({}): only arrows have a direction, and every arrow has one", i, o.name());
    const Mask& m = geometry.mask(i);
    const int64_t visible = geometry.visible_area(i);
    if (2 * visible < m.area) return fmt::format("object {} ({}) is less than half visible", i, o.name());
    if ((o.shape == Shape::Sign || o.shape == Shape::Arrow) && visible != m.area)
      return fmt::format("object {} ({}) is partly covered", i, o.name());
  }
  return "";
}

}  // namespace sightline
