// The lexical filter of Stage 3 (paper 4.3 step 2): a candidate's top-activating samples
// are re-run with their question replaced by neutral prompts ("Describe the positions of
// objects in the image.", ...), and the feature is kept when it still fires on at least a
// set fraction of those runs. A feature recruited by a cue word rather than by the image
// stops firing once the word is gone.
//
// Runs: one per (distinct image of the feature's samples, neutral prompt); two samples
// asking different questions of one image give the same neutral runs, so the image
// counts once. Samples without an image are skipped (nothing to keep).
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/skills/code_stream.h"

namespace sightline {

struct NeutralPrompt {
  std::string text;          // for messages and the runs' items
  std::vector<int64_t> ids;  // the prompt as the model reads it: holds kImageTokenIndex once
};

struct LexicalOptions {
  double min_fraction = 0.5;               // keep when fired / runs >= this
  double min_activation = 0.0;             // a run "fires" when its max is strictly above this
  Positions positions = Positions::kText;  // positions a run's max is taken over
  StreamOptions stream;
};

struct LexicalResult {
  int64_t runs = 0;                                            // neutral runs of the feature
  int64_t fired = 0;                                           // runs where it fired
  double fraction = std::numeric_limits<double>::quiet_NaN();  // fired / runs (NaN: no run)
  bool pass = false;
};

// The decision alone: pass when runs > 0 and fired / runs >= min_fraction.
LexicalResult lexical_decision(int64_t fired, int64_t runs, double min_fraction);

// samples[l][c]: items of `dataset` (the top samples of column c of layers[l]). Returns
// result[l][c]. Every distinct image is run once per prompt for all features together.
// Throws when a prompt does not hold exactly one image marker, there is no prompt, or
// min_fraction is outside [0, 1].
std::vector<std::vector<LexicalResult>> lexical_filter(const VisionLanguageModel& model,
                                                       const std::vector<LayerFeatures>& layers,
                                                       const PromptDataset& dataset,
                                                       const std::vector<std::vector<std::vector<int64_t>>>& samples,
                                                       const std::vector<NeutralPrompt>& prompts,
                                                       const LexicalOptions& options, Progress& progress);

}  // namespace sightline
