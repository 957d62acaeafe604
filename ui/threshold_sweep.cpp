#include "ui/threshold_sweep.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace sightline::ui {

std::vector<double> default_sweep_eps() { return {0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1}; }
std::vector<double> default_sweep_p_cos() { return {0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5}; }

LiveSweep sweep_feature_table(const FeatureTable& table, const CosineQuantiles& quantiles,
                              const std::vector<double>& eps, const std::vector<double>& p_cos) {
  LiveSweep s;
  s.eps = eps;
  s.p_cos = p_cos;
  const size_t rows = eps.size(), cols = p_cos.size(), n = table.size();
  s.adapted.assign(rows * cols, 0);
  s.candidates_in.assign(rows * cols, 0);
  for (double p : p_cos) s.cosine_threshold.push_back(quantiles.threshold_for(p));
  for (size_t i = 0; i < n; ++i) s.candidates += (table.flags[i] & kFlagSpatialCandidate) ? 1 : 0;
  if (rows == 0 || cols == 0) return s;

  // A feature with E_v above the b smallest eps values is in the rows of those b values:
  // its bucket is b, and row r (eps rank k) counts the features of buckets > k.
  std::vector<size_t> eps_rank(rows);
  std::iota(eps_rank.begin(), eps_rank.end(), 0);
  std::sort(eps_rank.begin(), eps_rank.end(), [&](size_t a, size_t b) { return eps[a] < eps[b]; });
  std::vector<double> eps_sorted(rows);
  for (size_t k = 0; k < rows; ++k) eps_sorted[k] = eps[eps_rank[k]];
  std::vector<size_t> rank_of_row(rows);
  for (size_t k = 0; k < rows; ++k) rank_of_row[eps_rank[k]] = k;

  std::vector<uint32_t> by_cosine(n);
  std::iota(by_cosine.begin(), by_cosine.end(), 0u);
  std::sort(by_cosine.begin(), by_cosine.end(),
            [&](uint32_t a, uint32_t b) { return table.decoder_cosine[a] < table.decoder_cosine[b]; });
  std::vector<size_t> columns(cols);
  std::iota(columns.begin(), columns.end(), 0);
  std::sort(columns.begin(), columns.end(),
            [&](size_t a, size_t b) { return s.cosine_threshold[a] < s.cosine_threshold[b]; });

  // bucket_all[b] / bucket_candidates[b]: features taken in so far whose E_v exceeds
  // exactly b of the eps values.
  std::vector<int64_t> bucket_all(rows + 1, 0), bucket_candidates(rows + 1, 0);
  size_t taken = 0;
  for (size_t c : columns) {
    const double threshold = s.cosine_threshold[c];
    for (; taken < n && table.decoder_cosine[by_cosine[taken]] <= threshold; ++taken) {
      const uint32_t i = by_cosine[taken];
      const double e = table.visual_energy[i];
      // eps < E_v for the first b sorted values.
      const auto above = std::lower_bound(eps_sorted.begin(), eps_sorted.end(), e);
      const size_t b = static_cast<size_t>(above - eps_sorted.begin());
      ++bucket_all[b];
      if (table.flags[i] & kFlagSpatialCandidate) ++bucket_candidates[b];
    }
    // Suffix sums: above[k] = features in buckets > k.
    int64_t above_all = 0, above_candidates = 0;
    std::vector<int64_t> by_rank_all(rows), by_rank_candidates(rows);
    for (size_t k = rows; k-- > 0;) {
      above_all += bucket_all[k + 1];
      above_candidates += bucket_candidates[k + 1];
      by_rank_all[k] = above_all;
      by_rank_candidates[k] = above_candidates;
    }
    for (size_t r = 0; r < rows; ++r) {
      s.adapted[r * cols + c] = by_rank_all[rank_of_row[r]];
      s.candidates_in[r * cols + c] = by_rank_candidates[rank_of_row[r]];
    }
  }
  return s;
}

double sweep_axis_position(const std::vector<double>& grid, double value) {
  if (grid.empty() || !std::isfinite(value)) return NAN;
  for (size_t i = 1; i < grid.size(); ++i)
    if (!(grid[i - 1] < grid[i])) return NAN;
  if (value < grid.front() || value > grid.back()) return NAN;
  for (size_t i = 0; i + 1 < grid.size(); ++i) {
    const double lo = grid[i], hi = grid[i + 1];
    if (value > hi) continue;
    const double t = lo > 0 ? std::log10(value / lo) / std::log10(hi / lo) : (value - lo) / (hi - lo);
    return static_cast<double>(i) + 0.5 + t;
  }
  return static_cast<double>(grid.size()) - 0.5;  // value == grid.back()
}

}  // namespace sightline::ui
