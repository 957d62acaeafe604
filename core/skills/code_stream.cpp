#include "core/skills/code_stream.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <set>

#include "core/common/error.h"
#include "core/diffing/feature_stats.h"
#include "core/model/hooks.h"

namespace sightline {

int64_t LayerFeatures::width() const {
  check(sae != nullptr, "layer {}: no SAE", layer);
  return features.empty() ? sae->d_sae() : static_cast<int64_t>(features.size());
}

namespace {

void check_layers(const VisionLanguageModel& model, const std::vector<LayerFeatures>& layers, const std::string& what) {
  check(!layers.empty(), "{}: no layers given", what);
  const int64_t D = model.config().text.hidden_size;
  std::set<int> seen;
  for (const auto& lf : layers) {
    check(lf.sae != nullptr, "{}: layer {} has no SAE", what, lf.layer);
    check(lf.layer >= 0 && lf.layer < model.num_layers(), "{}: layer {} is outside the model's {}", what, lf.layer,
          model.num_layers());
    check(seen.insert(lf.layer).second, "{}: layer {} is listed twice", what, lf.layer);
    check(lf.sae->d_model() == D, "{}: the SAE of layer {} ('{}') has d_model {}, the model {}", what, lf.layer,
          lf.sae->config().source, lf.sae->d_model(), D);
    for (int64_t f : lf.features)
      check(f >= 0 && f < lf.sae->d_sae(), "{}: layer {} feature {} is outside the SAE's {} features", what, lf.layer,
            f, lf.sae->d_sae());
  }
}

}  // namespace

void stream_feature_codes(const VisionLanguageModel& model, const std::vector<LayerFeatures>& layers,
                          const PromptDataset& dataset, const StreamOptions& options, Progress& progress,
                          const std::string& label, const CodeStreamCallbacks& callbacks) {
  check(options.batch_size > 0, "{}: batch_size must be positive, got {}", label, options.batch_size);
  check(options.chunk_rows > 0, "{}: chunk_rows must be positive, got {}", label, options.chunk_rows);
  check_layers(model, layers, label);
  const int64_t D = model.config().text.hidden_size;
  at::NoGradGuard no_grad;
  std::vector<int> layer_ids;
  std::vector<at::Tensor> columns(layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    layer_ids.push_back(layers[i].layer);
    if (!layers[i].features.empty())
      columns[i] = at::tensor(layers[i].features, at::kLong).to(layers[i].sae->w_enc().device());
  }
  const ForwardRequest request = residual_request(layer_ids);
  const int64_t n = dataset.size();
  progress.begin(label, n);
  for (int64_t first = 0; first < n; first += options.batch_size) {
    progress.check_cancel();
    const int64_t count = std::min(options.batch_size, n - first);
    const auto prepared = model.prepare(make_prompt_batch(dataset, first, count));
    const auto out = model.forward(prepared, request);
    const int64_t B = prepared.token_types.size(0), T = prepared.token_types.size(1);
    const auto types = prepared.token_types.reshape({-1});
    const auto keep = position_mask(types, Positions::kAll).nonzero().reshape({-1});
    const auto long_opts = at::TensorOptions().dtype(at::kLong).device(types.device());
    const auto item_of =
        (at::arange(B, long_opts) + first).unsqueeze(1).expand({B, T}).reshape({-1}).index_select(0, keep);
    const auto pos_of = at::arange(T, long_opts).unsqueeze(0).expand({B, T}).reshape({-1}).index_select(0, keep);
    const auto kept_types = types.index_select(0, keep);
    for (size_t i = 0; i < layers.size(); ++i) {
      const Sae& sae = *layers[i].sae;
      const auto dev = sae.w_enc().device();
      const auto x = out.at(residual_hook(layers[i].layer)).reshape({-1, D}).index_select(0, keep);  // [rows, D]
      const auto items = item_of.to(dev), positions = pos_of.to(dev), token_types = kept_types.to(dev);
      for (int64_t off = 0; off < x.size(0); off += options.chunk_rows) {
        const int64_t rows = std::min(options.chunk_rows, x.size(0) - off);
        auto h = sae.encode(x.narrow(0, off, rows));  // [rows, F]: TopK needs every feature
        if (columns[i].defined()) h = h.index_select(1, columns[i]);
        CodeChunk chunk;
        chunk.layer = i;
        chunk.first_item = first;
        chunk.batch_items = count;
        chunk.codes = h.to(at::kFloat);
        chunk.item = items.narrow(0, off, rows);
        chunk.position = positions.narrow(0, off, rows);
        chunk.token_type = token_types.narrow(0, off, rows);
        if (callbacks.on_chunk) callbacks.on_chunk(chunk);
      }
    }
    if (callbacks.on_batch_end) callbacks.on_batch_end(first, count);
    progress.tick(count);
  }
}

std::vector<GroupFiring> count_group_firing(const VisionLanguageModel& model, const std::vector<LayerFeatures>& layers,
                                            const PromptDataset& dataset,
                                            const std::vector<std::vector<uint8_t>>& group_items, Positions positions,
                                            const StreamOptions& options, Progress& progress,
                                            const std::string& label) {
  check(!group_items.empty(), "{}: no groups given", label);
  const int64_t n = dataset.size();
  for (size_t g = 0; g < group_items.size(); ++g)
    check(static_cast<int64_t>(group_items[g].size()) == n, "{}: group {} has {} entries for the {} items of {}", label,
          g, group_items[g].size(), n, dataset.name());
  check_layers(model, layers, label);
  const auto G = static_cast<int64_t>(group_items.size());
  // [items, G] membership, one copy per SAE device.
  auto membership_cpu = at::zeros({std::max<int64_t>(n, 1), G}, at::kBool);
  {
    auto acc = membership_cpu.accessor<bool, 2>();
    for (int64_t g = 0; g < G; ++g)
      for (int64_t i = 0; i < n; ++i) acc[i][g] = group_items[static_cast<size_t>(g)][static_cast<size_t>(i)] != 0;
  }
  std::vector<FiringCounter> counters;
  std::vector<at::Tensor> membership;
  for (const auto& lf : layers) {
    counters.emplace_back(G, lf.width());
    membership.push_back(membership_cpu.to(lf.sae->w_enc().device()));
  }
  CodeStreamCallbacks cb;
  cb.on_chunk = [&](const CodeChunk& c) {
    const auto rows_in = position_mask(c.token_type, positions).unsqueeze(1);  // [rows, 1]
    const auto m = membership[c.layer].index_select(0, c.item) & rows_in;      // [rows, G]
    counters[c.layer].add(c.codes, m);
  };
  stream_feature_codes(model, layers, dataset, options, progress, label, cb);
  std::vector<GroupFiring> out;
  for (auto& c : counters) out.push_back(c.result());
  return out;
}

void stream_item_max(const VisionLanguageModel& model, const std::vector<LayerFeatures>& layers,
                     const PromptDataset& dataset, Positions positions, const StreamOptions& options,
                     Progress& progress, const std::string& label, const ItemMaxCallback& on_batch) {
  check_layers(model, layers, label);
  std::vector<at::Tensor> batch_max(layers.size());  // [count, C] on the SAE's device
  CodeStreamCallbacks cb;
  cb.on_chunk = [&](const CodeChunk& c) {
    auto& m = batch_max[c.layer];
    if (!m.defined() || m.size(0) != c.batch_items) m = at::zeros({c.batch_items, c.codes.size(1)}, c.codes.options());
    const auto rows = position_mask(c.token_type, positions).nonzero().reshape({-1});
    if (rows.numel() == 0) return;
    const auto codes = c.codes.index_select(0, rows);
    // Rows come item by item in ascending item order, so per-item row counts split them.
    const auto counts = at::bincount(c.item.index_select(0, rows) - c.first_item, {}, c.batch_items).cpu();
    const std::vector<int64_t> sizes(counts.data_ptr<int64_t>(), counts.data_ptr<int64_t>() + counts.numel());
    const auto parts = codes.split_with_sizes(sizes);
    for (int64_t b = 0; b < c.batch_items; ++b)
      if (sizes[static_cast<size_t>(b)] > 0)
        m[b] = at::maximum(m[b], std::get<0>(parts[static_cast<size_t>(b)].max(0)));
  };
  cb.on_batch_end = [&](int64_t first, int64_t count) {
    for (size_t i = 0; i < layers.size(); ++i) {
      auto& m = batch_max[i];
      if (!m.defined() || m.size(0) != count) m = at::zeros({count, layers[i].width()}, at::kFloat);
      on_batch(i, first, m.cpu());
      m = at::Tensor();
    }
  };
  stream_feature_codes(model, layers, dataset, options, progress, label, cb);
}

std::vector<at::Tensor> item_max_activations(const VisionLanguageModel& model, const std::vector<LayerFeatures>& layers,
                                             const PromptDataset& dataset, Positions positions,
                                             const StreamOptions& options, Progress& progress,
                                             const std::string& label) {
  check_layers(model, layers, label);
  std::vector<at::Tensor> out;
  for (const auto& lf : layers) out.push_back(at::zeros({dataset.size(), lf.width()}, at::kFloat));
  stream_item_max(
      model, layers, dataset, positions, options, progress, label,
      [&](size_t layer, int64_t first, const at::Tensor& max) { out[layer].narrow(0, first, max.size(0)).copy_(max); });
  return out;
}

DerivedPromptDataset::DerivedPromptDataset(std::string name, const PromptDataset& base, std::vector<PromptItem> items)
    : name_(std::move(name)), base_(base), items_(std::move(items)) {
  for (size_t i = 0; i < items_.size(); ++i)
    check(items_[i].image >= -1, "dataset '{}': item {} refers to image {}", name_, i, items_[i].image);
}

const PromptItem& DerivedPromptDataset::item(int64_t i) const {
  check(i >= 0 && i < size(), "dataset '{}': item {} is out of range [0, {})", name_, i, size());
  return items_[static_cast<size_t>(i)];
}

DerivedPromptDataset subset_dataset(const PromptDataset& dataset, const std::vector<int64_t>& indices) {
  std::vector<PromptItem> items;
  items.reserve(indices.size());
  for (int64_t i : indices) items.push_back(dataset.item(i));
  return DerivedPromptDataset(dataset.name() + " (subset)", dataset, std::move(items));
}

}  // namespace sightline
