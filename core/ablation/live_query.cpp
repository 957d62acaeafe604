#include "core/ablation/live_query.h"

#include <ATen/Parallel.h>
#include <torch/types.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <set>

#include "core/ablation/live_query_torch.h"
#include "core/common/constants.h"
#include "core/common/error.h"

namespace sightline {

std::string to_string(RequestState state) {
  switch (state) {
    case RequestState::kUnknown: return "unknown";
    case RequestState::kPending: return "pending";
    case RequestState::kRunning: return "running";
    case RequestState::kDone: return "done";
    case RequestState::kFailed: return "failed";
    case RequestState::kSuperseded: return "superseded";
  }
  return "unknown";
}

// The re-evaluation pool and its caches. Replaced whole by set_items; only the worker
// touches the caches, through the snapshot it took when the request started.
struct LiveQueryService::Pool {
  std::vector<YesNoItem> items;
  ItemImages images;
  std::map<int64_t, at::Tensor> image_tokens;  // pool image -> [P, D]
  int64_t cached_bytes = 0;
  std::vector<std::optional<ItemScore>> baseline;  // per pool item, filled on first use
};

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

bool terminal(RequestState s) {
  return s == RequestState::kDone || s == RequestState::kFailed || s == RequestState::kSuperseded;
}

// Results and states older than this many ids are forgotten.
constexpr uint64_t kKeepIds = 256;

}  // namespace

ModelImagePtr model_image(at::Tensor pixels) {
  if (!pixels.defined()) return nullptr;
  return std::make_shared<const ModelImage>(ModelImage{std::move(pixels)});
}

at::Tensor attention_tensor(const AttentionPatterns& patterns) {
  if (!patterns.defined()) return at::Tensor();
  const int64_t n = patterns.layers * patterns.heads * patterns.queries * patterns.patches;
  check(static_cast<int64_t>(patterns.values.size()) == n, "attention patterns: {} values for shape [{}, {}, {}, {}]",
        patterns.values.size(), patterns.layers, patterns.heads, patterns.queries, patterns.patches);
  auto out = torch::empty({patterns.layers, patterns.heads, patterns.queries, patterns.patches}, torch::kFloat32);
  std::copy(patterns.values.begin(), patterns.values.end(), out.data_ptr<float>());
  return out;
}

LiveQueryService::LiveQueryService(LiveServiceConfig config)
    : config_(std::make_unique<const LiveServiceConfig>(std::move(config))) {
  check(config_->model != nullptr, "live query service: no model given");
  check(config_->eval.batch_size > 0, "live query service: eval.batch_size must be positive, got {}",
        config_->eval.batch_size);
  check(config_->max_reeval_items > 0, "live query service: max_reeval_items must be positive, got {}",
        config_->max_reeval_items);
  // Validates the answer tokens now rather than on the first query.
  const auto vocab = config_->model->config().text.vocab_size;
  check(!config_->answers.yes.empty() && !config_->answers.no.empty(), "live query service: empty answer tokens");
  for (const auto* list : {&config_->answers.yes, &config_->answers.no}) {
    for (int64_t id : *list) {
      check(id >= 0 && id < vocab, "live query service: answer token {} is outside the vocabulary [0, {})", id, vocab);
    }
  }
  // A new thread starts with OpenMP's default thread count, not the caller's setting.
  threads_ = at::get_num_threads();
  pool_ = std::make_shared<Pool>();
  thread_ = std::thread([this] { worker(); });
}

LiveQueryService::~LiveQueryService() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    if (pending_live_) set_state(pending_live_->first, RequestState::kSuperseded);
    if (pending_reeval_) set_state(pending_reeval_->first, RequestState::kSuperseded);
    pending_live_.reset();
    pending_reeval_.reset();
    if (running_reeval_) running_reeval_->cancel();
  }
  wake_.notify_all();
  done_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LiveQueryService::set_state(uint64_t id, RequestState state) {
  states_[id] = state;
  if (!terminal(state) || next_id_ <= kKeepIds) return;
  const uint64_t oldest = next_id_ - kKeepIds;
  for (auto it = states_.begin(); it != states_.end() && it->first < oldest;) {
    it = terminal(it->second) ? states_.erase(it) : std::next(it);
  }
  live_results_.erase(live_results_.begin(), live_results_.lower_bound(oldest));
  reeval_results_.erase(reeval_results_.begin(), reeval_results_.lower_bound(oldest));
}

