// Reading pixels back from the GL framebuffer and writing them as PNG: screenshots of
// the whole window and the plots' PNG export.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sightline::gl {

// RGBA8, rows top-down (as image files expect).
struct RgbaImage {
  int width = 0, height = 0;
  std::vector<uint8_t> rgba;
};

// Reads the rectangle with top-left (x, y_top) and the given size, in window pixels with
// y growing downwards, from the bound read framebuffer of height framebuffer_height.
// The rectangle is clipped to the framebuffer.
RgbaImage read_pixels(int x, int y_top, int width, int height, int framebuffer_height);

// Writes the image as PNG (written to path + ".tmp" then renamed). Throws Error naming the
// file on failure.
void write_png(const std::string& path, const RgbaImage& image);

}  // namespace sightline::gl
