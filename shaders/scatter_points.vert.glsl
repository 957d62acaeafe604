#version 330 core
// Fig. 2 points from a vertex buffer uploaded once: only u_view changes while the user
// pans and zooms. The adapted set is decided here from the live thresholds, so dragging
// eps / p_cos needs no re-upload.
layout(location = 0) in vec2 a_position;    // (decoder cosine, log10 E_v), data units
layout(location = 1) in uint a_attributes;  // layer (bits 0-15) | FeatureFlag bits (16-23)

uniform vec4 u_view;              // (x_min, x_max, y_min, y_max) shown by the viewport
uniform float u_log_eps;          // log10(eps): adapted needs y > this
uniform float u_cos_threshold;    // cosine of the p_cos percentile: adapted needs x <= this
uniform sampler2D u_layer_shown;  // (num_layers x 1) R8, 1 = the layer is shown
uniform float u_point_size;       // pixels
uniform float u_marker_size;      // pixels
uniform int u_marker_pass;        // 0: every point by category; 1: flagged points as markers
uniform vec4 u_color_all;
uniform vec4 u_color_adapted;
uniform vec4 u_color_candidate;
uniform vec4 u_color_spatial;
uniform vec4 u_color_analysed;

flat out vec4 v_color;
flat out int v_shape;  // 0 disc, 1 hollow square, 2 filled square, 3 cross

// FeatureFlag bits (ui/snapshot.h).
const uint kFlagSpatialFeature = 4u;
const uint kFlagAnalysed = 8u;

void main() {
  uint layer = a_attributes & 0xFFFFu;
  uint flags = (a_attributes >> 16) & 0xFFu;
  float shown = texelFetch(u_layer_shown, ivec2(int(layer), 0), 0).r;
  vec2 ndc = vec2((a_position.x - u_view.x) / (u_view.y - u_view.x),
                  (a_position.y - u_view.z) / (u_view.w - u_view.z)) * 2.0 - 1.0;
  bool adapted = a_position.y > u_log_eps && a_position.x <= u_cos_threshold;
  // Depth orders the categories (GL_LESS: smaller is in front) in a single draw call.
  float depth;
  if (u_marker_pass == 0) {
    v_color = adapted ? u_color_adapted : u_color_all;
    v_shape = 0;
    depth = adapted ? 0.2 : 0.6;
    gl_PointSize = u_point_size;
  } else {
    if ((flags & kFlagAnalysed) != 0u) {
      v_color = u_color_analysed;
      v_shape = 3;
      depth = -0.3;
    } else if ((flags & kFlagSpatialFeature) != 0u) {
      v_color = u_color_spatial;
      v_shape = 2;
      depth = -0.2;
    } else {
      v_color = u_color_candidate;
      v_shape = 1;
      depth = -0.1;
    }
    gl_PointSize = u_marker_size;
  }
  // A hidden layer's points go outside the clip volume.
  gl_Position = shown > 0.5 ? vec4(ndc, depth, 1.0) : vec4(4.0, 4.0, 4.0, 1.0);
}
