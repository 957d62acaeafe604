#include "core/train/world_saes.h"

#include <torch/types.h>

#include <fmt/format.h>

#include <filesystem>

#include "core/common/error.h"
#include "core/sae/sae.h"
#include "core/sae/sae_io.h"
#include "core/sae/trainer.h"
#include "core/world/corpus.h"
#include "core/world/datasets.h"

namespace fs = std::filesystem;

namespace sightline {

std::string world_sae_dir_name(int layer) { return fmt::format("L{}R", layer); }

namespace {

// Residual rows of one layer over corpus documents [first, first + count), text
// positions only (BOS and padding masked out).
class CorpusActivations {
 public:
  CorpusActivations(const VisionLanguageModel& model, const WordTokenizer& tok, const WorldPreset& preset,
                    WorldSplit split, int layer, int64_t first, int64_t max_rows)
      : model_(model), tok_(tok), preset_(preset), split_(split), layer_(layer), next_doc_(first),
        max_rows_(max_rows) {}

  bool operator()(ActivationBatch& batch) {
    if (rows_ >= max_rows_) return false;
    BatchInput in;
    for (int i = 0; i < 32; ++i) {
      const auto r = make_scene_record(preset_.data, split_, next_doc_++ % 90000000);
      std::vector<int64_t> ids{tok_.bos_id()};
      for (int64_t id : tok_.encode(corpus_document(r, preset_.data.world))) ids.push_back(id);
      in.ids.push_back(std::move(ids));
    }
    ForwardRequest req;
    req.stop_after_layer = layer_;
    req.logits = LogitsMode::kNone;
    const std::string hook = "blocks." + std::to_string(layer_) + ".hook_resid_post";
    req.capture.insert(hook);
    const auto prepared = model_.prepare(in);
    const auto out = model_.forward(prepared, req);
    const auto x = out.at(hook);
    batch.x = x.reshape({-1, x.size(-1)}).to(torch::kFloat32);
    batch.mask = prepared.token_types.reshape({-1}).eq(static_cast<int8_t>(kTokenText));
    rows_ += batch.mask.sum().item<int64_t>();
    return true;
  }

 private:
  const VisionLanguageModel& model_;
  const WordTokenizer& tok_;
  const WorldPreset& preset_;
  WorldSplit split_;
  int layer_;
  int64_t next_doc_;
  int64_t max_rows_;
  int64_t rows_ = 0;
};

}  // namespace

nlohmann::json train_world_base_saes(const VisionLanguageModel& base, const WordTokenizer& tok,
                                     const WorldPreset& preset, const std::string& out_dir, Progress& progress,
                                     const LogFn& log) {
  const auto& o = preset.sae;
  nlohmann::json report = nlohmann::json::array();
  const int64_t d = base.config().text.hidden_size;
  for (int layer = 0; layer < base.num_layers(); ++layer) {
    SaeConfig cfg;
    cfg.variant = SaeVariant::TopK;
    cfg.d_model = d;
    cfg.d_sae = o.expansion * d;
    cfg.k = o.k;
    cfg.hook_point = "blocks." + std::to_string(layer) + ".hook_resid_post";
    torch::manual_seed(static_cast<int64_t>(preset.seed) * 100 + layer);
    Sae sae(cfg);
    sae.to(base.device(), "float32");
    SaeTrainOptions t;
    t.batch_size = o.batch_tokens;
    t.lr = o.lr;
    t.total_tokens = o.train_tokens;
    t.warmup_steps = 50;
    t.shuffle_buffer_mb = 32;
    t.init_b_dec_to_mean = true;
    t.dead_window_tokens = std::max<int64_t>(20000, o.train_tokens / 10);
    t.seed = preset.seed + static_cast<uint64_t>(layer);
    CorpusActivations train(base, tok, preset, WorldSplit::CorpusTrain, layer, 50000000, o.train_tokens);
    progress.begin(fmt::format("base SAE L{}", layer), o.train_tokens);
    train_sae(sae, std::ref(train), t, progress);
    CorpusActivations val(base, tok, preset, WorldSplit::CorpusVal, layer, 0, o.eval_tokens);
    const auto e = evaluate(sae, std::ref(val));
    log(fmt::format("base SAE layer {}: FVU {:.4f}, L0 {:.1f}, dead {:.3f} ({} val rows)", layer, e.fvu, e.l0,
                    e.dead_fraction, e.rows));
    save_llama_scope_sae(sae, (fs::path(out_dir) / "saes" / world_sae_dir_name(layer)).string());
    report.push_back({{"layer", layer}, {"fvu", e.fvu}, {"l0", e.l0}, {"dead_fraction", e.dead_fraction}});
  }
  return report;
}

}  // namespace sightline
