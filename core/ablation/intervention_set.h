// The plain data of an intervention (core/ablation/interventions.h applies it): which SAE
// features to project out, which heads to ablate, which directions to steer along. No
// torch here, so that code which only edits or shows an InterventionSet (the explorer's
// UI) does not pull the engine's headers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sightline {

// One SAE feature: the SAE of `layer`, column `feature` of its decoder. (Not called
// FeatureRef: that is the store's record, and two classes of one name in one program
// share inline members and template instances at link time.)
struct SaeFeature {
  int layer = 0;
  int64_t feature = 0;
  bool operator<(const SaeFeature& o) const { return layer != o.layer ? layer < o.layer : feature < o.feature; }
  bool operator==(const SaeFeature& o) const { return layer == o.layer && feature == o.feature; }
};

enum class HeadAblationMode { kZero, kMean };

// "zero", "mean".
std::string to_string(HeadAblationMode mode);
// Parses the names above; throws "file '<where>': field '<field>' ..." for anything else.
HeadAblationMode parse_head_ablation_mode(const std::string& name, const std::string& where,
                                          const std::string& field);

struct HeadAblation {
  int layer = 0;
  int head = 0;  // query head index in [0, num_attention_heads)
  HeadAblationMode mode = HeadAblationMode::kZero;
};

// Where a steering vector is added.
enum class SteerPositions {
  kText,   // every text position (BOS excluded)
  kImage,  // every image position
  kAll,    // every real position (BOS included, padding excluded)
  kLast,   // each sequence's last real position (the answer position of a prompt)
  kList    // the sequence positions in Steering::positions (after image insertion)
};

// "text", "image", "all", "last", "list".
std::string to_string(SteerPositions positions);
SteerPositions parse_steer_positions(const std::string& name, const std::string& where, const std::string& field);

struct Steering {
  int layer = 0;
  int64_t feature = 0;  // direction: the unit decoder column of the layer's SAE
  double alpha = 0.0;   // added length, residual-stream units
  SteerPositions where = SteerPositions::kText;
  std::vector<int64_t> positions;  // for kList; each must be < the batch's padded length
};

struct InterventionSet {
  std::vector<SaeFeature> ablate_features;  // projected out together, per hook point
  std::vector<HeadAblation> ablate_heads;
  std::vector<Steering> steer;
  bool empty() const { return ablate_features.empty() && ablate_heads.empty() && steer.empty(); }
};

}  // namespace sightline
