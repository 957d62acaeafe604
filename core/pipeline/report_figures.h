// The run's figures as PNG files (`sightline report`), for the results people would
// rather look at than read (METHOD.md "Figures"; paper Fig. 1/2/5-8, 13/14):
//   fvu.png               held-out FVU vs training tokens, one panel per layer, one line per
//                         regime (Fig. 1/6)
//   scatter_ev_cosine.png E_v vs decoder cosine c_f of every feature of every layer; the
//                         adapted set A highlighted, skill features (column `spatial`) on
//                         top, the eps and cosine thresholds dashed (Fig. 2)
//   layers.png            per layer: |A|, mean c_f of A vs all features, mean c_f of each
//                         regime's SAE vs the base (Fig. 7a, 7b, 5)
//   sweep.png             threshold sweep heat maps over eps x p_cos: count, Jaccard with A,
//                         per-layer count correlation; the operating point circled (Fig. 8)
//   heads.png             [layer x head] attribution maps (method A, else the first method
//                         stored) of the first features with head scores (Fig. 14)
// A figure whose data the store does not hold is not written.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/store/store.h"

namespace sightline {

// Writes the figures of run `run_id` that have data into `out_dir` (created when a figure
// is written), each PNG atomically; returns their file names in the order above. A run
// without results writes nothing and returns {}. Throws Error naming the store when the
// run does not exist, or naming the file when a PNG cannot be written.
std::vector<std::string> write_report_figures(Store& store, int64_t run_id, const std::string& out_dir);

}  // namespace sightline
