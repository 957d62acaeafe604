// SAE training throughput (rows/s) against raw at::mm doing the same FLOPs, as a ratio
// (issue 4: target >= 0.5). One TopK SAE step on a batch of N rows costs about 12 N D F
// FLOPs (encode 2NDF + decode 2NDF, backward twice that), i.e. six [N,D]x[D,F] matmuls.
// Run: build/bin/bench_sae_train [--threads N] [--d 512] [--f 4096]
#include <ATen/Parallel.h>
#include <torch/types.h>

#include <chrono>
#include <cstdio>

#include "core/common/runtime.h"
#include "core/sae/sae.h"
#include "core/sae/trainer.h"
#include "tests/bench/bench_util.h"

using namespace sightline;

int main(int argc, char** argv) {
  const int64_t d = bench::flag<int64_t>(argc, argv, "--d", 512);
  const int64_t f = bench::flag<int64_t>(argc, argv, "--f", 4096);
  const int64_t batch = 2048, steps = 20;
  init_runtime(bench::threads_flag(argc, argv));
  torch::manual_seed(0);
  SaeConfig cfg;
  cfg.variant = SaeVariant::TopK;
  cfg.d_model = d;
  cfg.d_sae = f;
  cfg.k = 32;
  Sae sae(cfg);
  SaeTrainOptions o;
  o.batch_size = batch;
  o.total_tokens = batch * steps;
  o.shuffle_buffer_mb = 64;
  o.aux_k = 0;
  const auto data = torch::randn({batch * 4, d});
  int64_t served = 0;
  ActivationStream next = [&](ActivationBatch& b) {
    if (served >= batch * steps) return false;
    b.x = data.narrow(0, (served / batch % 4) * batch, batch);
    b.mask = torch::ones({batch}, torch::kBool);
    served += batch;
    return true;
  };
  const auto t0 = std::chrono::steady_clock::now();
  const auto stats = train_sae(sae, next, o);
  const double sae_s = bench::seconds_since(t0);

  auto a = torch::randn({batch, d}), w = torch::randn({d, f});
  at::mm(a, w);
  const auto t1 = std::chrono::steady_clock::now();
  for (int64_t s = 0; s < stats.steps; ++s) {
    for (int i = 0; i < 6; ++i) at::mm(a, w);
  }
  const double mm_s = bench::seconds_since(t1);
  const double flops = 12.0 * static_cast<double>(batch) * d * f * static_cast<double>(stats.steps);
  std::printf("bench_sae_train: TopK d_model %lld, d_sae %lld, batch %lld, %lld steps, %d threads\n",
              static_cast<long long>(d), static_cast<long long>(f), static_cast<long long>(batch),
              static_cast<long long>(stats.steps), at::get_num_threads());
  std::printf("SAE training %10.0f rows/s  %7.2f GFLOP/s\n", stats.tokens / sae_s, flops / sae_s / 1e9);
  std::printf("at::mm       %10.0f rows/s  %7.2f GFLOP/s\n", stats.tokens / mm_s, flops / mm_s / 1e9);
  std::printf("ratio SAE/at::mm: %.2f\n", mm_s / sae_s);
  std::printf("BENCH name=bench_sae_train threads=%d sae_rows_s=%.0f sae_gflop_s=%.2f mm_rows_s=%.0f ratio=%.2f\n",
              at::get_num_threads(), stats.tokens / sae_s, flops / sae_s / 1e9, stats.tokens / mm_s, mm_s / sae_s);
  return 0;
}
