// The micro world's live model for the explorer's live-view tests (test_gui_live.cpp,
// test_gui_overlay.cpp): a project store whose run uses the world's base SAE of layer 1
// as its adapted SAE, with one spatial feature and known head scores; and the direct
// engine computations the views' numbers are checked against.
#pragma once

#include <ATen/ATen.h>
#include <torch/types.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/ablation/interventions.h"
#include "core/pipeline/context.h"
#include "core/pipeline/feature_samples.h"
#include "core/pipeline/options.h"
#include "core/pipeline/store_keys.h"
#include "core/store/store.h"
#include "tests/test_util.h"

namespace sightline::test {

// The micro world's engine, loaded through PipelineContext as the explorer does.
struct MicroEngine {
  std::unique_ptr<PipelineContext> ctx;
  explicit MicroEngine(const std::string& world) {
    PipelineOptions o = default_pipeline_options();
    o.source.world = world;
    ctx = std::make_unique<PipelineContext>(o);
  }
  const VisionLanguageModel& model() { return ctx->model(); }
  const PromptItem& statement(int64_t i) { return ctx->dataset(DataSplit::kVsr).item(i); }
  at::Tensor pixels(int64_t i) { return ctx->dataset(DataSplit::kVsr).pixels(statement(i).image); }

  // Attention of (layer, head) from the last prompt position onto the image positions
  // [P] (row-major patch grid), by a plain forward of the statement alone.
  std::vector<float> last_row_attention(int64_t i, int layer, int head) {
    torch::NoGradGuard guard;
    ForwardRequest req;
    req.logits = LogitsMode::kNone;
    const std::string hook = hook_name({HookSite::kPattern, layer});
    req.capture = {hook};
    const auto batch = model().prepare(BatchInput{{statement(i).ids}, pixels(i).unsqueeze(0)});
    const auto out = model().forward(batch, req);
    const int64_t off = batch.image_offsets[0], P = model().image_tokens(), last = batch.lengths[0] - 1;
    const auto row = out.at(hook)[0][head][last].narrow(0, off, P).to(torch::kFloat32).contiguous();
    return std::vector<float>(row.data_ptr<float>(), row.data_ptr<float>() + P);
  }

  // P(yes) at the answer position of statement i under `set` (resources: SAEs by layer),
  // summed over the tokenizer's "yes" tokens as the live service does.
  double p_yes(int64_t i, const InterventionSet& set, const InterventionResources& resources) {
    const AnswerTokens answers = yes_no_answer_tokens(ctx->tokenizer(), "test");
    torch::NoGradGuard guard;
    ForwardRequest req;
    req.logits = LogitsMode::kLast;
    add_interventions(req, set, resources, model());
    const auto out = model().forward(BatchInput{{statement(i).ids}, pixels(i).unsqueeze(0)}, req);
    const auto probs = torch::softmax(out.logits[0].to(torch::kFloat32), 0);
    return probs.index_select(0, torch::tensor(answers.yes, torch::kInt64)).sum().item<double>();
  }

  // The layer-1 base SAE feature that fires most on statement i's text positions.
  int64_t strongest_text_feature(int64_t i, int layer) {
    torch::NoGradGuard guard;
    ForwardRequest req;
    req.logits = LogitsMode::kNone;
    const std::string hook = hook_name({HookSite::kResidPost, layer});
    req.capture = {hook};
    const auto batch = model().prepare(BatchInput{{statement(i).ids}, pixels(i).unsqueeze(0)});
    const auto out = model().forward(batch, req);
    const auto text = batch.token_types[0].eq(kTokenText);
    const auto h = ctx->base_sae(layer).encode(out.at(hook)[0].index({text}));  // (n_text, d_sae)
    return std::get<1>(h.max(0)).argmax().item<int64_t>();
  }
};

// Head scores of the store's feature (method A), by |score|: L1 H1, L0 H0, L1 H0, L0 H1.
inline double live_store_head_score(int layer, int head) {
  if (layer == 1 && head == 1) return 0.9;
  if (layer == 0 && head == 0) return -0.5;
  if (layer == 1 && head == 0) return 0.1;
  return 0.01;
}

// Writes a store for the micro world: run "live-test" (default options: diff regime
// "text") whose adapted SAE of layer 1 is the world's saes/L1R; layer 1's features 0..63
// with E_v and c_f (so the scatter and --select know them); selection "spatial" =
// {(1, feature)} and its head scores (live_store_head_score, method A).
inline int64_t write_live_store(const std::string& path, const std::string& world, int feature) {
  Store store = Store::open(path);
  RunRecord run;
  run.name = "live-test";
  const int64_t id = store.create_run(run);
  std::vector<FeatureRow> rows;
  for (int i = 0; i < 64; ++i) {
    FeatureRow r;
    r.layer = 1;
    r.feature = i;
    r.visual_energy = 0.01 + 0.001 * i;
    r.decoder_cosine = 0.5 + 0.005 * i;
    r.adapted = 1;
    rows.push_back(r);
  }
  if (feature >= 64) {
    FeatureRow r;
    r.layer = 1;
    r.feature = feature;
    r.visual_energy = 0.2;
    r.decoder_cosine = 0.3;
    r.adapted = 1;
    rows.push_back(r);
  }
  store.upsert_features(id, rows);
  store.put_selection(id, store_keys::kSpatialSelection, {{1, feature}});
  std::vector<HeadScore> heads;
  for (int l = 0; l < 2; ++l)
    for (int h = 0; h < 2; ++h) heads.push_back({1, feature, "A", l, h, live_store_head_score(l, h)});
  store.put_head_scores(id, heads);
  TensorRef sae;
  sae.key = store_keys::sae_tensor_key(1, "text");
  sae.path = world + "/saes/L1R/checkpoints/final.safetensors";
  store.put_tensor(id, sae);
  return id;
}

// Calls step() until done() or `seconds` pass (a short pause between tries); true when done.
template <typename Step, typename Done>
bool live_wait(Step step, Done done, double seconds = 120) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (true) {
    step();
    if (done()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace sightline::test
