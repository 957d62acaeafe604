#include "core/world/scene.h"

#include <cmath>

#include "core/common/error.h"
#include "core/io/json_util.h"

namespace sightline {

namespace {

using json = nlohmann::json;

template <typename E>
std::optional<E> from_name(const std::vector<E>& all, std::string (*name_of)(E), const std::string& name) {
  for (const E e : all)
    if (name_of(e) == name) return e;
  return std::nullopt;
}

template <typename E>
std::vector<std::string> names_of(const std::vector<E>& values, std::string (*name_of)(E)) {
  std::vector<std::string> out;
  for (const E e : values) out.push_back(name_of(e));
  return out;
}

}  // namespace

const std::vector<Shape>& all_shapes() {
  static const std::vector<Shape> v = {Shape::Circle, Shape::Square, Shape::Triangle, Shape::Cross,
                                       Shape::Ring,   Shape::Arrow,  Shape::Sign};
  return v;
}

const std::vector<Colour>& all_colours() {
  static const std::vector<Colour> v = {Colour::Red,    Colour::Green,  Colour::Blue,  Colour::Yellow,
                                        Colour::Purple, Colour::Orange, Colour::White, Colour::Cyan};
  return v;
}

const std::vector<SizeClass>& all_sizes() {
  static const std::vector<SizeClass> v = {SizeClass::Small, SizeClass::Medium, SizeClass::Large};
  return v;
}

const std::vector<Facing>& all_facings() {
  static const std::vector<Facing> v = {Facing::Left, Facing::Right, Facing::Up, Facing::Down};
  return v;
}

std::string shape_name(Shape shape) {
  switch (shape) {
    case Shape::Circle: return "circle";
    case Shape::Square: return "square";
    case Shape::Triangle: return "triangle";
    case Shape::Cross: return "cross";
    case Shape::Ring: return "ring";
    case Shape::Arrow: return "arrow";
    case Shape::Sign: return "sign";
  }
  return "?";
}

std::string shape_plural(Shape shape) { return shape == Shape::Cross ? "crosses" : shape_name(shape) + "s"; }

std::string colour_name(Colour colour) {
  switch (colour) {
    case Colour::Red: return "red";
    case Colour::Green: return "green";
    case Colour::Blue: return "blue";
    case Colour::Yellow: return "yellow";
    case Colour::Purple: return "purple";
    case Colour::Orange: return "orange";
    case Colour::White: return "white";
    case Colour::Cyan: return "cyan";
  }
  return "?";
}

std::string size_name(SizeClass size) {
  switch (size) {
    case SizeClass::Small: return "small";
    case SizeClass::Medium: return "medium";
    case SizeClass::Large: return "large";
  }
  return "?";
}

std::string facing_name(Facing facing) {
  switch (facing) {
    case Facing::None: return "none";
    case Facing::Left: return "left";
    case Facing::Right: return "right";
    case Facing::Up: return "up";
    case Facing::Down: return "down";
  }
  return "?";
}

std::optional<Shape> shape_from_name(const std::string& name) { return from_name(all_shapes(), shape_name, name); }
std::optional<Colour> colour_from_name(const std::string& name) {
  return from_name(all_colours(), colour_name, name);
}
std::optional<SizeClass> size_from_name(const std::string& name) { return from_name(all_sizes(), size_name, name); }
std::optional<Facing> facing_from_name(const std::string& name) {
  if (name == "none") return Facing::None;
  return from_name(all_facings(), facing_name, name);
}

std::array<uint8_t, 3> colour_rgb(Colour colour) {
  switch (colour) {
    case Colour::Red: return {230, 40, 40};
    case Colour::Green: return {40, 190, 60};
    case Colour::Blue: return {60, 110, 255};
    case Colour::Yellow: return {240, 220, 40};
    case Colour::Purple: return {170, 70, 230};
    case Colour::Orange: return {255, 140, 0};
    case Colour::White: return {240, 240, 240};
    case Colour::Cyan: return {40, 220, 230};
  }
  return {0, 0, 0};
}

std::string Object::name() const { return colour_name(colour) + " " + shape_name(shape); }

double half_extent(SizeClass size, const WorldOptions& options) {
  const double fraction = size == SizeClass::Small    ? options.small_extent
                          : size == SizeClass::Medium ? options.medium_extent
                                                      : options.large_extent;
  return fraction * options.image_size;
}

double cell_size(const WorldOptions& options) {
  return static_cast<double>(options.image_size) / options.grid;
}

int grid_cell(double coordinate, const WorldOptions& options) {
  const int cell = static_cast<int>(std::floor(coordinate / cell_size(options)));
  return cell < 0 ? 0 : (cell >= options.grid ? options.grid - 1 : cell);
}

void validate_world_options(const WorldOptions& o) {
  check(o.image_size >= 32 && o.image_size <= 4096, "world options: image_size {} must be in [32, 4096]",
        o.image_size);
  check(o.grid >= 2 && o.grid <= o.image_size / 4, "world options: grid {} must be in [2, image_size / 4]", o.grid);
  check(o.min_objects >= 1, "world options: min_objects {} must be >= 1", o.min_objects);
  check(o.max_objects >= 2 && o.max_objects >= o.min_objects && o.max_objects <= 8,
        "world options: max_objects {} must be in [max(2, min_objects), 8]", o.max_objects);
  check(o.small_extent > 0 && o.small_extent < o.medium_extent && o.medium_extent < o.large_extent &&
            o.large_extent <= 0.2,
        "world options: extents must satisfy 0 < small_extent < medium_extent < large_extent <= 0.2");
  check(o.small_extent * o.image_size >= 3.0, "world options: small_extent * image_size must be >= 3 pixels");
  check(!o.shapes.empty(), "world options: shapes is empty");
  check(static_cast<int>(o.colours.size()) >= o.max_objects,
        "world options: colours ({}) must be at least max_objects ({}): colours are distinct in a scene",
        o.colours.size(), o.max_objects);
  for (const char c : o.sign_characters)
    check((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'),
          "world options: sign_characters may hold only A-Z and 0-9, got '{}'", c);
  check(!o.sign_characters.empty(), "world options: sign_characters is empty");
  const RelationOptions& r = o.relation;
  check(r.axis_margin > 0, "world options: relation.axis_margin must be > 0");
  check(r.contact_false_gap_px >= 1 && r.contact_false_gap_px <= 7,
        "world options: relation.contact_false_gap_px {} must be in [1, 7]", r.contact_false_gap_px);
  check(r.touching_max_overlap >= 0 && r.touching_max_overlap < 1,
        "world options: relation.touching_max_overlap must be in [0, 1)");
  check(r.beside_max_gap >= 0 && r.beside_false_gap > r.beside_max_gap,
        "world options: relation.beside_false_gap must exceed beside_max_gap >= 0");
  check(r.beside_min_overlap > 0 && r.beside_min_overlap <= 1,
        "world options: relation.beside_min_overlap must be in (0, 1]");
  check(r.near_max_gap >= 0 && r.far_min_gap > r.near_max_gap,
        "world options: relation.far_min_gap must exceed near_max_gap >= 0");
  check(r.min_overlap_px >= 1, "world options: relation.min_overlap_px must be >= 1");
  check(r.min_overlap_fraction >= 0 && r.min_overlap_fraction < 1,
        "world options: relation.min_overlap_fraction must be in [0, 1)");
  check(r.facing_true_deg > 0 && r.facing_false_deg > r.facing_true_deg && r.facing_false_deg < 90,
        "world options: relation needs 0 < facing_true_deg < facing_false_deg < 90");
}

json world_options_to_json(const WorldOptions& o) {
  const RelationOptions& r = o.relation;
  return json{{"image_size", o.image_size},
              {"grid", o.grid},
              {"min_objects", o.min_objects},
              {"max_objects", o.max_objects},
              {"small_extent", o.small_extent},
              {"medium_extent", o.medium_extent},
              {"large_extent", o.large_extent},
              {"background", std::vector<int>{o.background[0], o.background[1], o.background[2]}},
              {"shapes", names_of(o.shapes, shape_name)},
              {"colours", names_of(o.colours, colour_name)},
              {"sign_characters", o.sign_characters},
              {"relation",
               {{"axis_margin", r.axis_margin},
                {"contact_false_gap_px", r.contact_false_gap_px},
                {"touching_max_overlap", r.touching_max_overlap},
                {"beside_max_gap", r.beside_max_gap},
                {"beside_false_gap", r.beside_false_gap},
                {"beside_min_overlap", r.beside_min_overlap},
                {"near_max_gap", r.near_max_gap},
                {"far_min_gap", r.far_min_gap},
                {"min_overlap_px", r.min_overlap_px},
                {"min_overlap_fraction", r.min_overlap_fraction},
                {"facing_true_deg", r.facing_true_deg},
                {"facing_false_deg", r.facing_false_deg}}}};
}

WorldOptions world_options_from_json(const json& j, const std::string& where) {
  WorldOptions o;
  o.image_size = json_get_or<int>(j, "image_size", o.image_size, where);
  o.grid = json_get_or<int>(j, "grid", o.grid, where);
  o.min_objects = json_get_or<int>(j, "min_objects", o.min_objects, where);
  o.max_objects = json_get_or<int>(j, "max_objects", o.max_objects, where);
  o.small_extent = json_get_or<double>(j, "small_extent", o.small_extent, where);
  o.medium_extent = json_get_or<double>(j, "medium_extent", o.medium_extent, where);
  o.large_extent = json_get_or<double>(j, "large_extent", o.large_extent, where);
  if (j.contains("background")) {
    const auto bg = json_get<std::vector<int>>(j, "background", where);
    if (bg.size() != 3) fail("file '{}': field 'background' must hold 3 values, got {}", where, bg.size());
    for (size_t c = 0; c < 3; ++c) {
      if (bg[c] < 0 || bg[c] > 255) fail("file '{}': field 'background[{}]' = {} is not in [0, 255]", where, c, bg[c]);
      o.background[c] = static_cast<uint8_t>(bg[c]);
    }
  }
  if (j.contains("shapes")) {
    o.shapes.clear();
    for (const std::string& name : json_get<std::vector<std::string>>(j, "shapes", where)) {
      const auto s = shape_from_name(name);
      if (!s) fail("file '{}': field 'shapes' holds unknown shape '{}'", where, name);
      o.shapes.push_back(*s);
    }
  }
  if (j.contains("colours")) {
    o.colours.clear();
    for (const std::string& name : json_get<std::vector<std::string>>(j, "colours", where)) {
      const auto c = colour_from_name(name);
      if (!c) fail("file '{}': field 'colours' holds unknown colour '{}'", where, name);
      o.colours.push_back(*c);
    }
  }
  o.sign_characters = json_get_or<std::string>(j, "sign_characters", o.sign_characters, where);
  if (j.contains("relation")) {
    const json& rj = j.at("relation");
    const std::string rw = where + ": relation";
    RelationOptions& r = o.relation;
    r.axis_margin = json_get_or<double>(rj, "axis_margin", r.axis_margin, rw);
    r.contact_false_gap_px = json_get_or<int>(rj, "contact_false_gap_px", r.contact_false_gap_px, rw);
    r.touching_max_overlap = json_get_or<double>(rj, "touching_max_overlap", r.touching_max_overlap, rw);
    r.beside_max_gap = json_get_or<double>(rj, "beside_max_gap", r.beside_max_gap, rw);
    r.beside_false_gap = json_get_or<double>(rj, "beside_false_gap", r.beside_false_gap, rw);
    r.beside_min_overlap = json_get_or<double>(rj, "beside_min_overlap", r.beside_min_overlap, rw);
    r.near_max_gap = json_get_or<double>(rj, "near_max_gap", r.near_max_gap, rw);
    r.far_min_gap = json_get_or<double>(rj, "far_min_gap", r.far_min_gap, rw);
    r.min_overlap_px = json_get_or<int>(rj, "min_overlap_px", r.min_overlap_px, rw);
    r.min_overlap_fraction = json_get_or<double>(rj, "min_overlap_fraction", r.min_overlap_fraction, rw);
    r.facing_true_deg = json_get_or<double>(rj, "facing_true_deg", r.facing_true_deg, rw);
    r.facing_false_deg = json_get_or<double>(rj, "facing_false_deg", r.facing_false_deg, rw);
  }
  try {
    validate_world_options(o);
  } catch (const Error& e) {
    fail("file '{}': {}", where, e.what());
  }
  return o;
}

json scene_to_json(const Scene& scene) {
  json objects = json::array();
  for (const Object& o : scene.objects) {
    json jo{{"shape", shape_name(o.shape)}, {"colour", colour_name(o.colour)}, {"size", size_name(o.size)},
            {"x", o.x},  {"y", o.y}, {"depth", o.depth}};
    if (o.facing != Facing::None) jo["facing"] = facing_name(o.facing);
    if (o.text != 0) jo["text"] = std::string(1, o.text);
    objects.push_back(std::move(jo));
  }
  return json{{"image_size", scene.image_size}, {"objects", std::move(objects)}};
}

Scene scene_from_json(const json& j, const std::string& where) {
  Scene scene;
  scene.image_size = json_get<int>(j, "image_size", where);
  const json objects = json_get<json>(j, "objects", where);
  if (!objects.is_array()) fail("file '{}': field 'objects' must be an array", where);
  for (size_t i = 0; i < objects.size(); ++i) {
    const std::string w = fmt::format("{}: objects[{}]", where, i);
    const json& jo = objects[i];
    Object o;
    const std::string shape = json_get<std::string>(jo, "shape", w);
    const std::string colour = json_get<std::string>(jo, "colour", w);
    const std::string size = json_get<std::string>(jo, "size", w);
    const auto s = shape_from_name(shape);
    const auto c = colour_from_name(colour);
    const auto z = size_from_name(size);
    if (!s) fail("file '{}': field 'shape' is unknown shape '{}'", w, shape);
    if (!c) fail("file '{}': field 'colour' is unknown colour '{}'", w, colour);
    if (!z) fail("file '{}': field 'size' is unknown size '{}'", w, size);
    o.shape = *s;
    o.colour = *c;
    o.size = *z;
    o.x = json_get<float>(jo, "x", w);
    o.y = json_get<float>(jo, "y", w);
    o.depth = json_get<int>(jo, "depth", w);
    const std::string facing = json_get_or<std::string>(jo, "facing", "none", w);
    const auto f = facing_from_name(facing);
    if (!f) fail("file '{}': field 'facing' is unknown direction '{}'", w, facing);
    o.facing = *f;
    const std::string text = json_get_or<std::string>(jo, "text", "", w);
    if (text.size() > 1) fail("file '{}': field 'text' must be one character, got '{}'", w, text);
    o.text = text.empty() ? 0 : text[0];
    scene.objects.push_back(o);
  }
  return scene;
}

}  // namespace sightline
