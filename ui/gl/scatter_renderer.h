// The GPU scatter of Fig. 2 for up to millions of points. The vertex buffer (positions +
// attributes, in the grid index's cell order) is uploaded once per ScatterModel; a frame
// sets only the view and threshold uniforms and draws the runs of visible cells, or a
// density image when too many points are in view. It draws straight into the window's
// framebuffer from an ImDrawList callback, clipped to the plot area: on llvmpipe every
// full-area texture pass (an offscreen image shown with ImGui::Image) costs milliseconds.
#pragma once

#include <imgui.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "ui/gl/shader.h"
#include "ui/gl/texture.h"
#include "ui/plot/colormap.h"
#include "ui/scatter_model.h"

namespace sightline::gl {

struct ScatterFrame {
  plot::PixelRect area;       // the plot area, window pixels (ImGui display coordinates)
  plot::ViewRect view;        // data rectangle shown in the area
  double eps = 1e-3;
  double cosine_threshold = 0;
  float point_size = 3;       // pixels
  plot::Colormap colormap = plot::Colormap::kViridis;
  const ui::LayerMask* mask = nullptr;  // nullptr or empty: all layers
  uint64_t mask_version = 0;            // bump when the mask's content changes
  int density_threshold = 40000;        // density image above this many points in view
  float background[4] = {0.10f, 0.12f, 0.16f, 1.0f};
};

// What the frame draws (for the UI, the screenshot sidecar and the benchmark).
struct ScatterStats {
  bool density = false;
  size_t points_in_view = 0;  // in the visible cells (an upper bound)
  size_t points_drawn = 0;    // point vertices submitted (0 in density mode; markers excluded)
};

class ScatterRenderer {
 public:
  ScatterRenderer();
  ~ScatterRenderer();
  ScatterRenderer(const ScatterRenderer&) = delete;
  ScatterRenderer& operator=(const ScatterRenderer&) = delete;

  // While building the frame: uploads a new model's points, decides points vs density
  // (binning and colouring the density image when its inputs changed), then queues the
  // drawing on `draw_list`. The model is kept alive until the next prepare().
  void prepare(std::shared_ptr<const ui::ScatterModel> model, const ScatterFrame& frame, ImDrawList* draw_list);
  const ScatterStats& stats() const { return stats_; }

 private:
  static void draw_callback(const ImDrawList* list, const ImDrawCmd* cmd);
  void draw(const ImDrawCmd* cmd);
  void upload(const ui::ScatterModel& model);
  void update_layer_texture(const ui::ScatterModel& model);
  void set_point_uniforms();

  ShaderProgram points_, density_;
  Texture2D layer_shown_, density_bins_;
  GLuint vao_ = 0, vbo_position_ = 0, vbo_attributes_ = 0;
  GLuint marker_vao_ = 0, marker_vbo_position_ = 0, marker_vbo_attributes_ = 0;
  GLuint quad_vao_ = 0;
  GLsizei marker_count_ = 0;
  uint64_t uploaded_serial_ = 0;
  uint64_t layer_texture_serial_ = 0, layer_texture_version_ = ~0ull;

  std::shared_ptr<const ui::ScatterModel> model_;
  ScatterFrame frame_;
  ScatterStats stats_;
  std::vector<GLint> firsts_;
  std::vector<GLsizei> counts_;
  ui::DensityImage density_image_;
  std::vector<uint8_t> density_rgba_;
  // The inputs of the current density image; it is rebuilt only when one changes.
  struct DensityKey {
    uint64_t model_serial = 0;
    int bins_x = 0, bins_y = 0;
    double view[4] = {0, 0, 0, 0};
    double eps = 0, cosine_threshold = 0;
    int colormap = -1;
    uint64_t mask_version = 0;
    bool operator==(const DensityKey& o) const;
  } density_key_;
};

}  // namespace sightline::gl
