// Fig. 9 (a): the distributions of log10 firing frequency of features on D_base (the
// whole evaluation split) and on D_skill (its questions with a spatial cue word), from
// the shift stage's p_base and p_skill, for a set of features (all, the adapted set A,
// the spatial candidates or the spatial features) in one layer or all. Pure logic.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ui/find_data.h"

namespace sightline::ui {

enum class FiringSet { kAll, kAdapted, kCandidates, kSpatial };
inline constexpr int kFiringSetCount = 4;

// "all features", "adapted set A", "spatial candidates", "spatial features".
const char* firing_set_name(FiringSet set);
// `gui --fig9 SET[:LAYER]` (SET: all, adapted, candidates, spatial; LAYER: a layer index,
// absent = every layer, given as -1). Throws Error naming --fig9 on anything else.
std::pair<FiringSet, int> parse_fig9_option(const std::string& text);
// Whether a feature with these FeatureFlag bits is in the set (kAdapted: stage 2's A).
bool in_firing_set(uint8_t flags, FiringSet set);

struct FiringHistograms {
  // Bin k covers log10 p in [lo + k * width, lo + (k + 1) * width); p = 1 (log 0) falls in
  // the last bin. lo is a multiple of width; the bins end at 0.
  double lo = 0, width = 0.25;
  int bins = 0;
  std::vector<int64_t> base, skill;  // counts per bin (size bins)
  int64_t features = 0;              // in the set and layer with both p_base and p_skill finite
  int64_t base_zero = 0, skill_zero = 0;  // p = 0 there (never fired): no log, not binned
  double base_mean_log = 0, skill_mean_log = 0;  // mean log10 p over the non-zero ones (0 if none)
  double bin_centre(int k) const { return lo + (k + 0.5) * width; }
};

// Histograms of the rows of `table` in `set` and `layer` (-1 = every layer). The bin
// range is the same for every set and layer: from the smallest non-zero p of the whole
// table (p_base or p_skill, floored to a multiple of `width`, and not below `floor_log`)
// to 1, so switching sets keeps the axis. Values below 10^floor_log go in the first bin.
FiringHistograms firing_histograms(const ShiftTable& table, FiringSet set, int layer, double width = 0.25,
                                   double floor_log = -8);

}  // namespace sightline::ui
