#version 330 core
// Point sprites: discs for ordinary points, squares and crosses for the marked features
// (Fig. 2: spatial candidates as blue squares, analysed features as red crosses).
flat in vec4 v_color;
flat in int v_shape;

uniform float u_point_size;
uniform float u_marker_size;

out vec4 o_color;

void main() {
  vec2 p = gl_PointCoord * 2.0 - 1.0;  // [-1, 1] across the sprite
  if (v_shape == 0) {
    if (u_point_size >= 3.0 && dot(p, p) > 1.0) discard;
  } else {
    float half_size = 0.5 * u_marker_size;  // pixels from the centre to an edge
    vec2 px = p * half_size;                // pixels from the centre
    if (v_shape == 1) {
      if (max(abs(px.x), abs(px.y)) < half_size - 2.0) discard;  // 2-pixel outline
    } else if (v_shape == 3) {
      float d = min(abs(px.x - px.y), abs(px.x + px.y)) * 0.70710678;
      if (d > 1.3) discard;  // two diagonals, ~2.6 pixels wide
    }
  }
  o_color = v_color;
}
