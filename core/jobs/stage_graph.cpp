#include "core/jobs/stage_graph.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/common/error.h"

namespace sightline {

std::string hash_options(const std::string& text) {
  // FNV-1a 64 (offset basis and prime from the reference description).
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("{:016x}", h);
}

std::vector<size_t> topological_order(const std::vector<Stage>& stages) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < stages.size(); ++i) {
    const Stage& s = stages[i];
    if (s.name.empty()) fail("stage graph: stage #{} has an empty name", i);
    if (!s.run) fail("stage graph: stage '{}' has no run function", s.name);
    if (!index.emplace(s.name, i).second) fail("stage graph: stage '{}' is declared twice", s.name);
  }
  for (const Stage& s : stages) {
    std::set<std::string> seen;
    for (const std::string& d : s.deps) {
      if (d == s.name) fail("stage graph: stage '{}' depends on itself", s.name);
      if (!index.count(d)) fail("stage graph: stage '{}' depends on unknown stage '{}'", s.name, d);
      if (!seen.insert(d).second) fail("stage graph: stage '{}' lists dependency '{}' twice", s.name, d);
    }
  }

  std::vector<size_t> order;
  std::vector<bool> placed(stages.size(), false);
  while (order.size() < stages.size()) {
    bool progressed = false;
    for (size_t i = 0; i < stages.size(); ++i) {
      if (placed[i]) continue;
      const bool ready = std::all_of(stages[i].deps.begin(), stages[i].deps.end(),
                                     [&](const std::string& d) { return placed[index.at(d)]; });
      if (!ready) continue;
      placed[i] = true;
      order.push_back(i);
      progressed = true;
      break;  // restart from the top: earlier-declared stages first
    }
    if (progressed) continue;
    // Every unplaced stage waits on another unplaced one: walk the first dependency
    // chain until it repeats to name the cycle.
    size_t at = 0;
    while (placed[at]) ++at;
    std::vector<size_t> path;
    std::vector<int> position(stages.size(), -1);
    while (position[at] < 0) {
      position[at] = static_cast<int>(path.size());
      path.push_back(at);
      for (const std::string& d : stages[at].deps)
        if (!placed[index.at(d)]) {
          at = index.at(d);
          break;
        }
    }
    std::string cycle;
    for (size_t k = static_cast<size_t>(position[at]); k < path.size(); ++k) cycle += stages[path[k]].name + " -> ";
    fail("stage graph: dependency cycle {}{}", cycle, stages[at].name);
  }
  return order;
}

std::vector<std::string> stage_keys(const std::vector<Stage>& stages) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < stages.size(); ++i) index[stages[i].name] = i;
  std::vector<std::string> keys(stages.size());
  for (size_t i : topological_order(stages)) {
    // Length-prefixed fields: ("ab","c") and ("a","bc") must not collide.
    std::string text;
    const auto add = [&text](const std::string& field) { text += std::to_string(field.size()) + ":" + field + ";"; };
    add(stages[i].name);
    add(stages[i].options_hash);
    for (const std::string& d : stages[i].deps) add(keys[index.at(d)]);
    keys[i] = hash_options(text);
  }
  return keys;
}

}  // namespace sightline
