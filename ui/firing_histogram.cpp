#include "ui/firing_histogram.h"

#include <algorithm>
#include <cmath>

#include "core/common/error.h"
#include "ui/snapshot.h"

namespace sightline::ui {

const char* firing_set_name(FiringSet set) {
  switch (set) {
    case FiringSet::kAll:
      return "all features";
    case FiringSet::kAdapted:
      return "adapted set A";
    case FiringSet::kCandidates:
      return "spatial candidates";
    case FiringSet::kSpatial:
      return "spatial features";
  }
  return "";
}

std::pair<FiringSet, int> parse_fig9_option(const std::string& text) {
  const size_t colon = text.find(':');
  const std::string name = text.substr(0, colon);
  const std::pair<const char*, FiringSet> sets[] = {{"all", FiringSet::kAll},
                                                     {"adapted", FiringSet::kAdapted},
                                                     {"candidates", FiringSet::kCandidates},
                                                     {"spatial", FiringSet::kSpatial}};
  int layer = -1;
  if (colon != std::string::npos) {
    const std::string digits = text.substr(colon + 1);
    bool ok = !digits.empty() && digits.size() <= 6;
    for (char c : digits) ok = ok && c >= '0' && c <= '9';
    check(ok, "--fig9 '{}': expected SET[:LAYER] with LAYER a non-negative integer, e.g. candidates:12", text);
    layer = std::stoi(digits);
  }
  for (const auto& [key, set] : sets)
    if (name == key) return {set, layer};
  fail("--fig9 '{}': expected SET[:LAYER] with SET one of all, adapted, candidates, spatial", text);
}

bool in_firing_set(uint8_t flags, FiringSet set) {
  switch (set) {
    case FiringSet::kAll:
      return true;
    case FiringSet::kAdapted:
      return (flags & kFlagAdapted) != 0;
    case FiringSet::kCandidates:
      return (flags & kFlagSpatialCandidate) != 0;
    case FiringSet::kSpatial:
      return (flags & kFlagSpatialFeature) != 0;
  }
  return false;
}

FiringHistograms firing_histograms(const ShiftTable& table, FiringSet set, int layer, double width,
                                   double floor_log) {
  FiringHistograms h;
  h.width = width > 0 ? width : 0.25;
  double min_log = 0;
  bool any = false;
  for (size_t i = 0; i < table.size(); ++i)
    for (float p : {table.p_base[i], table.p_skill[i]})
      if (std::isfinite(p) && p > 0) {
        min_log = std::min(min_log, std::log10(static_cast<double>(p)));
        any = true;
      }
  if (!any) min_log = -h.width;  // nothing fired anywhere: one bin below 0
  min_log = std::max(min_log, floor_log);
  h.lo = std::floor(min_log / h.width) * h.width;
  h.bins = std::max(1, static_cast<int>(std::lround(-h.lo / h.width)));
  h.base.assign(static_cast<size_t>(h.bins), 0);
  h.skill.assign(static_cast<size_t>(h.bins), 0);
  double base_sum = 0, skill_sum = 0;
  int64_t base_n = 0, skill_n = 0;
  auto bin_of = [&](double log_p) {
    const int k = static_cast<int>(std::floor((log_p - h.lo) / h.width));
    return std::clamp(k, 0, h.bins - 1);
  };
  for (size_t i = 0; i < table.size(); ++i) {
    if (layer >= 0 && table.layer[i] != layer) continue;
    if (!in_firing_set(table.flags[i], set)) continue;
    const float pb = table.p_base[i], ps = table.p_skill[i];
    if (!std::isfinite(pb) || !std::isfinite(ps)) continue;
    ++h.features;
    if (pb > 0) {
      const double l = std::log10(static_cast<double>(pb));
      ++h.base[static_cast<size_t>(bin_of(l))];
      base_sum += l;
      ++base_n;
    } else {
      ++h.base_zero;
    }
    if (ps > 0) {
      const double l = std::log10(static_cast<double>(ps));
      ++h.skill[static_cast<size_t>(bin_of(l))];
      skill_sum += l;
      ++skill_n;
    } else {
      ++h.skill_zero;
    }
  }
  h.base_mean_log = base_n ? base_sum / static_cast<double>(base_n) : 0;
  h.skill_mean_log = skill_n ? skill_sum / static_cast<double>(skill_n) : 0;
  return h;
}

}  // namespace sightline::ui
