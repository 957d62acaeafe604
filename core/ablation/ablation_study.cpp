#include "core/ablation/ablation_study.h"

#include <torch/types.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/common/error.h"

namespace sightline {

namespace {

// splitmix64: a well-mixed 64-bit step, so nearby seeds give unrelated streams.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

int64_t dtype_bytes(const std::string& dtype) { return dtype == "float32" ? 4 : dtype == "float64" ? 8 : 2; }

}  // namespace

std::vector<std::vector<SaeFeature>> draw_control_features(const std::vector<SaeFeature>& ablated,
                                                           const std::map<int, int64_t>& d_sae, int seeds,
                                                           uint64_t seed) {
  check(seeds >= 0, "control features: seeds must be >= 0, got {}", seeds);
  std::map<int, std::set<int64_t>> excluded;  // layer -> ablated features there
  uint64_t state = mix(seed);
  for (const auto& f : ablated) {
    const auto it = d_sae.find(f.layer);
    check(it != d_sae.end(), "control features: no dictionary size for layer {}", f.layer);
    check(f.feature >= 0 && f.feature < it->second, "control features: feature {} is outside layer {}'s [0, {})",
          f.feature, f.layer, it->second);
    excluded[f.layer].insert(f.feature);
    state = mix(state ^ (static_cast<uint64_t>(f.layer) << 40) ^ static_cast<uint64_t>(f.feature));
  }
  std::map<int, int64_t> needed;
  for (const auto& f : ablated) needed[f.layer] += seeds;
  for (const auto& [layer, n] : needed) {
    const int64_t pool = d_sae.at(layer) - static_cast<int64_t>(excluded[layer].size());
    check(n <= pool, "control features: layer {} has {} features besides the ablated ones, fewer than the {} distinct "
          "draws ({} seeds)", layer, pool, n, seeds);
  }
  std::map<int, std::set<int64_t>> used = excluded;  // every draw is new
  std::vector<std::vector<SaeFeature>> out(static_cast<size_t>(seeds));
  for (int s = 0; s < seeds; ++s) {
    for (const auto& f : ablated) {
      const int64_t n = d_sae.at(f.layer);
      auto& taken = used[f.layer];
      int64_t pick;
      if (static_cast<int64_t>(taken.size()) * 2 < n) {
        do {  // rejection: cheap while most features are free
          state = mix(state);
          pick = static_cast<int64_t>(state % static_cast<uint64_t>(n));
        } while (taken.count(pick));
      } else {  // a crowded layer: choose among the free features directly
        std::vector<int64_t> free;
        for (int64_t i = 0; i < n; ++i) {
          if (!taken.count(i)) free.push_back(i);
        }
        state = mix(state);
        pick = free[static_cast<size_t>(state % free.size())];
      }
      taken.insert(pick);
      out[static_cast<size_t>(s)].push_back({f.layer, pick});
    }
  }
  return out;
}

std::vector<FeatureAblation> run_ablation_study(const VisionLanguageModel& model,
                                                const InterventionResources& resources,
                                                const AnswerTokens& answers, const AblationData& data,
                                                const std::vector<AblationTarget>& targets,
                                                const AblationOptions& options, Progress& progress) {
  check(options.control_seeds >= 1, "ablation study: control_seeds must be >= 1, got {}", options.control_seeds);
  std::map<int, int64_t> d_sae;
  for (const auto& [layer, sae] : resources.saes) {
    if (sae) d_sae[layer] = sae->d_sae();
  }
  std::set<int64_t> vsr_used;
  for (size_t t = 0; t < targets.size(); ++t) {
    const auto& target = targets[t];
    check(d_sae.count(target.feature.layer), "ablation target {} (L{} F{}): no SAE for layer {}", t,
          target.feature.layer, target.feature.feature, target.feature.layer);
    check(!target.vsr_items.empty(), "ablation target {} (L{} F{}): its VSR subset is empty", t, target.feature.layer,
          target.feature.feature);
    for (int64_t i : target.vsr_items) {
      check(i >= 0 && i < static_cast<int64_t>(data.vsr.size()),
            "ablation target {} (L{} F{}): VSR item {} is outside the {} items given", t, target.feature.layer,
            target.feature.feature, i, data.vsr.size());
      vsr_used.insert(i);
    }
  }
  int64_t total = static_cast<int64_t>(vsr_used.size() + data.vqa.size());
  for (const auto& target : targets) {
    total += static_cast<int64_t>(target.vsr_items.size()) * (1 + options.control_seeds) +
             static_cast<int64_t>(data.vqa.size());
  }
  EvalOptions eval = options.eval;
  eval.begin_progress = false;
  // Image tokens once per image set (when they fit the cache budget), not once per pass.
  auto cached = [&](const ItemImages& images) {
    if (images.tokens.defined() || !images.pixels.defined()) return images;
    const int64_t bytes = images.pixels.size(0) * model.image_tokens() * model.config().text.hidden_size *
                          dtype_bytes(model.dtype());
    if (bytes > options.image_cache_bytes) return images;
    ItemImages out;
    out.tokens = encode_item_images(model, images.pixels, eval.batch_size, progress);
    return out;
  };
  const ItemImages vsr_images = cached(data.vsr_images);
  const ItemImages vqa_images = cached(data.vqa_images);
  progress.begin("ablation study", total);

  // Baselines, once: the VSR items any subset uses, and the VQA control.
  const std::vector<int64_t> used(vsr_used.begin(), vsr_used.end());
  std::map<int64_t, size_t> used_pos;
  std::vector<YesNoItem> used_items;
  for (int64_t i : used) {
    used_pos[i] = used_items.size();
    used_items.push_back(data.vsr[static_cast<size_t>(i)]);
  }
  const InterventionSet none;
  const auto vsr_base_used = score_yes_no(model, used_items, vsr_images, none, resources, answers, eval, progress);
  const auto vqa_base = score_yes_no(model, data.vqa, vqa_images, none, resources, answers, eval, progress);
  const auto vqa_base_summary = summarize(vqa_base);

  std::vector<FeatureAblation> rows;
  for (const auto& target : targets) {
    std::vector<YesNoItem> subset;
    std::vector<ItemScore> base;
    for (int64_t i : target.vsr_items) {
      subset.push_back(data.vsr[static_cast<size_t>(i)]);
      base.push_back(vsr_base_used[used_pos.at(i)]);
    }
    InterventionSet ablate;
    ablate.ablate_features = {target.feature};
    const auto vsr_abl = score_yes_no(model, subset, vsr_images, ablate, resources, answers, eval, progress);
    const auto vqa_abl = score_yes_no(model, data.vqa, vqa_images, ablate, resources, answers, eval, progress);

    FeatureAblation row;
    row.layer = target.feature.layer;
    row.feature = target.feature.feature;
    const auto vsr_delta = compare(base, vsr_abl);
    row.vsr_baseline = vsr_delta.baseline;
    row.vsr_ablated = vsr_delta.intervened;
    row.d_vsr_acc = vsr_delta.d_accuracy;
    row.d_vsr_prob = vsr_delta.d_p_correct;
    row.vqa_baseline = vqa_base_summary;
    row.vqa_ablated = summarize(vqa_abl);
    row.d_vqa_acc = data.vqa.empty() ? 0.0 : row.vqa_ablated.accuracy - row.vqa_baseline.accuracy;
    row.vsr_or = target.vsr_odds_ratio;
    row.n_samples = static_cast<int64_t>(subset.size());
    for (size_t r = 0; r < target.relations.size(); ++r) row.relations += (r ? ", " : "") + target.relations[r];

    row.controls = draw_control_features(ablate.ablate_features, d_sae, options.control_seeds, options.seed);
    for (const auto& control : row.controls) {
      InterventionSet set;
      set.ablate_features = control;
      const auto scores = score_yes_no(model, subset, vsr_images, set, resources, answers, eval, progress);
      row.d_ctrl_seeds.push_back(compare(base, scores).d_accuracy);
    }
    double sum = 0.0;
    for (double d : row.d_ctrl_seeds) sum += d;
    const double n = static_cast<double>(row.d_ctrl_seeds.size());
    row.d_ctrl = sum / n;
    double ss = 0.0;
    for (double d : row.d_ctrl_seeds) ss += (d - row.d_ctrl) * (d - row.d_ctrl);
    row.d_ctrl_std = n > 1 ? std::sqrt(ss / (n - 1)) : 0.0;
    rows.push_back(std::move(row));
  }
  return rows;
}

namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string ablation_csv(const std::vector<FeatureAblation>& rows) {
  std::string out = "layer,feature,d_vsr_acc,d_vsr_prob,d_vqa_acc,d_ctrl,vsr_or,n_samples,relations\n";
  for (const auto& r : rows) {
    out += fmt::format("{},{},{:.4f},{:.4f},{:.4f},{:.4f},{:.4f},{},{}\n", r.layer, r.feature, r.d_vsr_acc,
                       r.d_vsr_prob, r.d_vqa_acc, r.d_ctrl, r.vsr_or, r.n_samples, csv_field(r.relations));
  }
  return out;
}

}  // namespace sightline
