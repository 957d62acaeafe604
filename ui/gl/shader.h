// A linked GLSL program with cached uniform locations.
#pragma once

#include <string>
#include <unordered_map>

#include "ui/gl/gl.h"

namespace sightline::gl {

class ShaderProgram {
 public:
  ShaderProgram() = default;
  ~ShaderProgram();
  ShaderProgram(const ShaderProgram&) = delete;
  ShaderProgram& operator=(const ShaderProgram&) = delete;

  // Compiles and links the embedded shaders/<vertex> and shaders/<fragment>. Throws Error
  // naming the file and quoting the driver's log on failure.
  void build(const std::string& vertex, const std::string& fragment);
  bool valid() const { return program_ != 0; }
  GLuint id() const { return program_; }
  void use() const { glUseProgram(program_); }
  // The uniform's location (-1 when the driver optimised it away: setting it is a no-op).
  GLint uniform(const char* name);

 private:
  GLuint program_ = 0;
  std::unordered_map<std::string, GLint> uniforms_;
};

}  // namespace sightline::gl
