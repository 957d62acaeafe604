// Drawing scenes: free scenes (objects scattered without contact), and scenes built
// around a target pair for which a relation has a wanted truth value (never ambiguous).
#pragma once

#include <optional>

#include "core/world/relations.h"
#include "core/world/rng.h"
#include "core/world/scene.h"

namespace sightline {

struct RelationTarget {
  Relation relation = Relation::LeftOf;
  bool label = true;  // the wanted truth of relation(subject, object)
};

struct GeneratedScene {
  Scene scene;
  // Indices in scene.objects of the target pair; -1 for a free scene.
  int subject = -1;
  int object = -1;
};

// Draws a scene from `rng`. Without a target: min_objects..max_objects objects, none
// touching another (at least contact_false_gap_px background pixels between any two).
// With a target: 2..max_objects objects, where relation(subject, object) == label; the
// pair is built by a relation-specific proposal (slid into contact, overlapped, nested,
// or placed at random) and rejected until the relation holds with the wanted value; the
// other objects keep clear of everything. Every returned scene passes scene_problem().
// Objects are listed in random order. Throws Error when no scene is found within the
// attempt budget (options too tight).
GeneratedScene generate_scene(Rng& rng, const WorldOptions& options, const std::optional<RelationTarget>& target);

}  // namespace sightline
