#include "ui/gl/overlay_renderer.h"

#include <imgui_internal.h>

#include <algorithm>

#include "ui/gl/draw_callback.h"

namespace sightline::gl {

struct OverlayRenderer::Draw {
  OverlayRenderer* owner = nullptr;
  GLuint image = 0, values = 0, colormap = 0;
  OverlayParams params;
  ImRect pixels;  // screen rectangle of the whole image
};

OverlayRenderer::OverlayRenderer() = default;

OverlayRenderer::~OverlayRenderer() {
  if (vao_) glDeleteVertexArrays(1, &vao_);
}

void OverlayRenderer::begin_frame() {
  const int frame = ImGui::GetFrameCount();
  if (frame == frame_) return;
  frame_ = frame;
  draws_.clear();
  // Maps not drawn in the last two frames are released.
  for (auto it = maps_.begin(); it != maps_.end();)
    it = it->second->last_frame < frame - 2 ? maps_.erase(it) : std::next(it);
}

void OverlayRenderer::set_image(int width, int height, const uint8_t* rgb, uint64_t version) {
  if (version == image_version_ || width <= 0 || height <= 0 || !rgb) return;
  std::vector<uint8_t> rgba(static_cast<size_t>(width) * height * 4);
  for (size_t i = 0, n = static_cast<size_t>(width) * height; i < n; ++i) {
    rgba[i * 4 + 0] = rgb[i * 3 + 0];
    rgba[i * 4 + 1] = rgb[i * 3 + 1];
    rgba[i * 4 + 2] = rgb[i * 3 + 2];
    rgba[i * 4 + 3] = 255;
  }
  image_.upload(width, height, GL_RGBA8, rgba.data(), std::max(width, height) <= 128 ? GL_NEAREST : GL_LINEAR);
  image_version_ = version;
}

void OverlayRenderer::draw(ImDrawList* list, ImVec2 min, ImVec2 max, const float* values, int grid, uint64_t key,
                           const OverlayParams& params) {
  begin_frame();
  if (!has_image() || max.x <= min.x || max.y <= min.y) return;
  if (!program_.valid()) {
    program_.build("quad.vert.glsl", "overlay.frag.glsl");
    glGenVertexArrays(1, &vao_);
    const float zero = 0.0f;
    blank_.upload(1, 1, GL_R32F, &zero);
  }
  auto d = std::make_unique<Draw>();
  d->owner = this;
  d->image = image_.id();
  d->colormap = colormap_texture(params.colormap);
  d->params = params;
  d->pixels = ImRect(min, max);
  if (values && grid > 0) {
    auto& slot = maps_[key];
    if (!slot || slot->grid != grid || slot->smooth != params.smooth) {
      if (!slot) slot = std::make_unique<MapTexture>();
      slot->texture.upload(grid, grid, GL_R32F, values, params.smooth ? GL_LINEAR : GL_NEAREST);
      slot->grid = grid;
      slot->smooth = params.smooth;
    }
    slot->last_frame = frame_;
    d->values = slot->texture.id();
  } else {
    d->values = blank_.id();
    d->params.alpha = 0.0f;
  }
  list->AddCallback(callback, d.get());
  list->AddCallback(ImDrawCallback_ResetRenderState, nullptr);
  draws_.push_back(std::move(d));
}

void OverlayRenderer::callback(const ImDrawList*, const ImDrawCmd* cmd) {
  const auto* d = static_cast<const Draw*>(cmd->UserCallbackData);
  if (!d->owner->program_.valid() || !set_callback_viewport(cmd, d->pixels.Min, d->pixels.Max)) return;
  ShaderProgram& p = d->owner->program_;
  p.use();
  // v runs from 1 at the bottom edge to 0 at the top: texture row 0 (the image's top row) on top.
  glUniform4f(p.uniform("u_uv_rect"), 0.0f, 1.0f, 1.0f, 0.0f);
  glUniform1f(p.uniform("u_depth"), 0.0f);
  glUniform2f(p.uniform("u_range"), d->params.range_min, d->params.range_max);
  glUniform1f(p.uniform("u_alpha"), d->params.alpha);
  glUniform1i(p.uniform("u_weighted"), d->params.weighted ? 1 : 0);
  bind_sampler(p.uniform("u_colormap"), 2, d->colormap);
  bind_sampler(p.uniform("u_values"), 1, d->values);
  bind_sampler(p.uniform("u_image"), 0, d->image);
  glDisable(GL_BLEND);
  glBindVertexArray(d->owner->vao_);
  glDrawArrays(GL_TRIANGLE_STRIP, 0, 4);
}

}  // namespace sightline::gl
