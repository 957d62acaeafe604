// Plain data behind "finding things" and Fig. 9, read from the store by the loader and
// published through the Snapshot: the stage-3 shift statistics of every feature, the
// autointerp descriptions with their token-level examples, and the bookmark lists. No
// ImGui, no GL.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "core/store/records.h"

namespace sightline::ui {

// Stage 3 "shift" statistics of every feature of a run (Fig. 9; the feature page's skill
// metrics for features that are not candidates). Rows ascending by (layer, feature); all
// vectors have size(). NaN = the stage did not compute it.
struct ShiftTable {
  std::string skill = "spatial";  // the skill p_skill / delta_p / odds_ratio belong to
  int num_layers = 0;
  std::vector<uint16_t> layer;
  std::vector<int32_t> feature;
  std::vector<float> p_base;      // firing frequency over D_base (the whole eval split)
  std::vector<float> p_skill;     // firing frequency over D_skill (questions with a cue word)
  std::vector<float> delta_p;     // p_skill - p_base
  std::vector<float> odds_ratio;  // skill vs base, 0.5 continuity correction
  std::vector<uint8_t> flags;     // FeatureFlag bits: adapted (stage 2), candidate, spatial feature
  // The other skills' statistics by store key ("ocr_p_skill", "ocr_delta_p",
  // "ocr_odds_ratio", ...), each of size().
  std::map<std::string, std::vector<float>> other_skills;
  std::string source;

  size_t size() const { return layer.size(); }
  // The row of (layer, feature) by binary search, or -1.
  int64_t find(int layer_index, int feature_index) const;
};

// One top sample as the autointerp stage showed it to the chat model: the question's text
// pieces (concatenated: the question; a piece may start with a space) and the feature's
// activation on each.
struct TokenExample {
  std::string sample_id;
  std::string dataset;
  std::vector<std::string> tokens;
  std::vector<float> activations;  // same length as tokens
  std::string error;  // why `tokens` is empty (ui/top_text.h: the sample could not be resolved), "" = fine
};

// What the autointerp stage wrote about one feature (<run dir>/autointerp/results.json).
struct FeatureDescription {
  FeatureRef ref;
  std::string text;  // "" when prompt A failed
  double f1 = std::numeric_limits<double>::quiet_NaN();
  std::vector<TokenExample> examples;
  std::string error;  // the stage's error for this feature, "" when none
};

// The store's bookmarks (not tied to a run), oldest first.
struct BookmarkLists {
  std::string path;  // the store they were read from
  std::vector<Bookmark> all;

  // The list names, sorted, each once.
  std::vector<std::string> names() const;
  // The bookmarks of list `name`, oldest first.
  std::vector<Bookmark> list(const std::string& name) const;
  // The bookmark of (name, layer, feature), or nullptr.
  const Bookmark* find(const std::string& name, int layer, int feature) const;
};

}  // namespace sightline::ui