void LiveQueryService::set_items(std::vector<YesNoItem> items, ItemImages images) {
  auto pool = std::make_shared<Pool>();
  pool->baseline.resize(items.size());
  pool->items = std::move(items);
  pool->images = std::move(images);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pool_ = std::move(pool);
    if (pending_reeval_) set_state(pending_reeval_->first, RequestState::kSuperseded);
    pending_reeval_.reset();
    if (running_reeval_) running_reeval_->cancel();
  }
  done_.notify_all();
}

uint64_t LiveQueryService::submit(LiveQuery query) {
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    id = next_id_++;
    if (pending_live_) set_state(pending_live_->first, RequestState::kSuperseded);
    pending_live_.emplace(id, std::move(query));
    set_state(id, RequestState::kPending);
  }
  wake_.notify_all();
  done_.notify_all();
  return id;
}

uint64_t LiveQueryService::submit(ReevalQuery query) {
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    id = next_id_++;
    if (pending_reeval_) set_state(pending_reeval_->first, RequestState::kSuperseded);
    pending_reeval_.emplace(id, std::move(query));
    set_state(id, RequestState::kPending);
    if (running_reeval_) running_reeval_->cancel();
  }
  wake_.notify_all();
  done_.notify_all();
  return id;
}

RequestState LiveQueryService::state(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = states_.find(id);
  return it == states_.end() ? RequestState::kUnknown : it->second;
}

std::shared_ptr<const LiveResult> LiveQueryService::live_result() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return latest_live_;
}

std::shared_ptr<const ReevalResult> LiveQueryService::reeval_result() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return latest_reeval_;
}

std::shared_ptr<const LiveResult> LiveQueryService::wait_live(uint64_t id, double timeout_s) {
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait_for(lock, std::chrono::duration<double>(timeout_s), [&] {
    const auto it = states_.find(id);
    return it == states_.end() || terminal(it->second);
  });
  const auto it = live_results_.find(id);
  return it == live_results_.end() ? nullptr : it->second;
}

std::shared_ptr<const ReevalResult> LiveQueryService::wait_reeval(uint64_t id, double timeout_s) {
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait_for(lock, std::chrono::duration<double>(timeout_s), [&] {
    const auto it = states_.find(id);
    return it == states_.end() || terminal(it->second);
  });
  const auto it = reeval_results_.find(id);
  return it == reeval_results_.end() ? nullptr : it->second;
}

double LiveQueryService::reeval_fraction() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_reeval_ ? std::max(0.0, running_reeval_->fraction()) : -1.0;
}

void LiveQueryService::cancel_reeval() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (pending_reeval_) set_state(pending_reeval_->first, RequestState::kSuperseded);
    pending_reeval_.reset();
    if (running_reeval_) running_reeval_->cancel();
  }
  done_.notify_all();
}

void LiveQueryService::pause() {
  std::lock_guard<std::mutex> lock(mutex_);
  paused_ = true;
}

void LiveQueryService::resume() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    paused_ = false;
  }
  wake_.notify_all();
}

// ---------------------------------------------------------------- one live query

