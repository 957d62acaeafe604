// The one place that includes the OpenGL API: core-profile prototypes from
// <GL/glcorearb.h> (GL_GLEXT_PROTOTYPES comes from ui/CMakeLists.txt), resolved by GLVND's
// libOpenGL. Include this before GLFW and define GLFW_INCLUDE_NONE there.
#pragma once

#ifndef GL_GLEXT_PROTOTYPES
#define GL_GLEXT_PROTOTYPES 1
#endif
#include <GL/glcorearb.h>
