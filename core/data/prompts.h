// Prompt sets: the neutral prompts of the lexical filter (METHOD.md stage 3) and any other
// list of prompts a user supplies as a text file, one prompt a line.
#pragma once

#include <string>
#include <vector>

namespace sightline {

// Neutral prompts for real images (VQAv2 / COCO): generic instructions that hold no
// spatial or OCR cue word, beginning with the paper's "Describe the positions of objects
// in the image.".
std::vector<std::string> default_neutral_prompts();

// Reads a prompt file: one prompt a line, surrounding whitespace trimmed; blank lines and
// lines starting with '#' skipped. Throws Error naming the file when it cannot be read or
// holds no prompt.
std::vector<std::string> read_prompt_file(const std::string& path);

// Writes prompts one a line (atomically). Throws Error naming the file, or naming the
// index of a prompt that holds a newline or is blank.
void write_prompt_file(const std::string& path, const std::vector<std::string>& prompts);

}  // namespace sightline
