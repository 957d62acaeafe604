// Prompt builders: the LLaVA-MORE (Llama 3.1 chat template) prompt and the minimal
// prompt format of the shapes world. Both mark the image's place with one
// kImageTokenIndex, which the model replaces by the projected image tokens.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/common/constants.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/word_tokenizer.h"

namespace sightline {

// LLaVA's IMAGE_TOKEN_INDEX: the placeholder id of the image in input_ids.

// LLaVA-MORE's system message (conv_llava_llama_3_1 in llava/conversation.py).
inline constexpr const char* kLlavaMoreSystem =
    "You are a helpful language and vision assistant. You are able to understand the visual content that the "
    "user provides, and assist the user with a variety of tasks using natural language.";

// The lines the Llama 3.1 Instruct chat template puts at the head of every system turn
// (date_string defaults to "26 Jul 2024" when the caller gives none).
inline constexpr const char* kLlama31DateHeader = "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n";

// LLaVA-MORE's prompt for one question, ending where the assistant's answer begins:
//   <|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n
//   [kLlama31DateHeader]{system}<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n
//   [<image>\n]{question}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n
// with system and question trimmed of surrounding whitespace (the template's |trim) and
// <image> as the single id kImageTokenIndex; the text on each side of it is tokenized
// separately, special-token strings parsed, as LLaVA's tokenizer_image_token does.
// One <|begin_of_text|> (LLaVA-MORE's training drops the tokenizer's duplicate). A literal
// "<image>" inside the question stays text: the result holds exactly one placeholder
// when with_image, none otherwise.
// `tok` must know the Llama 3 chat special tokens; throws Error otherwise.
std::vector<int64_t> llava_more_prompt(const Tokenizer& tok, const std::string& question, bool with_image,
                                       const std::string& system = kLlavaMoreSystem, bool date_header = true);

// The shapes world's prompt: <bos> [kImageTokenIndex] {question tokens} answer :
// i.e. the word tokenizer's ids of the question (plain text, specials not parsed) between
// <bos> (plus the image placeholder when with_image) and the words "answer" ":". The
// model's answer follows, ended by <eos>. Throws Error when "answer" or ":" is not in
// the vocabulary (build the vocabulary from a corpus that contains "answer:").
std::vector<int64_t> word_prompt(const WordTokenizer& tok, const std::string& question, bool with_image);

}  // namespace sightline
