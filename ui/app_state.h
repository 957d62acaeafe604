// What every view of the explorer shares: the published data (Snapshot), the derived
// scatter model, the selection, the live thresholds, the layer filter and the settings.
// Owned and touched by the UI thread only; producers reach it through the Snapshot's
// DataSlots and the TaskList.
#pragma once

#include <atomic>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ui/adapted_set.h"
#include "ui/live_report.h"
#include "ui/find_state.h"
#include "ui/log_buffer.h"
#include "ui/plot/colormap.h"
#include "ui/plot/transform.h"
#include "ui/scatter_model.h"
#include "ui/settings.h"
#include "ui/snapshot.h"
#include "ui/task_list.h"
#include "ui/threshold_sweep.h"

namespace sightline::ui {

struct GpuResources;  // ui/gpu_resources.h: GL objects the views keep between frames

// What the scatter view drew last frame (for the screenshot sidecar and the benchmark).
struct ScatterReport {
  bool drawn = false;
  plot::PixelRect area;      // the plot area in window pixels
  plot::ViewRect view;       // the data rectangle shown
  bool density = false;      // the density image was drawn instead of points
  size_t points_in_view = 0;
  double cosine_threshold = 0;
  double last_pick_ms = 0;   // the last hover pick's time
};

// Where a plot was drawn last frame (for the screenshot sidecar).
struct PlotReport {
  bool drawn = false;
  plot::PixelRect area;  // the plot area in window pixels
  plot::ViewRect view;   // the data rectangle shown
};

// One series of Fig. 14's exact-vs-attributed scatter as drawn.
struct HeadsScatterSeries {
  std::string method;  // "A" or "B"
  double spearman = 0; // over the drawn points (NaN: undefined)
  size_t points = 0;
};

// What the heads view drew last frame (for the screenshot sidecar): the heat map's plot
// area, the data rectangle shown ([0, cols] x [0, rows], row 0 at the bottom) and its size;
// the per-layer curve and the exact-vs-attributed scatter.
struct HeadsReport {
  bool drawn = false;
  plot::PixelRect area;
  plot::ViewRect view;
  int rows = 0, cols = 0;
  std::string method;
  PlotReport curve, scatter;
  std::vector<HeadsScatterSeries> series;
};

// One heat map of the sweep view as drawn: cell (r, c) spans [c, c + 1] x [r, r + 1].
struct SweepMapReport {
  std::string key;     // "count", "jaccard", "layer_correlation" (stored), "live_count", "live_candidates"
  std::string title;
  PlotReport plot;
  int rows = 0, cols = 0;
  plot::Range range;   // the value range mapped onto the colormap
  std::string colormap;
};

// What the sweep view drew last frame.
struct SweepReport {
  bool drawn = false;
  std::vector<SweepMapReport> maps;
  double marker_x = NAN, marker_y = NAN;  // the current thresholds in cell units (NaN: off the grid)
};

class LiveViews;  // ui/live_views.h: the live model and the state views 5 and 6 share

struct AppState {
  AppState();
  ~AppState();

  Settings settings;
  std::string settings_path;  // "" = do not persist (screenshots, benchmark)
  std::string db_path, world_dir;

  std::shared_ptr<Snapshot> snapshot = std::make_shared<Snapshot>();
  DataSlot<ScatterModel> scatter;  // derived from snapshot->features on a task
  TaskList tasks;
  std::shared_ptr<LogBuffer> log;

  // Selection, shared by every view.
  int64_t selected = -1;                // row of the FeatureTable, -1 = none
  uint64_t selection_version = 0;       // bumped by select()
  std::vector<uint32_t> box_rows;       // rows inside the last box selection
  uint64_t box_version = 0;

  // Live stage-2 thresholds and their derived per-layer counts.
  Thresholds thresholds;
  LayerCounts counts;
  LayerMask layer_mask;                 // empty = every layer
  uint64_t layer_mask_version = 0;
  plot::Colormap colormap = plot::Colormap::kViridis;

  std::string requested_view;           // a centre tab to bring forward ("scatter", ...)
  bool show_demo = false, show_gallery = false, show_metrics = false;
  const plot::ViewRect* scatter_camera = nullptr;  // scripted camera (benchmark)
  uint64_t scatter_fitted_serial = 0;               // the model the scatter view was fitted to
  ScatterReport scatter_report;
  std::string heads_method = "A";       // the heads view's method: "A", "B" or "exact"
  HeadsReport heads_report;
  SweepReport sweep_report;
  // Fig. 8 live: A over the stored sweep's grid (or stage 2's default grid) for the
  // current feature table; recomputed on a task when either changes (update()).
  DataSlot<LiveSweep> live_sweep;
  std::shared_ptr<LiveViews> live;      // created by the first live view drawn (or a scripted start)
  LiveReport live_report;
  FindState find;                       // search, bookmarks, J / K navigation, Fig. 9 (ui/find_state.h)
  std::unique_ptr<GpuResources> gpu;

  // The scatter model when ready, else nullptr.
  std::shared_ptr<const ScatterModel> model() const { return scatter.data(); }
  // The cosine value of the bottom p_cos of the current model (-inf without data).
  double cosine_threshold() const;
  void select(int64_t row);
  void set_box(std::vector<uint32_t> rows);
  void set_layer_mask(LayerMask mask);
  // Once per frame: starts indexing a newly published feature table, recounts A when
  // the thresholds or the model changed, and starts the live sweep when the model or the
  // stored sweep changed.
  void update();
  // Whether the live sweep still has to start for the current model and grid (update()
  // starts it unless the stored sweep is still being read).
  bool live_sweep_pending() const;

 private:
  uint64_t swept_serial_ = 0, swept_grid_version_ = 0;
  std::atomic<uint64_t> live_sweep_generation_{0};
  uint64_t indexed_features_version_ = 0;
  uint64_t counted_serial_ = 0;
  double counted_eps_ = -1, counted_p_cos_ = -1;
};

// Starts the synthetic generator (features, curves, heat maps) as a task that publishes
// into state.snapshot.
void start_synthetic_data(AppState& state, size_t features, uint64_t seed);
// Marks every slot missing with the stage that produces it (no data source given).
void mark_data_missing(AppState& state, const std::string& why);

}  // namespace sightline::ui
