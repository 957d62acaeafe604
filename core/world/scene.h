// The shapes world: scenes of 1-4 flat coloured shapes on a dark background, described in
// words with grid cells ("large red circle x3 y5 z1"), rendered to small RGB images.
//
// Coordinates are pixels: x to the right, y downwards, pixel (i, j) covers the square
// [i, i+1) x [j, j+1) and is sampled at its centre (i + 0.5, j + 0.5).
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sightline {

enum class Shape : uint8_t { Circle, Square, Triangle, Cross, Ring, Arrow, Sign };
enum class Colour : uint8_t { Red, Green, Blue, Yellow, Purple, Orange, White, Cyan };
enum class SizeClass : uint8_t { Small, Medium, Large };
// Where an arrow points; None for every other shape.
enum class Facing : uint8_t { None, Left, Right, Up, Down };

const std::vector<Shape>& all_shapes();
const std::vector<Colour>& all_colours();
const std::vector<SizeClass>& all_sizes();
// The four directions of an arrow (Facing::None excluded).
const std::vector<Facing>& all_facings();

std::string shape_name(Shape shape);    // "circle", ..., "sign"
std::string shape_plural(Shape shape);  // "circles", "crosses", ...
std::string colour_name(Colour colour); // "red", ...
std::string size_name(SizeClass size);  // "small", "medium", "large"
std::string facing_name(Facing facing); // "left", "right", "up", "down", "none"
// Inverse lookups; nullopt for an unknown name.
std::optional<Shape> shape_from_name(const std::string& name);
std::optional<Colour> colour_from_name(const std::string& name);
std::optional<SizeClass> size_from_name(const std::string& name);
std::optional<Facing> facing_from_name(const std::string& name);

// Display colour, chosen to stay distinct from each other on the dark background.
std::array<uint8_t, 3> colour_rgb(Colour colour);

struct Object {
  Shape shape = Shape::Circle;
  Colour colour = Colour::Red;
  SizeClass size = SizeClass::Medium;
  float x = 0.f, y = 0.f;         // centre, pixels
  int depth = 0;                  // draw order: a higher depth is drawn later, in front
  Facing facing = Facing::None;   // arrows only
  char text = 0;                  // signs only: 'A'-'Z' or '0'-'9', drawn as a dark glyph

  // "red circle": colour and shape. Colours are distinct within a scene, so the name is
  // unambiguous.
  std::string name() const;
};

struct Scene {
  int image_size = 64;
  std::vector<Object> objects;
};

// Thresholds of the relation definitions (relations.h), in grid cells
// (image_size / grid pixels) unless said otherwise. Between a relation's "true" and
// "false" thresholds lies an ambiguous band that datasets never ask about.
struct RelationOptions {
  double axis_margin = 1.0;         // left of/right of/above/below: centre offset >= 1 cell
  int contact_false_gap_px = 3;     // touching etc. false: >= 3 background pixels between masks
  double touching_max_overlap = 0.2;// touching true: overlap <= 20% of the smaller mask
  double beside_max_gap = 1.0;      // beside true: <= 1 cell of background between boxes
  double beside_false_gap = 2.5;    // beside false: >= 2.5 cells apart sideways
  double beside_min_overlap = 0.5;  // beside true: vertical box overlap >= 50% of the smaller
  double near_max_gap = 1.0;        // near true: box gap <= 1 cell
  double far_min_gap = 2.5;         // far from true (near false): box gap >= 2.5 cells
  int min_overlap_px = 6;           // in front of/behind: at least 6 overlapping pixels
  double min_overlap_fraction = 0.08;  // ... and 8% of the smaller mask
  double facing_true_deg = 30.0;    // facing true: other object within 30 deg of the arrow
  double facing_false_deg = 75.0;   // facing false: at least 75 deg off
};

struct WorldOptions {
  int image_size = 64;     // square images, pixels
  int grid = 8;            // positions in text are cells x0..x{grid-1}, y0..y{grid-1}
  int min_objects = 1;     // objects per scene (scenes asked about a relation have >= 2)
  int max_objects = 4;
  // Half-extent of each size class as a fraction of image_size (4.5, 6.4, 9.0 px at 64).
  double small_extent = 0.07;
  double medium_extent = 0.10;
  double large_extent = 0.14;
  std::array<uint8_t, 3> background{24, 24, 32};
  // Shapes and colours scenes draw from (colours are distinct within a scene, so at least
  // max_objects colours).
  std::vector<Shape> shapes = all_shapes();
  std::vector<Colour> colours = all_colours();
  // Characters written on signs; the confusable O/0 and I/1 are left out by default.
  std::string sign_characters = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  RelationOptions relation;
};

// Throws Error naming the field when an option is out of range.
void validate_world_options(const WorldOptions& options);

nlohmann::json world_options_to_json(const WorldOptions& options);
// Missing fields keep their defaults; throws Error naming `where` and the field at fault.
WorldOptions world_options_from_json(const nlohmann::json& j, const std::string& where);

// Half-extent of an object's bounding square, pixels.
double half_extent(SizeClass size, const WorldOptions& options);
// Grid cell (0..grid-1) of a pixel coordinate.
int grid_cell(double coordinate, const WorldOptions& options);
// Pixels per grid cell.
double cell_size(const WorldOptions& options);

nlohmann::json scene_to_json(const Scene& scene);
// Throws Error naming `where` and the field at fault.
Scene scene_from_json(const nlohmann::json& j, const std::string& where);

}  // namespace sightline
