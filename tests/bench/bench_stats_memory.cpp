// Peak memory of the Stage 2 statistics pass (compute_feature_stats) versus data size
// (issue 9): the pass streams, so its peak must not grow with the number of prompts. A
// random-weight VLM the size of the shapes world's default (Llama d 128, 6 layers; ViT
// 64x64 patch 8, 4 layers) with a TopK SAE on every layer (8 x d_model features) runs
// over N and then 2N prompts (BOS, one image, 8..23 text tokens); each size runs in its
// own forked child so the two peaks are independent. Peak growth = VmHWM after the pass
// minus VmRSS just before it, with VmHWM reset to the current RSS before the pass
// (/proc/self/clear_refs "5") so the model's construction does not mask the pass's
// peak. Images are made on demand, as the file-backed datasets read them, so the
// dataset itself does not grow with N either. Expected: ratio(2N / N) ~ 1.
// Run: build/bin/bench_stats_memory [--threads N] [--prompts N] [--batch N]
#include <ATen/Parallel.h>
#include <sys/wait.h>
#include <torch/types.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "core/common/runtime.h"
#include "core/diffing/feature_stats.h"
#include "core/diffing/prompt_dataset.h"
#include "core/model/model.h"
#include "core/sae/sae.h"
#include "core/train/world_recipe.h"
#include "tests/bench/bench_models.h"
#include "tests/bench/bench_util.h"

using namespace sightline;

namespace {

// A `/proc/self/status` field in kB ("VmHWM", "VmRSS"); -1 when absent.
int64_t stats_bench_status_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.compare(0, prefix.size(), prefix) == 0) return std::atoll(line.c_str() + prefix.size());
  }
  return -1;
}

// Resets VmHWM to the current RSS (Linux >= 4.0); false when the kernel refuses.
bool stats_bench_reset_peak() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

// N prompts over N distinct images whose pixels are computed when asked for.
class OnDemandPromptDataset final : public PromptDataset {
 public:
  OnDemandPromptDataset(int64_t n, int64_t vocab, int64_t image_size) : image_size_(image_size) {
    for (int64_t i = 0; i < n; ++i) {
      PromptItem it;
      it.sample_id = "bench:" + std::to_string(i);
      it.image = i;
      it.ids = {1, kImageTokenIndex};  // BOS, image
      const int64_t len = 8 + (i * 5) % 16;
      for (int64_t t = 0; t < len; ++t) it.ids.push_back(4 + (i * 7 + t * 13) % (vocab - 4));
      items_.push_back(std::move(it));
    }
  }
  int64_t size() const override { return static_cast<int64_t>(items_.size()); }
  const PromptItem& item(int64_t i) const override { return items_.at(static_cast<size_t>(i)); }
  at::Tensor pixels(int64_t image) const override {
    const auto x = torch::arange(3 * image_size_ * image_size_, torch::kFloat32);
    return torch::sin(x * (0.001 * static_cast<double>(image + 1))).reshape({3, image_size_, image_size_});
  }
  std::string name() const override { return "bench prompts"; }

 private:
  int64_t image_size_;
  std::vector<PromptItem> items_;
};

// What a child reports to the parent through a pipe (plain data).
struct StatsBenchSample {
  int64_t rss_before_kb = 0;
  int64_t hwm_after_kb = 0;
  int64_t items = 0;
  int64_t positions = 0;  // text + image positions seen by layer 0
  int64_t peak_code_elements = 0;
  int64_t layers = 0, d_sae = 0;
  double seconds = 0;
  int reset_ok = 0;
  int ok = 0;
};

StatsBenchSample run_stats_pass(int threads, int64_t prompts, int64_t batch) {
  init_runtime(threads);
  const WorldPreset preset = world_preset("default");
  const ModelConfig config = bench::world_vlm_config(preset, 160, 1, 2, 0);
  torch::manual_seed(0);
  VisionLanguageModel model(config);
  const auto saes = bench::world_saes(preset, model.num_layers());
  std::vector<LayerSae> layers;
  for (int l = 0; l < model.num_layers(); ++l) layers.push_back({l, saes[static_cast<size_t>(l)].get()});
  const OnDemandPromptDataset dataset(prompts, config.text.vocab_size, preset.vision.image_size);
  FeatureStatsOptions options;
  options.batch_size = batch;

  StatsBenchSample s;
  s.reset_ok = stats_bench_reset_peak() ? 1 : 0;
  s.rss_before_kb = stats_bench_status_kb("VmRSS");
  const auto t0 = std::chrono::steady_clock::now();
  const auto result = compute_feature_stats(model, layers, dataset, options);
  s.seconds = bench::seconds_since(t0);
  s.hwm_after_kb = stats_bench_status_kb("VmHWM");
  s.items = result.items;
  s.positions = result.layers.front().text_positions + result.layers.front().image_positions;
  s.peak_code_elements = result.peak_code_elements;
  s.layers = static_cast<int64_t>(layers.size());
  s.d_sae = layers.front().sae->d_sae();
  // The pass must have seen every prompt and every data position (image + text tokens).
  int64_t expected = 0;
  for (int64_t i = 0; i < prompts; ++i) {
    const auto c = count_positions(dataset.item(i), config.text.bos_token_id, model.image_tokens());
    expected += c.text + c.image;
  }
  s.ok = result.items == prompts && s.positions == expected && expected > 0 ? 1 : 0;
  return s;
}

