#include "ui/head_stats.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <utility>

namespace sightline::ui {

HeadLayerCurve head_layer_curve(const std::vector<HeadScore>& scores) {
  struct Sums {
    double sum_abs = 0, max_abs = 0;
    int n = 0;
  };
  std::map<int, Sums> by_layer;
  for (const HeadScore& s : scores) {
    if (!std::isfinite(s.score)) continue;
    Sums& x = by_layer[s.head_layer];
    x.sum_abs += std::fabs(s.score);
    x.max_abs = std::max(x.max_abs, std::fabs(s.score));
    ++x.n;
  }
  HeadLayerCurve c;
  for (const auto& [layer, x] : by_layer) {
    c.layer.push_back(static_cast<float>(layer));
    c.mean_abs.push_back(static_cast<float>(x.sum_abs / x.n));
    c.max_abs.push_back(static_cast<float>(x.max_abs));
    c.heads.push_back(x.n);
  }
  return c;
}

HeadPairs pair_with_exact(const std::vector<HeadScore>& exact, const std::vector<HeadScore>& method) {
  std::map<std::pair<int, int>, double> by_head;
  for (const HeadScore& s : method)
    if (std::isfinite(s.score)) by_head[{s.head_layer, s.head}] = s.score;
  std::map<std::pair<int, int>, std::pair<double, double>> both;
  for (const HeadScore& s : exact) {
    const auto it = by_head.find({s.head_layer, s.head});
    if (it != by_head.end() && std::isfinite(s.score)) both[it->first] = {s.score, it->second};
  }
  HeadPairs p;
  for (const auto& [head, values] : both) {
    p.head_layer.push_back(head.first);
    p.head.push_back(head.second);
    p.exact.push_back(static_cast<float>(values.first));
    p.attributed.push_back(static_cast<float>(values.second));
  }
  return p;
}

std::string head_name(int head_layer, int head) {
  return "L" + std::to_string(head_layer) + ":H" + std::to_string(head);
}

namespace {

// Average ranks (1-based) of v: tied values share the mean of the ranks they span.
std::vector<double> average_ranks(const std::vector<float>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> rank(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i + 1;
    while (j < order.size() && v[order[j]] == v[order[i]]) ++j;
    const double mean_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (size_t k = i; k < j; ++k) rank[order[k]] = mean_rank;
    i = j;
  }
  return rank;
}

}  // namespace

double spearman_rho(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size() || a.size() < 2) return NAN;
  const std::vector<double> ra = average_ranks(a), rb = average_ranks(b);
  const double n = static_cast<double>(a.size());
  const double mean = (n + 1) / 2;  // the mean of ranks 1..n, ties included
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - mean) * (rb[i] - mean);
    saa += (ra[i] - mean) * (ra[i] - mean);
    sbb += (rb[i] - mean) * (rb[i] - mean);
  }
  if (saa <= 0 || sbb <= 0) return NAN;
  return sab / std::sqrt(saa * sbb);
}

}  // namespace sightline::ui
