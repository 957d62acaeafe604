#include "ui/gl/draw_callback.h"

#include <algorithm>

#include "ui/gl/gl.h"

namespace sightline::gl {

bool set_callback_viewport(const ImDrawCmd* cmd, ImVec2 min, ImVec2 max) {
  const ImDrawData* draw_data = ImGui::GetDrawData();
  if (!draw_data) return false;
  const float cx0 = std::max(min.x, cmd->ClipRect.x), cy0 = std::max(min.y, cmd->ClipRect.y);
  const float cx1 = std::min(max.x, cmd->ClipRect.z), cy1 = std::min(max.y, cmd->ClipRect.w);
  if (cx1 <= cx0 || cy1 <= cy0) return false;
  // GL's window origin is the bottom-left corner; ImGui's the top-left.
  const ImVec2 scale = draw_data->FramebufferScale, origin = draw_data->DisplayPos;
  const float fb_height = draw_data->DisplaySize.y * scale.y;
  glViewport(static_cast<GLint>((min.x - origin.x) * scale.x),
             static_cast<GLint>(fb_height - (max.y - origin.y) * scale.y),
             static_cast<GLsizei>((max.x - min.x) * scale.x), static_cast<GLsizei>((max.y - min.y) * scale.y));
  glEnable(GL_SCISSOR_TEST);
  glScissor(static_cast<GLint>((cx0 - origin.x) * scale.x), static_cast<GLint>(fb_height - (cy1 - origin.y) * scale.y),
            static_cast<GLsizei>((cx1 - cx0) * scale.x), static_cast<GLsizei>((cy1 - cy0) * scale.y));
  return true;
}

}  // namespace sightline::gl
