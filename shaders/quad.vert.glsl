#version 330 core
// A quad over the viewport from gl_VertexID alone (draw 4 vertices as a triangle strip
// with any vertex array bound). v_uv spans u_uv_rect = (u0, v0, u1, v1) of the source
// texture, so a partly visible image samples only its visible part.
uniform vec4 u_uv_rect;
uniform float u_depth;

out vec2 v_uv;

void main() {
  vec2 corner = vec2(float(gl_VertexID & 1), float((gl_VertexID >> 1) & 1));
  v_uv = mix(u_uv_rect.xy, u_uv_rect.zw, corner);
  gl_Position = vec4(corner * 2.0 - 1.0, u_depth, 1.0);
}
