// What the live views (overlays, ablation) drew in the last frame, as plain data for the
// screenshot sidecar and the tests. Kept apart from ui/live_views.h so that AppState does
// not pull torch headers into every view.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ui/plot/transform.h"

namespace sightline::ui {

// One overlay image drawn.
struct OverlayPanel {
  std::string role;  // "main", "top", "bottom" (the selected feature's heads) or "layer" (all heads of a layer)
  int layer = 0, head = 0, grid = 0;
  double score = 0;            // the head's attribution score ("top" / "bottom")
  plot::PixelRect area;        // the image's rectangle in window pixels
  float range_min = 0, range_max = 1;
  std::vector<float> values;   // grid * grid attention, row-major from the top-left patch
};
// Everything the live views drew.
struct LiveReport {
  std::string status;          // "ready", or the loading / failure line
  bool overlays_drawn = false, ablation_drawn = false;
  int64_t statement = -1;      // the VSR statement shown (-1: a file)
  std::string image, question;
  std::vector<int64_t> prompt;
  std::string rows;            // which query rows: "last", "mean", "token"
  int64_t query_row = -1;      // the attention row read (kLast / kToken)
  float alpha = 0;
  std::string colormap;
  bool has_answer = false;
  double p_yes = 0, p_yes_intervened = 0;
  std::string answer, answer_intervened;
  std::vector<std::string> toggles;  // "L3 #40", "L1 H0"
  std::vector<OverlayPanel> panels;
  // The re-evaluation shown: per group (relation, "all VSR", control) n and accuracies.
  struct Group {
    std::string name;
    int64_t n = 0;
    double accuracy = 0, accuracy_intervened = 0;
  };
  std::vector<Group> groups;
};

}  // namespace sightline::ui
