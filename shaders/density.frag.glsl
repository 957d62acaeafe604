#version 330 core
// The scatter's density image, for views with too many points to draw one by one. The
// bins were coloured on the CPU (ScatterModel::colorize_density: the colormap on
// log(1 + count), A's colour where a bin holds adapted features), so a pixel costs one
// nearest-texel fetch: on llvmpipe every fetch over the plot area is milliseconds.
in vec2 v_uv;

uniform sampler2D u_bins;  // RGBA8, one texel per bin, row 0 = lowest y; alpha 0 = empty

out vec4 o_color;

void main() {
  vec4 c = texture(u_bins, v_uv);
  if (c.a < 0.5) discard;
  o_color = c;
}
