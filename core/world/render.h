// Rendering a scene to an RGB image: background, then each object's mask (raster.h) in
// draw order (painter's algorithm: ascending depth, ties by position in the list), signs
// with their glyph on top of the panel. No anti-aliasing, so every pixel is either the
// background or exactly one object's colour (or a glyph's ink).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/image/image.h"
#include "core/world/scene.h"

namespace sightline {

// The glyph colour on signs.
constexpr std::array<uint8_t, 3> kSignInk{16, 16, 16};

// The colour an object is painted with: colour_rgb, or for a sign the panel colour (the
// colour mixed half-way to white, so the dark glyph stays legible).
std::array<uint8_t, 3> object_fill_rgb(const Object& object);

// Object indices in draw order (back to front).
std::vector<size_t> draw_order(const Scene& scene);

// Renders `scene` at options.image_size (which must equal scene.image_size). Throws Error
// when they differ.
ImageU8 render_scene(const Scene& scene, const WorldOptions& options);

}  // namespace sightline
