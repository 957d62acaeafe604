// Training-step throughput of the shapes world's base LM shape (d 128, 6 layers, GQA) on
// a batch like the corpus's (32 x 216 tokens): forward, backward and AdamW, by phase.
#include <ATen/Parallel.h>
#include <torch/nn/functional/loss.h>
#include <torch/types.h>

#include <chrono>
#include <cstdio>

#include "core/common/runtime.h"
#include "core/model/model.h"
#include "core/train/schedule.h"
#include "tests/bench/bench_util.h"

using namespace sightline;

int main(int argc, char** argv) {
  const int T = bench::flag(argc, argv, "--T", 216), B = bench::flag(argc, argv, "--B", 32);
  init_runtime(bench::threads_flag(argc, argv));
  ModelConfig c;
  c.source = "bench";
  c.text.vocab_size = 146;
  c.text.hidden_size = 128;
  c.text.intermediate_size = 384;
  c.text.num_hidden_layers = 6;
  c.text.num_attention_heads = 4;
  c.text.num_key_value_heads = 2;
  c.text.head_dim = 32;
  c.text.tie_word_embeddings = true;
  torch::manual_seed(0);
  VisionLanguageModel model(c);
  model.set_trainable({""});
  OptimOptions o;
  Optimiser opt(model.trainable_parameters(), o);
  BatchInput in;
  for (int b = 0; b < B; ++b) {
    std::vector<int64_t> ids(T);
    for (int t = 0; t < T; ++t) ids[t] = (b * 7 + t * 13) % 146;
    in.ids.push_back(ids);
  }
  auto target = torch::randint(0, 146, {B * T}, torch::kInt64);
  double tf = 0, tb = 0, to = 0;
  const int reps = 5;
  for (int r = 0; r < reps + 1; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    ForwardRequest req;
    req.grad = true;
    torch::AutoGradMode grad(true);
    const auto prepared = model.prepare(in);  // the embedding lookup is part of the graph
    auto out = model.forward(prepared, req);
    auto loss = torch::nn::functional::cross_entropy(out.logits.reshape({B * T, -1}), target);
    auto t1 = std::chrono::steady_clock::now();
    opt.zero_grad();
    loss.backward();
    auto t2 = std::chrono::steady_clock::now();
    opt.step(r);
    auto t3 = std::chrono::steady_clock::now();
    if (r == 0) continue;
    tf += std::chrono::duration<double>(t1 - t0).count();
    tb += std::chrono::duration<double>(t2 - t1).count();
    to += std::chrono::duration<double>(t3 - t2).count();
  }
  std::printf("train step B=%d T=%d threads=%d: forward %.3f s, backward %.3f s, optimiser %.3f s, %.0f tokens/s\n",
              B, T, at::get_num_threads(), tf / reps, tb / reps, to / reps, B * T * reps / (tf + tb + to));
  std::printf("BENCH name=bench_train_step threads=%d forward_s=%.3f backward_s=%.3f optimiser_s=%.3f tokens_s=%.0f\n",
              at::get_num_threads(), tf / reps, tb / reps, to / reps, B * T * reps / (tf + tb + to));
  return 0;
}
