#include "core/skills/top_samples.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/common/constants.h"
#include "core/common/error.h"

namespace sightline {

TopItemTracker::TopItemTracker(int64_t columns, int64_t k) : k_(k) {
  check(columns >= 0, "top items: columns must be >= 0, got {}", columns);
  check(k >= 1, "top items: k must be >= 1, got {}", k);
  best_.resize(static_cast<size_t>(columns));
}

namespace {

// "[a, b]" for messages (fmt cannot format an IntArrayRef itself).
std::string sample_dims(const at::Tensor& t) {
  std::vector<int64_t> sizes(t.sizes().begin(), t.sizes().end());
  return fmt::format("[{}]", fmt::join(sizes, ", "));
}

bool better(const ScoredItem& a, const ScoredItem& b) {
  return a.score != b.score ? a.score > b.score : a.item < b.item;
}

}  // namespace

void TopItemTracker::add(int64_t first, const at::Tensor& scores) {
  check(scores.dim() == 2 && scores.size(1) == columns(), "top items: scores must be [count, {}], got {}", columns(),
        sample_dims(scores));
  const auto s = scores.to(at::kCPU, at::kDouble).contiguous();
  const auto acc = s.accessor<double, 2>();
  const int64_t count = s.size(0);
  for (int64_t c = 0; c < columns(); ++c) {
    auto& best = best_[static_cast<size_t>(c)];
    for (int64_t r = 0; r < count; ++r) {
      const double v = acc[r][c];
      if (!(v > 0)) continue;
      const ScoredItem cand{first + r, v};
      if (static_cast<int64_t>(best.size()) == k_ && !better(cand, best.back())) continue;
      best.insert(std::upper_bound(best.begin(), best.end(), cand, better), cand);
      if (static_cast<int64_t>(best.size()) > k_) best.pop_back();
    }
  }
}

const std::vector<ScoredItem>& TopItemTracker::top(int64_t column) const {
  check(column >= 0 && column < columns(), "top items: column {} out of range [0, {})", column, columns());
  return best_[static_cast<size_t>(column)];
}

SampleActivations split_sequence_activations(const std::vector<int64_t>& ids, int64_t image_tokens,
                                             const std::vector<float>& seq_acts) {
  SampleActivations out;
  size_t p = 0;
  for (const int64_t id : ids) {
    if (id == kImageTokenIndex) {
      check(p + static_cast<size_t>(image_tokens) <= seq_acts.size(),
            "sample activations: {} positions for a prompt of {} ids with {} image tokens", seq_acts.size(), ids.size(),
            image_tokens);
      out.patch_acts.assign(seq_acts.begin() + static_cast<std::ptrdiff_t>(p),
                            seq_acts.begin() + static_cast<std::ptrdiff_t>(p + static_cast<size_t>(image_tokens)));
      p += static_cast<size_t>(image_tokens);
    } else {
      check(p < seq_acts.size(), "sample activations: {} positions for a prompt of {} ids with {} image tokens",
            seq_acts.size(), ids.size(), image_tokens);
      out.token_acts.push_back(seq_acts[p++]);
    }
  }
  check(p == seq_acts.size(), "sample activations: {} positions for a prompt of {} ids with {} image tokens",
        seq_acts.size(), ids.size(), image_tokens);
  return out;
}

std::vector<std::vector<std::vector<SampleActivations>>> sample_activations(
    const VisionLanguageModel& model, const std::vector<LayerFeatures>& layers, const PromptDataset& dataset,
    const std::vector<std::vector<std::vector<int64_t>>>& requests, const StreamOptions& options, Progress& progress) {
  check(requests.size() == layers.size(), "sample activations: requests for {} layers, {} given", requests.size(),
        layers.size());
  std::set<int64_t> distinct;
  for (size_t l = 0; l < layers.size(); ++l) {
    check(static_cast<int64_t>(requests[l].size()) == layers[l].width(),
          "sample activations: layer {}: requests for {} features, {} kept", layers[l].layer, requests[l].size(),
          layers[l].width());
    for (const auto& items : requests[l]) distinct.insert(items.begin(), items.end());
  }
  std::vector<std::vector<std::vector<SampleActivations>>> out(layers.size());
  for (size_t l = 0; l < layers.size(); ++l) {
    out[l].resize(requests[l].size());
    for (size_t c = 0; c < requests[l].size(); ++c) out[l][c].resize(requests[l][c].size());
  }
  if (distinct.empty()) return out;
  const std::vector<int64_t> order(distinct.begin(), distinct.end());
  std::map<int64_t, int64_t> subset_index;
  for (size_t s = 0; s < order.size(); ++s) subset_index[order[s]] = static_cast<int64_t>(s);
  const DerivedPromptDataset subset = subset_dataset(dataset, order);
  const int64_t image_tokens = model.image_tokens();
  auto sequence_length = [&](const PromptItem& it) {
    int64_t len = 0;
    for (int64_t id : it.ids) len += id == kImageTokenIndex ? image_tokens : 1;
    return len;
  };
  // need[l][s]: the (column c, request j) slots subset item s serves, each with a buffer
  // over the item's whole sequence.
  struct Slot {
    size_t c, j;
    std::vector<float> seq;
  };
  std::vector<std::vector<std::vector<Slot>>> need(layers.size(), std::vector<std::vector<Slot>>(order.size()));
  for (size_t l = 0; l < layers.size(); ++l)
    for (size_t c = 0; c < requests[l].size(); ++c)
      for (size_t j = 0; j < requests[l][c].size(); ++j) {
        const int64_t s = subset_index.at(requests[l][c][j]);
        const auto len = static_cast<size_t>(sequence_length(subset.item(s)));
        need[l][static_cast<size_t>(s)].push_back({c, j, std::vector<float>(len, 0.0f)});
      }
  CodeStreamCallbacks cb;
  cb.on_chunk = [&](const CodeChunk& chunk) {
    const auto codes = chunk.codes.cpu().contiguous();
    const auto item = chunk.item.cpu().contiguous();
    const auto pos = chunk.position.cpu().contiguous();
    const auto ca = codes.accessor<float, 2>();
    const int64_t* ip = item.data_ptr<int64_t>();
    const int64_t* pp = pos.data_ptr<int64_t>();
    for (int64_t r = 0; r < codes.size(0); ++r) {
      for (auto& slot : need[chunk.layer][static_cast<size_t>(ip[r])]) {
        if (pp[r] < 0 || static_cast<size_t>(pp[r]) >= slot.seq.size())
          fail("sample activations: position {} beyond the {} of item '{}'", pp[r], slot.seq.size(),
               subset.item(ip[r]).sample_id);
        slot.seq[static_cast<size_t>(pp[r])] = ca[r][static_cast<int64_t>(slot.c)];
      }
    }
  };
  stream_feature_codes(model, layers, subset, options, progress, "sample activations", cb);
  for (size_t l = 0; l < layers.size(); ++l)
    for (size_t s = 0; s < order.size(); ++s)
      for (auto& slot : need[l][s])
        out[l][slot.c][slot.j] =
            split_sequence_activations(subset.item(static_cast<int64_t>(s)).ids, image_tokens, slot.seq);
  return out;
}

std::vector<std::vector<std::vector<TopSample>>> top_samples(const VisionLanguageModel& model,
                                                             const std::vector<LayerFeatures>& layers,
                                                             const PromptDataset& dataset, int64_t k,
                                                             Positions positions, const StreamOptions& options,
                                                             Progress& progress) {
  check(k >= 1, "top samples: k must be >= 1, got {}", k);
  std::vector<TopItemTracker> trackers;
  for (const auto& lf : layers) trackers.emplace_back(lf.width(), k);
  stream_item_max(model, layers, dataset, positions, options, progress, "rank samples of " + dataset.name(),
                  [&](size_t layer, int64_t first, const at::Tensor& max) { trackers[layer].add(first, max); });
  std::vector<std::vector<std::vector<int64_t>>> requests(layers.size());
  for (size_t l = 0; l < layers.size(); ++l) {
    requests[l].resize(static_cast<size_t>(trackers[l].columns()));
    for (int64_t c = 0; c < trackers[l].columns(); ++c)
      for (const auto& s : trackers[l].top(c)) requests[l][static_cast<size_t>(c)].push_back(s.item);
  }
  const auto acts = sample_activations(model, layers, dataset, requests, options, progress);
  std::vector<std::vector<std::vector<TopSample>>> out(layers.size());
  for (size_t l = 0; l < layers.size(); ++l) {
    out[l].resize(requests[l].size());
    for (size_t c = 0; c < requests[l].size(); ++c) {
      const auto& top = trackers[l].top(static_cast<int64_t>(c));
      for (size_t j = 0; j < top.size(); ++j) {
        TopSample s;
        s.item = top[j].item;
        s.sample_id = dataset.item(top[j].item).sample_id;
        s.max_activation = top[j].score;
        s.acts = acts[l][c][j];
        out[l][c].push_back(std::move(s));
      }
    }
  }
  return out;
}

std::vector<TopActivation> merge_top_samples(int32_t layer, int32_t feature,
                                             const std::vector<std::pair<std::string, std::vector<TopSample>>>& sets) {
  struct Entry {
    size_t set, index;
    const TopSample* sample;
  };
  std::vector<Entry> all;
  for (size_t s = 0; s < sets.size(); ++s)
    for (size_t i = 0; i < sets[s].second.size(); ++i) all.push_back({s, i, &sets[s].second[i]});
  std::stable_sort(all.begin(), all.end(),
                   [](const Entry& a, const Entry& b) { return a.sample->max_activation > b.sample->max_activation; });
  std::set<std::string> seen;
  std::vector<TopActivation> out;
  for (const auto& e : all) {
    if (!seen.insert(e.sample->sample_id).second) continue;
    TopActivation t;
    t.layer = layer;
    t.feature = feature;
    t.rank = static_cast<int32_t>(out.size());
    t.sample_id = e.sample->sample_id;
    t.dataset = sets[e.set].first;
    t.max_activation = e.sample->max_activation;
    t.token_acts = e.sample->acts.token_acts;
    t.patch_acts = e.sample->acts.patch_acts;
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace sightline
