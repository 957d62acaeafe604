#include "ui/gl/texture.h"

#include <algorithm>
#include <array>

#include "core/common/error.h"

namespace sightline::gl {

namespace {

void format_of(GLenum internal_format, GLenum* format, GLenum* type) {
  switch (internal_format) {
    case GL_RGBA8:
      *format = GL_RGBA;
      *type = GL_UNSIGNED_BYTE;
      return;
    case GL_RG32F:
      *format = GL_RG;
      *type = GL_FLOAT;
      return;
    case GL_R32F:
      *format = GL_RED;
      *type = GL_FLOAT;
      return;
    case GL_R8:
      *format = GL_RED;
      *type = GL_UNSIGNED_BYTE;
      return;
    default:
      fail("texture: unsupported internal format 0x{:x}", internal_format);
  }
}

std::array<GLuint, plot::kColormapCount>& colormap_textures() {
  static std::array<GLuint, plot::kColormapCount> textures{};
  return textures;
}

}  // namespace

Texture2D::~Texture2D() {
  if (texture_) glDeleteTextures(1, &texture_);
}

void Texture2D::upload(int width, int height, GLenum internal_format, const void* pixels, GLenum filter) {
  GLenum format = 0, type = 0;
  format_of(internal_format, &format, &type);
  if (!texture_) glGenTextures(1, &texture_);
  glBindTexture(GL_TEXTURE_2D, texture_);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  glPixelStorei(GL_UNPACK_ROW_LENGTH, 0);
  if (width != width_ || height != height_ || internal_format != format_) {
    glTexImage2D(GL_TEXTURE_2D, 0, static_cast<GLint>(internal_format), width, height, 0, format, type, pixels);
    width_ = width;
    height_ = height;
    format_ = internal_format;
  } else {
    glTexSubImage2D(GL_TEXTURE_2D, 0, 0, 0, width, height, format, type, pixels);
  }
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, static_cast<GLint>(filter));
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, static_cast<GLint>(filter));
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
}

Framebuffer::~Framebuffer() {
  if (fbo_) glDeleteFramebuffers(1, &fbo_);
  if (color_) glDeleteTextures(1, &color_);
  if (depth_) glDeleteRenderbuffers(1, &depth_);
}

void Framebuffer::resize(int width, int height) {
  width = std::max(width, 1);
  height = std::max(height, 1);
  if (fbo_ && width == width_ && height == height_) return;
  if (!fbo_) {
    glGenFramebuffers(1, &fbo_);
    glGenTextures(1, &color_);
    glGenRenderbuffers(1, &depth_);
  }
  GLint previous = 0;
  glGetIntegerv(GL_DRAW_FRAMEBUFFER_BINDING, &previous);
  glBindTexture(GL_TEXTURE_2D, color_);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, width, height, 0, GL_RGBA, GL_UNSIGNED_BYTE, nullptr);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
  glBindRenderbuffer(GL_RENDERBUFFER, depth_);
  glRenderbufferStorage(GL_RENDERBUFFER, GL_DEPTH_COMPONENT24, width, height);
  glBindFramebuffer(GL_FRAMEBUFFER, fbo_);
  glFramebufferTexture2D(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, color_, 0);
  glFramebufferRenderbuffer(GL_FRAMEBUFFER, GL_DEPTH_ATTACHMENT, GL_RENDERBUFFER, depth_);
  const GLenum status = glCheckFramebufferStatus(GL_FRAMEBUFFER);
  glBindFramebuffer(GL_FRAMEBUFFER, static_cast<GLuint>(previous));
  check(status == GL_FRAMEBUFFER_COMPLETE, "framebuffer {}x{}: incomplete (status 0x{:x})", width, height, status);
  width_ = width;
  height_ = height;
}

void Framebuffer::bind() {
  glGetIntegerv(GL_DRAW_FRAMEBUFFER_BINDING, &saved_fbo_);
  glGetIntegerv(GL_VIEWPORT, saved_viewport_);
  glBindFramebuffer(GL_FRAMEBUFFER, fbo_);
  glViewport(0, 0, width_, height_);
}

void Framebuffer::restore() {
  glBindFramebuffer(GL_FRAMEBUFFER, static_cast<GLuint>(saved_fbo_));
  glViewport(saved_viewport_[0], saved_viewport_[1], saved_viewport_[2], saved_viewport_[3]);
}

GLuint colormap_texture(plot::Colormap map) {
  GLuint& texture = colormap_textures()[static_cast<int>(map)];
  if (!texture) {
    const auto& table = plot::colormap_table(map);
    glGenTextures(1, &texture);
    glBindTexture(GL_TEXTURE_2D, texture);
    glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
    glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, plot::kColormapSize, 1, 0, GL_RGBA, GL_UNSIGNED_BYTE, table.data());
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_LINEAR);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
  }
  return texture;
}

void release_colormap_textures() {
  for (GLuint& t : colormap_textures()) {
    if (t) glDeleteTextures(1, &t);
    t = 0;
  }
}

void bind_sampler(GLint sampler, int unit, GLuint texture) {
  glUniform1i(sampler, unit);
  glActiveTexture(static_cast<GLenum>(GL_TEXTURE0 + unit));
  glBindTexture(GL_TEXTURE_2D, texture);
}

}  // namespace sightline::gl
