#include "core/world/corpus.h"

#include <algorithm>
#include <set>

#include "core/common/word_split.h"
#include "core/world/questions.h"
#include "core/world/relations.h"

namespace sightline {

namespace {

std::string lower(char c) { return std::string(1, ascii_lower(c)); }

}  // namespace

std::string describe_object(const Scene& scene, size_t index, const WorldOptions& options) {
  const Object& o = scene.objects[index];
  int layer = 0;
  for (const Object& other : scene.objects)
    if (other.depth < o.depth) ++layer;
  std::string text = size_name(o.size) + " " + colour_name(o.colour) + " " + shape_name(o.shape) + " x" +
                     std::to_string(grid_cell(o.x, options)) + " y" + std::to_string(grid_cell(o.y, options)) +
                     " z" + std::to_string(layer);
  if (o.shape == Shape::Arrow && o.facing != Facing::None) text += " pointing " + facing_name(o.facing);
  if (o.shape == Shape::Sign && o.text != 0)
    text += (o.text >= '0' && o.text <= '9' ? " number " : " letter ") + lower(o.text);
  return text;
}

std::string describe_scene(const Scene& scene, const WorldOptions& options) {
  std::string text = "scene :";
  for (size_t i = 0; i < scene.objects.size(); ++i) {
    text += i == 0 ? " " : " ; ";
    text += describe_object(scene, i, options);
  }
  return text + " .";
}

std::string statement_prompt(const std::string& caption) { return "statement : " + caption + " answer :"; }

std::string question_prompt(const std::string& question) { return "question : " + question + " answer :"; }

std::vector<std::string> split_words(const std::string& text) { return split_text_words(text); }

std::vector<std::string> world_neutral_prompts() {
  return {"Describe the positions of objects in the image.",
          "Describe the image.",
          "What is in the image?",
          "Describe the shapes in the image.",
          "List the objects in the image.",
          "Describe the colors and shapes of the objects.",
          "Where are the objects in the image?",
          "Describe the scene."};
}

std::vector<std::string> world_vocabulary(const WorldOptions& options) {
  std::set<std::string> words;
  const auto add = [&](const std::string& text) {
    for (const std::string& w : split_words(text)) words.insert(w);
  };
  // Corpus frames and answers.
  add("scene : ; . facts statement question answer : ? pointing letter number yes no");
  for (int i = 0; i <= std::max(9, options.max_objects); ++i) add(std::to_string(i));
  for (const char c : options.sign_characters) add(lower(c));
  for (int i = 0; i < options.grid; ++i) add("x" + std::to_string(i) + " y" + std::to_string(i));
  for (int i = 0; i < options.max_objects; ++i) add("z" + std::to_string(i));
  for (const SizeClass s : all_sizes()) add(size_name(s));
  for (const Facing f : all_facings()) add(facing_name(f));
  // Every template with every colour and shape.
  add(count_question(std::nullopt));
  for (const bool digit : {false, true}) add(ocr_question(digit, std::nullopt));
  for (const Colour c : all_colours()) {
    add(shape_question(c));
    for (const bool digit : {false, true}) add(ocr_question(digit, c));
    for (const Shape s : all_shapes()) {
      const std::string name = colour_name(c) + " " + shape_name(s);
      add(colour_question(s));
      add(count_question(s));
      add(existence_question(c, s));
      for (const RelationInfo& info : relation_table()) {
        add(relation_caption(info.relation, name, name));
        add(relation_question(info.relation, name, name));
        add(relation_shape_question(info.relation, name));
      }
    }
  }
  for (const std::string& p : world_neutral_prompts()) add(p);
  return {words.begin(), words.end()};
}

}  // namespace sightline
