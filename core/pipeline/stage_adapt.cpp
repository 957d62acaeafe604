// Stage "adapt" (METHOD.md Stage 1, paper 4.1): fine-tune each layer's base SAE on the
// VLM's residual stream under the regimes full / image / text / random.
//
// Options ("stages.adapt"), defaults in adapt_defaults():
//   regimes          ["full", "image", "text", "random"]
//   train_tokens     0      > 0: every regime trains on exactly this many of its own
//                           positions (cycling over the items); 0: `epochs` passes each
//   epochs           1      passes over the training items (when train_tokens is 0)
//   batch_size       8      sequences per VLM forward
//   k                0      TopK k of the adapted SAEs (0: the base SAE's k if TopK, else 50)
//   layers_per_pass  0      layers trained together on one pass over the data (0 = all;
//                           each holds 4 SAEs + Adam state, so set 1 for 8B-scale SAEs)
//   queue_batches    4      forward batches buffered ahead of the slowest trainer
//   seed             1      random-init seed
//   save_regimes     []     regimes whose final SAEs are written (empty = all)
//   save_dtype       "float32"  dtype of the written SAEs
//   train            SaeTrainOptions (core/sae/trainer.h) with these defaults changed:
//                    batch_size 1024, shuffle_buffer_mb 64, eval_every_tokens 50000
//                    (total_tokens is computed per regime and ignored here)
#include <ATen/Parallel.h>
#include <torch/types.h>

#include <fmt/format.h>

#include <filesystem>

#include "core/common/error.h"
#include "core/diffing/adaptation.h"
#include "core/io/json_util.h"
#include "core/jobs/job_runner.h"
#include "core/pipeline/context.h"
#include "core/pipeline/stages.h"
#include "core/pipeline/store_keys.h"
#include "core/sae/sae_io.h"
#include "core/store/store.h"

namespace fs = std::filesystem;

