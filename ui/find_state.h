// The explorer's state for finding things (search, bookmarks, keyboard navigation) and
// for the Fig. 9 view, kept in AppState::find; and what those views drew last frame, for
// the screenshot sidecar. UI thread only.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ui/firing_histogram.h"
#include "ui/navigation.h"
#include "ui/plot/transform.h"
#include "ui/scatter_style.h"
#include "ui/search.h"

namespace sightline::ui {

// Colours of the Fig. 9 view and the token highlights (the screenshot tests look for them).
inline constexpr Rgb8 kColorFiringBase = {100, 190, 230};   // D_base bars: light blue
inline constexpr Rgb8 kColorFiringSkill = {250, 130, 40};   // D_skill (spatial) bars: orange
inline constexpr Rgb8 kColorTokenHot = {235, 70, 120};      // a token at the feature's max activation
inline constexpr Rgb8 kColorBookmark = {255, 200, 50};      // the star of a bookmarked feature

// A token the feature page drew with its highlight.
struct TokenBox {
  std::string text;
  float activation = 0;
  float intensity = 0;        // activation / the feature's max, in [0, 1]: the highlight's alpha
  plot::PixelRect rect;       // screen pixels
  bool visible = false;       // inside the pane's visible area
};

struct Fig9Report {
  bool drawn = false;
  plot::PixelRect area;        // (a) the histogram plot area
  plot::ViewRect view;
  std::string set;
  int layer = -1;
  FiringHistograms histograms;
  bool scatter_drawn = false;  // (b) candidates, log p_base vs log p_skill
  plot::PixelRect scatter_area;
  plot::ViewRect scatter_view;
  size_t scatter_points = 0;
};

struct FeaturePageReport {
  bool drawn = false;
  std::string position;          // "3 / 17" ("" without a set)
  std::string description;
  bool starred = false;          // in the bookmark list named in the page's list box
  plot::PixelRect star;          // the star button, screen pixels
  std::vector<TokenBox> tokens;  // every highlighted token drawn, in order
  // Per top sample drawn, where its words came from: "autointerp" (the stage's examples),
  // "data" (resolved from the run's data, ui/top_text.h) or "positions" (none: numbered).
  std::vector<std::string> sample_sources;
  std::string positions_reason;  // why samples are numbered ("" when none is)
};

struct FindReport {
  Fig9Report fig9;
  FeaturePageReport page;
};

struct FindState {
  NavSet nav;
  // Bookmark inputs of the feature page.
  std::string bookmark_list = "starred";
  std::string bookmark_note;
  std::string bookmarks_open;  // the list shown in the Bookmarks tab ("" = the first)
  // Fig. 9 options.
  int fig9_set = static_cast<int>(FiringSet::kAdapted);
  int fig9_layer = -1;  // -1 = all layers
  FindReport report;

  // (layer, feature) -> row of the current table; rebuilt when the model's serial changes.
  const RowIndex& row_index(const FeatureTable& table, uint64_t serial);

 private:
  std::unique_ptr<RowIndex> index_;
  uint64_t index_serial_ = 0;
};

// The report as the screenshot sidecar's "find" object.
nlohmann::json find_report_json(const FindReport& report);

}  // namespace sightline::ui
