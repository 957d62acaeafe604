#include "ui/gl/scatter_renderer.h"

#include <algorithm>
#include <cmath>

#include "core/common/error.h"
#include "ui/gl/draw_callback.h"
#include "ui/scatter_style.h"

namespace sightline::gl {

namespace {

void set_color(ShaderProgram& program, const char* name, const ui::Rgb8& c) {
  glUniform4f(program.uniform(name), c[0] / 255.0f, c[1] / 255.0f, c[2] / 255.0f, 1.0f);
}

// Positions and attributes as two buffers bound to attributes 0 (vec2) and 1 (uint).
void make_vertex_array(GLuint* vao, GLuint* position, GLuint* attributes) {
  glGenVertexArrays(1, vao);
  glGenBuffers(1, position);
  glGenBuffers(1, attributes);
  glBindVertexArray(*vao);
  glBindBuffer(GL_ARRAY_BUFFER, *position);
  glEnableVertexAttribArray(0);
  glVertexAttribPointer(0, 2, GL_FLOAT, GL_FALSE, 2 * sizeof(float), nullptr);
  glBindBuffer(GL_ARRAY_BUFFER, *attributes);
  glEnableVertexAttribArray(1);
  glVertexAttribIPointer(1, 1, GL_UNSIGNED_INT, sizeof(uint32_t), nullptr);
  glBindVertexArray(0);
  glBindBuffer(GL_ARRAY_BUFFER, 0);
}

void fill_buffers(GLuint position, GLuint attributes, const std::vector<float>& xy, const std::vector<uint32_t>& attr) {
  glBindBuffer(GL_ARRAY_BUFFER, position);
  glBufferData(GL_ARRAY_BUFFER, static_cast<GLsizeiptr>(xy.size() * sizeof(float)), xy.data(), GL_STATIC_DRAW);
  glBindBuffer(GL_ARRAY_BUFFER, attributes);
  glBufferData(GL_ARRAY_BUFFER, static_cast<GLsizeiptr>(attr.size() * sizeof(uint32_t)), attr.data(),
               GL_STATIC_DRAW);
  glBindBuffer(GL_ARRAY_BUFFER, 0);
}

}  // namespace

bool ScatterRenderer::DensityKey::operator==(const DensityKey& o) const {
  return model_serial == o.model_serial && bins_x == o.bins_x && bins_y == o.bins_y && view[0] == o.view[0] &&
         view[1] == o.view[1] && view[2] == o.view[2] && view[3] == o.view[3] && eps == o.eps &&
         cosine_threshold == o.cosine_threshold && colormap == o.colormap && mask_version == o.mask_version;
}

ScatterRenderer::ScatterRenderer() {
  points_.build("scatter_points.vert.glsl", "scatter_points.frag.glsl");
  density_.build("quad.vert.glsl", "density.frag.glsl");
  make_vertex_array(&vao_, &vbo_position_, &vbo_attributes_);
  make_vertex_array(&marker_vao_, &marker_vbo_position_, &marker_vbo_attributes_);
  glGenVertexArrays(1, &quad_vao_);
}

ScatterRenderer::~ScatterRenderer() {
  const GLuint buffers[] = {vbo_position_, vbo_attributes_, marker_vbo_position_, marker_vbo_attributes_};
  glDeleteBuffers(4, buffers);
  const GLuint arrays[] = {vao_, marker_vao_, quad_vao_};
  glDeleteVertexArrays(3, arrays);
}

void ScatterRenderer::upload(const ui::ScatterModel& model) {
  if (uploaded_serial_ == model.serial()) return;
  const auto& index = model.index();
  std::vector<float> xy(index.size() * 2);
  for (size_t p = 0; p < index.size(); ++p) {
    xy[2 * p] = index.sorted_x()[p];
    xy[2 * p + 1] = index.sorted_y()[p];
  }
  fill_buffers(vbo_position_, vbo_attributes_, xy, model.sorted_attributes());

  const auto& table = model.table();
  std::vector<float> marker_xy;
  std::vector<uint32_t> marker_attr;
  for (uint32_t row : model.marked_rows()) {
    marker_xy.push_back(table.decoder_cosine[row]);
    marker_xy.push_back(model.log_energy()[row]);
    marker_attr.push_back(static_cast<uint32_t>(table.layer[row]) | (static_cast<uint32_t>(table.flags[row]) << 16));
  }
  fill_buffers(marker_vbo_position_, marker_vbo_attributes_, marker_xy, marker_attr);
  marker_count_ = static_cast<GLsizei>(marker_attr.size());
  uploaded_serial_ = model.serial();
  density_key_ = DensityKey{};
}

void ScatterRenderer::update_layer_texture(const ui::ScatterModel& model) {
  if (layer_texture_serial_ == model.serial() && layer_texture_version_ == frame_.mask_version) return;
  const int layers = std::max(model.table().num_layers, 1);
  check(layers <= 16384, "scatter: {} layers exceed the layer filter texture's 16384", layers);
  std::vector<uint8_t> shown(static_cast<size_t>(layers), 255);
  if (frame_.mask && !frame_.mask->empty())
    for (int l = 0; l < layers; ++l) shown[l] = ui::layer_shown(*frame_.mask, l) ? 255 : 0;
  layer_shown_.upload(layers, 1, GL_R8, shown.data());
  layer_texture_serial_ = model.serial();
  layer_texture_version_ = frame_.mask_version;
}

void ScatterRenderer::prepare(std::shared_ptr<const ui::ScatterModel> model, const ScatterFrame& frame,
                              ImDrawList* draw_list) {
  check(model != nullptr, "scatter: no model to draw");
  model_ = std::move(model);
  frame_ = frame;
  upload(*model_);
  update_layer_texture(*model_);

  stats_ = ScatterStats{};
  stats_.points_in_view = model_->index().count_in(frame.view);
  stats_.density = stats_.points_in_view > static_cast<size_t>(std::max(frame.density_threshold, 0));
  if (stats_.density) {
    // Bins of 2x2 pixels: a quarter of the binning, colouring and upload work.
    const ImVec2 scale = ImGui::GetIO().DisplayFramebufferScale;
    DensityKey key;
    key.model_serial = model_->serial();
    key.bins_x = std::max(1, static_cast<int>(frame.area.width() * scale.x / 2));
    key.bins_y = std::max(1, static_cast<int>(frame.area.height() * scale.y / 2));
    key.view[0] = frame.view.x.min;
    key.view[1] = frame.view.x.max;
    key.view[2] = frame.view.y.min;
    key.view[3] = frame.view.y.max;
    key.eps = frame.eps;
    key.cosine_threshold = frame.cosine_threshold;
    key.colormap = static_cast<int>(frame.colormap);
    key.mask_version = frame.mask_version;
    if (!(key == density_key_)) {
      static const ui::LayerMask kAll;
      model_->bin_density(frame.view, key.bins_x, key.bins_y, frame.eps, frame.cosine_threshold,
                          frame.mask ? *frame.mask : kAll, density_image_);
      ui::colorize_density(density_image_, frame.colormap, ui::kColorAdapted, density_rgba_);
      density_bins_.upload(key.bins_x, key.bins_y, GL_RGBA8, density_rgba_.data(), GL_NEAREST);
      density_key_ = key;
    }
  } else {
    firsts_.clear();
    counts_.clear();
    for (const auto& [begin, end] : model_->index().runs_in(frame.view)) {
      firsts_.push_back(static_cast<GLint>(begin));
      counts_.push_back(static_cast<GLsizei>(end - begin));
      stats_.points_drawn += end - begin;
    }
  }
  draw_list->AddCallback(draw_callback, this);
  draw_list->AddCallback(ImDrawCallback_ResetRenderState, nullptr);
}

void ScatterRenderer::draw_callback(const ImDrawList*, const ImDrawCmd* cmd) {
  static_cast<ScatterRenderer*>(cmd->UserCallbackData)->draw(cmd);
}

void ScatterRenderer::set_point_uniforms() {
  points_.use();
  const ScatterFrame& f = frame_;
  glUniform4f(points_.uniform("u_view"), static_cast<float>(f.view.x.min), static_cast<float>(f.view.x.max),
              static_cast<float>(f.view.y.min), static_cast<float>(f.view.y.max));
  glUniform1f(points_.uniform("u_log_eps"), f.eps > 0 ? static_cast<float>(std::log10(f.eps)) : -1e30f);
  glUniform1f(points_.uniform("u_cos_threshold"),
              std::isfinite(f.cosine_threshold) ? static_cast<float>(f.cosine_threshold) : -1e30f);
  glUniform1f(points_.uniform("u_point_size"), f.point_size);
  glUniform1f(points_.uniform("u_marker_size"), std::max(9.0f, f.point_size * 3));
  glUniform1i(points_.uniform("u_layer_shown"), 0);
  set_color(points_, "u_color_all", ui::kColorAll);
  set_color(points_, "u_color_adapted", ui::kColorAdapted);
  set_color(points_, "u_color_candidate", ui::kColorCandidate);
  set_color(points_, "u_color_spatial", ui::kColorSpatial);
  set_color(points_, "u_color_analysed", ui::kColorAnalysed);
  glActiveTexture(GL_TEXTURE0);
  glBindTexture(GL_TEXTURE_2D, layer_shown_.id());
}

void ScatterRenderer::draw(const ImDrawCmd* cmd) {
  const plot::PixelRect& a = frame_.area;
  if (!model_ || !set_callback_viewport(cmd, ImVec2(static_cast<float>(a.x0), static_cast<float>(a.y0)),
                                        ImVec2(static_cast<float>(a.x1), static_cast<float>(a.y1))))
    return;
  // A scissored clear is the cheapest way to paint the background on a software rasteriser.
  glClearColor(frame_.background[0], frame_.background[1], frame_.background[2], frame_.background[3]);
  glClearDepth(1.0);
  glDepthMask(GL_TRUE);
  glClear(GL_COLOR_BUFFER_BIT | GL_DEPTH_BUFFER_BIT);
  glDisable(GL_BLEND);
  glEnable(GL_DEPTH_TEST);
  glDepthFunc(GL_LESS);
  glEnable(GL_PROGRAM_POINT_SIZE);

  if (stats_.density) {
    density_.use();
    glUniform4f(density_.uniform("u_uv_rect"), 0, 0, 1, 1);
    glUniform1f(density_.uniform("u_depth"), 0.8f);
    glUniform1i(density_.uniform("u_bins"), 0);
    glActiveTexture(GL_TEXTURE0);
    glBindTexture(GL_TEXTURE_2D, density_bins_.id());
    glBindVertexArray(quad_vao_);
    glDrawArrays(GL_TRIANGLE_STRIP, 0, 4);
  } else if (!firsts_.empty()) {
    set_point_uniforms();
    glUniform1i(points_.uniform("u_marker_pass"), 0);
    glBindVertexArray(vao_);
    glMultiDrawArrays(GL_POINTS, firsts_.data(), counts_.data(), static_cast<GLsizei>(firsts_.size()));
  }
  if (marker_count_ > 0) {
    set_point_uniforms();
    glUniform1i(points_.uniform("u_marker_pass"), 1);
    glBindVertexArray(marker_vao_);
    glDrawArrays(GL_POINTS, 0, marker_count_);
  }
  glBindVertexArray(0);
  glDisable(GL_PROGRAM_POINT_SIZE);
  glDisable(GL_DEPTH_TEST);
  glActiveTexture(GL_TEXTURE0);
  // ImDrawCallback_ResetRenderState follows: ImGui restores its own state.
}

}  // namespace sightline::gl