// Runs one size in a forked child (before the parent touches torch, so no thread pool
// crosses the fork) and returns its report; ok = 0 when the child failed.
StatsBenchSample measure_in_child(int threads, int64_t prompts, int64_t batch) {
  StatsBenchSample s;
  int fds[2];
  if (::pipe(fds) != 0) return s;
  const pid_t pid = ::fork();
  if (pid < 0) return s;
  if (pid == 0) {
    ::close(fds[0]);
    int code = 0;
    try {
      s = run_stats_pass(threads, prompts, batch);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench_stats_memory: %lld prompts: %s\n", static_cast<long long>(prompts), e.what());
      code = 1;
    }
    const ssize_t written = ::write(fds[1], &s, sizeof s);
    ::close(fds[1]);
    std::fflush(nullptr);
    ::_exit(written == static_cast<ssize_t>(sizeof s) ? code : 1);
  }
  ::close(fds[1]);
  StatsBenchSample got;
  const ssize_t n = ::read(fds[0], &got, sizeof got);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (n != static_cast<ssize_t>(sizeof got) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return StatsBenchSample{};
  return got;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = bench::threads_flag(argc, argv);
  const int64_t prompts = bench::flag<int64_t>(argc, argv, "--prompts", 128);
  const int64_t batch = bench::flag<int64_t>(argc, argv, "--batch", 8);
  if (prompts <= 0 || batch <= 0) {
    std::fprintf(stderr, "bench_stats_memory: --prompts and --batch must be positive\n");
    return 1;
  }
  const StatsBenchSample one = measure_in_child(threads, prompts, batch);
  const StatsBenchSample two = measure_in_child(threads, 2 * prompts, batch);
  if (!one.ok || !two.ok) {
    std::fprintf(stderr, "bench_stats_memory: a statistics pass failed or missed positions (N: %s, 2N: %s)\n",
                 one.ok ? "ok" : "FAILED", two.ok ? "ok" : "FAILED");
    return 1;
  }
  const double grow1 = static_cast<double>(one.hwm_after_kb - one.rss_before_kb) / 1024.0;
  const double grow2 = static_cast<double>(two.hwm_after_kb - two.rss_before_kb) / 1024.0;
  const double ratio = grow1 > 0 ? grow2 / grow1 : 0.0;
  std::printf("bench_stats_memory: shapes-world-size VLM, %lld layers x %lld-feature TopK SAEs, batch %lld, "
              "%s, one child per size\n",
              static_cast<long long>(one.layers), static_cast<long long>(one.d_sae), static_cast<long long>(batch),
              one.reset_ok && two.reset_ok ? "peak reset before the pass" : "peak NOT reset (clear_refs refused)");
  std::printf("                  prompts  positions  RSS before MB  peak MB  peak growth MB  seconds\n");
  for (const auto* s : {&one, &two}) {
    std::printf("                  %7lld  %9lld  %13.1f  %7.1f  %14.1f  %7.2f\n", static_cast<long long>(s->items),
                static_cast<long long>(s->positions), static_cast<double>(s->rss_before_kb) / 1024.0,
                static_cast<double>(s->hwm_after_kb) / 1024.0,
                static_cast<double>(s->hwm_after_kb - s->rss_before_kb) / 1024.0, s->seconds);
  }
  std::printf("peak growth ratio 2N/N: %.2f (flat = 1; largest code chunk %lld elements)\n", ratio,
              static_cast<long long>(two.peak_code_elements));
  std::printf("BENCH name=bench_stats_memory prompts_n=%lld growth_mb_n=%.1f growth_mb_2n=%.1f ratio=%.2f "
              "peak_mb_2n=%.1f\n",
              static_cast<long long>(prompts), grow1, grow2, ratio, static_cast<double>(two.hwm_after_kb) / 1024.0);
  return 0;
}
