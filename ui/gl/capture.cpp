#include "ui/gl/capture.h"

#include <stb_image_write.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "core/common/error.h"
#include "ui/gl/gl.h"

namespace sightline::gl {

RgbaImage read_pixels(int x, int y_top, int width, int height, int framebuffer_height) {
  RgbaImage image;
  const int x0 = std::max(x, 0), y0 = std::max(y_top, 0);
  const int y1 = std::min(y_top + height, framebuffer_height);
  image.width = std::max(0, x + width - x0);
  image.height = std::max(0, y1 - y0);
  if (image.width == 0 || image.height == 0) return image;
  std::vector<uint8_t> bottom_up(static_cast<size_t>(image.width) * image.height * 4);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadPixels(x0, framebuffer_height - y1, image.width, image.height, GL_RGBA, GL_UNSIGNED_BYTE, bottom_up.data());
  image.rgba.resize(bottom_up.size());
  const size_t row = static_cast<size_t>(image.width) * 4;
  for (int r = 0; r < image.height; ++r)
    std::copy_n(bottom_up.data() + (image.height - 1 - r) * row, row, image.rgba.data() + r * row);
  return image;
}

void write_png(const std::string& path, const RgbaImage& image) {
  check(image.width > 0 && image.height > 0, "file '{}': empty image ({}x{})", path, image.width, image.height);
  const std::string tmp = path + ".tmp";
  const int ok = stbi_write_png(tmp.c_str(), image.width, image.height, 4, image.rgba.data(), image.width * 4);
  if (!ok) {
    std::remove(tmp.c_str());
    fail("file '{}': could not write the PNG", path);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  check(!ec, "file '{}': could not rename '{}' into place: {}", path, tmp, ec.message());
}

}  // namespace sightline::gl
