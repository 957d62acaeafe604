// The shapes world's "CLIP" stage: the vision tower learns dense per-patch targets
// (patch_targets.h) from rendered scenes, then is frozen for the LLaVA stages.
#pragma once

#include <functional>
#include <string>

#include "core/common/progress.h"
#include "core/model/model.h"
#include "core/train/patch_targets.h"
#include "core/train/schedule.h"
#include "core/world/scene.h"

namespace sightline {

struct VisionPretrainReport {
  double loss = 0;
  double colour_accuracy = 0;  // dominant-object colour, patches that have one
  double cell_accuracy = 0;    // dominant object's centre cell (x and y both right)
  double contact_accuracy = 0; // contact flag, all patches
  double relation_accuracy = 0; // relational targets (when trained), decided entries
  int64_t steps = 0;
};

// Scene for a sample index (deterministic).
using SceneSource = std::function<Scene(int64_t index)>;

// Trains model's vision tower (only) on scenes [0, steps * batch). Validation on
// `val_scenes` scenes from `val_source`. `log` receives one line per report. With
// `relation_targets`, each patch also learns the relations of its object to every other
// object, by colour (PatchTargetSpec::relations).
VisionPretrainReport pretrain_vision(VisionLanguageModel& model, const SceneSource& train_source,
                                     const SceneSource& val_source, int64_t val_scenes, const WorldOptions& world,
                                     const OptimOptions& optim, Progress& progress,
                                     const std::function<void(const std::string&)>& log,
                                     bool relation_targets = false);

// Rendered, normalised pixels [N, 3, S, S] of scenes, as the model is fed at inference.
at::Tensor scene_pixels(const std::vector<Scene>& scenes, const WorldOptions& world, const VisionConfig& vision);

}  // namespace sightline
