#include "ui/gl/shader.h"

#include <vector>

#include "core/common/error.h"
#include "ui/gl/shader_sources.h"

namespace sightline::gl {

namespace {

GLuint compile(GLenum kind, const std::string& name) {
  const char* text = shader_source(name);
  const GLuint shader = glCreateShader(kind);
  glShaderSource(shader, 1, &text, nullptr);
  glCompileShader(shader);
  GLint ok = 0;
  glGetShaderiv(shader, GL_COMPILE_STATUS, &ok);
  if (!ok) {
    GLint length = 0;
    glGetShaderiv(shader, GL_INFO_LOG_LENGTH, &length);
    std::vector<char> log(static_cast<size_t>(std::max(length, 1)));
    glGetShaderInfoLog(shader, length, nullptr, log.data());
    glDeleteShader(shader);
    fail("file 'shaders/{}': compile error: {}", name, log.data());
  }
  return shader;
}

}  // namespace

ShaderProgram::~ShaderProgram() {
  if (program_) glDeleteProgram(program_);
}

void ShaderProgram::build(const std::string& vertex, const std::string& fragment) {
  const GLuint vs = compile(GL_VERTEX_SHADER, vertex);
  GLuint fs = 0;
  try {
    fs = compile(GL_FRAGMENT_SHADER, fragment);
  } catch (...) {
    glDeleteShader(vs);
    throw;
  }
  const GLuint program = glCreateProgram();
  glAttachShader(program, vs);
  glAttachShader(program, fs);
  glLinkProgram(program);
  glDeleteShader(vs);
  glDeleteShader(fs);
  GLint ok = 0;
  glGetProgramiv(program, GL_LINK_STATUS, &ok);
  if (!ok) {
    GLint length = 0;
    glGetProgramiv(program, GL_INFO_LOG_LENGTH, &length);
    std::vector<char> log(static_cast<size_t>(std::max(length, 1)));
    glGetProgramInfoLog(program, length, nullptr, log.data());
    glDeleteProgram(program);
    fail("file 'shaders/{}' + 'shaders/{}': link error: {}", vertex, fragment, log.data());
  }
  if (program_) glDeleteProgram(program_);
  program_ = program;
  uniforms_.clear();
}

GLint ShaderProgram::uniform(const char* name) {
  auto it = uniforms_.find(name);
  if (it != uniforms_.end()) return it->second;
  const GLint location = glGetUniformLocation(program_, name);
  uniforms_.emplace(name, location);
  return location;
}

}  // namespace sightline::gl
