// From a stored top activation (one activation per token) to prompt A's input: the text
// pieces of the question and the feature's activation on each. Uses only the abstract
// Tokenizer interface (core/tokenizer/tokenizer.h), so any tokenizer works.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tokenizer/tokenizer.h"

namespace sightline {

struct QuestionTokens {
  std::vector<std::string> pieces;  // concatenated: the question text
  std::vector<float> activations;   // one per piece
  bool question_span = false;       // true: the question alone; false: every non-special text token
};

// The question's pieces and activations within a prompt.
//   prompt_ids   the sample's prompt (PromptItem::ids): at most one kImageTokenIndex
//   token_acts   the feature's activations, in one of these layouts (checked in order):
//                  one per prompt id            (size = ids; the placeholder's entry ignored)
//                  one per model position       (size = ids - 1 + image_tokens: the image
//                                                span, placed where the placeholder is, dropped)
//                  one per text id              (size = ids - 1: the placeholder skipped)
//                  one per question token       (size = the question span's length)
//   question     the question text the prompt was built from (PromptItem::text)
//   image_tokens the model's positions per image
// The question span is the first occurrence of encode(question) (or of encode(" " +
// question)) among the prompt's text ids; when absent (a tokenizer that merges across the
// template), every text id that is not a special token (BOS, EOS, <|...|>) is used. Pieces
// are differences of successive prefix decodes, so they carry their spaces. Throws Error
// naming `what` (e.g. "sample 'vqa:1'") when token_acts fits none of the layouts.
QuestionTokens question_tokens(const Tokenizer& tokenizer, const std::vector<int64_t>& prompt_ids,
                               const std::vector<float>& token_acts, const std::string& question,
                               int64_t image_tokens, const std::string& what);

}  // namespace sightline
