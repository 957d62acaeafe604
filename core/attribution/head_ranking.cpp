#include "core/attribution/head_ranking.h"

#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <set>

#include "core/common/error.h"

namespace sightline {

std::string to_string(const HeadId& head) { return fmt::format("L{}H{}", head.layer, head.head); }

namespace {

// A [layers, heads] map as float64 CPU rows.
std::vector<std::vector<double>> map_rows(const at::Tensor& map, const char* what) {
  check(map.defined() && map.dim() == 2, "{}: attribution map must be [layers, heads], got {}", what,
        map.defined() ? c10::str(map.sizes()) : std::string("(undefined)"));
  const auto m = map.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  std::vector<std::vector<double>> rows(static_cast<size_t>(m.size(0)));
  for (int64_t l = 0; l < m.size(0); ++l) {
    const double* p = m[l].data_ptr<double>();
    rows[static_cast<size_t>(l)].assign(p, p + m.size(1));
  }
  return rows;
}

std::vector<RankedHead> ranked(const at::Tensor& map, RankBy by, bool largest_first, const char* what) {
  const auto rows = map_rows(map, what);
  std::vector<RankedHead> all;
  for (size_t l = 0; l < rows.size(); ++l) {
    for (size_t h = 0; h < rows[l].size(); ++h) {
      all.push_back({{static_cast<int>(l), static_cast<int>(h)}, rows[l][h]});
    }
  }
  auto key = [by](const RankedHead& s) { return by == RankBy::kAbsolute ? std::abs(s.score) : s.score; };
  std::stable_sort(all.begin(), all.end(), [&](const RankedHead& x, const RankedHead& y) {
    const double kx = key(x), ky = key(y);
    if (kx != ky) return largest_first ? kx > ky : kx < ky;
    return x.head < y.head;
  });
  return all;
}

std::vector<RankedHead> first_k(std::vector<RankedHead> all, int64_t k) {
  check(k >= 0, "head ranking: k must be non-negative, got {}", k);
  if (static_cast<size_t>(k) < all.size()) all.resize(static_cast<size_t>(k));
  return all;
}

// Ranks 1..n with ties given their mean rank.
std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double mean_rank = 0.5 * static_cast<double>(i + j) + 1.0;
    for (size_t m = i; m <= j; ++m) r[order[m]] = mean_rank;
    i = j + 1;
  }
  return r;
}

}  // namespace

std::vector<double> layer_curve(const at::Tensor& map) {
  const auto rows = map_rows(map, "layer curve");
  std::vector<double> out;
  for (const auto& row : rows) out.push_back(std::accumulate(row.begin(), row.end(), 0.0));
  return out;
}

std::vector<RankedHead> top_heads(const at::Tensor& map, int64_t k, RankBy by) {
  return first_k(ranked(map, by, true, "top heads"), k);
}

std::vector<RankedHead> bottom_heads(const at::Tensor& map, int64_t k, RankBy by) {
  return first_k(ranked(map, by, false, "bottom heads"), k);
}

TopKOverlap top_k_overlap(const at::Tensor& a, const at::Tensor& b, int64_t k, RankBy by) {
  check(a.defined() && b.defined() && a.sizes() == b.sizes(), "top-k overlap: maps must have the same shape, got {} and {}",
        a.defined() ? c10::str(a.sizes()) : std::string("(undefined)"),
        b.defined() ? c10::str(b.sizes()) : std::string("(undefined)"));
  check(k > 0, "top-k overlap: k must be positive, got {}", k);
  std::set<HeadId> sa, sb;
  for (const auto& s : top_heads(a, k, by)) sa.insert(s.head);
  for (const auto& s : top_heads(b, k, by)) sb.insert(s.head);
  TopKOverlap out;
  for (const auto& h : sa) out.shared += sb.count(h) ? 1 : 0;
  const auto union_size = static_cast<double>(sa.size() + sb.size()) - static_cast<double>(out.shared);
  out.fraction = static_cast<double>(out.shared) / static_cast<double>(std::min<int64_t>(k, a.numel()));
  out.jaccard = union_size > 0 ? static_cast<double>(out.shared) / union_size : 0.0;
  return out;
}

std::vector<RecurringHead> recurring_heads(const std::vector<at::Tensor>& maps, int64_t k, int64_t min_features,
                                           RankBy by) {
  check(k > 0, "recurring heads: k must be positive, got {}", k);
  std::map<HeadId, RecurringHead> found;
  for (size_t f = 0; f < maps.size(); ++f) {
    for (const auto& s : top_heads(maps[f], k, by)) {
      auto& r = found[s.head];
      r.head = s.head;
      ++r.count;
      r.features.push_back(static_cast<int64_t>(f));
      r.mean_score += s.score;
    }
  }
  std::vector<RecurringHead> out;
  for (auto& [id, r] : found) {
    r.mean_score /= static_cast<double>(r.count);
    if (r.count >= min_features) out.push_back(r);
  }
  std::stable_sort(out.begin(), out.end(), [](const RecurringHead& x, const RecurringHead& y) {
    if (x.count != y.count) return x.count > y.count;
    return std::abs(x.mean_score) > std::abs(y.mean_score);
  });
  return out;
}

double spearman(const at::Tensor& a, const at::Tensor& b) {
  check(a.defined() && b.defined() && a.numel() == b.numel(), "spearman: tensors must have the same size, got {} and {}",
        a.defined() ? a.numel() : 0, b.defined() ? b.numel() : 0);
  const auto fa = a.detach().to(torch::kCPU, torch::kFloat64).contiguous().reshape({-1});
  const auto fb = b.detach().to(torch::kCPU, torch::kFloat64).contiguous().reshape({-1});
  const auto n = static_cast<size_t>(fa.numel());
  if (n < 2) return std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> va(fa.data_ptr<double>(), fa.data_ptr<double>() + n);
  const std::vector<double> vb(fb.data_ptr<double>(), fb.data_ptr<double>() + n);
  const auto ra = ranks(va), rb = ranks(vb);
  const double mean = (static_cast<double>(n) + 1.0) / 2.0;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < n; ++i) {
    sab += (ra[i] - mean) * (rb[i] - mean);
    saa += (ra[i] - mean) * (ra[i] - mean);
    sbb += (rb[i] - mean) * (rb[i] - mean);
  }
  if (saa == 0 || sbb == 0) return std::numeric_limits<double>::quiet_NaN();
  return sab / std::sqrt(saa * sbb);
}

}  // namespace sightline
