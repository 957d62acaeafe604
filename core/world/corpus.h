// Scenes in words, for the text-only pretraining of the base LM, and the world's closed
// word list.
//
// A scene description lists the objects (in the scene's order) as
//   "<size> <colour> <shape> x<col> y<row> z<layer>[ pointing <dir>][ letter <c>|number <d>]"
// joined by " ; ", after "scene : " and ending " ." - e.g.
//   "scene : large red circle x3 y5 z1 ; small blue arrow x6 y2 z0 pointing left ."
// x/y are the grid cells of the object's centre (grid_cell), z its layer: 0 = drawn first
// (at the back), higher = further in front.
#pragma once

#include <string>
#include <vector>

#include "core/world/scene.h"

namespace sightline {

// "large red circle x3 y5 z1" (z = rank of the object's depth among the scene's objects).
std::string describe_object(const Scene& scene, size_t index, const WorldOptions& options);
// "scene : <object> ; <object> ."
std::string describe_scene(const Scene& scene, const WorldOptions& options);

// The prompt forms the corpus uses, for the trainer and evaluator to reuse:
// "statement : <caption> answer :" (a VSR caption judged yes/no) and
// "question : <question> answer :".
std::string statement_prompt(const std::string& caption);
std::string question_prompt(const std::string& question);

// The word splitter of the world's text (split_text_words, as WordTokenizer::split): ASCII
// lower-cased words split on whitespace, with each of . , ? ; : ! ' " ( ) a token of its own.
std::vector<std::string> split_words(const std::string& text);

// Neutral prompts for the lexical filter, in the world's vocabulary and free of spatial
// and OCR cue words; the first is the paper's "Describe the positions of objects in the
// image.".
std::vector<std::string> world_neutral_prompts();

// Every word the world's text can hold (scene descriptions, captions, questions, answers,
// corpus frames, neutral prompts), sorted and unique; depends on the grid, max_objects and
// the sign characters.
std::vector<std::string> world_vocabulary(const WorldOptions& options);

}  // namespace sightline
