#include "core/world/questions.h"

#include <algorithm>
#include <map>
#include <set>

namespace sightline {

namespace {

std::string lower_char(char c) {
  return std::string(1, c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
}

WorldQuestion spatial_yes_no(const Scene& scene, const RelationFact& fact) {
  const Object& s = scene.objects[static_cast<size_t>(fact.subject)];
  const Object& o = scene.objects[static_cast<size_t>(fact.object)];
  const bool copula = relation_info(fact.relation).copula;
  return {relation_question(fact.relation, s.name(), o.name()), fact.truth ? "yes" : "no",
          copula ? "is the" : "does the", "yes/no", "spatial", relation_info(fact.relation).name};
}

// Relations whose shape question would be trivial ("what shape is facing ..." is always
// an arrow) are left out of the shape questions.
bool shape_question_relation(Relation r) { return r != Relation::Facing && r != Relation::FacingAwayFrom; }

}  // namespace

std::string relation_caption(Relation relation, const std::string& subject, const std::string& object) {
  const RelationInfo& info = relation_info(relation);
  return "The " + subject + (info.copula ? " is " : " ") + info.name + " the " + object + ".";
}

std::string relation_question(Relation relation, const std::string& subject, const std::string& object) {
  const RelationInfo& info = relation_info(relation);
  if (!info.copula) return "does the " + subject + " contain the " + object + "?";
  return "is the " + subject + " " + info.name + " the " + object + "?";
}

std::string relation_shape_question(Relation relation, const std::string& object) {
  const RelationInfo& info = relation_info(relation);
  return "what shape " + std::string(info.copula ? "is " : "") + info.name + " the " + object + "?";
}

std::string colour_question(Shape shape) { return "what color is the " + shape_name(shape) + "?"; }

std::string shape_question(Colour colour) { return "what shape is the " + colour_name(colour) + " object?"; }

std::string count_question(const std::optional<Shape>& shape) {
  return "how many " + (shape ? shape_plural(*shape) : std::string("objects")) + " are there?";
}

const std::vector<std::string>& question_skills() {
  static const std::vector<std::string> skills{"colour", "shape", "count", "existence", "spatial", "ocr"};
  return skills;
}

std::string existence_question(Colour colour, Shape shape) {
  const std::string c = colour_name(colour);
  const bool vowel = std::string("aeiou").find(c[0]) != std::string::npos;
  return std::string("is there ") + (vowel ? "an " : "a ") + c + " " + shape_name(shape) + "?";
}

std::string ocr_question(bool digit, const std::optional<Colour>& colour) {
  return std::string("what ") + (digit ? "number" : "letter") + " is on the " +
         (colour ? colour_name(*colour) + " " : std::string()) + "sign?";
}

std::vector<RelationFact> scene_facts(const SceneGeometry& geometry) {
  std::vector<RelationFact> facts;
  const int n = static_cast<int>(geometry.size());
  for (const RelationInfo& info : relation_table())
    for (int a = 0; a < n; ++a)
      for (int b = 0; b < n; ++b) {
        if (a == b) continue;
        const Truth t = geometry.relation(info.relation, static_cast<size_t>(a), static_cast<size_t>(b));
        if (t != Truth::Ambiguous) facts.push_back({info.relation, a, b, t == Truth::True});
      }
  return facts;
}

std::vector<WorldQuestion> make_questions(const SceneGeometry& geometry, const WorldOptions& options, Rng& rng,
                                          const std::optional<RelationFact>& target) {
  const Scene& scene = geometry.scene();
  const std::vector<Object>& objects = scene.objects;
  const size_t n = objects.size();
  std::vector<WorldQuestion> questions;
  if (n == 0) return questions;

  std::map<Shape, int> shape_count;
  std::set<std::pair<Colour, Shape>> present;
  for (const Object& o : objects) {
    ++shape_count[o.shape];
    present.insert({o.colour, o.shape});
  }

  // colour: an object whose shape is unique in the scene.
  std::vector<size_t> unique_shape;
  for (size_t i = 0; i < n; ++i)
    if (shape_count[objects[i].shape] == 1) unique_shape.push_back(i);
  if (!unique_shape.empty()) {
    const Object& o = objects[rng.pick(unique_shape)];
    questions.push_back({colour_question(o.shape), colour_name(o.colour),
                         "what color is the", "other", "colour", ""});
  }

  // shape: colours are distinct, so any object.
  {
    const Object& o = objects[rng.index(n)];
    questions.push_back({shape_question(o.colour), shape_name(o.shape),
                         "what shape is the", "other", "shape", ""});
  }

  // count: all objects, or one shape (present half of the time, else any shape).
  if (rng.bernoulli(1.0 / 3.0)) {
    questions.push_back({count_question(std::nullopt), std::to_string(n), "how many", "number", "count", ""});
  } else {
    const Shape s = rng.bernoulli(0.5) ? objects[rng.index(n)].shape : rng.pick(options.shapes);
    questions.push_back({count_question(s), std::to_string(shape_count[s]), "how many",
                         "number", "count", ""});
  }

  // existence: one present object (yes) and one absent colour-shape pair (no); two times
  // in three the absent pair shares a colour or a shape with the scene (a harder negative).
  {
    const Object& yes = objects[rng.index(n)];
    std::vector<std::pair<Colour, Shape>> absent, near_miss;
    for (const Colour c : options.colours)
      for (const Shape s : options.shapes) {
        if (present.count({c, s})) continue;
        absent.push_back({c, s});
        if (std::any_of(objects.begin(), objects.end(), [&](const Object& o) { return o.colour == c || o.shape == s; }))
          near_miss.push_back({c, s});
      }
    if (!absent.empty()) {
      const auto& no = (!near_miss.empty() && rng.bernoulli(2.0 / 3.0)) ? rng.pick(near_miss) : rng.pick(absent);
      questions.push_back({existence_question(yes.colour, yes.shape), "yes", "is there a", "yes/no", "existence", ""});
      questions.push_back({existence_question(no.first, no.second), "no", "is there a", "yes/no", "existence", ""});
    }
  }

  // spatial yes/no: one true and one false statement, of the same relation when possible
  // (so the relation alone does not give the answer away).
  if (n >= 2) {
    const std::vector<RelationFact> facts = scene_facts(geometry);
    std::map<Relation, std::vector<RelationFact>> yes_by, no_by;
    for (const RelationFact& f : facts) (f.truth ? yes_by : no_by)[f.relation].push_back(f);
    std::optional<RelationFact> first, second;
    if (target) {
      first = *target;
      const auto& opposite_by = target->truth ? no_by : yes_by;
      const auto it = opposite_by.find(target->relation);
      if (it != opposite_by.end()) {
        second = rng.pick(it->second);
      } else {
        std::vector<RelationFact> opposite;
        for (const RelationFact& f : facts)
          if (f.truth != target->truth) opposite.push_back(f);
        if (!opposite.empty()) second = rng.pick(opposite);
      }
    } else {
      std::vector<Relation> both;
      for (const auto& [r, list] : yes_by)
        if (no_by.count(r)) both.push_back(r);
      if (!both.empty()) {
        const Relation r = rng.pick(both);
        first = rng.pick(yes_by[r]);
        second = rng.pick(no_by[r]);
      } else if (!yes_by.empty() && !no_by.empty()) {
        std::vector<RelationFact> yes, no;
        for (const RelationFact& f : facts) (f.truth ? yes : no).push_back(f);
        first = rng.pick(yes);
        second = rng.pick(no);
      }
    }
    if (first && second) {
      // Random order, so the yes question is not always first.
      if (rng.bernoulli(0.5)) std::swap(first, second);
      questions.push_back(spatial_yes_no(scene, *first));
      questions.push_back(spatial_yes_no(scene, *second));
    }

    // spatial shape question: (relation, object b) where exactly one other object x has
    // relation(x, b) true and every remaining object has it false.
    std::map<Relation, std::vector<std::pair<size_t, size_t>>> candidates;  // (x, b)
    for (const RelationInfo& info : relation_table()) {
      if (!shape_question_relation(info.relation)) continue;
      for (size_t b = 0; b < n; ++b) {
        int found = -1;
        bool clean = true;
        for (size_t x = 0; x < n && clean; ++x) {
          if (x == b) continue;
          const Truth t = geometry.relation(info.relation, x, b);
          if (t == Truth::Ambiguous || (t == Truth::True && found >= 0)) {
            clean = false;
          } else if (t == Truth::True) {
            found = static_cast<int>(x);
          }
        }
        if (clean && found >= 0) candidates[info.relation].push_back({static_cast<size_t>(found), b});
      }
    }
    if (!candidates.empty()) {
      std::vector<Relation> relations;
      for (const auto& [r, list] : candidates) relations.push_back(r);
      const Relation r = rng.pick(relations);
      const auto [x, b] = rng.pick(candidates[r]);
      questions.push_back({relation_shape_question(r, objects[b].name()), shape_name(objects[x].shape),
                           relation_info(r).copula ? "what shape is" : "what shape contains", "other", "spatial",
                           relation_info(r).name});
    }
  }

  // ocr: the character on a sign.
  std::vector<size_t> signs;
  for (size_t i = 0; i < n; ++i)
    if (objects[i].shape == Shape::Sign && objects[i].text != 0) signs.push_back(i);
  if (!signs.empty()) {
    const Object& sign = objects[rng.pick(signs)];
    const bool digit = sign.text >= '0' && sign.text <= '9';
    const std::optional<Colour> which = signs.size() == 1 ? std::nullopt : std::optional<Colour>(sign.colour);
    questions.push_back({ocr_question(digit, which), lower_char(sign.text),
                         digit ? "what number is on the" : "what letter is on the", digit ? "number" : "other", "ocr",
                         ""});
  }
  return questions;
}

}  // namespace sightline