namespace sightline {

namespace {

nlohmann::json adapt_defaults() {
  SaeTrainOptions train;
  train.batch_size = 1024;
  train.shuffle_buffer_mb = 64;
  train.eval_every_tokens = 50000;
  nlohmann::json train_json = to_json(train);
  train_json.erase("total_tokens");
  return {{"regimes", {"full", "image", "text", "random"}},
          {"train_tokens", 0},
          {"epochs", 1},
          {"batch_size", 8},
          {"k", 0},
          {"layers_per_pass", 0},
          {"queue_batches", 4},
          {"seed", 1},
          {"save_regimes", nlohmann::json::array()},
          {"save_dtype", "float32"},
          {"train", train_json}};
}

struct AdaptStageOptions {
  AdaptOptions adapt;
  std::vector<Regime> save_regimes;
  std::string save_dtype;
};

AdaptStageOptions parse_adapt(const nlohmann::json& j, const std::string& where) {
  check_known_keys(j["train"], adapt_defaults()["train"], where, "train");
  AdaptStageOptions o;
  auto& a = o.adapt;
  a.regimes.clear();
  for (const auto& name : json_get<std::vector<std::string>>(j, "regimes", where)) {
    const Regime r = parse_regime(name, where, "regimes");
    check(std::find(a.regimes.begin(), a.regimes.end(), r) == a.regimes.end(),
          "file '{}': field 'regimes' lists '{}' twice", where, name);
    a.regimes.push_back(r);
  }
  check(!a.regimes.empty(), "file '{}': field 'regimes' is empty", where);
  a.train_tokens = json_get<int64_t>(j, "train_tokens", where);
  a.epochs = json_get<int64_t>(j, "epochs", where);
  a.batch_size = json_get<int64_t>(j, "batch_size", where);
  a.k = json_get<int64_t>(j, "k", where);
  a.layers_per_pass = json_get<int64_t>(j, "layers_per_pass", where);
  a.queue_batches = json_get<int64_t>(j, "queue_batches", where);
  a.seed = json_get<uint64_t>(j, "seed", where);
  a.train = sae_train_options_from_json(json_get<nlohmann::json>(j, "train", where), where + "' field 'train");
  check(a.train_tokens >= 0, "file '{}': field 'train_tokens' must be >= 0, got {}", where, a.train_tokens);
  check(a.epochs > 0, "file '{}': field 'epochs' must be positive, got {}", where, a.epochs);
  check(a.batch_size > 0, "file '{}': field 'batch_size' must be positive, got {}", where, a.batch_size);
  check(a.k >= 0, "file '{}': field 'k' must be >= 0, got {}", where, a.k);
  check(a.layers_per_pass >= 0, "file '{}': field 'layers_per_pass' must be >= 0, got {}", where, a.layers_per_pass);
  check(a.queue_batches > 0, "file '{}': field 'queue_batches' must be positive, got {}", where, a.queue_batches);
  for (const auto& name : json_get<std::vector<std::string>>(j, "save_regimes", where))
    o.save_regimes.push_back(parse_regime(name, where, "save_regimes"));
  if (o.save_regimes.empty()) o.save_regimes = a.regimes;
  o.save_dtype = json_get<std::string>(j, "save_dtype", where);
  check(o.save_dtype == "float32" || o.save_dtype == "bfloat16" || o.save_dtype == "float16",
        "file '{}': field 'save_dtype' must be float32, bfloat16 or float16, got '{}'", where, o.save_dtype);
  return o;
}

std::vector<CurvePoint> eval_curve_points(const AdaptEvalPoint& p) {
  namespace k = store_keys;
  const std::string regime = to_string(p.regime);
  auto point = [&](const char* name, const char* key, double value) {
    CurvePoint c;
    c.name = name;
    c.layer = p.layer;
    c.regime = regime;
    c.step = p.step;
    c.tokens = p.tokens;
    c.key = key;
    c.value = value;
    return c;
  };
  std::vector<CurvePoint> out{point(k::kFvu, k::kHeldout, p.fvu), point(k::kFvu, k::kHeldoutText, p.fvu_text),
                              point(k::kL0, k::kHeldout, p.l0),
                              point(k::kDeadFraction, k::kHeldout, p.dead_fraction)};
  // The first evaluation precedes any training step: it has no training MSE.
  if (p.step > 0) out.push_back(point(k::kMse, k::kTrain, p.train_mse));
  return out;
}

void run_adapt(PipelineContext& ctx, StageContext& sc) {
  at::init_num_threads();  // this worker thread takes the process's torch thread count
  const AdaptStageOptions o = parse_adapt(ctx.options().stage("adapt"), "stages.adapt");
  sc.progress().begin("load model, SAEs and data", 0);
  const VisionLanguageModel& model = ctx.model();
  std::vector<LayerSae> base;
  for (int l : ctx.layers()) base.push_back({l, &ctx.base_sae(l)});
  const PromptDataset& train = ctx.dataset(DataSplit::kTrain);
  const PromptDataset& heldout = ctx.dataset(DataSplit::kHeldout);
  check(train.size() > 0, "stage adapt: the training split ({}) has no items", train.name());
  check(heldout.size() > 0, "stage adapt: the held-out split ({}) has no items", heldout.name());

  std::vector<TensorRef> tensors;
  std::vector<CurvePoint> finals;
  nlohmann::json summary{{"layers", ctx.layers()}, {"train_items", train.size()}, {"heldout_items", heldout.size()}};
  AdaptCallbacks callbacks;
  callbacks.on_eval = [&](const std::vector<AdaptEvalPoint>& points) {
    std::vector<CurvePoint> rows;
    for (const auto& p : points)
      for (auto& c : eval_curve_points(p)) rows.push_back(std::move(c));
    // Streamed so the explorer can draw the curves while training runs; keyed upserts, so
    // a rerun after a kill rewrites the same rows instead of adding to them.
    sc.write([&](Store& store) { store.put_curve_points(sc.run_id(), rows); });
  };
  callbacks.on_done = [&](AdaptOutcome& out) {
    const std::string regime = to_string(out.regime);
    CurvePoint c;
    c.name = store_keys::kDecoderCosine;
    c.key = store_keys::kMean;
    c.layer = out.layer;
    c.regime = regime;
    c.step = 0;
    c.tokens = out.stats.tokens;
    c.value = out.mean_decoder_cosine;
    finals.push_back(c);
    const std::string layer_key = "L" + std::to_string(out.layer);
    summary["fvu"][layer_key][regime] = out.final_eval.fvu;
    summary["l0"][layer_key][regime] = out.final_eval.l0;
    summary["decoder_cosine"][layer_key][regime] = out.mean_decoder_cosine;
    summary["tokens"][layer_key][regime] = out.stats.tokens;
    if (std::find(o.save_regimes.begin(), o.save_regimes.end(), out.regime) == o.save_regimes.end()) return;
    const fs::path dir = fs::path(ctx.run_dir()) / "saes" / fmt::format("L{}-{}", out.layer, regime);
    save_llama_scope_sae(out.sae, dir.string(), o.save_dtype);
    TensorRef ref;
    ref.key = store_keys::sae_tensor_key(out.layer, regime);
    ref.path = (dir / "checkpoints" / "final.safetensors").string();
    ref.shape = {out.sae.d_model(), out.sae.d_sae()};
    tensors.push_back(ref);
  };
  adapt_saes(model, base, train, heldout, o.adapt, sc.progress(), callbacks);
  sc.commit(
      [&](Store& store) {
        for (const auto& t : tensors) store.put_tensor(sc.run_id(), t);
        store.put_curve_points(sc.run_id(), finals);
      },
      summary.dump());
}

}  // namespace

StageDefinition adapt_stage_definition() {
  StageDefinition d;
  d.name = "adapt";
  d.description = "fine-tune the base SAEs on VLM activations (regimes full, image, text, random)";
  d.defaults = adapt_defaults;
  d.validate = [](const nlohmann::json& j, const std::string& where) { parse_adapt(j, where); };
  d.make = [](PipelineContext& ctx) {
    Stage s;
    s.name = "adapt";
    nlohmann::json key = common_options_json(ctx.options());
    key["stage"] = ctx.options().stage("adapt");
    s.options_hash = hash_options(key.dump());
    s.run = [&ctx](StageContext& sc) { run_adapt(ctx, sc); };
    // No reset: every row this stage writes is a keyed upsert that a rerun with the same
    // options rewrites identically (training is deterministic), and other options make a
    // new run (see pipeline.h).
    return s;
  };
  return d;
}

}  // namespace sightline
