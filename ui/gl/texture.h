// 2D textures and an offscreen framebuffer (colour texture + depth buffer), and the
// colormap tables as 256x1 textures.
#pragma once

#include <cstdint>

#include "ui/gl/gl.h"
#include "ui/plot/colormap.h"

namespace sightline::gl {

class Texture2D {
 public:
  Texture2D() = default;
  ~Texture2D();
  Texture2D(const Texture2D&) = delete;
  Texture2D& operator=(const Texture2D&) = delete;

  // (Re)allocates when the size or format changes, then uploads `pixels` (tightly packed,
  // rows bottom-up as GL expects). internal_format: GL_RGBA8 (uint8 RGBA), GL_RG32F or
  // GL_R32F (float). filter: GL_NEAREST or GL_LINEAR.
  void upload(int width, int height, GLenum internal_format, const void* pixels, GLenum filter = GL_NEAREST);
  GLuint id() const { return texture_; }
  int width() const { return width_; }
  int height() const { return height_; }

 private:
  GLuint texture_ = 0;
  int width_ = 0, height_ = 0;
  GLenum format_ = 0;
};

class Framebuffer {
 public:
  Framebuffer() = default;
  ~Framebuffer();
  Framebuffer(const Framebuffer&) = delete;
  Framebuffer& operator=(const Framebuffer&) = delete;

  // Makes the colour texture (RGBA8) and depth buffer width x height; no-op when unchanged.
  // Throws Error when the driver reports the framebuffer incomplete.
  void resize(int width, int height);
  // Binds it as the draw target with a matching viewport; restore() puts back what was bound.
  void bind();
  void restore();
  GLuint texture() const { return color_; }
  int width() const { return width_; }
  int height() const { return height_; }

 private:
  GLuint fbo_ = 0, color_ = 0, depth_ = 0;
  int width_ = 0, height_ = 0;
  GLint saved_fbo_ = 0;
  GLint saved_viewport_[4] = {0, 0, 0, 0};
};

// The 256x1 RGBA8 texture of a colormap (GL_LINEAR, clamped), created on first use.
GLuint colormap_texture(plot::Colormap map);
// Deletes the colormap textures (before the GL context goes away).
void release_colormap_textures();

// Binds `texture` (GL_TEXTURE_2D) to texture unit `unit` and points the sampler uniform
// `sampler` of the program in use (its location) at that unit.
void bind_sampler(GLint sampler, int unit, GLuint texture);

}  // namespace sightline::gl
