// Attention overlays (views 5 and 6): an image texture with per-patch value grids drawn
// over it by shaders/overlay.frag.glsl. Draws straight into the window's framebuffer from
// ImDrawList callbacks, clipped to the ImGui clip rectangle, like the heat maps. Textures
// are uploaded only when their content key changes and kept while they are drawn.
#pragma once

#include <imgui.h>

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "ui/gl/shader.h"
#include "ui/gl/texture.h"
#include "ui/plot/colormap.h"

namespace sightline::gl {

struct OverlayParams {
  float range_min = 0, range_max = 1;  // value mapped to the colormap's start and end
  float alpha = 0.6f;                  // colormap weight over the image, 0..1
  bool weighted = false;               // weight also scaled by the mapped value
  bool smooth = false;                 // bilinear values instead of flat patch cells
  plot::Colormap colormap = plot::Colormap::kInferno;
};

class OverlayRenderer {
 public:
  OverlayRenderer();
  ~OverlayRenderer();
  OverlayRenderer(const OverlayRenderer&) = delete;
  OverlayRenderer& operator=(const OverlayRenderer&) = delete;

  // Uploads an RGB image (rows top-down) when `version` differs from the one uploaded.
  // Images up to 128 px are magnified with nearest sampling (crisp scene pixels), larger
  // ones bilinearly.
  void set_image(int width, int height, const uint8_t* rgb, uint64_t version);
  bool has_image() const { return image_version_ != 0; }

  // Queues the overlay of a grid x grid map (row-major from the top-left patch) over the
  // image in the screen rectangle [min, max] of `list`. `key` names the map's content:
  // its texture is re-uploaded only when the key (or the grid) changes. values = nullptr
  // draws the image alone.
  void draw(ImDrawList* list, ImVec2 min, ImVec2 max, const float* values, int grid, uint64_t key,
            const OverlayParams& params);

 private:
  struct Draw;
  struct MapTexture {
    Texture2D texture;
    int grid = 0;
    bool smooth = false;
    int last_frame = 0;
  };
  static void callback(const ImDrawList* list, const ImDrawCmd* cmd);
  void begin_frame();

  ShaderProgram program_;
  Texture2D image_;
  uint64_t image_version_ = 0;
  std::map<uint64_t, std::unique_ptr<MapTexture>> maps_;
  Texture2D blank_;  // a 1x1 map for image-only draws
  std::vector<std::unique_ptr<Draw>> draws_;  // alive until the next frame's first draw
  int frame_ = -1;
  GLuint vao_ = 0;
};

}  // namespace sightline::gl
