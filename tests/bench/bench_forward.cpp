// Forward throughput of the engine on a toy-size Llama versus raw at::mm doing the same
// FLOPs, as a ratio (issue 2). Run: build/bin/bench_forward [--threads N]
#include <ATen/Parallel.h>
#include <torch/types.h>

#include <chrono>
#include <cstdio>

#include "core/common/runtime.h"
#include "core/model/model.h"
#include "tests/bench/bench_models.h"
#include "tests/bench/bench_util.h"

using namespace sightline;

int main(int argc, char** argv) {
  init_runtime(bench::threads_flag(argc, argv));
  const ModelConfig config = bench::toy_llama_config();
  const auto& t = config.text;
  torch::manual_seed(0);
  VisionLanguageModel model(config);
  const int64_t B = 8, T = 128;
  BatchInput input;
  for (int64_t b = 0; b < B; ++b) {
    std::vector<int64_t> ids(T);
    for (int64_t i = 0; i < T; ++i) ids[i] = (b * 131 + i * 7) % t.vocab_size;
    input.ids.push_back(ids);
  }
  const auto prepared = model.prepare(input);
  ForwardRequest request;
  for (int i = 0; i < 2; ++i) model.forward(prepared, request);  // warm-up
  const int reps = 10;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) model.forward(prepared, request);
  const double forward_s = bench::seconds_since(t0) / reps;
  const double tokens = static_cast<double>(B * T);

  // FLOPs of the forward: 2 * tokens * (matmul parameters) + attention scores and values.
  const double d = t.hidden_size, kv = t.num_key_value_heads * t.head_dim, inter = t.intermediate_size;
  const double per_layer = 2 * tokens * (d * d * 2 + 2 * d * kv + 3 * d * inter) +
                           2 * 2 * B * static_cast<double>(T) * T * t.num_attention_heads * t.head_dim;
  const double flops = per_layer * t.num_hidden_layers + 2 * tokens * d * t.vocab_size;

  // The same FLOPs as square-ish at::mm calls: [tokens, d] x [d, d].
  auto a = torch::randn({B * T, t.hidden_size}), w = torch::randn({t.hidden_size, t.hidden_size});
  const double mm_flops = 2 * tokens * d * d;
  const int mm_calls = static_cast<int>(flops / mm_flops + 0.5);
  for (int i = 0; i < 3; ++i) at::mm(a, w);
  t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) {
    for (int i = 0; i < mm_calls; ++i) at::mm(a, w);
  }
  const double mm_s = bench::seconds_since(t0) / reps;
  std::printf("bench_forward: d_model %lld, %lld layers, batch %lld x %lld tokens, %d threads\n",
              static_cast<long long>(t.hidden_size), static_cast<long long>(t.num_hidden_layers),
              static_cast<long long>(B), static_cast<long long>(T), at::get_num_threads());
  std::printf("forward   %10.0f tokens/s  %7.2f GFLOP/s\n", tokens / forward_s, flops / forward_s / 1e9);
  std::printf("at::mm    %10.0f tokens/s  %7.2f GFLOP/s  (%d calls of [%lld,%lld]x[%lld,%lld])\n", tokens / mm_s,
              flops / mm_s / 1e9, mm_calls, static_cast<long long>(B * T), static_cast<long long>(t.hidden_size),
              static_cast<long long>(t.hidden_size), static_cast<long long>(t.hidden_size));
  std::printf("ratio forward/at::mm: %.2f\n", mm_s / forward_s);
  std::printf("BENCH name=bench_forward threads=%d forward_tokens_s=%.0f forward_gflop_s=%.2f mm_tokens_s=%.0f "
              "ratio=%.2f\n",
              at::get_num_threads(), tokens / forward_s, flops / forward_s / 1e9, tokens / mm_s, mm_s / forward_s);
  return 0;
}
