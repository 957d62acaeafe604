#include "core/attribution/attribution.h"

#include <torch/csrc/autograd/autograd.h>
#include <torch/types.h>

#include <cmath>
#include <limits>
#include <tuple>
#include <utility>

#include "core/attribution/head_ranking.h"
#include "core/common/error.h"

namespace sightline {

std::string to_string(AttributionObjective objective) {
  return objective == AttributionObjective::kProjection ? "projection" : "sae_activation";
}

std::string to_string(HeadActivation activation) { return activation == HeadActivation::kQueryKey ? "qk" : "z"; }

AttributionObjective parse_attribution_objective(const std::string& name, const std::string& where,
                                                 const std::string& field) {
  if (name == "projection") return AttributionObjective::kProjection;
  if (name == "sae_activation") return AttributionObjective::kSaeActivation;
  fail("file '{}': field '{}' is '{}', expected one of projection, sae_activation", where, field, name);
}

HeadActivation parse_head_activation(const std::string& name, const std::string& where, const std::string& field) {
  if (name == "qk") return HeadActivation::kQueryKey;
  if (name == "z") return HeadActivation::kOutput;
  fail("file '{}': field '{}' is '{}', expected one of qk, z", where, field, name);
}

namespace {

std::string block_hook(int layer, const char* suffix) { return "blocks." + std::to_string(layer) + "." + suffix; }

std::string sae_name(const Sae& sae) { return sae.config().source.empty() ? "(in memory)" : sae.config().source; }

struct Dims {
  int L = 0;        // feature layer: heads of layers 0..L count
  int64_t H = 0;    // query heads
  int64_t Hkv = 0;  // KV heads
  int64_t rep = 1;  // query heads per KV head
};

Dims check_target(const VisionLanguageModel& model, const FeatureTarget& target, const char* what) {
  check(target.sae != nullptr, "{}: the feature target has no SAE", what);
  const Sae& sae = *target.sae;
  const auto& text = model.config().text;
  check(target.layer >= 0 && target.layer < model.num_layers(),
        "{}: SAE '{}': layer {} is outside model '{}' (layers 0..{})", what, sae_name(sae), target.layer,
        model.config().source, model.num_layers() - 1);
  check(target.feature >= 0 && target.feature < sae.d_sae(), "{}: SAE '{}': feature {} is outside [0, {}) (d_sae)",
        what, sae_name(sae), target.feature, sae.d_sae());
  check(sae.d_model() == text.hidden_size, "{}: SAE '{}': field 'd_model' is {} but model '{}' has hidden size {}", what,
        sae_name(sae), sae.d_model(), model.config().source, text.hidden_size);
  const std::string expected = block_hook(target.layer, "hook_resid_post");
  check(sae.config().hook_point.empty() || sae.config().hook_point == expected,
        "{}: SAE '{}': field 'hook_point' is '{}' but the target reads '{}'", what, sae_name(sae),
        sae.config().hook_point, expected);
  Dims d;
  d.L = target.layer;
  d.H = text.num_attention_heads;
  d.Hkv = text.num_key_value_heads > 0 ? text.num_key_value_heads : text.num_attention_heads;
  check(d.Hkv > 0 && d.H % d.Hkv == 0, "{}: model '{}': {} query heads are not a multiple of {} KV heads", what,
        model.config().source, d.H, d.Hkv);
  d.rep = d.H / d.Hkv;
  return d;
}

void check_batches(const VisionLanguageModel& model, const std::vector<PreparedBatch>& batches,
                   const MeanImageEmbedding& mean, const char* what) {
  check(!batches.empty(), "{}: no samples", what);
  const int64_t D = model.config().text.hidden_size;
  check(mean.mean.defined() && mean.width() == D, "{}: the mean image embedding has width {}, model '{}' has {}", what,
        mean.width(), model.config().source, D);
  for (size_t i = 0; i < batches.size(); ++i) {
    const auto& b = batches[i];
    check(b.embeds.defined() && b.embeds.dim() == 3 && b.embeds.size(2) == D,
          "{}: batch {}: tensor 'embeds' must be [B, T, {}]", what, i, D);
    check(b.token_types.defined() && b.token_types.sizes() == b.embeds.sizes().slice(0, 2),
          "{}: batch {}: tensor 'token_types' must be [B, T] like 'embeds'", what, i);
    const auto counts = b.token_types.eq(static_cast<int8_t>(kTokenImage)).sum(1).to(torch::kCPU);
    for (int64_t s = 0; s < counts.size(0); ++s) {
      check(counts[s].item<int64_t>() > 0,
            "{}: batch {}: sequence {} has no image tokens (the corrupt run replaces image embeddings)", what, i, s);
    }
  }
}

// One forward over a batch, keeping what attribution and patching need.
struct RunResult {
  at::Tensor objective;            // [B] float64 CPU
  std::vector<at::Tensor> a1, a2;  // per layer, detached: q and k (kQueryKey) or z (a1 only)
  std::vector<at::Tensor> g1, g2;  // gradients of sum_b objective w.r.t. them (with_grad only)
};

struct RunSpec {
  const FeatureTarget* target = nullptr;
  AttributionObjective objective = AttributionObjective::kProjection;
  HeadActivation activation = HeadActivation::kQueryKey;
  bool capture_activations = true;
  bool with_grad = false;
  std::vector<HookFn> embed_edits;                       // corruption (empty: clean)
  std::map<std::string, std::vector<HookFn>> head_edits;  // activation patches
};

RunResult run_once(const VisionLanguageModel& model, const PreparedBatch& batch, const RunSpec& spec) {
  const int L = spec.target->layer;
  const bool qk = spec.activation == HeadActivation::kQueryKey;
  ForwardRequest request;
  const std::string resid = block_hook(L, "hook_resid_post");
  request.capture.insert(resid);
  if (spec.capture_activations) {
    for (int l = 0; l <= L; ++l) {
      request.capture.insert(block_hook(l, qk ? "attn.hook_q" : "attn.hook_z"));
      if (qk) request.capture.insert(block_hook(l, "attn.hook_k"));
    }
  }
  request.edits = spec.head_edits;
  if (!spec.embed_edits.empty()) request.edits[corruption_hook()] = spec.embed_edits;
  request.capture_grad = spec.with_grad;
  request.stop_after_layer = L;
  request.logits = LogitsMode::kNone;
  const auto out = model.forward(batch, request);
  RunResult r;
  const auto objective = feature_objective(out.at(resid), batch.token_types, *spec.target, spec.objective);
  if (spec.capture_activations) {
    for (int l = 0; l <= L; ++l) {
      r.a1.push_back(out.at(block_hook(l, qk ? "attn.hook_q" : "attn.hook_z")));
      if (qk) r.a2.push_back(out.at(block_hook(l, "attn.hook_k")));
    }
  }
  if (spec.with_grad) {
    std::vector<at::Tensor> inputs(r.a1.begin(), r.a1.end());
    inputs.insert(inputs.end(), r.a2.begin(), r.a2.end());
    // Samples are independent, so the gradient of the batch sum gives each sample's own.
    const auto grads = torch::autograd::grad({objective.sum()}, inputs, {}, /*retain_graph=*/false,
                                             /*create_graph=*/false, /*allow_unused=*/true);
    for (size_t i = 0; i < grads.size(); ++i) {
      const auto g = grads[i].defined() ? grads[i] : torch::zeros_like(inputs[i]);
      (i < r.a1.size() ? r.g1 : r.g2).push_back(g.detach());
    }
  }
  for (auto& a : r.a1) a = a.detach();
  for (auto& a : r.a2) a = a.detach();
  r.objective = objective.detach().to(torch::kCPU, torch::kFloat64);
  return r;
}

at::ScalarType accumulation_type(const at::Tensor& x) {
  return x.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
}

// sum over positions and head_dim of (to - from) . grad: [B, T, heads, dh] -> [B, heads] float64 CPU.
at::Tensor head_dot(const at::Tensor& to, const at::Tensor& from, const at::Tensor& grad) {
  const auto acc = accumulation_type(grad);
  return ((to.to(acc) - from.to(acc)) * grad.to(acc)).sum({1, 3}).to(torch::kCPU, torch::kFloat64);
}

// Spreads KV-head values [.., Hkv] evenly over their query heads: [.., H].
at::Tensor split_kv(const at::Tensor& kv, int64_t rep) {
  return kv.repeat_interleave(rep, -1) / static_cast<double>(rep);
}

// One batch's per-sample head terms, the layout of both a method's scores and exact
// patching's effects: q [B, L+1, H] (q or z), k [B, L+1, Hkv] (kQueryKey only) and their
// sum on query heads, total [B, L+1, H].
struct BatchTerms {
  at::Tensor total, q, k;
};

// total = q, plus each KV head's k term spread evenly over its query heads (kQueryKey).
BatchTerms combine_terms(const at::Tensor& q, const at::Tensor& k, const Dims& d, bool qk) {
  BatchTerms t;
  t.q = q;
  if (qk) {
    t.k = k;
    t.total = q + split_kv(k, d.rep);
  } else {
    t.total = q;
  }
  return t;
}

// The batches' terms concatenated over samples, [N, ...]; q and k only for kQueryKey.
BatchTerms concat_terms(const std::vector<BatchTerms>& parts, bool qk) {
  std::vector<at::Tensor> total, q, k;
  for (const auto& p : parts) {
    total.push_back(p.total);
    q.push_back(p.q);
    if (qk) k.push_back(p.k);
  }
  BatchTerms all;
  all.total = torch::cat(total, 0);
  if (qk) {
    all.q = torch::cat(q, 0);
    all.k = torch::cat(k, 0);
  }
  return all;
}

BatchTerms method_scores(const RunResult& at_grad, const RunResult& other, const Dims& d, bool qk) {
  // (a_other - a_here) . grad_here: Method A is here = clean, other = corrupt; Method B the reverse.
  std::vector<at::Tensor> q, k;
  for (int l = 0; l <= d.L; ++l) {
    q.push_back(head_dot(other.a1[static_cast<size_t>(l)], at_grad.a1[static_cast<size_t>(l)],
                         at_grad.g1[static_cast<size_t>(l)]));
    if (qk) {
      k.push_back(head_dot(other.a2[static_cast<size_t>(l)], at_grad.a2[static_cast<size_t>(l)],
                           at_grad.g2[static_cast<size_t>(l)]));
    }
  }
  return combine_terms(torch::stack(q, 1), qk ? torch::stack(k, 1) : at::Tensor(), d, qk);
}

HeadScores finish_scores(const std::vector<BatchTerms>& parts, bool qk) {
  const BatchTerms all = concat_terms(parts, qk);
  HeadScores h;
  h.per_sample = all.total;
  h.score = all.total.mean(0);
  if (qk) {
    h.q_term = all.q.mean(0);
    h.k_term = all.k.mean(0);
  }
  return h;
}

HookFn replace_head(const at::Tensor& source, int64_t head) {
  return [source, head](const at::Tensor& x, const HookContext& context) -> at::Tensor {
    check(source.sizes() == x.sizes(), "hook '{}': patch source has shape {}, the activation {}",
          hook_name(context.point), c10::str(source.sizes()), c10::str(x.sizes()));
    auto y = x.clone();
    y.select(2, head).copy_(source.select(2, head));
    return y;
  };
}

// Patched runs of every head for one batch: effects (patched - base objective), [B, L+1, H]
// for q or z and [B, L+1, Hkv] for k.
BatchTerms patch_all_heads(const VisionLanguageModel& model, const PreparedBatch& batch, const RunSpec& base_spec,
                           const RunResult& base, const RunResult& source, const Dims& d, bool qk, Progress& progress) {
  const int64_t B = batch.batch();
  auto q = torch::zeros({B, d.L + 1, d.H}, torch::kFloat64);
  auto k = torch::zeros({B, d.L + 1, d.Hkv}, torch::kFloat64);
  RunSpec spec = base_spec;
  spec.capture_activations = false;
  spec.with_grad = false;
  auto run_patched = [&](const std::string& hook, const at::Tensor& src, int64_t head) {
    progress.check_cancel();
    spec.head_edits = {{hook, {replace_head(src, head)}}};
    const auto r = run_once(model, batch, spec);
    progress.tick();
    return r.objective - base.objective;
  };
  for (int l = 0; l <= d.L; ++l) {
    const auto li = static_cast<size_t>(l);
    const std::string a_hook = block_hook(l, qk ? "attn.hook_q" : "attn.hook_z");
    for (int64_t h = 0; h < d.H; ++h) q.select(1, l).select(1, h).copy_(run_patched(a_hook, source.a1[li], h));
    if (qk) {
      const std::string k_hook = block_hook(l, "attn.hook_k");
      for (int64_t g = 0; g < d.Hkv; ++g) k.select(1, l).select(1, g).copy_(run_patched(k_hook, source.a2[li], g));
    }
  }
  return combine_terms(q, k, d, qk);
}

// The clean run and the corrupt run (image embeddings moved toward the mean) that both
// attribution and exact patching compare; Options is AttributionOptions or
// ExactPatchingOptions.
struct RunPair {
  RunSpec clean, corrupt;
};

template <typename Options>
RunPair clean_and_corrupt_runs(const FeatureTarget& target, const Options& options, const MeanImageEmbedding& mean) {
  RunPair p;
  p.clean.target = &target;
  p.clean.objective = options.objective;
  p.clean.activation = options.activation;
  p.corrupt = p.clean;
  p.corrupt.embed_edits = {mean_embedding_edit(mean, options.corruption_strength)};
  return p;
}

// Runs both specs on every batch (cancellation checked before each batch), hands the two
// results to each(batch, clean, corrupt), and records the sample count and the per-sample
// objectives of both runs in `out` (HeadAttribution or ExactPatching).
template <typename Result, typename Each>
void run_both(const VisionLanguageModel& model, const std::vector<PreparedBatch>& batches, const RunPair& runs,
              Progress& progress, Result& out, Each&& each) {
  std::vector<at::Tensor> obj_clean, obj_corrupt;
  for (const auto& batch : batches) {
    progress.check_cancel();
    const auto c = run_once(model, batch, runs.clean);
    const auto r = run_once(model, batch, runs.corrupt);
    each(batch, c, r);
    obj_clean.push_back(c.objective);
    obj_corrupt.push_back(r.objective);
    out.samples += batch.batch();
  }
  out.objective_clean = torch::cat(obj_clean, 0);
  out.objective_corrupt = torch::cat(obj_corrupt, 0);
}

// One method's agreement with the exact map it estimates: {Spearman, max |score - exact|}.
std::pair<double, double> agreement(const at::Tensor& score, const at::Tensor& exact, const char* method) {
  check(score.sizes() == exact.sizes(),
        "compare with exact patching: method {} map {} and exact map {} differ in shape", method,
        c10::str(score.sizes()), c10::str(exact.sizes()));
  return {spearman(score, exact), (score - exact).abs().max().item<double>()};
}

PatchEffects finish_effects(const std::vector<BatchTerms>& parts, bool qk) {
  const BatchTerms all = concat_terms(parts, qk);
  PatchEffects p;
  p.effect = all.total.mean(0);
  if (qk) {
    p.q = all.q.mean(0);
    p.k = all.k.mean(0);
  }
  return p;
}

}  // namespace

at::Tensor feature_objective(const at::Tensor& resid_post, const at::Tensor& token_types, const FeatureTarget& target,
                             AttributionObjective objective) {
  check(target.sae != nullptr, "feature objective: the feature target has no SAE");
  const Sae& sae = *target.sae;
  check(resid_post.dim() == 3 && resid_post.size(2) == sae.d_model(),
        "feature objective: hook '{}' has shape {}, SAE '{}' expects [B, T, {}]",
        block_hook(target.layer, "hook_resid_post"), c10::str(resid_post.sizes()), sae_name(sae), sae.d_model());
  check(token_types.sizes() == resid_post.sizes().slice(0, 2),
        "feature objective: tensor 'token_types' has shape {}, expected [B, T] = {}", c10::str(token_types.sizes()),
        c10::str(resid_post.sizes().slice(0, 2)));
  check(target.feature >= 0 && target.feature < sae.d_sae(), "feature objective: SAE '{}': feature {} is outside [0, {})",
        sae_name(sae), target.feature, sae.d_sae());
  const auto acc = accumulation_type(resid_post);
  const auto text = token_types.to(resid_post.device()).eq(static_cast<int8_t>(kTokenText));  // [B, T]
  const int64_t B = resid_post.size(0), T = resid_post.size(1), D = resid_post.size(2);
  if (objective == AttributionObjective::kProjection) {
    auto v = sae.w_dec().detach().select(1, target.feature).to(resid_post.device(), acc);
    const auto norm = v.norm();
    v = torch::where(norm > 0, v / torch::where(norm > 0, norm, torch::ones_like(norm)), v);  // a zero column stays 0
    const auto proj = torch::matmul(resid_post.to(acc), v);  // [B, T]
    return (proj * text.to(acc)).sum(1);
  }
  const auto rows = text.reshape({B * T}).nonzero().reshape({-1});  // flat indices of text positions
  const auto x = resid_post.reshape({B * T, D}).index_select(0, rows);
  const auto h = sae.encode(x).select(1, target.feature).to(resid_post.device(), acc);  // [n]
  const auto sample = rows.div(T, "floor");
  return torch::zeros({B}, resid_post.options().dtype(acc)).index_add(0, sample, h);
}

HeadAttribution attribute_heads(const VisionLanguageModel& model, const FeatureTarget& target,
                                const std::vector<PreparedBatch>& batches, const MeanImageEmbedding& mean,
                                const AttributionOptions& options, Progress& progress) {
  const Dims d = check_target(model, target, "attribution patching");
  check(options.method_a || options.method_b, "attribution patching: neither method A nor method B was asked for");
  check_batches(model, batches, mean, "attribution patching");
  const bool qk = options.activation == HeadActivation::kQueryKey;
  progress.begin("attribution patching", static_cast<int64_t>(batches.size()));
  RunPair runs = clean_and_corrupt_runs(target, options, mean);
  runs.clean.with_grad = options.method_a;
  runs.corrupt.with_grad = options.method_b;

  HeadAttribution out;
  out.target = target;
  out.options = options;
  std::vector<BatchTerms> part_a, part_b;
  auto score = [&](const PreparedBatch&, const RunResult& c, const RunResult& r) {
    out.forward_passes += 2;
    out.backward_passes += (options.method_a ? 1 : 0) + (options.method_b ? 1 : 0);
    if (options.method_a) part_a.push_back(method_scores(c, r, d, qk));
    if (options.method_b) part_b.push_back(method_scores(r, c, d, qk));
    progress.tick();
  };
  run_both(model, batches, runs, progress, out, score);
  if (options.method_a) out.method_a = finish_scores(part_a, qk);
  if (options.method_b) out.method_b = finish_scores(part_b, qk);
  return out;
}

ExactPatching exact_patch_heads(const VisionLanguageModel& model, const FeatureTarget& target,
                                const std::vector<PreparedBatch>& batches, const MeanImageEmbedding& mean,
                                const ExactPatchingOptions& options, Progress& progress) {
  const Dims d = check_target(model, target, "exact patching");
  check_batches(model, batches, mean, "exact patching");
  const bool qk = options.activation == HeadActivation::kQueryKey;
  const int64_t runs_per_batch = (d.L + 1) * (d.H + (qk ? d.Hkv : 0)) * (options.denoising ? 2 : 1);
  progress.begin("exact patching", static_cast<int64_t>(batches.size()) * runs_per_batch);
  const RunPair runs = clean_and_corrupt_runs(target, options, mean);

  ExactPatching out;
  out.target = target;
  out.options = options;
  std::vector<BatchTerms> noising, denoising;
  auto patch = [&](const PreparedBatch& batch, const RunResult& c, const RunResult& r) {
    noising.push_back(patch_all_heads(model, batch, runs.clean, c, r, d, qk, progress));
    if (options.denoising) denoising.push_back(patch_all_heads(model, batch, runs.corrupt, r, c, d, qk, progress));
    out.forward_passes += 2 + runs_per_batch;
  };
  run_both(model, batches, runs, progress, out, patch);
  out.noising = finish_effects(noising, qk);
  if (options.denoising) out.denoising = finish_effects(denoising, qk);
  return out;
}

PatchingAgreement compare_with_exact(const HeadAttribution& attribution, const ExactPatching& exact) {
  check(exact.noising.defined(), "compare with exact patching: the exact patching result is empty");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  PatchingAgreement out{nan, nan, nan, nan};
  const auto& noise = exact.noising.effect;
  if (attribution.method_a.defined())
    std::tie(out.spearman_a, out.max_abs_error_a) = agreement(attribution.method_a.score, noise, "A");
  if (attribution.method_b.defined()) {
    const auto reference = exact.denoising.defined() ? exact.denoising.effect : -noise;
    std::tie(out.spearman_b, out.max_abs_error_b) = agreement(attribution.method_b.score, reference, "B");
  }
  return out;
}

std::vector<PreparedBatch> prepare_batches(const VisionLanguageModel& model,
                                           const std::vector<std::vector<int64_t>>& ids, const at::Tensor& pixels,
                                           int64_t batch_size) {
  check(batch_size > 0, "prepare batches: batch size must be positive, got {}", batch_size);
  check(pixels.defined() && pixels.dim() == 4 && pixels.size(0) == static_cast<int64_t>(ids.size()),
        "prepare batches: tensor 'pixels' must be [N, 3, S, S] with N = {} samples, got {}", ids.size(),
        pixels.defined() ? c10::str(pixels.sizes()) : std::string("(undefined)"));
  for (size_t i = 0; i < ids.size(); ++i) {
    int64_t markers = 0;
    for (int64_t id : ids[i]) markers += id == kImageTokenIndex ? 1 : 0;
    check(markers == 1, "prepare batches: sample {} holds {} image markers ({}), expected exactly one", i, markers,
          kImageTokenIndex);
  }
  torch::NoGradGuard no_grad;
  std::vector<PreparedBatch> out;
  const auto n = static_cast<int64_t>(ids.size());
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t count = std::min(batch_size, n - start);
    BatchInput input;
    input.ids.assign(ids.begin() + start, ids.begin() + start + count);
    input.pixels = pixels.narrow(0, start, count);
    out.push_back(model.prepare(input));
  }
  return out;
}

}  // namespace sightline
