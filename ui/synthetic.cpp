#include "ui/synthetic.h"

#include <algorithm>
#include <cmath>

#include "core/common/error.h"
#include "ui/adapted_set.h"

namespace sightline::ui {

namespace {

// Counter-based randomness: feature i's numbers depend on (seed, i) only, so the table
// does not depend on how the work is chunked.
uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

class Stream {
 public:
  explicit Stream(uint64_t key) : state_(splitmix64(key)) {}
  double uniform() {  // in (0, 1)
    state_ = splitmix64(state_);
    return (static_cast<double>(state_ >> 11) + 0.5) * (1.0 / 9007199254740992.0);
  }
  double normal() {  // Box-Muller
    const double u = uniform(), v = uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
  }

 private:
  uint64_t state_;
};

constexpr double kPi = 3.141592653589793;

}  // namespace

FeatureTable make_synthetic_features(const SyntheticOptions& options, Progress& progress) {
  check(options.layers > 0 && options.layers <= 1024, "--synthetic: {} layers is outside 1..1024", options.layers);
  check(options.features <= (size_t{1} << 26), "--synthetic: {} features is more than 2^26", options.features);
  const size_t n = options.features;
  FeatureTable t;
  t.num_layers = options.layers;
  t.source = "synthetic";
  t.layer.resize(n);
  t.feature.resize(n);
  t.visual_energy.resize(n);
  t.decoder_cosine.resize(n);
  t.flags.assign(n, 0);
  const size_t per_layer = std::max<size_t>(1, n / options.layers);
  progress.begin("synthetic features", static_cast<int64_t>(n));
  const size_t chunk = 65536;
  for (size_t start = 0; start < n; start += chunk) {
    progress.check_cancel();
    for (size_t i = start; i < std::min(n, start + chunk); ++i) {
      const int l = static_cast<int>(std::min<size_t>(i / per_layer, options.layers - 1));
      const double depth = options.layers > 1 ? static_cast<double>(l) / (options.layers - 1) : 0.0;
      Stream rng(options.seed * 0x100000001B3ull + i);
      const double u = rng.uniform();
      double cosine, log_e;
      if (u < 0.62) {  // barely rotated, text-driven
        cosine = 1 - std::fabs(rng.normal()) * (0.03 + 0.03 * depth);
        log_e = -4.2 + 0.5 * depth + 0.7 * rng.normal();
      } else if (u < 0.89) {  // rotated, still mostly text-driven
        cosine = 0.72 - 0.15 * depth + 0.12 * rng.normal();
        log_e = -4.0 + 0.7 * rng.normal();
      } else if (u < 0.95) {  // the visual cluster: strongly rotated, high E_v
        cosine = 0.45 - 0.10 * depth + 0.10 * rng.normal();
        log_e = -2.2 + 0.4 * depth + 0.45 * rng.normal();
      } else {  // rarely firing
        cosine = 0.85 + 0.10 * rng.normal();
        log_e = -6.5 + 0.6 * rng.normal();
      }
      t.layer[i] = static_cast<uint16_t>(l);
      t.feature[i] = static_cast<int32_t>(i - static_cast<size_t>(l) * per_layer);
      t.decoder_cosine[i] = static_cast<float>(std::clamp(cosine, -1.0, 1.0));
      t.visual_energy[i] = static_cast<float>(std::pow(10.0, std::clamp(log_e, -9.0, 0.0)));
      // Candidates are a few hundred features whatever the size (the paper's scale).
      const double candidate_rate = (log_e > -3.0 ? 1.0 : 0.05) * std::min(0.02, 3000.0 / static_cast<double>(n));
      if (rng.uniform() < candidate_rate) t.flags[i] |= kFlagSpatialCandidate;
    }
    progress.set_done(static_cast<int64_t>(std::min(n, start + chunk)));
  }

  const Thresholds defaults;
  CosineQuantiles quantiles;
  quantiles.build(t.decoder_cosine);
  const double threshold = quantiles.threshold_for(defaults.p_cos);
  int analysed = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!is_adapted(t.visual_energy[i], t.decoder_cosine[i], defaults.eps, threshold)) continue;
    t.flags[i] |= kFlagAdapted;
    if (!(t.flags[i] & kFlagSpatialCandidate)) continue;
    t.flags[i] |= kFlagSpatialFeature;
    if (analysed < 24 && splitmix64(options.seed ^ i) % 8 == 0) {
      t.flags[i] |= kFlagAnalysed;
      ++analysed;
    }
  }
  return t;
}

std::vector<CurveSet> make_synthetic_curves(int layers, uint64_t seed) {
  std::vector<CurveSet> sets;
  const char* regimes[] = {"full", "image", "text", "random"};
  {
    CurveSet fvu{"FVU during adaptation (synthetic, layer " + std::to_string(layers / 2) + ")", "tokens (M)",
                 "FVU", true, {}};
    fvu.fvu_layer = layers / 2;
    for (int r = 0; r < 4; ++r) {
      Curve c{regimes[r], {}, {}};
      Stream rng(seed * 31 + r);
      const double start = r == 3 ? 1.0 : 0.35 + 0.05 * r, floor = r == 3 ? 0.30 : 0.08 + 0.03 * r;
      for (int k = 0; k <= 200; ++k) {
        const double tokens = k * 0.25;
        const double fvu = floor + (start - floor) * std::exp(-tokens / (r == 3 ? 12.0 : 4.0));
        c.x.push_back(static_cast<float>(tokens));
        c.y.push_back(static_cast<float>(std::log10(fvu * (1 + 0.02 * rng.normal()))));
      }
      fvu.curves.push_back(std::move(c));
    }
    sets.push_back(std::move(fvu));
  }
  {
    CurveSet cos{"Mean decoder cosine per layer (synthetic)", "layer", "cosine", false, {}};
    for (int r = 0; r < 4; ++r) {
      Curve c{regimes[r], {}, {}};
      Stream rng(seed * 37 + r);
      for (int l = 0; l < layers; ++l) {
        const double depth = layers > 1 ? static_cast<double>(l) / (layers - 1) : 0.0;
        const double base = r == 3 ? 0.02 : 0.97 - (0.10 + 0.06 * r) * depth;
        c.x.push_back(static_cast<float>(l));
        c.y.push_back(static_cast<float>(base + 0.01 * rng.normal()));
      }
      cos.curves.push_back(std::move(c));
    }
    sets.push_back(std::move(cos));
  }
  return sets;
}

std::vector<HeatMap> make_synthetic_heat_maps(int layers, int heads, uint64_t seed) {
  std::vector<HeatMap> maps;
  for (int method = 0; method < 2; ++method) {
    HeatMap m{std::string("Head attribution, method ") + (method == 0 ? "A" : "B") + " (synthetic)", "head",
              "layer", layers, heads, {}, true};
    m.values.resize(static_cast<size_t>(layers) * heads);
    Stream rng(seed * 41 + method);
    for (int l = 0; l < layers; ++l) {
      for (int h = 0; h < heads; ++h) {
        // A band of mid-depth heads with strong effect, sparse negatives, noise.
        const double band = std::exp(-std::pow((l - layers * 0.45) / (layers * 0.12), 2.0));
        const double wave = std::sin(kPi * h * (3 + method) / std::max(heads, 1));
        m.values[static_cast<size_t>(l) * heads + h] = static_cast<float>(band * wave + 0.08 * rng.normal());
      }
    }
    maps.push_back(std::move(m));
  }
  return maps;
}

}  // namespace sightline::ui
