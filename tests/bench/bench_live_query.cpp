// Latency of the explorer's live query service on a model the size of the shapes world's
// default VLM (Llama d 128, 6 layers, 4 heads / 2 KV heads; ViT 64x64 patch 8, d 128,
// 4 layers; random weights) with one TopK SAE per layer (8 x d_model features), on real
// shapes-world prompts and images. Targets on the 2-core CPU: one live query (both
// variants) <= 200 ms; a 500-item re-evaluation <= 3 s.
// Run: build/bin/bench_live_query [--threads N] [--reps N] [--batch N]
#include <ATen/Parallel.h>
#include <torch/types.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <thread>

#include "core/ablation/live_query.h"
#include "core/ablation/live_query_torch.h"
#include "core/ablation/yes_no_eval.h"
#include "core/common/runtime.h"
#include "core/model/model.h"
#include "core/sae/sae.h"
#include "core/tokenizer/word_tokenizer.h"
#include "core/train/vision_pretrain.h"
#include "core/train/world_eval.h"
#include "core/train/world_recipe.h"
#include "core/world/corpus.h"
#include "core/world/datasets.h"
#include "tests/bench/bench_models.h"
#include "tests/bench/bench_util.h"

using namespace sightline;

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// Process CPU time: with one torch thread and the other cores busy (other builds), CPU
// time is what the work would take on an idle machine; wall time is what the user waits.
double cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

struct Span {
  Clock::time_point wall = Clock::now();
  double cpu = cpu_ms();
  std::pair<double, double> done() const { return {ms_since(wall), cpu_ms() - cpu}; }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = std::max(1, bench::flag(argc, argv, "--reps", 20));
  const int batch = std::max(1, bench::flag(argc, argv, "--batch", 16));
  init_runtime(bench::threads_flag(argc, argv));
  const WorldPreset preset = world_preset("default");
  const WordTokenizer tok(world_vocabulary(preset.data.world));
  const ModelConfig config =
      bench::world_vlm_config(preset, tok.vocab_size(), tok.bos_id(), tok.eos_id(), WordTokenizer::kPadId);
  torch::manual_seed(0);
  VisionLanguageModel model(config);

  const auto saes = bench::world_saes(preset, model.num_layers());
  InterventionResources resources;
  for (int l = 0; l < model.num_layers(); ++l) resources.saes[l] = saes[static_cast<size_t>(l)].get();

  // 500 yes/no items of the test split: VSR statements and VQA yes/no questions.
  std::vector<Scene> scenes;
  std::vector<YesNoItem> items;
  for (int64_t i = 0; static_cast<int64_t>(items.size()) < 500; ++i) {
    const auto record = make_scene_record(preset.data, WorldSplit::Test, i % split_size(preset.data, WorldSplit::Test));
    scenes.push_back(record.scene);
    const int64_t image = static_cast<int64_t>(scenes.size()) - 1;
    if (record.vsr) items.push_back({world_statement_ids(tok, record.vsr->caption, true), image, record.vsr->label == 1});
    for (const auto& q : record.questions) {
      if (q.answer_type == "yes/no" && items.size() < 500) {
        items.push_back({world_question_ids(tok, q.question, true), image, q.answer == "yes"});
      }
    }
  }
  items.resize(500);
  const auto pixels = scene_pixels(scenes, preset.data.world, *model.config().mm.vision);
  int64_t tokens = 0;
  for (const auto& it : items) tokens += static_cast<int64_t>(it.prompt_ids.size()) - 1 + model.image_tokens();

  LiveServiceConfig sc;
  sc.model = &model;
  sc.resources = resources;
  sc.answers = {{*tok.word_id("yes")}, {*tok.word_id("no")}};
  sc.token_text = [&tok](int64_t id) { return tok.token_text(id); };
  sc.eval.batch_size = batch;
  LiveQueryService service(sc);

  LiveQuery q;
  q.prompt_ids = items[0].prompt_ids;
  q.image = model_image(pixels[items[0].image]);
  q.interventions.ablate_features = {{3, 17}, {3, 200}};
  q.interventions.ablate_heads = {{2, 1, HeadAblationMode::kZero}};
  q.watch = {{1, 5}, {3, 17}, {3, 200}, {5, 9}};
  for (int i = 0; i < 3; ++i) service.wait_live(service.submit(q), 60);  // warm-up
  std::vector<double> live_ms, live_cpu_ms, worker_ms;
  for (int i = 0; i < reps; ++i) {
    const Span span;
    const auto r = service.wait_live(service.submit(q), 60);
    const auto [wall, cpu] = span.done();
    live_ms.push_back(wall);
    live_cpu_ms.push_back(cpu);
    if (!r || !r->error.empty()) {
      std::fprintf(stderr, "live query failed: %s\n", r ? r->error.c_str() : "no result");
      return 1;
    }
    worker_ms.push_back(r->seconds * 1000.0);
  }

