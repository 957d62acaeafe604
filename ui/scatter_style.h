// Colours of the Fig. 2 categories, shared by the shaders' uniforms, the legend, the
// overlays and the screenshot tests (which look for these exact RGB values).
#pragma once

#include <array>
#include <cstdint>

namespace sightline::ui {

using Rgb8 = std::array<uint8_t, 3>;

inline constexpr Rgb8 kColorAll = {150, 150, 150};       // every feature: grey
inline constexpr Rgb8 kColorAdapted = {240, 80, 170};    // A: pink, as the paper
inline constexpr Rgb8 kColorCandidate = {70, 140, 255};  // spatial candidate: hollow blue square
inline constexpr Rgb8 kColorSpatial = {30, 90, 230};     // spatial feature: filled blue square
inline constexpr Rgb8 kColorAnalysed = {230, 30, 30};    // analysed: red cross
inline constexpr Rgb8 kColorSelected = {255, 215, 0};    // the selected feature: gold ring
inline constexpr Rgb8 kColorHover = {255, 255, 255};     // the hovered feature: white ring
inline constexpr Rgb8 kColorBox = {120, 220, 255};       // box-selected features: cyan rings
inline constexpr Rgb8 kColorPlotBackground = {24, 29, 40};  // the scatter's plot area
inline constexpr Rgb8 kColorEpsLine = {255, 150, 60};        // the draggable eps line
inline constexpr Rgb8 kColorCosineLine = {110, 190, 255};    // the draggable p_cos line

// ImGui's packed colour (IM_COL32 layout: A B G R from the high byte).
inline constexpr uint32_t packed_color(const Rgb8& c, uint8_t alpha = 255) {
  return (static_cast<uint32_t>(alpha) << 24) | (static_cast<uint32_t>(c[2]) << 16) |
         (static_cast<uint32_t>(c[1]) << 8) | static_cast<uint32_t>(c[0]);
}

}  // namespace sightline::ui
