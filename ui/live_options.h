// What `sightline gui` flags mean for the live views (overlays, ablation), and what the
// screenshot sidecar says about them.
#pragma once

#include <nlohmann/json.hpp>

#include "ui/app.h"
#include "ui/app_state.h"

namespace sightline::ui {

// When the options show or configure a live view (--view overlays / ablation, --image,
// --question, --head, --ablate): creates state.live, starts loading the live model and
// applies --statement, --image, --question, --alpha, --head, --query-token and --ablate
// (whose toggles are re-evaluated once the model is ready). Otherwise does nothing.
void start_live_views(AppState& state, const GuiOptions& options);

// The sidecar's "live" object: status, image, question, prompt, query rows, every overlay
// drawn (role, head, grid, screen area, colormap range, values), the answer with and
// without the toggles, the toggles and the re-evaluation's groups.
nlohmann::json live_sidecar(const LiveReport& report);

}  // namespace sightline::ui
