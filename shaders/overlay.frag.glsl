#version 330 core
// Attention overlay (paper Fig. 4, 15, 16): a per-patch value grid mapped through a
// colormap and alpha-blended over the image the model saw. Both textures hold rows
// top-down; quad.vert's u_uv_rect flips v so that row 0 is drawn at the top.
in vec2 v_uv;

uniform sampler2D u_image;     // RGBA8, the preprocessed image
uniform sampler2D u_values;    // R32F, grid x grid attention (row-major patch order)
uniform sampler2D u_colormap;  // 256 x 1
uniform vec2 u_range;          // value mapped to the colormap's (start, end)
uniform float u_alpha;         // colormap weight over the image, 0..1
uniform int u_weighted;        // 1: the weight is also scaled by the mapped value

out vec4 o_color;

void main() {
  vec3 image = texture(u_image, v_uv).rgb;
  float v = texture(u_values, v_uv).r;
  float t = clamp((v - u_range.x) / max(u_range.y - u_range.x, 1e-30), 0.0, 1.0);
  if (isnan(v)) t = 0.0;
  vec3 heat = texture(u_colormap, vec2((t * 255.0 + 0.5) / 256.0, 0.5)).rgb;
  float a = clamp(u_alpha, 0.0, 1.0) * (u_weighted == 1 ? t : 1.0);
  o_color = vec4(mix(image, heat, a), 1.0);
}
