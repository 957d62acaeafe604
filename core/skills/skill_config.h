// Skills as data (METHOD.md Stage 3: "the cue list is a setting"): the skills a run looks
// for, each a name and its cue words (core/data/skill_filter.h). A setting lists them as
// preset names ("spatial", "ocr"), skill files (*.json: {"name", "cues"}) or inline
// objects {"name": ..., "cues": [...]}.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/data/skill_filter.h"

namespace sightline {

// A skill name is part of store keys and selection names ("<name>", "<name>_candidates"):
// lower-case ASCII letters, digits and '_', starting with a letter, not "adapted" and not
// ending in "_candidates". Throws "file '<where>': field '<field>' ..." otherwise.
void check_skill_name(const std::string& name, const std::string& where, const std::string& field);

// Parses a JSON array of skill entries (see above). Throws naming `where`, the field and
// the entry at fault: not an array, empty, an unknown preset, an unreadable skill file, a
// bad name or cue list, a name used twice.
std::vector<SkillFilter> parse_skills(const nlohmann::json& entries, const std::string& where,
                                      const std::string& field = "skills");

// [{"name", "cues"}, ...]: the resolved skills, e.g. for an options hash (a skill file's
// content, not its path, decides the results).
nlohmann::json skills_to_json(const std::vector<SkillFilter>& skills);

// membership[s][i] = 1 when texts[i] holds a cue of skills[s].
std::vector<std::vector<uint8_t>> skill_membership(const std::vector<SkillFilter>& skills,
                                                   const std::vector<std::string>& texts);

}  // namespace sightline
