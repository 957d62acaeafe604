#version 330 core
// Heat map cells: one float per texel, mapped through a colormap texture.
in vec2 v_uv;

uniform sampler2D u_values;    // R32F, rows x cols, row 0 = lowest y
uniform sampler2D u_colormap;  // 256 x 1
uniform vec2 u_range;          // value mapped to the colormap's (start, end)

out vec4 o_color;

void main() {
  float v = texture(u_values, v_uv).r;
  if (isnan(v)) discard;
  float t = clamp((v - u_range.x) / max(u_range.y - u_range.x, 1e-30), 0.0, 1.0);
  o_color = vec4(texture(u_colormap, vec2((t * 255.0 + 0.5) / 256.0, 0.5)).rgb, 1.0);
}