LiveResult LiveQueryService::run_live(const LiveQuery& query) const {
  const auto t0 = Clock::now();
  const VisionLanguageModel& model = *config_->model;
  const auto& ids = query.prompt_ids;
  check(!ids.empty(), "live query: empty prompt");
  // The image's pixels; undefined for a text-only prompt.
  const at::Tensor pixels = query.image ? query.image->pixels : at::Tensor();
  const auto markers = std::count(ids.begin(), ids.end(), kImageTokenIndex);
  check(markers == (pixels.defined() ? 1 : 0), "live query: {} image markers in the prompt but {} image",
        markers, pixels.defined() ? "an" : "no");
  check(query.top_k >= 1, "live query: top_k must be >= 1, got {}", query.top_k);
  torch::NoGradGuard guard;
  // One image encoding serves both rows.
  PreparedBatch batch;
  if (pixels.defined()) {
    const auto px = pixels.dim() == 3 ? pixels.unsqueeze(0) : pixels;
    check(px.dim() == 4 && px.size(0) == 1, "live query: pixels must be [3, S, S] or [1, 3, S, S], got {}",
          c10::str(pixels.sizes()));
    const auto tokens = model.encode_images(px);  // (1, P, D)
    batch = prepare_with_image_tokens(model, {ids, ids}, torch::cat({tokens, tokens}, 0));
  } else {
    batch = model.prepare(BatchInput{{ids, ids}, {}});
  }
  ForwardRequest request;
  request.logits = LogitsMode::kLast;
  std::vector<std::string> watch_hooks;
  for (const auto& f : query.watch) {
    const auto it = config_->resources.saes.find(f.layer);
    check(it != config_->resources.saes.end() && it->second, "live query: watched feature L{} F{} has no SAE", f.layer,
          f.feature);
    check(f.feature >= 0 && f.feature < it->second->d_sae(), "live query: watched feature {} is outside layer {}'s [0, {})",
          f.feature, f.layer, it->second->d_sae());
    watch_hooks.push_back(sae_hook(*it->second, f.layer));
    request.capture.insert(watch_hooks.back());
  }
  add_interventions(request, query.interventions, config_->resources, model, {1});
  // Attention onto the image keys, row 0 only: [H, Q, P] per layer, copied out by a
  // read-only edit (it returns the pattern unchanged).
  std::vector<at::Tensor> attention;
  int64_t first = -1, n_image = 0;
  if (query.attention) {
    check(pixels.defined(), "live query: attention patterns were asked for but the prompt has no image");
    const int64_t offset = batch.image_offsets.at(0);
    n_image = model.image_tokens();
    first = offset + n_image;
    const int64_t q_rows = batch.lengths.at(0) - first;
    attention.resize(static_cast<size_t>(model.num_layers()));
    for (int layer = 0; layer < model.num_layers(); ++layer) {
      auto* slot = &attention[static_cast<size_t>(layer)];
      request.edits[hook_name({HookSite::kPattern, layer})].push_back(
          [slot, offset, first, q_rows, n_image](const at::Tensor& pattern, const HookContext&) {
            // pattern (B, H, T, T) -> (H, Q, P)
            *slot = pattern[0].narrow(1, first, q_rows).narrow(2, offset, n_image).to(torch::kCPU, torch::kFloat32);
            return pattern;
          });
    }
  }
  const auto out = model.forward(batch, request);
  const auto probs = torch::softmax(out.logits.to(torch::kFloat32), 1).to(torch::kCPU);  // (2, V)
  const auto yes = torch::tensor(config_->answers.yes, torch::kInt64);
  const auto no = torch::tensor(config_->answers.no, torch::kInt64);
  const int64_t k = std::min<int64_t>(query.top_k, probs.size(1));
  const auto text_of = [&](int64_t id) {
    return config_->token_text ? config_->token_text(id) : "<" + std::to_string(id) + ">";
  };
  const auto text_mask = batch.token_types.eq(kTokenText);  // (2, T)
  LiveResult result;
  for (int64_t row = 0; row < 2; ++row) {
    LiveAnswer& a = row == 0 ? result.baseline : result.intervened;
    const auto p = probs[row];
    const auto [top_p, top_i] = p.topk(k);
    for (int64_t j = 0; j < k; ++j) {
      const int64_t id = top_i[j].item<int64_t>();
      a.top.push_back({id, text_of(id), top_p[j].item<double>()});
    }
    a.answer_id = a.top.front().id;
    a.answer_text = a.top.front().text;
    a.p_yes = p.index_select(0, yes).sum().item<double>();
    a.p_no = p.index_select(0, no).sum().item<double>();
    const double mass = a.p_yes + a.p_no;
    a.p_yes_normalised = mass > 0 ? a.p_yes / mass : 0.5;
    // Each watched layer's SAE runs once per row, on that row's text positions.
    std::map<std::string, at::Tensor> h_by_hook;
    for (size_t w = 0; w < query.watch.size(); ++w) {
      const auto& f = query.watch[w];
      auto& h = h_by_hook[watch_hooks[w]];
      if (!h.defined()) {
        const auto x = out.at(watch_hooks[w])[row].index({text_mask[row]});  // (n_text, D)
        h = x.size(0) > 0 ? config_->resources.saes.at(f.layer)->encode(x) : at::Tensor();
      }
      a.watch_max.push_back(h.defined() && h.size(0) > 0 ? h.select(1, f.feature).max().item<double>() : 0.0);
    }
  }
  if (query.attention) {
    const auto stacked = torch::stack(attention, 0).to(torch::kCPU, torch::kFloat32).contiguous();  // (L, H, Q, P)
    AttentionPatterns& a = result.attention;
    a.layers = stacked.size(0);
    a.heads = stacked.size(1);
    a.queries = stacked.size(2);
    a.patches = stacked.size(3);
    a.values.assign(stacked.data_ptr<float>(), stacked.data_ptr<float>() + stacked.numel());
    result.attention_first = first;
  }
  result.seconds = seconds_since(t0);
  return result;
}