  service.set_items(items, ItemImages{pixels, {}});
  ReevalQuery rq;
  for (int64_t i = 0; i < 500; ++i) rq.items.push_back(i);
  // Cold: images encoded, baseline and intervened passes; then a warm-up query (no
  // interventions) on a fresh pool, which leaves one pass for the next query.
  rq.interventions.ablate_features = {{2, 40}};
  Span span;
  const auto cold = service.wait_reeval(service.submit(rq), 120);
  const auto cold_ms = span.done();
  service.set_items(items, ItemImages{pixels, {}});
  ReevalQuery warm_up;
  warm_up.items = rq.items;
  span = Span();
  service.wait_reeval(service.submit(warm_up), 120);
  const auto warm_up_ms = span.done();
  std::vector<double> warm_ms, warm_cpu_ms;
  EvalDelta last;
  for (int i = 0; i < std::max(1, reps / 5); ++i) {
    rq.interventions.ablate_features = {{2, 41 + i}, {4, 7}};
    span = Span();
    const auto warm = service.wait_reeval(service.submit(rq), 120);
    warm_ms.push_back(span.done().first);
    warm_cpu_ms.push_back(span.done().second);
    if (!warm || !warm->error.empty() || !cold || !cold->error.empty()) {
      std::fprintf(stderr, "re-evaluation failed\n");
      return 1;
    }
    last = warm->delta;
  }
  // A live query submitted while a re-evaluation runs: served between its batches.
  std::vector<double> during_ms;
  for (int i = 0; i < 3; ++i) {
    rq.interventions.ablate_features = {{1, 300 + i}};
    const auto running = service.submit(rq);
    while (service.state(running) == RequestState::kPending) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    span = Span();
    service.wait_live(service.submit(q), 60);
    during_ms.push_back(span.done().first);
    service.wait_reeval(running, 120);
  }
  // One plain pass over the 500 items from pixels (vision tower included), for scale.
  span = Span();
  score_yes_no(model, items, ItemImages{pixels, {}}, {}, resources, sc.answers, sc.eval, null_progress());
  const auto plain_ms = span.done();

  std::printf("bench_live_query: d_model %lld, %d layers, %lld image tokens, vocab %lld, %d threads, batch %d\n",
              static_cast<long long>(config.text.hidden_size), model.num_layers(),
              static_cast<long long>(model.image_tokens()), static_cast<long long>(config.text.vocab_size),
              at::get_num_threads(), batch);
  std::printf("                                                   wall ms   cpu ms\n");
  std::printf("live query (2 sequences, %zu prompt tokens, 2 features + 1 head ablated, 4 watched; target 200 ms)\n",
              q.prompt_ids.size());
  std::printf("  submit -> result, median                        %7.1f  %7.1f  (worker %.1f)\n", median(live_ms),
              median(live_cpu_ms), median(worker_ms));
  std::printf("  submitted during a running re-evaluation        %7.1f\n", median(during_ms));
  std::printf("re-evaluation of 500 items (%lld tokens a pass; target 3000 ms)\n", static_cast<long long>(tokens));
  std::printf("  cold: encode images, baseline and intervened    %7.0f  %7.0f\n", cold_ms.first, cold_ms.second);
  std::printf("  warm-up query: encode images and baseline       %7.0f  %7.0f\n", warm_up_ms.first, warm_up_ms.second);
  std::printf("  repeat: intervened pass only, median            %7.0f  %7.0f  (d_acc %.1f)\n", median(warm_ms),
              median(warm_cpu_ms), last.d_accuracy);
  std::printf("  one plain pass from pixels (score_yes_no)       %7.0f  %7.0f\n", plain_ms.first, plain_ms.second);
  std::printf("BENCH name=bench_live_query threads=%d live_ms=%.1f live_cpu_ms=%.1f reeval_cold_ms=%.0f "
              "reeval_warm_ms=%.0f\n",
              at::get_num_threads(), median(live_ms), median(live_cpu_ms), cold_ms.first, median(warm_ms));
  return 0;
}
