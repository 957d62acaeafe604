// The explorer's panels, one file each (ui/view_*.cpp). Each draws into the current ImGui
// window / child and reads or changes only the shared AppState.
#pragma once

#include <string>

#include "ui/app_state.h"
#include "ui/plot/plot.h"

namespace sightline::ui {

// Centre tabs.
void draw_scatter_view(AppState& state);   // Fig. 2: E_v vs decoder cosine, A, candidates
void draw_layers_view(AppState& state);    // Fig. 7: |A| and mean cosine per layer, live
void draw_curves_view(AppState& state);    // Fig. 1/5/6: curve sets
void draw_heatmaps_view(AppState& state);  // Fig. 13/14: layer x head maps
void draw_heads_view(AppState& state);     // the selected feature's head scores, A / B / exact
void draw_ablation_view(AppState& state);  // Tables 1-2: the run's ablation rows, live toggles and re-evaluation
void draw_overlays_view(AppState& state);  // Fig. 4/15/16: a head's attention over the image, top vs bottom heads
void draw_firing_view(AppState& state);    // Fig. 9: firing frequency on D_base vs D_spatial
void draw_sweep_view(AppState& state);     // Fig. 8: |A| and overlaps over eps x p_cos, stored and live
// Side and bottom panes.
void draw_feature_list(AppState& state);   // left: search, category filter, box selection
void draw_bookmarks_panel(AppState& state); // left, Bookmarks tab: the store's lists
// Once per frame: J / K step the selection through state.find.nav unless a text field has
// the keyboard.
void handle_navigation_keys(AppState& state);
void draw_feature_page(AppState& state);   // right: the selected feature
void draw_jobs_pane(AppState& state);      // bottom left: tasks and data states
void draw_log_pane(AppState& state);       // bottom right: the log
// Debug menu window: our widgets and plots on toy data (living documentation).
void draw_gallery_window(AppState& state, bool* open);

// Shared by the views: when `status` is not ready, draws "computing..." with progress,
// "no data: <stage>" or the failure, centred, and returns false.
bool draw_data_status(const DataStatus& status, const char* what);

// Plot options for a [layers x heads] heat map of `size`: its title and axis labels, no
// legend, the view fitted to the cells, and integer ticks at cell centres (~16 a side at most).
plot::PlotOptions heat_map_plot_options(const HeatMap& map, ImVec2 size);

// "L12 #345": how the UI names a feature.
std::string feature_name(const FeatureTable& table, int64_t row);

}  // namespace sightline::ui
