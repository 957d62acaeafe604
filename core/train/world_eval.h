// Evaluation of a shapes-world VLM on its held-out split: VSR-style statements and VQA
// questions, by answer type, relation and skill, with the image-shuffle control that
// shows the answers come from the image.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/progress.h"
#include "core/model/model.h"
#include "core/tokenizer/word_tokenizer.h"
#include "core/world/datasets.h"

namespace sightline {

struct Tally {
  int64_t correct = 0, total = 0;
  double accuracy() const { return total ? static_cast<double>(correct) / static_cast<double>(total) : 0.0; }
};

struct WorldEvalReport {
  Tally vsr;                                  // statements judged yes/no
  std::map<std::string, Tally> vsr_relation;  // per VSR relation
  std::map<std::string, Tally> vqa_type;      // per answer type: yes/no, number, other
  std::map<std::string, Tally> vqa_skill;     // per skill: colour, shape, count, ...
  Tally vsr_shuffled;                         // control: each statement asked of another scene's image
  Tally vqa_yesno_shuffled;
  Tally vqa_yesno_blank;                      // control: a blank (background-only) image
  nlohmann::json to_json() const;
};

// The prompt of a question or statement for the world's VLM (or its base LM when
// `with_image` is false): <bos> [image] question : q answer :   /   statement : c answer :
std::vector<int64_t> world_question_ids(const WordTokenizer& tok, const std::string& question, bool with_image);
std::vector<int64_t> world_statement_ids(const WordTokenizer& tok, const std::string& caption, bool with_image);

// Evaluates on scenes [0, n_scenes) of `split`. Yes/no items are scored by the larger of
// P(yes) and P(no) at the answer position; other answers by the argmax over the vocabulary.
WorldEvalReport evaluate_world_vlm(const VisionLanguageModel& model, const WordTokenizer& tok,
                                   const WorldDataOptions& data, WorldSplit split, int64_t n_scenes,
                                   Progress& progress, bool controls = true);

// The same items asked of a text-only LM with the scene described in words in place of
// the image ("scene : ... . question : q answer :"): what the base LM can answer from
// words, the ceiling the VLM's image reading is measured against.
WorldEvalReport evaluate_world_text(const VisionLanguageModel& model, const WordTokenizer& tok,
                                    const WorldDataOptions& data, WorldSplit split, int64_t n_scenes,
                                    Progress& progress);

}  // namespace sightline