// ---------------------------------------------------------------- worker

void LiveQueryService::run_pending_live(std::unique_lock<std::mutex>& lock) {
  auto [id, query] = std::move(*pending_live_);
  pending_live_.reset();
  set_state(id, RequestState::kRunning);
  lock.unlock();
  auto result = std::make_shared<LiveResult>();
  RequestState final_state = RequestState::kDone;
  try {
    *result = run_live(query);
  } catch (const std::exception& e) {
    *result = LiveResult{};
    result->error = e.what();
    final_state = RequestState::kFailed;
  }
  result->id = id;
  lock.lock();
  live_results_[id] = result;
  latest_live_ = result;
  set_state(id, final_state);
  done_.notify_all();
}

ReevalResult LiveQueryService::run_reeval(const ReevalQuery& query, const std::shared_ptr<Pool>& pool_ptr,
                                          Progress& progress) {
  const auto t0 = Clock::now();
  Pool& pool = *pool_ptr;
  const VisionLanguageModel& model = *config_->model;
  const auto n_pool = static_cast<int64_t>(pool.items.size());
  const auto n = static_cast<int64_t>(query.items.size());
  check(n > 0, "re-evaluation: no items given");
  check(n <= config_->max_reeval_items, "re-evaluation: {} items requested, at most {}", n, config_->max_reeval_items);
  for (int64_t i : query.items) {
    check(i >= 0 && i < n_pool, "re-evaluation: item {} is outside the pool of {}", i, n_pool);
  }
  torch::NoGradGuard guard;
  // Between forward passes: a waiting live query goes first, then the cancel check.
  auto between_batches = [&] {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (pending_live_ && !paused_ && !stop_) run_pending_live(lock);
    }
    progress.check_cancel();
  };

  // Image tokens of the pool images the query uses, from the cache when there.
  std::set<int64_t> distinct;
  for (int64_t i : query.items) {
    const int64_t img = pool.items[static_cast<size_t>(i)].image;
    if (img >= 0) distinct.insert(img);
  }
  std::map<int64_t, int64_t> local;  // pool image -> row of `tokens`
  at::Tensor tokens;
  if (!distinct.empty()) {
    check(pool.images.count() > *distinct.rbegin(), "re-evaluation: item image {} is outside the pool's {} images",
          *distinct.rbegin(), pool.images.count());
    std::vector<int64_t> list(distinct.begin(), distinct.end());
    for (size_t j = 0; j < list.size(); ++j) local[list[j]] = static_cast<int64_t>(j);
    if (pool.images.tokens.defined()) {
      tokens = pool.images.tokens.index_select(
          0, torch::tensor(list, torch::kInt64).to(pool.images.tokens.device()));
    } else {
      std::vector<int64_t> missing;
      for (int64_t img : list) {
        if (!pool.image_tokens.count(img)) missing.push_back(img);
      }
      std::map<int64_t, at::Tensor> fresh;
      const auto bs = static_cast<size_t>(config_->eval.batch_size);
      for (size_t s = 0; s < missing.size(); s += bs) {
        between_batches();
        const std::vector<int64_t> chunk(missing.begin() + static_cast<std::ptrdiff_t>(s),
                                         missing.begin() + static_cast<std::ptrdiff_t>(std::min(missing.size(), s + bs)));
        const auto px = pool.images.pixels.index_select(
            0, torch::tensor(chunk, torch::kInt64).to(pool.images.pixels.device()));
        const auto enc = model.encode_images(px);  // (n, P, D)
        for (size_t j = 0; j < chunk.size(); ++j) fresh[chunk[j]] = enc[static_cast<int64_t>(j)];
      }
      if (!fresh.empty()) {
        const int64_t per_image = fresh.begin()->second.numel() * fresh.begin()->second.element_size();
        const int64_t add = per_image * static_cast<int64_t>(fresh.size());
        if (pool.cached_bytes + add > config_->image_cache_bytes) {  // simplest eviction: start over
          pool.image_tokens.clear();
          pool.cached_bytes = 0;
        }
        if (add <= config_->image_cache_bytes) {
          for (const auto& [img, t] : fresh) pool.image_tokens[img] = t;
          pool.cached_bytes += add;
        }
      }
      std::vector<at::Tensor> rows;
      for (int64_t img : list) rows.push_back(fresh.count(img) ? fresh.at(img) : pool.image_tokens.at(img));
      tokens = torch::stack(rows, 0);
    }
  }
  ItemImages images;
  images.tokens = tokens;
  auto local_item = [&](int64_t i) {
    YesNoItem item = pool.items[static_cast<size_t>(i)];
    if (item.image >= 0) item.image = local.at(item.image);
    return item;
  };

  // Scores pool items `which` under `set`, one forward pass at a time, in length order.
  EvalOptions eval = config_->eval;
  eval.begin_progress = false;
  auto score = [&](std::vector<int64_t> which, const InterventionSet& set) {
    std::stable_sort(which.begin(), which.end(), [&](int64_t a, int64_t b) {
      return pool.items[static_cast<size_t>(a)].prompt_ids.size() < pool.items[static_cast<size_t>(b)].prompt_ids.size();
    });
    std::map<int64_t, ItemScore> out;
    const auto bs = static_cast<size_t>(eval.batch_size);
    for (size_t s = 0; s < which.size(); s += bs) {
      between_batches();
      std::vector<YesNoItem> chunk;
      const size_t e = std::min(which.size(), s + bs);
      for (size_t j = s; j < e; ++j) chunk.push_back(local_item(which[j]));
      const auto scores = score_yes_no(model, chunk, images, set, config_->resources, config_->answers, eval, progress);
      for (size_t j = s; j < e; ++j) out[which[j]] = scores[j - s];
    }
    return out;
  };

  std::vector<int64_t> missing_base;
  for (int64_t i : std::set<int64_t>(query.items.begin(), query.items.end())) {
    if (!pool.baseline[static_cast<size_t>(i)]) missing_base.push_back(i);
  }
  const bool intervene = !query.interventions.empty();
  progress.begin("re-evaluate", static_cast<int64_t>(missing_base.size()) + (intervene ? n : 0));
  for (const auto& [i, s] : score(missing_base, InterventionSet{})) pool.baseline[static_cast<size_t>(i)] = s;

  ReevalResult result;
  for (int64_t i : query.items) result.baseline.push_back(*pool.baseline[static_cast<size_t>(i)]);
  if (intervene) {
    const auto scored = score(std::vector<int64_t>(query.items.begin(), query.items.end()), query.interventions);
    for (int64_t i : query.items) result.intervened.push_back(scored.at(i));
  } else {
    result.intervened = result.baseline;
  }
  result.delta = compare(result.baseline, result.intervened);
  result.seconds = seconds_since(t0);
  return result;
}

void LiveQueryService::worker() {
  at::set_num_threads(threads_);
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stop_ || (!paused_ && (pending_live_ || pending_reeval_)); });
    if (stop_) break;
    if (pending_live_) {
      run_pending_live(lock);
      continue;
    }
    auto [id, query] = std::move(*pending_reeval_);
    pending_reeval_.reset();
    auto progress = std::make_shared<Progress>();
    running_reeval_ = progress;
    const auto pool = pool_;
    set_state(id, RequestState::kRunning);
    lock.unlock();
    auto result = std::make_shared<ReevalResult>();
    RequestState final_state = RequestState::kDone;
    try {
      *result = run_reeval(query, pool, *progress);
    } catch (const Cancelled&) {
      result.reset();
      final_state = RequestState::kSuperseded;
    } catch (const std::exception& e) {
      *result = ReevalResult{};
      result->error = e.what();
      final_state = RequestState::kFailed;
    }
    lock.lock();
    running_reeval_.reset();
    if (result) {
      result->id = id;
      reeval_results_[id] = result;
      latest_reeval_ = result;
    }
    set_state(id, final_state);
    done_.notify_all();
  }
}

}  // namespace sightline
