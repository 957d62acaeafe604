// Cost of Stage 4 per feature on a toy-size Llama: attribution patching (both methods,
// q+k) in forward-pass units, and its speed-up over exact activation patching of every
// head (q+k and z). Run: build/bin/bench_attribution [--threads N] [--samples N]
#include <ATen/Parallel.h>
#include <torch/types.h>

#include <chrono>
#include <cstdio>

#include "core/attribution/attribution.h"
#include "core/attribution/corruption.h"
#include "core/common/runtime.h"
#include "core/model/model.h"
#include "core/sae/sae.h"
#include "tests/bench/bench_models.h"
#include "tests/bench/bench_util.h"

using namespace sightline;

namespace {

// [BOS, P image tokens, text] with random embeddings (the image block stands in for a
// projected image; attribution only needs the token types).
PreparedBatch toy_batch(int64_t B, int64_t P, int64_t text, int64_t D, int64_t seed) {
  torch::manual_seed(seed);
  const int64_t T = 1 + P + text;
  PreparedBatch batch;
  batch.embeds = torch::randn({B, T, D});
  batch.token_types = torch::full({B, T}, static_cast<int8_t>(kTokenText), torch::kInt8);
  batch.token_types.select(1, 0).fill_(static_cast<int8_t>(kTokenBos));
  batch.token_types.narrow(1, 1, P).fill_(static_cast<int8_t>(kTokenImage));
  batch.input_ids = torch::zeros({B, T}, torch::kInt64);
  batch.lengths.assign(static_cast<size_t>(B), T);
  batch.image_offsets.assign(static_cast<size_t>(B), 1);
  return batch;
}

template <typename F>
double best_of(int reps, F&& f) {
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, bench::seconds_since(t0));
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t samples = bench::flag<int64_t>(argc, argv, "--samples", 8);
  init_runtime(bench::threads_flag(argc, argv));
  const ModelConfig config = bench::toy_llama_config();
  const auto& t = config.text;
  torch::manual_seed(0);
  VisionLanguageModel model(config);
  const int64_t P = 64, text = 31, B = 4;
  const int L = static_cast<int>(t.num_hidden_layers) - 1;  // the deepest feature: every head counts

  SaeConfig sc;
  sc.variant = SaeVariant::TopK;
  sc.k = 32;
  sc.d_model = t.hidden_size;
  sc.d_sae = 1024;
  Sae sae(sc);
  const FeatureTarget target{&sae, L, 7};

  std::vector<PreparedBatch> batches;
  for (int64_t s = 0; s < samples; s += B) batches.push_back(toy_batch(std::min(B, samples - s), P, text, t.hidden_size, s + 1));
  MeanImageEmbeddingAccumulator acc;
  for (int i = 0; i < 4; ++i) acc.add(toy_batch(8, P, text, t.hidden_size, 100 + i));
  const auto mean = acc.result(CorruptionMean::kPerPosition);

  ForwardRequest plain;
  plain.stop_after_layer = L;
  plain.logits = LogitsMode::kNone;
  const int reps = 3;
  // The forward unit is the best of many runs: the machine is shared and timings are noisy.
  const double forward_s = best_of(4 * reps, [&] {
    for (const auto& b : batches) model.forward(b, plain);
  });
  AttributionOptions both;
  HeadAttribution attr;
  const double attr_s = best_of(reps, [&] { attr = attribute_heads(model, target, batches, mean, both); });
  AttributionOptions only_a;
  only_a.method_b = false;
  const double attr_a_s = best_of(reps, [&] { attribute_heads(model, target, batches, mean, only_a); });
  ExactPatching exact_qk, exact_z;
  const double exact_qk_s = best_of(1, [&] { exact_qk = exact_patch_heads(model, target, batches, mean, {}); });
  ExactPatchingOptions zo;
  zo.activation = HeadActivation::kOutput;
  const double exact_z_s = best_of(1, [&] { exact_z = exact_patch_heads(model, target, batches, mean, zo); });
  AttributionOptions z_attr;
  z_attr.activation = HeadActivation::kOutput;
  const double attr_z_s = best_of(reps, [&] { attribute_heads(model, target, batches, mean, z_attr); });

  const auto agree = compare_with_exact(attr, exact_qk);
  std::printf("bench_attribution: d_model %lld, %d layers x %lld heads (%lld KV), feature at layer %d, "
              "%lld samples in %zu batches of <= %lld x %lld tokens, %d threads\n",
              static_cast<long long>(t.hidden_size), L + 1, static_cast<long long>(t.num_attention_heads),
              static_cast<long long>(t.num_key_value_heads), L, static_cast<long long>(samples), batches.size(),
              static_cast<long long>(B), static_cast<long long>(1 + P + text), at::get_num_threads());
  std::printf("forward pass (all batches)          %8.2f ms  = 1 forward unit\n", forward_s * 1e3);
  std::printf("attribution A+B (q+k)               %8.2f ms  = %6.2f forward units  (%lld fwd + %lld bwd)\n",
              attr_s * 1e3, attr_s / forward_s, static_cast<long long>(attr.forward_passes / static_cast<int64_t>(batches.size())),
              static_cast<long long>(attr.backward_passes / static_cast<int64_t>(batches.size())));
  std::printf("attribution A only (q+k)            %8.2f ms  = %6.2f forward units\n", attr_a_s * 1e3,
              attr_a_s / forward_s);
  std::printf("attribution A+B (z)                 %8.2f ms  = %6.2f forward units\n", attr_z_s * 1e3,
              attr_z_s / forward_s);
  std::printf("exact patching, every head (q+k)    %8.2f ms  = %6.2f forward units  (%lld runs per batch)\n",
              exact_qk_s * 1e3, exact_qk_s / forward_s,
              static_cast<long long>(exact_qk.forward_passes / static_cast<int64_t>(batches.size())));
  std::printf("exact patching, every head (z)      %8.2f ms  = %6.2f forward units  (%lld runs per batch)\n",
              exact_z_s * 1e3, exact_z_s / forward_s,
              static_cast<long long>(exact_z.forward_passes / static_cast<int64_t>(batches.size())));
  std::printf("speed-up of attribution A+B over exact patching: q+k %.1fx, z %.1fx\n", exact_qk_s / attr_s,
              exact_z_s / attr_z_s);
  std::printf("agreement (full corruption, random weights): spearman A %.3f, B %.3f\n", agree.spearman_a,
              agree.spearman_b);
  std::printf("BENCH name=bench_attribution threads=%d attr_fwd_units=%.2f exact_qk_fwd_units=%.2f speedup_qk=%.1f "
              "speedup_z=%.1f spearman_a=%.3f\n",
              at::get_num_threads(), attr_s / forward_s, exact_qk_s / forward_s, exact_qk_s / attr_s,
              exact_z_s / attr_z_s, agree.spearman_a);
  return 0;
}
