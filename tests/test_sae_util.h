// Helpers for the SAE tests: a float64 reference SAE written with plain loops (independent
// of the library's tensor code), row extraction and error capture.
#pragma once

#include <gtest/gtest.h>
#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "core/common/error.h"
#include "tests/test_util.h"

namespace sightline::sae_test {

using sightline::test::error_of;

inline std::vector<double> to_vector(const at::Tensor& t) {
  const auto c = t.detach().to(at::kCPU, at::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

// Row n of a 2-D tensor in float64.
inline std::vector<double> row_of(const at::Tensor& t, int64_t n) { return to_vector(t[n]); }

// pre = W_enc x + b_enc, activations and decode, all in float64 loops. LLaMA-Scope
// orientation: we [F x D] row-major, wd [D x F] row-major.
struct RefSae {
  int64_t D = 0, F = 0;
  std::vector<double> we, be, wd, bd, th;

  static RefSae from(const at::Tensor& w_enc, const at::Tensor& b_enc, const at::Tensor& w_dec,
                     const at::Tensor& b_dec, const at::Tensor& threshold) {
    RefSae r;
    r.F = w_enc.size(0);
    r.D = w_enc.size(1);
    r.we = to_vector(w_enc);
    r.be = to_vector(b_enc);
    r.wd = to_vector(w_dec);
    r.bd = to_vector(b_dec);
    r.th = threshold.defined() ? to_vector(threshold) : std::vector<double>(r.F, 0.0);
    return r;
  }

  std::vector<double> pre(const std::vector<double>& x) const {
    std::vector<double> out(F);
    for (int64_t j = 0; j < F; ++j) {
      double s = be[j];
      for (int64_t i = 0; i < D; ++i) s += we[j * D + i] * x[i];
      out[j] = s;
    }
    return out;
  }
  static std::vector<double> relu(std::vector<double> p) {
    for (auto& v : p) v = v > 0 ? v : 0;
    return p;
  }
  // pre where pre > max(threshold, 0).
  std::vector<double> jumprelu(std::vector<double> p) const {
    for (int64_t j = 0; j < F; ++j) p[j] = (p[j] > th[j] && p[j] > 0) ? p[j] : 0;
    return p;
  }
  static std::vector<double> topk(const std::vector<double>& p, int64_t k) {
    std::vector<int64_t> order(p.size());
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int64_t a, int64_t b) { return p[a] > p[b]; });
    std::vector<double> out(p.size(), 0.0);
    for (int64_t i = 0; i < k; ++i) out[order[i]] = p[order[i]] > 0 ? p[order[i]] : 0;
    return out;
  }
  std::vector<double> decode(const std::vector<double>& f) const {
    std::vector<double> out(D);
    for (int64_t i = 0; i < D; ++i) {
      double s = bd[i];
      for (int64_t j = 0; j < F; ++j) s += wd[i * F + j] * f[j];
      out[i] = s;
    }
    return out;
  }
  std::vector<double> decoder_norms() const {
    std::vector<double> n(F, 0.0);
    for (int64_t j = 0; j < F; ++j) {
      for (int64_t i = 0; i < D; ++i) n[j] += wd[i * F + j] * wd[i * F + j];
      n[j] = std::sqrt(n[j]);
    }
    return n;
  }
};

}  // namespace sightline::sae_test
