// The world's sentences: VSR-style captions, VQA-style questions with their answers, and
// the relation facts of a scene. The text corpus (corpus.h) and the image datasets
// (datasets.h) both take their sentences from here, so they share every question string,
// relation and answer word.
//
// Question templates (lower case, as written; {o} = "red circle"):
//   colour     "what color is the {shape}?"                -> colour     (shape unique in scene)
//   shape      "what shape is the {colour} object?"        -> shape
//   count      "how many {shapes} are there?" / "how many objects are there?" -> 0-4 as digits
//   existence  "is there a {colour} {shape}?" ("an" before a vowel) -> yes / no (one of each per scene)
//   spatial    "is the {o} {relation} the {o2}?" ("does the {o} contain the {o2}?")
//                                                           -> yes / no (one of each per scene)
//   spatial    "what shape is {relation} the {o}?" ("what shape contains the {o}?")
//                                                           -> shape (exactly one object fits)
//   ocr        "what letter is on the sign?" / "what number is on the sign?"
//              ("... on the {colour} sign?" when there are several signs) -> letter or digit
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/world/generator.h"
#include "core/world/relations.h"
#include "core/world/rng.h"

namespace sightline {

struct WorldQuestion {
  std::string question;       // as above, e.g. "is the red circle left of the blue square?"
  std::string answer;         // one word: yes, no, a digit, a colour, a shape, a letter
  std::string question_type;  // leading words: "what color is the", "how many", "is the", ...
  std::string answer_type;    // "yes/no", "number" or "other" (VQAv2's answer types)
  std::string skill;          // "colour", "shape", "count", "existence", "spatial", "ocr"
  std::string relation;       // the VSR relation of a spatial question, else ""
};

// The skills of WorldQuestion::skill, in template order.
const std::vector<std::string>& question_skills();

// One relation statement about an ordered pair, with its (unambiguous) truth.
struct RelationFact {
  Relation relation = Relation::LeftOf;
  int subject = 0, object = 0;  // indices into scene.objects
  bool truth = false;
};

// "The red circle is left of the blue square." / "The red circle contains the blue square."
std::string relation_caption(Relation relation, const std::string& subject, const std::string& object);
// "is the red circle left of the blue square?" / "does the red circle contain the blue square?"
std::string relation_question(Relation relation, const std::string& subject, const std::string& object);
// "what shape is left of the blue square?" / "what shape contains the blue square?"
std::string relation_shape_question(Relation relation, const std::string& object);

// The other templates, shared with world_vocabulary.
std::string colour_question(Shape shape);                           // "what color is the circle?"
std::string shape_question(Colour colour);                          // "what shape is the red object?"
std::string count_question(const std::optional<Shape>& shape);      // "how many circles are there?"
std::string existence_question(Colour colour, Shape shape);         // "is there an orange sign?"
// "what letter is on the sign?"; "... on the red sign?" when `colour` is given.
std::string ocr_question(bool digit, const std::optional<Colour>& colour);

// Every unambiguous (relation, subject, object) statement of the scene, in a fixed order
// (relation, then subject, then object).
std::vector<RelationFact> scene_facts(const SceneGeometry& geometry);

// The questions of one scene, in template order (colour, shape, count, existence yes and
// no, spatial yes/no pair, spatial shape, ocr); templates a scene cannot support are
// skipped (e.g. no spatial questions with one object, no ocr without a sign). Yes and no
// answers come in pairs, so they balance exactly. When `target` is given (a scene built
// for a relation), its statement is one of the spatial yes/no pair.
std::vector<WorldQuestion> make_questions(const SceneGeometry& geometry, const WorldOptions& options, Rng& rng,
                                          const std::optional<RelationFact>& target);

}  // namespace sightline
