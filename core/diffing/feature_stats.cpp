#include "core/diffing/feature_stats.h"

#include <torch/types.h>

#include <algorithm>
#include <limits>
#include <set>

#include "core/common/error.h"

namespace sightline {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

template <typename T>
std::vector<double> ratio(const std::vector<T>& num, int64_t den) {
  std::vector<double> out(num.size(), kNaN);
  if (den <= 0) return out;
  for (size_t f = 0; f < num.size(); ++f) out[f] = static_cast<double>(num[f]) / static_cast<double>(den);
  return out;
}

template <typename T>
std::vector<T> to_vector(const at::Tensor& t) {
  const auto c = t.contiguous();
  return std::vector<T>(c.data_ptr<T>(), c.data_ptr<T>() + c.numel());
}

// Float64 / int64 accumulators of one layer, as tensors so updates are vectorised.
struct Accumulator {
  at::Tensor sum_squares, fire_text, fire_image, max_activation;  // [F]
  int64_t selected = 0, text = 0, image = 0;
};

}  // namespace

std::string residual_hook(int layer) { return "blocks." + std::to_string(layer) + ".hook_resid_post"; }

ForwardRequest residual_request(const std::vector<int>& layers) {
  ForwardRequest req;
  req.logits = LogitsMode::kNone;
  req.stop_after_layer = layers.empty() ? -1 : *std::max_element(layers.begin(), layers.end());
  for (int l : layers) req.capture.insert(residual_hook(l));
  return req;
}

std::vector<double> LayerFeatureStats::visual_energy() const { return ratio(sum_squares, selected_positions); }
std::vector<double> LayerFeatureStats::fire_rate_text() const { return ratio(fire_text, text_positions); }
std::vector<double> LayerFeatureStats::fire_rate_image() const { return ratio(fire_image, image_positions); }

FeatureStatsResult compute_feature_stats(const VisionLanguageModel& model, const std::vector<LayerSae>& layers,
                                         const PromptDataset& dataset, const FeatureStatsOptions& options,
                                         Progress& progress) {
  check(options.batch_size > 0, "feature statistics: batch_size must be positive, got {}", options.batch_size);
  check(options.chunk_rows > 0, "feature statistics: chunk_rows must be positive, got {}", options.chunk_rows);
  check(!layers.empty(), "feature statistics: no layers given");
  const int64_t D = model.config().text.hidden_size;
  std::set<int> seen;
  std::vector<int> layer_ids;
  for (const auto& ls : layers) {
    check(ls.sae != nullptr, "feature statistics: layer {} has no SAE", ls.layer);
    check(ls.layer >= 0 && ls.layer < model.num_layers(), "feature statistics: layer {} is outside the model's {}",
          ls.layer, model.num_layers());
    check(seen.insert(ls.layer).second, "feature statistics: layer {} is listed twice", ls.layer);
    check(ls.sae->d_model() == D, "feature statistics: the SAE of layer {} ('{}') has d_model {}, the model {}",
          ls.layer, ls.sae->config().source, ls.sae->d_model(), D);
    layer_ids.push_back(ls.layer);
  }
  torch::NoGradGuard no_grad;
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  std::vector<Accumulator> acc(layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto dev = layers[i].sae->w_enc().device();
    const int64_t F = layers[i].sae->d_sae();
    acc[i].sum_squares = torch::zeros({F}, f64.device(dev));
    acc[i].fire_text = torch::zeros({F}, f64.device(dev).dtype(torch::kInt64));
    acc[i].fire_image = torch::zeros({F}, f64.device(dev).dtype(torch::kInt64));
    acc[i].max_activation = torch::zeros({F}, f64.device(dev));
  }
  const ForwardRequest request = residual_request(layer_ids);
  FeatureStatsResult result;
  const int64_t n = dataset.size();
  progress.begin("feature statistics", n);
  for (int64_t first = 0; first < n; first += options.batch_size) {
    progress.check_cancel();
    const int64_t count = std::min(options.batch_size, n - first);
    const auto prepared = model.prepare(make_prompt_batch(dataset, first, count));
    const auto out = model.forward(prepared, request);
    const auto types = prepared.token_types.reshape({-1});
    // Rows that are data (text or image): BOS and padding never reach the SAE.
    const auto keep = position_mask(types, Positions::kAll).nonzero().reshape({-1});
    const auto kept_types = types.index_select(0, keep);
    for (size_t i = 0; i < layers.size(); ++i) {
      const Sae& sae = *layers[i].sae;
      const auto dev = sae.w_enc().device();
      const auto x = out.at(residual_hook(layers[i].layer)).reshape({-1, D}).index_select(0, keep);  // [rows, D]
      const auto t_all = kept_types.to(dev);
      auto& a = acc[i];
      for (int64_t off = 0; off < x.size(0); off += options.chunk_rows) {
        const int64_t rows = std::min(options.chunk_rows, x.size(0) - off);
        const auto h = sae.encode(x.narrow(0, off, rows)).to(torch::kFloat64);  // [rows, F]
        result.peak_chunk_rows = std::max(result.peak_chunk_rows, rows);
        result.peak_code_elements = std::max(result.peak_code_elements, h.numel());
        const auto t = t_all.narrow(0, off, rows);
        const auto sel = position_mask(t, options.positions);
        const auto is_text = position_mask(t, Positions::kText);
        const auto is_image = position_mask(t, Positions::kImage);
        const auto active = h > 0;
        a.sum_squares += (h.pow(2) * sel.to(torch::kFloat64).unsqueeze(1)).sum(0);
        a.fire_text += (active & is_text.unsqueeze(1)).sum(0);
        a.fire_image += (active & is_image.unsqueeze(1)).sum(0);
        a.max_activation = torch::maximum(a.max_activation, std::get<0>(h.max(0)));
        a.selected += sel.sum().item<int64_t>();
        a.text += is_text.sum().item<int64_t>();
        a.image += is_image.sum().item<int64_t>();
      }
    }
    result.items += count;
    progress.tick(count);
  }
  for (size_t i = 0; i < layers.size(); ++i) {
    LayerFeatureStats s;
    s.layer = layers[i].layer;
    s.selected_positions = acc[i].selected;
    s.text_positions = acc[i].text;
    s.image_positions = acc[i].image;
    s.sum_squares = to_vector<double>(acc[i].sum_squares.cpu());
    s.fire_text = to_vector<int64_t>(acc[i].fire_text.cpu());
    s.fire_image = to_vector<int64_t>(acc[i].fire_image.cpu());
    s.max_activation = to_vector<double>(acc[i].max_activation.cpu());
    result.layers.push_back(std::move(s));
  }
  return result;
}

}  // namespace sightline
