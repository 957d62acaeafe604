#include "ui/fvu_summary.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <utility>

namespace sightline::ui {

FvuSummary fvu_summary(const std::vector<CurveSet>& sets) {
  // (layer, regime) -> (x, FVU) of the curve's last finite point.
  std::map<std::pair<int, std::string>, std::pair<double, double>> last;
  std::set<int> layers;
  std::set<std::string> regimes;
  for (const CurveSet& set : sets) {
    if (set.fvu_layer < 0) continue;
    for (const Curve& c : set.curves) {
      const size_t n = std::min(c.x.size(), c.y.size());
      for (size_t k = n; k-- > 0;) {
        if (!std::isfinite(c.x[k]) || !std::isfinite(c.y[k])) continue;
        const double y = set.log_y ? std::pow(10.0, static_cast<double>(c.y[k])) : static_cast<double>(c.y[k]);
        last[{set.fvu_layer, c.label}] = {c.x[k], y};
        layers.insert(set.fvu_layer);
        regimes.insert(c.label);
        break;
      }
    }
  }
  FvuSummary s;
  s.layers.assign(layers.begin(), layers.end());
  s.regimes.assign(regimes.begin(), regimes.end());
  s.final_fvu.assign(s.layers.size() * s.regimes.size(), NAN);
  s.final_x.assign(s.final_fvu.size(), NAN);
  for (size_t r = 0; r < s.layers.size(); ++r)
    for (size_t c = 0; c < s.regimes.size(); ++c) {
      const auto it = last.find({s.layers[r], s.regimes[c]});
      if (it == last.end()) continue;
      s.final_x[r * s.regimes.size() + c] = it->second.first;
      s.final_fvu[r * s.regimes.size() + c] = it->second.second;
    }
  return s;
}

}  // namespace sightline::ui
