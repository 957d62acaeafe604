#include "core/pipeline/stages.h"

#include <fmt/format.h>

#include <set>

#include "core/common/error.h"

namespace sightline {

const std::vector<StageDefinition>& stage_definitions() {
  // Pipeline order; a stage's dependencies come before it.
  static const std::vector<StageDefinition> stages{
      adapt_stage_definition(),
      diff_stage_definition(),
      shift_stage_definition(),
      topk_stage_definition(),
      lexical_stage_definition(),
      autointerp_stage_definition(),
      attrib_stage_definition(),
      ablate_stage_definition(),
  };
  return stages;
}

const StageDefinition& stage_definition(const std::string& name) {
  std::vector<std::string> known;
  for (const auto& s : stage_definitions()) {
    if (s.name == name) return s;
    known.push_back(s.name);
  }
  fail("unknown stage '{}' (stages: {})", name, fmt::join(known, ", "));
}

std::vector<std::string> stage_closure(const std::vector<std::string>& requested) {
  std::set<std::string> wanted;
  std::vector<std::string> todo;
  if (requested.empty()) {
    for (const auto& s : stage_definitions()) todo.push_back(s.name);
  } else {
    todo = requested;
  }
  while (!todo.empty()) {
    const std::string name = todo.back();
    todo.pop_back();
    const auto& def = stage_definition(name);
    if (!wanted.insert(name).second) continue;
    for (const auto& d : def.deps) todo.push_back(d);
  }
  std::vector<std::string> out;
  for (const auto& s : stage_definitions())
    if (wanted.count(s.name)) out.push_back(s.name);
  return out;
}

}  // namespace sightline
