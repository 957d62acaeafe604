#include "core/skills/skill_config.h"

#include <fmt/format.h>

#include <set>

#include "core/common/error.h"

namespace sightline {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

void check_skill_name(const std::string& name, const std::string& where, const std::string& field) {
  bool ok = !name.empty() && name[0] >= 'a' && name[0] <= 'z';
  for (const char c : name) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  check(ok, "file '{}': field '{}': skill name '{}' must be lower-case letters, digits and '_', starting with a letter",
        where, field, name);
  check(name != "adapted" && !ends_with(name, "_candidates"),
        "file '{}': field '{}': skill name '{}' clashes with a selection name ('adapted', '*_candidates')", where,
        field, name);
}

std::vector<SkillFilter> parse_skills(const nlohmann::json& entries, const std::string& where,
                                      const std::string& field) {
  check(entries.is_array(), "file '{}': field '{}' must be an array of skills, got {}", where, field,
        entries.type_name());
  check(!entries.empty(), "file '{}': field '{}' lists no skill", where, field);
  std::vector<SkillFilter> out;
  std::set<std::string> names;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    const std::string entry = fmt::format("{}[{}]", field, i);
    SkillFilter skill;
    try {
      if (e.is_string()) {
        const std::string s = e.get<std::string>();
        if (ends_with(s, ".json")) {
          skill = load_skill_filter(s);
        } else {
          skill = skill_filter_preset(s);
        }
      } else if (e.is_object()) {
        for (const auto& item : e.items())
          check(item.key() == "name" || item.key() == "cues", "unknown key '{}' (known: name, cues)", item.key());
        check(e.contains("name") && e["name"].is_string(), "'name' must be a string");
        check(e.contains("cues") && e["cues"].is_array(), "'cues' must be an array of strings");
        std::vector<std::string> cues;
        for (const auto& c : e["cues"]) {
          check(c.is_string(), "'cues' must be an array of strings");
          cues.push_back(c.get<std::string>());
        }
        skill = SkillFilter(e["name"].get<std::string>(), cues);
      } else {
        fail("must be a preset name ({}), a skill file (*.json) or {{\"name\", \"cues\"}}, got {}",
             fmt::join(skill_filter_presets(), ", "), e.type_name());
      }
    } catch (const Error& err) {
      fail("file '{}': field '{}': {}", where, entry, err.what());
    }
    check_skill_name(skill.name(), where, entry);
    check(names.insert(skill.name()).second, "file '{}': field '{}': skill '{}' is listed twice", where, entry,
          skill.name());
    out.push_back(std::move(skill));
  }
  return out;
}

nlohmann::json skills_to_json(const std::vector<SkillFilter>& skills) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : skills) out.push_back({{"name", s.name()}, {"cues", s.cues()}});
  return out;
}

std::vector<std::vector<uint8_t>> skill_membership(const std::vector<SkillFilter>& skills,
                                                   const std::vector<std::string>& texts) {
  std::vector<std::vector<uint8_t>> out(skills.size(), std::vector<uint8_t>(texts.size(), 0));
  for (size_t s = 0; s < skills.size(); ++s)
    for (size_t i = 0; i < texts.size(); ++i) out[s][i] = skills[s].matches(texts[i]) ? 1 : 0;
  return out;
}

}  // namespace sightline
