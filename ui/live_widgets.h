// ImGui pieces views 5 (Overlays) and 6 (Ablation) share: the live model's status line,
// the image picker, the question box, the answer table with and without the toggled
// interventions, and drawing the current image with an attention map over it.
#pragma once

#include <imgui.h>

#include <cstdint>
#include <string>

#include "ui/app_state.h"
#include "ui/live_views.h"

namespace sightline::ui {

// The explorer's LiveViews: created on first use from --world / --db (or the last world
// of the settings) and started loading on state.tasks.
LiveViews& live_views_of(AppState& state);

// When the live model is not ready: "loading model..." with the loading step and a
// progress bar, or the failure / missing reason as one line. Returns true when ready.
bool draw_live_status(AppState& state, LiveViews& live, const char* what);

// Prev / next through the VSR statements of a relation (combo), the statement's truth,
// and a path box that opens any image file. Errors show below as one line.
void draw_image_picker(LiveViews& live);

// The question about the current image (Enter or Ask submits), with its prompt error.
void draw_question_box(LiveViews& live, float width);

// Answer, P(yes), P(no) and normalised P(yes) of the live result, without and with the
// toggled interventions; "computing..." while the query runs.
void draw_answer_table(const LiveViews& live);

// One line: the answer and P(yes), and with the toggles when any are on.
void draw_answer_line(const LiveViews& live);

// Draws the current image in [min, max] with `map` over it (map.grid 0: the image
// alone); `key` names the map's content for the texture cache.
void draw_overlay_image(AppState& state, const LiveViews& live, ImVec2 min, ImVec2 max, const AttentionMap& map,
                        std::pair<float, float> range, uint64_t key);

// A texture key for a map of (result, layer, head, rows, row).
uint64_t overlay_key(uint64_t result_id, int layer, int head, AttentionRows rows, int64_t row);

// "L3 #40" / "L1 H0".
std::string toggle_label(const SaeFeature& feature);
std::string toggle_label(int layer, int head);

}  // namespace sightline::ui
