// GLSL sources of shaders/*.glsl, embedded at configure time by ui/CMakeLists.txt so
// the binary needs no files at run time.
#pragma once

#include <string>

namespace sightline::gl {

// The text of shaders/<name> (e.g. "scatter_points.vert.glsl"); throws Error when the
// build embedded no such file.
const char* shader_source(const std::string& name);

}  // namespace sightline::gl
