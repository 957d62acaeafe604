// A built-in 5x7 bitmap font for the letters A-Z and digits 0-9, written on the world's
// signs (the OCR skill).
#pragma once

#include <array>
#include <cstdint>

namespace sightline {

constexpr int kGlyphWidth = 5;
constexpr int kGlyphHeight = 7;

// The glyph of `c` ('A'-'Z', 'a'-'z' drawn as upper case, '0'-'9'): 7 rows, top first;
// bit 4 of a row is the leftmost column. Returns nullptr for any other character.
const std::array<uint8_t, kGlyphHeight>* glyph_5x7(char c);

// Whether pixel (column, row) of the glyph is ink; false outside the 5x7 box or for an
// unsupported character.
bool glyph_pixel(char c, int column, int row);

}  // namespace sightline
