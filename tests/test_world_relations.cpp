// Every relation on hand-made scenes, true, false and ambiguous cases, with the
// geometric quantities the definitions use checked first.
#include <gtest/gtest.h>

#include <set>

#include "core/data/vsr.h"
#include "core/world/relations.h"
#include "tests/test_util.h"
#include "tests/world_fixture.h"

namespace sightline {
namespace {

using test::make_object;

// Default options: 64 px images, 8 px cells; half-extents small 4.48, medium 6.4, large 8.96.
const WorldOptions kRelationOptions;

Scene scene_of(std::vector<Object> objects) {
  Scene s;
  s.image_size = kRelationOptions.image_size;
  s.objects = std::move(objects);
  return s;
}

Truth rel(const Scene& scene, Relation r, size_t a = 0, size_t b = 1) {
  return SceneGeometry(scene, kRelationOptions).relation(r, a, b);
}

constexpr Truth T = Truth::True;
constexpr Truth F = Truth::False;
constexpr Truth A = Truth::Ambiguous;

const Object kLeftCircle = make_object(Shape::Circle, Colour::Red, SizeClass::Medium, 16, 32);

TEST(WorldRelations, TableMatchesVsr) {
  const auto& table = relation_table();
  EXPECT_GE(table.size(), 12u);
  std::set<std::string> categories;
  for (size_t i = 0; i < table.size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(table[i].relation), i);
    EXPECT_EQ(relation_from_name(table[i].name), table[i].relation);
    categories.insert(table[i].meta_category);
  }
  EXPECT_GE(categories.size(), 4u);
  EXPECT_FALSE(relation_from_name("among").has_value());
  SIGHTLINE_REQUIRE_FIXTURES();
  // Names are VSR's relation strings, and the categories those of VSR's own file.
  const std::string dir = test::fixtures_dir() + "/vsr";
  std::set<std::string> vsr_relations;
  for (const VsrItem& item : read_vsr_jsonl(dir + "/all_vsr_validated_data.jsonl")) vsr_relations.insert(item.relation);
  const VsrRelationCategories cats = read_vsr_relation_categories(dir + "/rel_meta_category_dict.txt");
  for (const RelationInfo& info : table) {
    EXPECT_TRUE(vsr_relations.count(info.name)) << info.name;
    EXPECT_EQ(cats.category_of(info.name), info.meta_category) << info.name;
  }
}

TEST(WorldRelations, DistanceTransformAndGap) {
  // Two medium squares: A covers columns 14..25, B at x = 32.8 covers 26..38.
  const Object a = make_object(Shape::Square, Colour::Red, SizeClass::Medium, 20, 32);
  const Mask ma = object_mask(a, kRelationOptions);
  EXPECT_EQ(ma.x0, 14);
  EXPECT_EQ(ma.x1, 25);
  const auto d = chebyshev_distance(ma);
  EXPECT_EQ(d[32 * 64 + 20], 0);
  EXPECT_EQ(d[32 * 64 + 26], 1);
  EXPECT_EQ(d[32 * 64 + 30], 5);
  EXPECT_EQ(d[(ma.y0 - 3) * 64 + 10], 4);  // diagonal: max(|dx|, |dy|)

  const auto gap_to = [&](float bx) {
    const Scene s = scene_of({a, make_object(Shape::Square, Colour::Blue, SizeClass::Medium, bx, 32)});
    return SceneGeometry(s, kRelationOptions).gap(0, 1);
  };
  EXPECT_EQ(gap_to(32.8f), 1);
  EXPECT_EQ(gap_to(34.5f), 3);
  EXPECT_EQ(gap_to(39.5f), 8);
  EXPECT_EQ(gap_to(40.5f), 255);  // 9 > kDistanceCap
  EXPECT_EQ(gap_to(45.0f), 255);
  EXPECT_EQ(gap_to(28.0f), 0);
}

TEST(WorldRelations, LeftRightAboveBelow) {
  const Scene horizontal = scene_of({kLeftCircle, make_object(Shape::Square, Colour::Blue, SizeClass::Medium, 48, 36)});
  EXPECT_EQ(rel(horizontal, Relation::LeftOf), T);
  EXPECT_EQ(rel(horizontal, Relation::LeftOf, 1, 0), F);
  EXPECT_EQ(rel(horizontal, Relation::RightOf, 1, 0), T);
  EXPECT_EQ(rel(horizontal, Relation::RightOf), F);
  EXPECT_EQ(rel(horizontal, Relation::Above), A);  // 4 px vertical offset: less than a cell
  EXPECT_EQ(rel(horizontal, Relation::Below), A);

  const Scene vertical = scene_of({make_object(Shape::Circle, Colour::Red, SizeClass::Medium, 30, 12),
                                   make_object(Shape::Square, Colour::Blue, SizeClass::Medium, 34, 50)});
  EXPECT_EQ(rel(vertical, Relation::Above), T);
  EXPECT_EQ(rel(vertical, Relation::Below), F);
  EXPECT_EQ(rel(vertical, Relation::Below, 1, 0), T);
  EXPECT_EQ(rel(vertical, Relation::LeftOf), A);

  // Exactly one cell is enough; a little less is ambiguous.
  const Scene one_cell = scene_of({make_object(Shape::Circle, Colour::Red, SizeClass::Small, 20, 12),
                                   make_object(Shape::Circle, Colour::Blue, SizeClass::Small, 28, 52)});
  EXPECT_EQ(rel(one_cell, Relation::LeftOf), T);
  const Scene under_cell = scene_of({make_object(Shape::Circle, Colour::Red, SizeClass::Small, 20.5f, 12),
                                     make_object(Shape::Circle, Colour::Blue, SizeClass::Small, 28, 52)});
  EXPECT_EQ(rel(under_cell, Relation::LeftOf), A);
}

TEST(WorldRelations, Touching) {
  const Object a = make_object(Shape::Square, Colour::Red, SizeClass::Medium, 20, 32);
  const auto with_b = [&](float bx) {
    return scene_of({a, make_object(Shape::Square, Colour::Blue, SizeClass::Medium, bx, 32, 1)});
  };
  EXPECT_EQ(rel(with_b(32.8f), Relation::Touching), T);  // adjacent columns
  EXPECT_EQ(rel(with_b(32.8f), Relation::Touching, 1, 0), T);
  EXPECT_EQ(rel(with_b(31.0f), Relation::Touching), T);  // 2 columns overlap: 26 px, 15% of 169
  EXPECT_EQ(rel(with_b(45.0f), Relation::Touching), F);
  EXPECT_EQ(rel(with_b(34.5f), Relation::Touching), A);  // 2 background columns: too close to call
  EXPECT_EQ(rel(with_b(26.0f), Relation::Touching), A);  // heavy overlap
}

TEST(WorldRelations, OnTopOfAndUnder) {
  // Small square resting on a large square: A's bottom row 30, B's top row 31.
  const Object base = make_object(Shape::Square, Colour::Blue, SizeClass::Large, 32, 40);
  const Scene resting = scene_of({make_object(Shape::Square, Colour::Red, SizeClass::Small, 32, 26.5f, 1), base});
  const SceneGeometry g(resting, kRelationOptions);
  EXPECT_EQ(g.mask(0).y1, 30);
  EXPECT_EQ(g.mask(1).y0, 31);
  EXPECT_EQ(rel(resting, Relation::OnTopOf), T);
  EXPECT_EQ(rel(resting, Relation::Under, 1, 0), T);
  EXPECT_EQ(rel(resting, Relation::OnTopOf, 1, 0), F);
  EXPECT_EQ(rel(resting, Relation::Under), F);
  EXPECT_EQ(rel(resting, Relation::Above), T);

  const Scene floating = scene_of({make_object(Shape::Square, Colour::Red, SizeClass::Small, 32, 10, 1), base});
  EXPECT_EQ(rel(floating, Relation::Above), T);
  EXPECT_EQ(rel(floating, Relation::OnTopOf), F);  // above but not touching
  EXPECT_EQ(rel(floating, Relation::Under, 1, 0), F);

  // Touching from the side: B's left column 23, A's right column 22.
  const Scene side = scene_of({make_object(Shape::Square, Colour::Red, SizeClass::Small, 18.5f, 40, 1), base});
  EXPECT_EQ(rel(side, Relation::Touching), T);
  EXPECT_EQ(rel(side, Relation::OnTopOf), F);
  EXPECT_EQ(rel(side, Relation::Under), F);
}

TEST(WorldRelations, BesideNextToAndSides) {
  const Scene pair = scene_of({make_object(Shape::Circle, Colour::Red, SizeClass::Medium, 20, 32),
                               make_object(Shape::Circle, Colour::Blue, SizeClass::Medium, 38, 32)});
  for (const Relation r : {Relation::Beside, Relation::NextTo}) {
    EXPECT_EQ(rel(pair, r), T);
    EXPECT_EQ(rel(pair, r, 1, 0), T);
  }
  EXPECT_EQ(rel(pair, Relation::AtLeftSideOf), T);
  EXPECT_EQ(rel(pair, Relation::AtRightSideOf), F);
  EXPECT_EQ(rel(pair, Relation::AtRightSideOf, 1, 0), T);
  EXPECT_EQ(rel(pair, Relation::AtLeftSideOf, 1, 0), F);

  const Scene stacked = scene_of({make_object(Shape::Circle, Colour::Red, SizeClass::Medium, 32, 14),
                                  make_object(Shape::Circle, Colour::Blue, SizeClass::Medium, 32, 48)});
  EXPECT_EQ(rel(stacked, Relation::Beside), F);
  EXPECT_EQ(rel(stacked, Relation::AtLeftSideOf), F);
  const Scene apart = scene_of({make_object(Shape::Circle, Colour::Red, SizeClass::Medium, 10, 32),
                                make_object(Shape::Circle, Colour::Blue, SizeClass::Medium, 54, 30)});
  EXPECT_EQ(rel(apart, Relation::NextTo), F);
  // 14 columns of background: more than 1 cell, less than 2.5.
  const Scene between = scene_of({make_object(Shape::Circle, Colour::Red, SizeClass::Medium, 20, 32),
                                  make_object(Shape::Circle, Colour::Blue, SizeClass::Medium, 46, 32)});
  EXPECT_EQ(rel(between, Relation::Beside), A);
  EXPECT_EQ(rel(between, Relation::AtLeftSideOf), A);
}

TEST(WorldRelations, NearAndFar) {
  const Scene close = scene_of({make_object(Shape::Circle, Colour::Red, SizeClass::Medium, 20, 32),
                                make_object(Shape::Circle, Colour::Blue, SizeClass::Medium, 38, 32)});
  EXPECT_EQ(rel(close, Relation::Near), T);
  EXPECT_EQ(rel(close, Relation::FarFrom), F);
  const Scene corners = scene_of({make_object(Shape::Circle, Colour::Red, SizeClass::Small, 8, 8),
                                  make_object(Shape::Circle, Colour::Blue, SizeClass::Small, 55, 55)});
  EXPECT_EQ(rel(corners, Relation::Near), F);
  EXPECT_EQ(rel(corners, Relation::FarFrom), T);
  EXPECT_EQ(rel(corners, Relation::FarFrom, 1, 0), T);
  const Scene middling = scene_of({make_object(Shape::Circle, Colour::Red, SizeClass::Medium, 20, 32),
                                   make_object(Shape::Circle, Colour::Blue, SizeClass::Medium, 44, 32)});
  EXPECT_EQ(rel(middling, Relation::Near), A);
  EXPECT_EQ(rel(middling, Relation::FarFrom), A);
}

TEST(WorldRelations, InsideAndContains) {
  const Object inner = make_object(Shape::Circle, Colour::Red, SizeClass::Small, 32, 32, 1);
  for (const Shape container : {Shape::Circle, Shape::Square, Shape::Ring}) {
    const Scene nested = scene_of({inner, make_object(container, Colour::Blue, SizeClass::Large, 32, 32, 0)});
    EXPECT_EQ(rel(nested, Relation::Inside), T) << shape_name(container);
    EXPECT_EQ(rel(nested, Relation::Contains, 1, 0), T);
    EXPECT_EQ(rel(nested, Relation::Inside, 1, 0), F);
    EXPECT_EQ(rel(nested, Relation::Contains), F);
    // Axis, touching and depth relations are not asked about nested objects.
    EXPECT_EQ(rel(nested, Relation::LeftOf), A);
    EXPECT_EQ(rel(nested, Relation::Touching), A);
    EXPECT_EQ(rel(nested, Relation::InFrontOf), A);
  }
  // Drawn behind its would-be container: hidden, so not "inside".
  Object hidden = inner;
  hidden.depth = 0;
  const Scene behind = scene_of({hidden, make_object(Shape::Circle, Colour::Blue, SizeClass::Large, 32, 32, 1)});
  EXPECT_EQ(rel(behind, Relation::Inside), A);
  // A sign never contains anything (its text must stay readable).
  const Scene on_sign =
      scene_of({make_object(Shape::Circle, Colour::Red, SizeClass::Small, 32, 32, 1),
                make_object(Shape::Sign, Colour::White, SizeClass::Large, 32, 32, 0, Facing::None, 'K')});
  EXPECT_NE(rel(on_sign, Relation::Inside), T);
  // Poking out of the container: neither inside nor apart.
  const Scene poking = scene_of({make_object(Shape::Circle, Colour::Red, SizeClass::Small, 38, 32, 1),
                                 make_object(Shape::Circle, Colour::Blue, SizeClass::Large, 32, 32, 0)});
  EXPECT_EQ(rel(poking, Relation::Inside), A);
  const Scene apart = scene_of({make_object(Shape::Circle, Colour::Red, SizeClass::Small, 10, 10, 1),
                                make_object(Shape::Circle, Colour::Blue, SizeClass::Large, 40, 40, 0)});
  EXPECT_EQ(rel(apart, Relation::Inside), F);
  EXPECT_EQ(rel(apart, Relation::Contains, 1, 0), F);
}

TEST(WorldRelations, InFrontOfAndBehind) {
  const Scene overlap = scene_of({make_object(Shape::Square, Colour::Red, SizeClass::Medium, 28, 32, 1),
                                  make_object(Shape::Circle, Colour::Blue, SizeClass::Medium, 37, 32, 0)});
  EXPECT_GT(SceneGeometry(overlap, kRelationOptions).overlap(0, 1), 6);
  EXPECT_EQ(rel(overlap, Relation::InFrontOf), T);
  EXPECT_EQ(rel(overlap, Relation::Behind, 1, 0), T);
  EXPECT_EQ(rel(overlap, Relation::Behind), F);
  EXPECT_EQ(rel(overlap, Relation::InFrontOf, 1, 0), F);
  // No overlap: no occlusion to see, so neither.
  const Scene apart = scene_of({make_object(Shape::Square, Colour::Red, SizeClass::Medium, 14, 32, 1),
                                make_object(Shape::Circle, Colour::Blue, SizeClass::Medium, 50, 32, 0)});
  EXPECT_EQ(rel(apart, Relation::InFrontOf), A);
  EXPECT_EQ(rel(apart, Relation::Behind), A);
}

TEST(WorldRelations, FacingAndFacingAway) {
  const Object target = make_object(Shape::Square, Colour::Blue, SizeClass::Medium, 48, 36);
  const auto arrow = [&](Facing f) {
    return make_object(Shape::Arrow, Colour::Red, SizeClass::Medium, 16, 32, 0, f);
  };
  const Scene toward = scene_of({arrow(Facing::Right), target});
  EXPECT_EQ(rel(toward, Relation::Facing), T);
  EXPECT_EQ(rel(toward, Relation::FacingAwayFrom), F);
  const Scene away = scene_of({arrow(Facing::Left), target});
  EXPECT_EQ(rel(away, Relation::Facing), F);
  EXPECT_EQ(rel(away, Relation::FacingAwayFrom), T);
  const Scene across = scene_of({arrow(Facing::Up), target});  // about 83 degrees off
  EXPECT_EQ(rel(across, Relation::Facing), F);
  EXPECT_EQ(rel(across, Relation::FacingAwayFrom), F);
  // 45 degrees: between the thresholds.
  const Scene diagonal =
      scene_of({arrow(Facing::Right), make_object(Shape::Square, Colour::Blue, SizeClass::Small, 40, 56)});
  EXPECT_EQ(rel(diagonal, Relation::Facing), A);
  // Only arrows face; the square does not.
  EXPECT_EQ(rel(toward, Relation::Facing, 1, 0), A);
  // Closer than a cell: ambiguous.
  const Scene close =
      scene_of({arrow(Facing::Right), make_object(Shape::Circle, Colour::Blue, SizeClass::Small, 22, 32)});
  EXPECT_EQ(rel(close, Relation::Facing), A);
}

TEST(WorldRelations, SelfAndOutOfRangeAreAmbiguous) {
  const Scene s = scene_of({kLeftCircle, make_object(Shape::Square, Colour::Blue, SizeClass::Medium, 48, 36)});
  EXPECT_EQ(rel(s, Relation::LeftOf, 0, 0), A);
  EXPECT_EQ(rel(s, Relation::LeftOf, 0, 5), A);
}

TEST(WorldScene, ProblemsAreReported) {
  const auto problem = [](const Scene& s) { return scene_problem(s, SceneGeometry(s, kRelationOptions), kRelationOptions); };
  const Object sign = make_object(Shape::Sign, Colour::Yellow, SizeClass::Medium, 40, 40, 1, Facing::None, 'K');
  EXPECT_EQ(problem(scene_of({kLeftCircle, sign})), "");
  EXPECT_NE(problem(scene_of({make_object(Shape::Circle, Colour::Red, SizeClass::Large, 5, 30)})).find("leaves"),
            std::string::npos);
  Object same_colour = sign;
  same_colour.colour = Colour::Red;
  EXPECT_NE(problem(scene_of({kLeftCircle, same_colour})).find("colour"), std::string::npos);
  Object covering = make_object(Shape::Circle, Colour::Green, SizeClass::Small, 44, 40, 2);
  EXPECT_NE(problem(scene_of({sign, covering})).find("covered"), std::string::npos);
  Object small_sign = sign;
  small_sign.size = SizeClass::Small;
  EXPECT_NE(problem(scene_of({small_sign})).find("too small"), std::string::npos);
  Object no_text = sign;
  no_text.text = 'O';  // not in the default sign_characters
  EXPECT_NE(problem(scene_of({no_text})).find("sign_characters"), std::string::npos);
  Object lost_arrow = make_object(Shape::Arrow, Colour::Red, SizeClass::Medium, 30, 30);
  EXPECT_NE(problem(scene_of({lost_arrow})).find("direction"), std::string::npos);
  // Half covered: a small circle almost entirely under a large square.
  const Scene hidden = scene_of({make_object(Shape::Circle, Colour::Red, SizeClass::Small, 30, 30, 0),
                                 make_object(Shape::Square, Colour::Blue, SizeClass::Large, 32, 32, 1)});
  EXPECT_NE(problem(hidden).find("half visible"), std::string::npos);
}

}  // namespace
}  // namespace sightline
