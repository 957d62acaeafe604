#include "core/diffing/selection.h"

#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/common/error.h"
#include "core/sae/sae.h"
#include "core/sae/tensor_util.h"

namespace sightline {

namespace {

constexpr double kSelectionNaN = std::numeric_limits<double>::quiet_NaN();

// quantile() on values already sorted ascending and finite.
double quantile_sorted(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return sorted[lo] + frac * (sorted[hi] - sorted[lo]);
}

void check_scores(const std::vector<LayerFeatureScores>& scores) {
  for (const auto& s : scores) {
    check(s.visual_energy.size() == s.decoder_cosine.size(),
          "feature scores of layer {}: {} visual energies but {} decoder cosines", s.layer, s.visual_energy.size(),
          s.decoder_cosine.size());
  }
}

void check_fraction(double p, const char* what) {
  check(p >= 0 && p <= 1, "{} must be in [0, 1], got {}", what, p);
}

std::vector<double> sorted_finite_cosines(const std::vector<LayerFeatureScores>& scores) {
  std::vector<double> all;
  for (const auto& s : scores)
    for (double c : s.decoder_cosine)
      if (std::isfinite(c)) all.push_back(c);
  check(!all.empty(), "adapted-feature selection: no finite decoder cosine in {} layers", scores.size());
  std::sort(all.begin(), all.end());
  return all;
}

FeatureSelection select_with_threshold(const std::vector<LayerFeatureScores>& scores, double eps,
                                       double cosine_threshold) {
  FeatureSelection sel;
  sel.cosine_threshold = cosine_threshold;
  for (const auto& s : scores) {
    sel.layers.push_back(s.layer);
    std::vector<uint8_t> mask(s.decoder_cosine.size(), 0);
    int64_t n = 0;
    for (size_t f = 0; f < mask.size(); ++f) {
      // NaN compares false on both tests: an unmeasured feature is never selected.
      if (s.visual_energy[f] > eps && s.decoder_cosine[f] <= cosine_threshold) {
        mask[f] = 1;
        ++n;
      }
    }
    sel.selected.push_back(std::move(mask));
    sel.layer_counts.push_back(n);
    sel.count += n;
  }
  return sel;
}

void check_same_shape(const FeatureSelection& a, const FeatureSelection& b) {
  check(a.layers == b.layers && a.selected.size() == b.selected.size(),
        "comparing selections over different layers ({} vs {} layers)", a.layers.size(), b.layers.size());
  for (size_t i = 0; i < a.selected.size(); ++i) {
    check(a.selected[i].size() == b.selected[i].size(),
          "comparing selections of layer {} with {} and {} features", a.layers[i], a.selected[i].size(),
          b.selected[i].size());
  }
}

std::vector<double> as_doubles(const std::vector<int64_t>& v) { return std::vector<double>(v.begin(), v.end()); }

}  // namespace

std::vector<double> decoder_cosine(const at::Tensor& w_dec_base, const at::Tensor& w_dec_adapted,
                                   const std::string& what) {
  check(w_dec_base.dim() == 2 && w_dec_base.sizes() == w_dec_adapted.sizes(),
        "decoder cosine of {}: decoder shapes differ ({} vs {})", what, sae_detail::shape_string(w_dec_base.sizes()),
        sae_detail::shape_string(w_dec_adapted.sizes()));
  torch::NoGradGuard no_grad;
  const auto a = w_dec_base.detach().to(torch::kCPU, torch::kFloat64);
  const auto b = w_dec_adapted.detach().to(torch::kCPU, torch::kFloat64);
  const auto dot = (a * b).sum(0);                       // [F]
  const auto norms = a.norm(2, 0) * b.norm(2, 0);        // [F]
  const auto cos = torch::where(norms > 0, dot / norms.clamp_min(1e-300), torch::zeros_like(dot)).contiguous();
  return std::vector<double>(cos.data_ptr<double>(), cos.data_ptr<double>() + cos.numel());
}

std::vector<double> decoder_cosine(const Sae& base, const Sae& adapted) {
  return decoder_cosine(base.w_dec(), adapted.w_dec(),
                        "SAE '" + base.config().hook_point + "' (" + base.config().source + " vs " +
                            adapted.config().source + ")");
}

double finite_mean(const std::vector<double>& values) {
  double sum = 0;
  int64_t n = 0;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    sum += v;
    ++n;
  }
  return n ? sum / static_cast<double>(n) : kSelectionNaN;
}

