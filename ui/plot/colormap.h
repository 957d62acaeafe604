// Colormap tables for heat maps and density images: 256 RGBA entries each, generated at
// start-up from anchor colours interpolated in the Oklab space (perceptually even steps).
// Pure logic; ui/gl uploads a table as a 256x1 texture for the colormap shaders.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sightline::plot {

enum class Colormap { kViridis, kMagma, kInferno, kPlasma, kCividis, kGray, kCoolWarm };

using Rgba8 = std::array<uint8_t, 4>;

inline constexpr int kColormapCount = 7;
inline constexpr int kColormapSize = 256;

// "viridis", "magma", "inferno", "plasma", "cividis", "gray", "coolwarm".
const char* colormap_name(Colormap map);
// The map with that name, or nullopt.
std::optional<Colormap> colormap_from_name(const std::string& name);
// Diverging maps (coolwarm) are for signed data centred on zero.
bool colormap_is_diverging(Colormap map);

// The 256-entry table of `map` (built once, thread-safe).
const std::vector<Rgba8>& colormap_table(Colormap map);
// The table entry nearest to t in [0, 1] (clamped; NaN -> 0).
Rgba8 colormap_sample(Colormap map, double t);

// sRGB (0..1, gamma encoded) <-> Oklab (L, a, b); exposed for tests.
std::array<double, 3> srgb_to_oklab(const std::array<double, 3>& rgb);
std::array<double, 3> oklab_to_srgb(const std::array<double, 3>& lab);

}  // namespace sightline::plot
