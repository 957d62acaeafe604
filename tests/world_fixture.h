// Hand-made shapes-world objects for the tests that build scenes by hand.
#pragma once

#include "core/world/scene.h"

namespace sightline::test {

// An object with the given fields; `facing` matters for arrows only, `text` for signs only.
inline Object make_object(Shape shape, Colour colour, SizeClass size, float x, float y, int depth = 0,
                          Facing facing = Facing::None, char text = 0) {
  Object o;
  o.shape = shape;
  o.colour = colour;
  o.size = size;
  o.x = x;
  o.y = y;
  o.depth = depth;
  o.facing = facing;
  o.text = text;
  return o;
}

}  // namespace sightline::test
