#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "core/common/error.h"
#include "core/world/font.h"
#include "core/world/generator.h"
#include "core/world/raster.h"
#include "core/world/render.h"
#include "tests/world_fixture.h"

namespace sightline {
namespace {

const WorldOptions kRenderOptions;

using test::make_object;

std::array<uint8_t, 3> pixel(const ImageU8& image, double x, double y) {
  const uint8_t* p = image.at(static_cast<int>(x), static_cast<int>(y));
  return {p[0], p[1], p[2]};
}

// A point on the object's painted area away from holes and glyphs: the centre, except on
// the ring's band and above a sign's glyph.
std::pair<double, double> probe(const Object& o) {
  const double r = half_extent(o.size, kRenderOptions);
  if (o.shape == Shape::Ring) return {o.x + 0.78 * r, o.y};
  if (o.shape == Shape::Sign) return {o.x, o.y - r + 0.9};
  return {o.x, o.y};
}

TEST(WorldFont, AllGlyphsPresentAndDistinct) {
  std::set<std::array<uint8_t, kGlyphHeight>> seen;
  const std::string chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  for (const char c : chars) {
    const auto* g = glyph_5x7(c);
    ASSERT_NE(g, nullptr) << c;
    int ink = 0;
    for (const uint8_t row : *g) {
      EXPECT_EQ(row & ~0x1F, 0) << c;
      ink += __builtin_popcount(row);
    }
    EXPECT_GE(ink, 7) << c;
    EXPECT_TRUE(seen.insert(*g).second) << "duplicate glyph " << c;
  }
  EXPECT_EQ(glyph_5x7('a'), glyph_5x7('A'));
  EXPECT_EQ(glyph_5x7('?'), nullptr);
  // 'T': full top row, then the middle column.
  for (int x = 0; x < kGlyphWidth; ++x) EXPECT_TRUE(glyph_pixel('T', x, 0));
  EXPECT_TRUE(glyph_pixel('T', 2, 6));
  EXPECT_FALSE(glyph_pixel('T', 0, 6));
  EXPECT_FALSE(glyph_pixel('T', 5, 0));
}

TEST(WorldRender, ColourAtEachObjectCentre) {
  Scene scene;
  scene.image_size = 64;
  scene.objects = {make_object(Shape::Circle, Colour::Red, SizeClass::Medium, 12, 12, 0),
                   make_object(Shape::Square, Colour::Green, SizeClass::Small, 32, 12, 1),
                   make_object(Shape::Triangle, Colour::Blue, SizeClass::Large, 52, 13, 2),
                   make_object(Shape::Cross, Colour::Yellow, SizeClass::Medium, 12, 34, 3),
                   make_object(Shape::Ring, Colour::Purple, SizeClass::Large, 34, 34, 4),
                   make_object(Shape::Arrow, Colour::Orange, SizeClass::Medium, 53, 33, 5, Facing::Up),
                   make_object(Shape::Sign, Colour::White, SizeClass::Large, 14, 52, 6, Facing::None, 'K'),
                   make_object(Shape::Circle, Colour::Cyan, SizeClass::Small, 40, 54, 7)};
  const ImageU8 image = render_scene(scene, kRenderOptions);
  ASSERT_EQ(image.width, 64);
  ASSERT_EQ(image.height, 64);
  ASSERT_EQ(image.rgb.size(), 64u * 64u * 3u);
  for (const Object& o : scene.objects) {
    const auto [x, y] = probe(o);
    EXPECT_EQ(pixel(image, x, y), object_fill_rgb(o)) << o.name();
  }
  // Background where nothing is, the ring's hole included.
  EXPECT_EQ(pixel(image, 63, 0), kRenderOptions.background);
  EXPECT_EQ(pixel(image, 34, 34), kRenderOptions.background);
  // A sign panel is its colour lightened towards white.
  EXPECT_EQ(object_fill_rgb(scene.objects[6]), (std::array<uint8_t, 3>{248, 248, 248}));
  EXPECT_EQ(object_fill_rgb(scene.objects[0]), colour_rgb(Colour::Red));
}

TEST(WorldRender, SignGlyphIsDrawn) {
  for (const SizeClass size : {SizeClass::Medium, SizeClass::Large}) {
    Scene scene;
    scene.objects = {make_object(Shape::Sign, Colour::Yellow, size, 32, 32, 0, Facing::None, 'H')};
    const ImageU8 image = render_scene(scene, kRenderOptions);
    const GlyphLayout g = sign_glyph_layout(scene.objects[0], kRenderOptions);
    EXPECT_EQ(g.scale, size == SizeClass::Medium ? 1 : 2);
    int ink = 0, expected = 0;
    for (int y = 0; y < 64; ++y)
      for (int x = 0; x < 64; ++x)
        if (pixel(image, x, y) == kSignInk) ++ink;
    for (int row = 0; row < kGlyphHeight; ++row)
      for (int col = 0; col < kGlyphWidth; ++col) expected += glyph_pixel('H', col, row) ? g.scale * g.scale : 0;
    EXPECT_EQ(ink, expected);
    // The H's left stroke at the glyph's top-left, the gap in its top middle.
    EXPECT_EQ(pixel(image, g.x0, g.y0), kSignInk);
    EXPECT_EQ(pixel(image, g.x0 + 2 * g.scale, g.y0), object_fill_rgb(scene.objects[0]));
  }
  EXPECT_EQ(min_sign_size(kRenderOptions), SizeClass::Medium);
}

TEST(WorldRender, PainterOrderByDepth) {
  Scene scene;
  scene.objects = {make_object(Shape::Square, Colour::Red, SizeClass::Large, 28, 32, 1),
                   make_object(Shape::Circle, Colour::Blue, SizeClass::Large, 36, 32, 0)};
  EXPECT_EQ(pixel(render_scene(scene, kRenderOptions), 32, 32), colour_rgb(Colour::Red));
  std::swap(scene.objects[0].depth, scene.objects[1].depth);
  EXPECT_EQ(pixel(render_scene(scene, kRenderOptions), 32, 32), colour_rgb(Colour::Blue));
  EXPECT_EQ(draw_order(scene), (std::vector<size_t>{0, 1}));
}

TEST(WorldRender, ArrowPointsItsWay) {
  // The head is wide, the shaft narrow: 3 px off the axis is ink only on the head side.
  for (const Facing f : all_facings()) {
    Scene scene;
    scene.objects = {make_object(Shape::Arrow, Colour::Red, SizeClass::Large, 32, 32, 0, f)};
    const ImageU8 image = render_scene(scene, kRenderOptions);
    double hx = 0, hy = 0;
    if (f == Facing::Right) hx = 3;
    if (f == Facing::Left) hx = -3;
    if (f == Facing::Down) hy = 3;
    if (f == Facing::Up) hy = -3;
    // Offset across the axis by 4 px.
    const double ax = hy != 0 ? 4 : 0, ay = hx != 0 ? 4 : 0;
    EXPECT_EQ(pixel(image, 32 + hx + ax, 32 + hy + ay), colour_rgb(Colour::Red)) << facing_name(f);
    EXPECT_EQ(pixel(image, 32 - hx - hx + ax, 32 - hy - hy + ay), kRenderOptions.background) << facing_name(f);
  }
}

TEST(WorldRender, GeneratedScenesShowEveryObject) {
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Rng rng(seed);
    const std::optional<RelationTarget> target =
        seed % 2 ? std::nullopt
                 : std::optional<RelationTarget>(RelationTarget{relation_table()[seed % relation_table().size()].relation,
                                                                seed % 4 == 0});
    const GeneratedScene g = generate_scene(rng, kRenderOptions, target);
    const ImageU8 image = render_scene(g.scene, kRenderOptions);
    for (size_t i = 0; i < g.scene.objects.size(); ++i) {
      const Object& o = g.scene.objects[i];
      const auto [x, y] = probe(o);
      bool covered = false;
      for (const Object& other : g.scene.objects)
        if (other.depth > o.depth &&
            shape_covers(other, half_extent(other.size, kRenderOptions), std::floor(x) + 0.5, std::floor(y) + 0.5))
          covered = true;
      if (!covered) {
        EXPECT_EQ(pixel(image, x, y), object_fill_rgb(o)) << "seed " << seed << " " << o.name();
      }
    }
  }
}

TEST(WorldRender, SizeMismatchIsAnError) {
  Scene scene;
  scene.image_size = 32;
  EXPECT_THROW(render_scene(scene, kRenderOptions), Error);
}

}  // namespace
}  // namespace sightline
