#include "core/world/generator.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/common/error.h"

namespace sightline {

namespace {

constexpr int kMaxAttempts = 2000;
constexpr int kPlacementTries = 40;

// How the subject A is placed relative to the object B.
enum class Kind { Random, Slide, Overlap, Contain };
// For Slide: where A ends up relative to B.
enum class Dir { Any, Up, Down, Left, Right, Sideways, Vertical };

struct Proposal {
  Kind kind = Kind::Random;
  Dir dir = Dir::Any;
  double backoff_min = 0, backoff_max = 0;  // Slide: pixels moved back out of contact (< 0: further in)
  bool a_front = true;                      // Overlap: A drawn in front of B
  bool a_inside = true;                     // Contain: A inside B (else B inside A)
  bool arrow = false;                       // A is an arrow
  int facing_mode = 0;                      // arrow: 0 random, 1 toward B, 2 away from B
};

Proposal slide(Dir dir, double lo, double hi) {
  Proposal p;
  p.kind = Kind::Slide;
  p.dir = dir;
  p.backoff_min = lo;
  p.backoff_max = hi;
  return p;
}

// Relation-specific proposals: constructive for the relations random placement rarely
// produces (contact, overlap, nesting), with hard negatives (the mirrored configuration)
// for about half of the false cases.
Proposal propose(Relation relation, bool label, Rng& rng, const WorldOptions& options) {
  const double c = cell_size(options);
  const RelationOptions& r = options.relation;
  const double near_backoff = 0.9 * r.near_max_gap * c;
  const double beside_backoff = 0.9 * r.beside_max_gap * c;
  Proposal p;
  switch (relation) {
    case Relation::LeftOf:
    case Relation::RightOf:
    case Relation::Above:
    case Relation::Below:
      return p;
    case Relation::Near:
      return label ? slide(Dir::Any, 0, near_backoff) : p;
    case Relation::FarFrom:
      return label ? p : slide(Dir::Any, 0, near_backoff);
    case Relation::Touching:
      if (label) return slide(Dir::Any, -1.5, 0);
      return rng.bernoulli(0.5) ? p : slide(Dir::Any, r.contact_false_gap_px + 1, c + 3);
    case Relation::OnTopOf:
    case Relation::Under: {
      const bool on_top = relation == Relation::OnTopOf;
      if (label) return slide(on_top ? Dir::Up : Dir::Down, -1, 0);
      const double u = rng.uniform();
      if (u < 0.4) return slide(on_top ? Dir::Down : Dir::Up, -1, 0);
      if (u < 0.7) return slide(Dir::Sideways, -1, 0);
      return p;
    }
    case Relation::Beside:
    case Relation::NextTo:
      if (label) return slide(Dir::Sideways, 0, beside_backoff);
      return rng.bernoulli(0.5) ? slide(Dir::Vertical, 0, 0.5 * c) : p;
    case Relation::AtLeftSideOf:
    case Relation::AtRightSideOf: {
      const bool left = relation == Relation::AtLeftSideOf;
      if (label) return slide(left ? Dir::Left : Dir::Right, 0, beside_backoff);
      const double u = rng.uniform();
      if (u < 0.4) return slide(left ? Dir::Right : Dir::Left, 0, beside_backoff);
      if (u < 0.7) return slide(Dir::Vertical, 0, 0.5 * c);
      return p;
    }
    case Relation::Inside:
    case Relation::Contains: {
      const bool a_inside = relation == Relation::Inside;
      if (!label && rng.bernoulli(0.5)) return p;
      p.kind = Kind::Contain;
      p.a_inside = label ? a_inside : !a_inside;
      return p;
    }
    case Relation::InFrontOf:
    case Relation::Behind:
      p.kind = Kind::Overlap;
      p.a_front = (relation == Relation::InFrontOf) == label;
      return p;
    case Relation::Facing:
    case Relation::FacingAwayFrom: {
      const int wanted = relation == Relation::Facing ? 1 : 2;
      p.arrow = true;
      p.facing_mode = label ? wanted : (rng.bernoulli(0.5) ? 3 - wanted : 0);
      return p;
    }
  }
  return p;
}

bool has_shape(const WorldOptions& o, Shape s) { return std::find(o.shapes.begin(), o.shapes.end(), s) != o.shapes.end(); }

// A random object of `colour`; `shapes` restricts the choice when not empty.
Object random_object(Rng& rng, const WorldOptions& options, Colour colour, const std::vector<Shape>& shapes,
                     std::optional<SizeClass> size) {
  Object o;
  o.colour = colour;
  o.shape = rng.pick(shapes.empty() ? options.shapes : shapes);
  o.size = size ? *size : rng.pick(all_sizes());
  if (o.shape == Shape::Sign) {
    const SizeClass smallest = min_sign_size(options);
    if (static_cast<int>(o.size) < static_cast<int>(smallest))
      o.size = static_cast<SizeClass>(rng.uniform_int(static_cast<int>(smallest), static_cast<int>(SizeClass::Large)));
    o.text = options.sign_characters[rng.index(options.sign_characters.size())];
  }
  if (o.shape == Shape::Arrow) o.facing = rng.pick(all_facings());
  return o;
}

std::vector<Shape> shapes_without(const WorldOptions& options, std::initializer_list<Shape> excluded) {
  std::vector<Shape> out;
  for (const Shape s : options.shapes)
    if (std::find(excluded.begin(), excluded.end(), s) == excluded.end()) out.push_back(s);
  return out;
}

void place_random(Object& o, Rng& rng, const WorldOptions& options) {
  const double r = half_extent(o.size, options);
  const double lo = r + 1, hi = options.image_size - 1 - r;
  o.x = static_cast<float>(rng.uniform(lo, hi));
  o.y = static_cast<float>(rng.uniform(lo, hi));
}

// A unit vector from B towards where A should end up.
void direction(Dir dir, Rng& rng, double* dx, double* dy) {
  double x = 0, y = 0;
  const double jitter = rng.uniform(-0.3, 0.3);
  switch (dir) {
    case Dir::Any: {
      double d2 = 0;
      do {
        x = rng.uniform(-1, 1);
        y = rng.uniform(-1, 1);
        d2 = x * x + y * y;
      } while (d2 < 0.25 || d2 > 1.0);
      break;
    }
    case Dir::Up: x = jitter; y = -1; break;
    case Dir::Down: x = jitter; y = 1; break;
    case Dir::Left: x = -1; y = jitter; break;
    case Dir::Right: x = 1; y = jitter; break;
    case Dir::Sideways: x = rng.bernoulli(0.5) ? 1 : -1; y = jitter; break;
    case Dir::Vertical: x = jitter; y = rng.bernoulli(0.5) ? 1 : -1; break;
  }
  const double length = std::sqrt(x * x + y * y);
  *dx = x / length;
  *dy = y / length;
}

// Moves A from far away along (dx, dy) towards B until the masks touch, then `backoff`
// pixels back out (or further in when negative).
void slide_into_contact(Object& a, const Object& b, double dx, double dy, double backoff,
                        const WorldOptions& options) {
  const std::vector<uint8_t> distance = chebyshev_distance(object_mask(b, options));
  const double reach = 1.5 * (half_extent(a.size, options) + half_extent(b.size, options)) + 2;
  double contact = 0;
  for (double t = reach; t >= 0; t -= 0.5) {
    a.x = static_cast<float>(b.x + dx * t);
    a.y = static_cast<float>(b.y + dy * t);
    if (mask_gap(object_mask(a, options), distance) <= 1) {
      contact = t;
      break;
    }
  }
  const double t = std::max(0.0, contact + backoff);
  a.x = static_cast<float>(b.x + dx * t);
  a.y = static_cast<float>(b.y + dy * t);
}

bool in_bounds(const Object& o, const WorldOptions& options) {
  const double r = half_extent(o.size, options);
  return o.x - r >= 1 && o.y - r >= 1 && o.x + r <= options.image_size - 1 && o.y + r <= options.image_size - 1;
}

// Adds objects of colours[first..n) at random places, each keeping clear of all others.
bool add_clear_objects(std::vector<Object>& objects, size_t n, const std::vector<Colour>& colours, Rng& rng,
                       const WorldOptions& options) {
  const int clear = options.relation.contact_false_gap_px + 1;
  std::vector<std::vector<uint8_t>> distances;
  for (const Object& o : objects) distances.push_back(chebyshev_distance(object_mask(o, options)));
  while (objects.size() < n) {
    bool placed = false;
    for (int attempt = 0; attempt < kPlacementTries && !placed; ++attempt) {
      Object o = random_object(rng, options, colours[objects.size()], {}, std::nullopt);
      place_random(o, rng, options);
      const Mask m = object_mask(o, options);
      bool ok = true;
      for (const auto& d : distances) ok = ok && mask_gap(m, d) >= clear;
      if (!ok) continue;
      objects.push_back(o);
      distances.push_back(chebyshev_distance(m));
      placed = true;
    }
    if (!placed) return false;
  }
  return true;
}

Facing toward(const Object& from, const Object& to) {
  const double vx = to.x - from.x, vy = to.y - from.y;
  if (std::fabs(vx) >= std::fabs(vy)) return vx > 0 ? Facing::Right : Facing::Left;
  return vy > 0 ? Facing::Down : Facing::Up;
}

Facing opposite(Facing f) {
  switch (f) {
    case Facing::Left: return Facing::Right;
    case Facing::Right: return Facing::Left;
    case Facing::Up: return Facing::Down;
    case Facing::Down: return Facing::Up;
    case Facing::None: break;
  }
  return Facing::None;
}

// Builds the target pair A (index 0) and B (index 1); false when the proposal failed.
bool build_pair(const Proposal& p, const std::vector<Colour>& colours, Rng& rng, const WorldOptions& options,
                std::vector<Object>& objects) {
  Object a, b;
  switch (p.kind) {
    case Kind::Contain: {
      std::vector<Shape> containers;
      for (const Shape s : {Shape::Circle, Shape::Square, Shape::Ring})
        if (has_shape(options, s)) containers.push_back(s);
      const std::vector<Shape> contents = shapes_without(options, {Shape::Sign});
      if (containers.empty() || contents.empty()) return false;
      Object outer = random_object(rng, options, p.a_inside ? colours[1] : colours[0], containers, SizeClass::Large);
      Object inner = random_object(rng, options, p.a_inside ? colours[0] : colours[1], contents, SizeClass::Small);
      place_random(outer, rng, options);
      const double room = std::max(0.0, 0.5 * (half_extent(outer.size, options) - half_extent(inner.size, options) - 2));
      inner.x = static_cast<float>(outer.x + rng.uniform(-room, room));
      inner.y = static_cast<float>(outer.y + rng.uniform(-room, room));
      a = p.a_inside ? inner : outer;
      b = p.a_inside ? outer : inner;
      break;
    }
    case Kind::Overlap: {
      // The object behind must not be a sign or an arrow: those stay fully visible.
      const std::vector<Shape> back_shapes = shapes_without(options, {Shape::Sign, Shape::Arrow});
      if (back_shapes.empty()) return false;
      a = random_object(rng, options, colours[0], p.a_front ? std::vector<Shape>{} : back_shapes, std::nullopt);
      b = random_object(rng, options, colours[1], p.a_front ? back_shapes : std::vector<Shape>{}, std::nullopt);
      place_random(b, rng, options);
      double dx, dy;
      direction(Dir::Any, rng, &dx, &dy);
      const double t = rng.uniform(0.35, 0.7) * (half_extent(a.size, options) + half_extent(b.size, options));
      a.x = static_cast<float>(b.x + dx * t);
      a.y = static_cast<float>(b.y + dy * t);
      break;
    }
    case Kind::Slide: {
      a = random_object(rng, options, colours[0], {}, std::nullopt);
      b = random_object(rng, options, colours[1], {}, std::nullopt);
      place_random(b, rng, options);
      double dx, dy;
      direction(p.dir, rng, &dx, &dy);
      slide_into_contact(a, b, dx, dy, rng.uniform(p.backoff_min, p.backoff_max), options);
      break;
    }
    case Kind::Random: {
      a = random_object(rng, options, colours[0], p.arrow ? std::vector<Shape>{Shape::Arrow} : std::vector<Shape>{},
                        std::nullopt);
      b = random_object(rng, options, colours[1], {}, std::nullopt);
      place_random(a, rng, options);
      place_random(b, rng, options);
      break;
    }
  }
  if (p.arrow) {
    if (a.shape != Shape::Arrow) return false;
    if (p.facing_mode == 1) a.facing = toward(a, b);
    if (p.facing_mode == 2) a.facing = opposite(toward(a, b));
  }
  if (!in_bounds(a, options) || !in_bounds(b, options)) return false;
  objects = {a, b};
  return true;
}

void assign_depths(std::vector<Object>& objects, Rng& rng) {
  std::vector<int> depth(objects.size());
  std::iota(depth.begin(), depth.end(), 0);
  rng.shuffle(depth);
  for (size_t i = 0; i < objects.size(); ++i) objects[i].depth = depth[i];
}

// Lists the objects in random order; returns where the first two went.
std::pair<int, int> shuffle_objects(std::vector<Object>& objects, Rng& rng) {
  std::vector<size_t> order(objects.size());
  std::iota(order.begin(), order.end(), size_t{0});
  rng.shuffle(order);
  std::vector<Object> shuffled;
  int first = -1, second = -1;
  for (size_t i = 0; i < order.size(); ++i) {
    shuffled.push_back(objects[order[i]]);
    if (order[i] == 0) first = static_cast<int>(i);
    if (order[i] == 1) second = static_cast<int>(i);
  }
  objects.swap(shuffled);
  return {first, second};
}

}  // namespace

GeneratedScene generate_scene(Rng& rng, const WorldOptions& options, const std::optional<RelationTarget>& target) {
  validate_world_options(options);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    std::vector<Colour> colours = options.colours;
    rng.shuffle(colours);
    GeneratedScene out;
    out.scene.image_size = options.image_size;
    std::vector<Object>& objects = out.scene.objects;

    if (!target) {
      const size_t n = static_cast<size_t>(rng.uniform_int(options.min_objects, options.max_objects));
      if (!add_clear_objects(objects, n, colours, rng, options)) continue;
      assign_depths(objects, rng);
      shuffle_objects(objects, rng);
      const SceneGeometry geometry(out.scene, options);
      if (!scene_problem(out.scene, geometry, options).empty()) continue;
      return out;
    }

    const size_t n = static_cast<size_t>(rng.uniform_int(std::max(2, options.min_objects), options.max_objects));
    const Proposal proposal = propose(target->relation, target->label, rng, options);
    if (!build_pair(proposal, colours, rng, options, objects)) continue;
    assign_depths(objects, rng);  // the pair's layers; others go on top below
    const bool a_over_b = objects[0].depth > objects[1].depth;
    const bool want_a_over_b = proposal.kind == Kind::Overlap   ? proposal.a_front
                               : proposal.kind == Kind::Contain ? proposal.a_inside
                                                                : a_over_b;
    if (a_over_b != want_a_over_b) std::swap(objects[0].depth, objects[1].depth);
    {
      // Relations are pairwise, so the pair alone decides; checking it before adding the
      // other objects saves their placement on rejected attempts.
      const SceneGeometry pair(out.scene, options);
      if (pair.relation(target->relation, 0, 1) != (target->label ? Truth::True : Truth::False)) continue;
    }
    if (!add_clear_objects(objects, n, colours, rng, options)) continue;
    // Layers: the pair keeps its order; every object gets a distinct depth 0..n-1.
    std::vector<int> depth(n);
    std::iota(depth.begin(), depth.end(), 0);
    rng.shuffle(depth);
    if ((depth[0] > depth[1]) != (objects[0].depth > objects[1].depth)) std::swap(depth[0], depth[1]);
    for (size_t i = 0; i < n; ++i) objects[i].depth = depth[i];

    const auto [subject, object] = shuffle_objects(objects, rng);
    out.subject = subject;
    out.object = object;
    const SceneGeometry geometry(out.scene, options);
    if (!scene_problem(out.scene, geometry, options).empty()) continue;
    const Truth truth = geometry.relation(target->relation, static_cast<size_t>(subject), static_cast<size_t>(object));
    if (truth != (target->label ? Truth::True : Truth::False)) continue;
    return out;
  }
  if (target)
    fail("world: no scene with '{}' = {} found in {} attempts (options too tight?)",
         relation_info(target->relation).name, target->label ? "true" : "false", kMaxAttempts);
  fail("world: no free scene found in {} attempts (options too tight?)", kMaxAttempts);
}

}  // namespace sightline
