// Cue-word skill filters (METHOD.md stage 3): D_sp = the questions holding a cue word of
// a skill ("left", "in front", ...). Matching is case-insensitive on word boundaries: text
// and cue are split into words (maximal runs of ASCII letters, digits and non-ASCII
// bytes), and a cue matches when its words occur consecutively in the text's words. So
// "in front" matches "In front of the car" but not "infront", and "left" does not match
// "leftover".
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace sightline {

class SkillFilter {
 public:
  SkillFilter() = default;
  // Throws Error naming the skill when it has no cues or a cue has no word characters.
  SkillFilter(std::string name, std::vector<std::string> cues);

  const std::string& name() const { return name_; }
  const std::vector<std::string>& cues() const { return cues_; }

  // Whether any cue occurs in `text`.
  bool matches(const std::string& text) const;
  // The cues occurring in `text`, in cue order.
  std::vector<std::string> matched_cues(const std::string& text) const;
  // Indices of the texts that match, ascending.
  std::vector<size_t> select(const std::vector<std::string>& texts) const;

 private:
  bool cue_matches(size_t cue, const std::vector<std::string>& words) const;

  std::string name_;
  std::vector<std::string> cues_;
  std::vector<std::vector<std::string>> cue_words_;  // cues_[i] split into lower-case words
};

// The words matching uses: lower-cased runs of [A-Za-z0-9] and bytes >= 0x80.
std::vector<std::string> cue_words(const std::string& text);

// Preset names: "spatial", "ocr".
std::vector<std::string> skill_filter_presets();

// "spatial": left, right, above, below, behind, in front, under, underneath, beneath,
//   on top, beside, next to, near, far, close to, inside, outside, within, contain,
//   contains, touching, facing, between, across, opposite, closest, nearest, farthest.
// "ocr": say, says, written, writing, text, sign, signs, letter, letters, word, words,
//   read, reads, spell, spelled, brand, label.
// Throws Error listing the presets for an unknown name.
SkillFilter skill_filter_preset(const std::string& name);

// A user-defined skill from a JSON file {"name": "...", "cues": ["...", ...]}. Throws Error
// naming the file and the field at fault.
SkillFilter load_skill_filter(const std::string& path);

// Writes {"name", "cues"} (atomically). Throws Error naming the file.
void save_skill_filter(const std::string& path, const SkillFilter& filter);

}  // namespace sightline
