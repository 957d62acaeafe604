#include "tests/sae_fixture.h"

#include <ATen/Parallel.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "core/diffing/feature_stats.h"
#include "tests/test_util.h"

namespace sightline::test {

std::unique_ptr<VisionLanguageModel> load_tiny_model(const TinyCheckpoint& ckpt, const std::string& tag) {
  const std::string dir = scratch_dir(tag);
  write_tiny_checkpoint(ckpt, dir, "F32", 1);
  LoadOptions options;
  options.model_dir = dir;
  return VisionLanguageModel::load(options);
}

TinySaeModel load_tiny_with_saes(const TinyCheckpoint& ckpt, const std::string& tag, int64_t d_sae, int64_t seed) {
  at::set_num_threads(1);
  TinySaeModel out;
  out.model = load_tiny_model(ckpt, tag);
  const int64_t D = out.model->config().text.hidden_size;
  for (int l = 0; l < out.model->num_layers(); ++l) {
    SaeConfig cfg;
    cfg.variant = l == 0 ? SaeVariant::ReLU : SaeVariant::TopK;
    cfg.d_model = D;
    cfg.d_sae = d_sae;
    cfg.k = 6;
    cfg.hook_point = residual_hook(l);
    torch::manual_seed(seed + l);
    out.saes.push_back(std::make_unique<Sae>(cfg));
    torch::NoGradGuard g;
    at::Tensor b = out.saes.back()->b_enc();
    b.uniform_(-0.2, 0.6);
  }
  return out;
}

InMemoryPromptDataset make_tiny_prompts(int64_t n, uint64_t seed, const TinyTextToken& text_token) {
  torch::manual_seed(static_cast<int64_t>(seed));
  std::vector<PromptItem> items;
  std::vector<at::Tensor> images;
  for (int64_t i = 0; i < n; ++i) {
    PromptItem it;
    it.sample_id = "item" + std::to_string(i);
    it.ids.push_back(1);  // bos
    if (i % 4 != 3) {
      it.image = static_cast<int64_t>(images.size());
      images.push_back(torch::randn({3, 16, 16}));
      it.ids.push_back(kImageTokenIndex);
    }
    const int64_t len = 2 + (i * 5) % 6;
    for (int64_t t = 0; t < len; ++t) it.ids.push_back(text_token(i, t, len));
    items.push_back(std::move(it));
  }
  return InMemoryPromptDataset("tiny", std::move(items), std::move(images));
}

}  // namespace sightline::test
