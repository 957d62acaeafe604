// What every ImDrawList callback that draws with our own GL program does first: put the GL
// viewport on its screen rectangle and scissor it to the command's clip rectangle (the
// plot area, or less when the window scrolls), in framebuffer pixels.
#pragma once

#include <imgui.h>

namespace sightline::gl {

// Sets the viewport to [min, max] (ImGui screen coordinates of the current draw data) and
// enables the scissor on that rectangle clipped by cmd->ClipRect. Returns false, setting
// nothing, when no draw data is current or the visible part is empty.
bool set_callback_viewport(const ImDrawCmd* cmd, ImVec2 min, ImVec2 max);

}  // namespace sightline::gl
