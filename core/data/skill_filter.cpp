#include "core/data/skill_filter.h"

#include <fmt/format.h>

#include "core/common/error.h"
#include "core/io/json_util.h"

namespace sightline {

namespace {

bool is_word_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

}  // namespace

std::vector<std::string> cue_words(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_word_char(c)) {
      word.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : ch);
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

SkillFilter::SkillFilter(std::string name, std::vector<std::string> cues)
    : name_(std::move(name)), cues_(std::move(cues)) {
  if (cues_.empty()) fail("skill '{}': no cue words", name_);
  for (size_t i = 0; i < cues_.size(); ++i) {
    cue_words_.push_back(cue_words(cues_[i]));
    if (cue_words_.back().empty()) fail("skill '{}': cues[{}] \"{}\" holds no word", name_, i, cues_[i]);
  }
}

bool SkillFilter::cue_matches(size_t cue, const std::vector<std::string>& words) const {
  const std::vector<std::string>& pattern = cue_words_[cue];
  if (pattern.size() > words.size()) return false;
  for (size_t start = 0; start + pattern.size() <= words.size(); ++start) {
    size_t k = 0;
    while (k < pattern.size() && words[start + k] == pattern[k]) ++k;
    if (k == pattern.size()) return true;
  }
  return false;
}

bool SkillFilter::matches(const std::string& text) const {
  const std::vector<std::string> words = cue_words(text);
  for (size_t i = 0; i < cue_words_.size(); ++i)
    if (cue_matches(i, words)) return true;
  return false;
}

std::vector<std::string> SkillFilter::matched_cues(const std::string& text) const {
  const std::vector<std::string> words = cue_words(text);
  std::vector<std::string> found;
  for (size_t i = 0; i < cue_words_.size(); ++i)
    if (cue_matches(i, words)) found.push_back(cues_[i]);
  return found;
}

std::vector<size_t> SkillFilter::select(const std::vector<std::string>& texts) const {
  std::vector<size_t> selected;
  for (size_t i = 0; i < texts.size(); ++i)
    if (matches(texts[i])) selected.push_back(i);
  return selected;
}

std::vector<std::string> skill_filter_presets() { return {"spatial", "ocr"}; }

SkillFilter skill_filter_preset(const std::string& name) {
  if (name == "spatial")
    return SkillFilter("spatial", {"left",    "right",   "above",   "below",   "behind",   "in front", "under",
                                   "underneath", "beneath", "on top", "beside", "next to", "near",     "far",
                                   "close to", "inside",  "outside", "within",  "contain",  "contains", "touching",
                                   "facing",  "between", "across",  "opposite", "closest", "nearest",  "farthest"});
  if (name == "ocr")
    return SkillFilter("ocr", {"say", "says", "written", "writing", "text", "sign", "signs", "letter", "letters",
                               "word", "words", "read", "reads", "spell", "spelled", "brand", "label"});
  fail("skill '{}': unknown preset (presets: {})", name, fmt::join(skill_filter_presets(), ", "));
}

SkillFilter load_skill_filter(const std::string& path) {
  const nlohmann::json doc = read_json_file(path);
  const std::string name = json_get<std::string>(doc, "name", path);
  const std::vector<std::string> cues = json_get<std::vector<std::string>>(doc, "cues", path);
  if (name.empty()) fail("file '{}': field 'name' is empty", path);
  try {
    return SkillFilter(name, cues);
  } catch (const Error& e) {
    fail("file '{}': field 'cues': {}", path, e.what());
  }
}

void save_skill_filter(const std::string& path, const SkillFilter& filter) {
  write_json_file(path, nlohmann::json{{"name", filter.name()}, {"cues", filter.cues()}}, 2);
}

}  // namespace sightline