double quantile(std::vector<double> values, double q) {
  check_fraction(q, "quantile: q");
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return !std::isfinite(v); }),
               values.end());
  check(!values.empty(), "quantile of {} values: none is finite", values.size());
  std::sort(values.begin(), values.end());
  return quantile_sorted(values, q);
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  check(x.size() == y.size(), "pearson: series of different lengths ({} and {})", x.size(), y.size());
  const size_t n = x.size();
  if (n < 2) return kSelectionNaN;
  double mx = 0, my = 0;
  for (size_t i = 0; i < n; ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= static_cast<double>(n);
  my /= static_cast<double>(n);
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < n; ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx <= 0 || syy <= 0) return kSelectionNaN;
  return sxy / std::sqrt(sxx * syy);
}

FeatureSelection select_adapted(const std::vector<LayerFeatureScores>& scores, const SelectionThresholds& thresholds) {
  check_scores(scores);
  check_fraction(thresholds.p_cos, "adapted-feature selection: p_cos");
  const auto sorted = sorted_finite_cosines(scores);
  return select_with_threshold(scores, thresholds.eps, quantile_sorted(sorted, thresholds.p_cos));
}

double jaccard(const FeatureSelection& a, const FeatureSelection& b) {
  check_same_shape(a, b);
  int64_t both = 0, either = 0;
  for (size_t i = 0; i < a.selected.size(); ++i) {
    const auto& sa = a.selected[i];
    const auto& sb = b.selected[i];
    for (size_t f = 0; f < sa.size(); ++f) {
      both += (sa[f] && sb[f]) ? 1 : 0;
      either += (sa[f] || sb[f]) ? 1 : 0;
    }
  }
  return either ? static_cast<double>(both) / static_cast<double>(either) : 1.0;
}

std::vector<SweepPoint> threshold_sweep(const std::vector<LayerFeatureScores>& scores,
                                        const FeatureSelection& reference, const std::vector<double>& eps_grid,
                                        const std::vector<double>& p_cos_grid) {
  check_scores(scores);
  for (double p : p_cos_grid) check_fraction(p, "threshold sweep: p_cos");
  const auto sorted = sorted_finite_cosines(scores);
  const auto reference_counts = as_doubles(reference.layer_counts);
  std::vector<SweepPoint> out;
  for (double eps : eps_grid) {
    for (double p : p_cos_grid) {
      SweepPoint pt;
      pt.eps = eps;
      pt.p_cos = p;
      pt.cosine_threshold = quantile_sorted(sorted, p);
      const auto sel = select_with_threshold(scores, eps, pt.cosine_threshold);
      pt.count = sel.count;
      pt.jaccard = jaccard(sel, reference);
      pt.layer_correlation = pearson(as_doubles(sel.layer_counts), reference_counts);
      out.push_back(pt);
    }
  }
  return out;
}

std::vector<LayerSelectionStats> layer_selection_stats(const std::vector<LayerFeatureScores>& scores,
                                                       const FeatureSelection& selection) {
  check_scores(scores);
  check(selection.selected.size() == scores.size(), "layer statistics: a selection of {} layers for {} layers",
        selection.selected.size(), scores.size());
  std::vector<LayerSelectionStats> out;
  for (size_t i = 0; i < scores.size(); ++i) {
    const auto& s = scores[i];
    const auto& mask = selection.selected[i];
    check(mask.size() == s.decoder_cosine.size(), "layer statistics: layer {} has {} features but the selection {}",
          s.layer, s.decoder_cosine.size(), mask.size());
    LayerSelectionStats st;
    st.layer = s.layer;
    st.features = static_cast<int64_t>(mask.size());
    std::vector<double> selected_cos;
    for (size_t f = 0; f < mask.size(); ++f) {
      if (mask[f]) selected_cos.push_back(s.decoder_cosine[f]);
      if (s.visual_energy[f] > 0) ++st.active;
    }
    st.selected = static_cast<int64_t>(selected_cos.size());
    st.mean_cosine_all = finite_mean(s.decoder_cosine);
    st.mean_cosine_selected = finite_mean(selected_cos);
    st.mean_visual_energy = finite_mean(s.visual_energy);
    out.push_back(st);
  }
  return out;
}

}  // namespace sightline
