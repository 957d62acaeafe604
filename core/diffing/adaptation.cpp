#include "core/diffing/adaptation.h"

#include <ATen/Parallel.h>
#include <torch/types.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

#include "core/common/error.h"
#include "core/diffing/selection.h"

namespace sightline {

namespace {

// Residual rows of one forward batch for every layer of a pass: only text and image
// positions (BOS and padding dropped up front).
struct ResidualChunk {
  std::vector<at::Tensor> x;  // per pass layer [rows, D]
  at::Tensor types;           // [rows] int8 TokenType
};

using ChunkPtr = std::shared_ptr<const ResidualChunk>;

// One producer, many consumers that each read every chunk in order. A chunk is dropped
// once every consumer still reading has passed it; the producer waits while `capacity`
// chunks are held.
class Broadcast {
 public:
  Broadcast(size_t consumers, size_t capacity) : next_(consumers, 0), active_(consumers, true), capacity_(capacity) {}

  // Whether anyone still reads: false when aborted or every consumer has left.
  bool wanted() {
    std::lock_guard<std::mutex> lock(mutex_);
    return !aborted_ && active_count_locked() > 0;
  }
  // Appends a chunk once there is room; false when aborted or nobody reads any more (the
  // producer should stop).
  bool push(ChunkPtr chunk) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return aborted_ || chunks_.size() < capacity_ || active_count_locked() == 0; });
    if (aborted_ || active_count_locked() == 0) return false;
    chunks_.push_back(std::move(chunk));
    cv_.notify_all();
    return true;
  }
  void finish() {
    std::lock_guard<std::mutex> lock(mutex_);
    finished_ = true;
    cv_.notify_all();
  }
  void abort() {
    std::lock_guard<std::mutex> lock(mutex_);
    aborted_ = true;
    cv_.notify_all();
  }
  // The consumer's next chunk, nullptr at the end of the stream; throws Cancelled once
  // aborted.
  ChunkPtr next(size_t c) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return aborted_ || finished_ || next_[c] < base_ + static_cast<int64_t>(chunks_.size()); });
    if (aborted_) throw Cancelled();
    if (next_[c] >= base_ + static_cast<int64_t>(chunks_.size())) return nullptr;
    ChunkPtr chunk = chunks_[static_cast<size_t>(next_[c] - base_)];
    ++next_[c];
    trim_locked();
    cv_.notify_all();
    return chunk;
  }
  // The consumer reads no more (finished or failed).
  void leave(size_t c) {
    std::lock_guard<std::mutex> lock(mutex_);
    active_[c] = false;
    trim_locked();
    cv_.notify_all();
  }

 private:
  size_t active_count_locked() const { return static_cast<size_t>(std::count(active_.begin(), active_.end(), true)); }
  void trim_locked() {
    while (!chunks_.empty()) {
      bool all_past = true;
      for (size_t c = 0; c < next_.size(); ++c) all_past = all_past && (!active_[c] || next_[c] > base_);
      if (!all_past) break;
      chunks_.pop_front();
      ++base_;
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<ChunkPtr> chunks_;
  int64_t base_ = 0;  // stream index of chunks_.front()
  std::vector<int64_t> next_;
  std::vector<bool> active_;
  size_t capacity_;
  bool finished_ = false;
  bool aborted_ = false;
};

// One forward batch's kept residual rows for the pass's layers.
ResidualChunk residual_chunk(const VisionLanguageModel& model, const PromptDataset& dataset, int64_t first,
                             int64_t count, const std::vector<int>& layers, const ForwardRequest& request) {
  const int64_t D = model.config().text.hidden_size;
  const auto prepared = model.prepare(make_prompt_batch(dataset, first, count));
  const auto out = model.forward(prepared, request);
  const auto types = prepared.token_types.reshape({-1});
  const auto keep = position_mask(types, Positions::kAll).nonzero().reshape({-1});
  ResidualChunk chunk;
  chunk.types = types.index_select(0, keep).cpu();
  for (int l : layers) chunk.x.push_back(out.at(residual_hook(l)).reshape({-1, D}).index_select(0, keep).contiguous());
  return chunk;
}

int64_t resolve_k(const Sae& base, int64_t k) {
  if (k > 0) return k;
  return base.variant() == SaeVariant::TopK ? base.config().k : std::min<int64_t>(50, base.d_sae());
}

// Everything one trainer thread owns.
struct Trainer {
  int layer = 0;
  size_t layer_index = 0;  // within the pass
  Regime regime = Regime::kFull;
  std::unique_ptr<Sae> sae;
  SaeTrainOptions train;
  Progress progress;  // train_sae's own; cancelled when the pass aborts
  SaeTrainStats stats;
  AdaptEvalPoint last_eval;
  std::exception_ptr error;
  std::atomic<bool> finished{false};
};

}  // namespace

Sae initial_sae(const Sae& base, Regime regime, int64_t k, uint64_t seed) {
  Sae warm = base.as_variant(SaeVariant::TopK, resolve_k(base, k));
  if (regime_warm_start(regime)) return warm;
  SaeConfig cfg = warm.config();
  cfg.source = fmt::format("random init (seed {})", seed);
  torch::manual_seed(static_cast<uint64_t>(seed));
  Sae fresh(cfg);
  fresh.to(base.device(), base.dtype());
  return fresh;
}

void adapt_saes(const VisionLanguageModel& model, const std::vector<LayerSae>& base, const PromptDataset& train,
                const PromptDataset& heldout, const AdaptOptions& options, Progress& progress,
                const AdaptCallbacks& callbacks) {
  check(!base.empty(), "SAE adaptation: no layers given");
  check(!options.regimes.empty(), "SAE adaptation: no regimes given");
  check(options.epochs > 0, "SAE adaptation: epochs must be positive, got {}", options.epochs);
  check(options.train_tokens >= 0, "SAE adaptation: train_tokens must be >= 0, got {}", options.train_tokens);
  check(options.batch_size > 0, "SAE adaptation: batch_size must be positive, got {}", options.batch_size);
  check(options.queue_batches > 0, "SAE adaptation: queue_batches must be positive, got {}", options.queue_batches);
  check(options.layers_per_pass >= 0, "SAE adaptation: layers_per_pass must be >= 0, got {}", options.layers_per_pass);
  const int64_t D = model.config().text.hidden_size;
  for (const auto& ls : base) {
    check(ls.sae != nullptr, "SAE adaptation: layer {} has no base SAE", ls.layer);
    check(ls.layer >= 0 && ls.layer < model.num_layers(), "SAE adaptation: layer {} is outside the model's {}",
          ls.layer, model.num_layers());
    check(ls.sae->d_model() == D, "SAE adaptation: the base SAE of layer {} ('{}') has d_model {}, the model {}",
          ls.layer, ls.sae->config().source, ls.sae->d_model(), D);
  }
  // Positions per regime over the training items (for the learning-rate decay and progress).
  const int64_t bos = model.config().text.bos_token_id;
  PositionCounts train_counts;
  for (int64_t i = 0; i < train.size(); ++i) {
    const auto c = count_positions(train.item(i), bos, model.image_tokens());
    train_counts.text += c.text;
    train_counts.image += c.image;
  }
  auto positions_per_epoch = [&](Regime r) {
    switch (regime_positions(r)) {
      case Positions::kText: return train_counts.text;
      case Positions::kImage: return train_counts.image;
      case Positions::kAll: return train_counts.text + train_counts.image;
    }
    return int64_t{0};
  };
  for (Regime r : options.regimes) {
    check(positions_per_epoch(r) > 0, "SAE adaptation: the training items ({}) have no {} positions for regime '{}'",
          train.name(), to_string(regime_positions(r)), to_string(r));
  }
  auto regime_tokens = [&](Regime r) {
    return options.train_tokens > 0 ? options.train_tokens : positions_per_epoch(r) * options.epochs;
  };

  const size_t per_pass = options.layers_per_pass > 0 ? static_cast<size_t>(options.layers_per_pass) : base.size();
  for (size_t pass_first = 0; pass_first < base.size(); pass_first += per_pass) {
    const size_t pass_end = std::min(base.size(), pass_first + per_pass);
    std::vector<int> layers;
    for (size_t i = pass_first; i < pass_end; ++i) layers.push_back(base[i].layer);
    const ForwardRequest request = residual_request(layers);
    const std::string pass_label =
        layers.size() == 1 ? fmt::format("L{}", layers[0]) : fmt::format("L{}-L{}", layers.front(), layers.back());

    // Held-out residuals, computed once per pass.
    std::vector<ResidualChunk> held;
    {
      torch::NoGradGuard no_grad;
      progress.begin("held-out activations " + pass_label, heldout.size());
      for (int64_t first = 0; first < heldout.size(); first += options.batch_size) {
        progress.check_cancel();
        const int64_t count = std::min(options.batch_size, heldout.size() - first);
        held.push_back(residual_chunk(model, heldout, first, count, layers, request));
        progress.tick(count);
      }
    }

    // Trainers: one per (layer, regime), created here so the random inits draw from
    // torch's global RNG in a fixed order.
    std::vector<std::unique_ptr<Trainer>> trainers;
    int64_t total_tokens = 0;
    for (size_t li = 0; li < layers.size(); ++li) {
      const Sae& b = *base[pass_first + li].sae;
      for (Regime r : options.regimes) {
        auto t = std::make_unique<Trainer>();
        t->layer = layers[li];
        t->layer_index = li;
        t->regime = r;
        t->sae = std::make_unique<Sae>(
            initial_sae(b, r, options.k, options.seed * 1000 + static_cast<uint64_t>(layers[li])));
        t->train = options.train;
        t->train.total_tokens = regime_tokens(r);
        t->train.init_b_dec_to_mean = options.train.init_b_dec_to_mean || !regime_warm_start(r);
        t->train.seed = options.train.seed + static_cast<uint64_t>(layers[li]) * 16 + static_cast<uint64_t>(r);
        total_tokens += t->train.total_tokens;
        trainers.push_back(std::move(t));
      }
    }

    Broadcast broadcast(trainers.size(), static_cast<size_t>(options.queue_batches));
    std::mutex eval_mutex;
    std::vector<AdaptEvalPoint> pending_evals;
    auto run_trainer = [&](size_t index) {
      at::init_num_threads();  // OpenMP settings are per thread: take the process's
      Trainer& t = *trainers[index];
      const Positions positions = regime_positions(t.regime);
      try {
        // Rows of the regime still to hand out: the trainer sees exactly its budget.
        int64_t remaining = t.train.total_tokens;
        ActivationStream stream = [&](ActivationBatch& batch) {
          if (remaining <= 0) return false;
          const ChunkPtr chunk = broadcast.next(index);
          if (!chunk) return false;
          auto mask = position_mask(chunk->types, positions);
          const int64_t rows = mask.sum().item<int64_t>();
          if (rows > remaining) mask = mask & (mask.cumsum(0) <= remaining);
          remaining -= std::min(rows, remaining);
          batch.x = chunk->x[t.layer_index];
          batch.mask = mask.to(batch.x.device());
          return true;
        };
        auto on_eval = [&](const Sae& sae, const SaeTrainStats& s) {
          size_t next_chunk = 0;
          ActivationStream held_stream = [&](ActivationBatch& batch) {
            if (next_chunk >= held.size()) return false;
            const auto& c = held[next_chunk++];
            batch.x = c.x[t.layer_index];
            batch.mask = position_mask(c.types, positions).to(batch.x.device());
            return true;
          };
          const SaeEval e = evaluate(sae, held_stream);
          double fvu_text = e.fvu;
          if (positions != Positions::kText) {
            next_chunk = 0;
            ActivationStream text_stream = [&](ActivationBatch& batch) {
              if (next_chunk >= held.size()) return false;
              const auto& c = held[next_chunk++];
              batch.x = c.x[t.layer_index];
              batch.mask = position_mask(c.types, Positions::kText).to(batch.x.device());
              return true;
            };
            fvu_text = evaluate(sae, text_stream).fvu;
          }
          AdaptEvalPoint p;
          p.layer = t.layer;
          p.regime = t.regime;
          p.step = s.steps;
          p.tokens = s.tokens;
          p.fvu = e.fvu;
          p.fvu_text = fvu_text;
          p.l0 = e.l0;
          p.mse = e.mse;
          p.dead_fraction = e.dead_fraction;
          p.train_mse = s.mse;
          p.rows = e.rows;
          t.last_eval = p;
          std::lock_guard<std::mutex> lock(eval_mutex);
          pending_evals.push_back(p);
        };
        t.stats = train_sae(*t.sae, stream, t.train, t.progress, on_eval);
      } catch (...) {
        t.error = std::current_exception();
        broadcast.abort();
        for (auto& other : trainers) other->progress.cancel();
      }
      broadcast.leave(index);
      t.finished.store(true);
    };

    auto flush_evals = [&] {
      std::vector<AdaptEvalPoint> points;
      {
        std::lock_guard<std::mutex> lock(eval_mutex);
        points.swap(pending_evals);
      }
      if (!points.empty() && callbacks.on_eval) callbacks.on_eval(points);
    };
    auto report_progress = [&] {
      int64_t done = 0;
      for (const auto& t : trainers) done += t->progress.done();
      progress.set_done(done);
    };

    std::vector<std::thread> threads;
    // Stops and joins the trainers however this scope is left (after a normal end they
    // are already joined and the abort reaches nobody).
    struct JoinGuard {
      Broadcast& broadcast;
      std::vector<std::thread>& threads;
      std::vector<std::unique_ptr<Trainer>>& trainers;
      ~JoinGuard() {
        broadcast.abort();
        for (auto& t : trainers) t->progress.cancel();
        for (auto& th : threads)
          if (th.joinable()) th.join();
      }
    } guard{broadcast, threads, trainers};

    progress.begin("adapt SAEs " + pass_label, total_tokens);
    for (size_t i = 0; i < trainers.size(); ++i) threads.emplace_back(run_trainer, i);
    {
      torch::NoGradGuard no_grad;
      // Passes over the items until every trainer has its budget (a token budget may
      // take several; an epoch budget takes exactly `epochs`).
      bool more = true;
      for (int64_t epoch = 0; more && (options.train_tokens > 0 || epoch < options.epochs); ++epoch) {
        for (int64_t first = 0; more && first < train.size(); first += options.batch_size) {
          progress.check_cancel();
          if (!broadcast.wanted()) {
            more = false;
            break;
          }
          const int64_t count = std::min(options.batch_size, train.size() - first);
          auto chunk = std::make_shared<ResidualChunk>(residual_chunk(model, train, first, count, layers, request));
          more = broadcast.push(std::move(chunk));
          flush_evals();
          report_progress();
        }
      }
    }
    broadcast.finish();
    // Wait for the trainers to drain their buffers, passing on evaluations meanwhile.
    while (true) {
      bool all_done = true;
      for (const auto& t : trainers) all_done = all_done && t->finished.load();
      if (all_done) break;
      if (progress.cancelled()) {
        broadcast.abort();
        for (auto& t : trainers) t->progress.cancel();
      }
      flush_evals();
      report_progress();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (auto& th : threads) th.join();
    flush_evals();
    report_progress();

    // A real error beats the Cancelled it caused in the other trainers.
    std::exception_ptr first_error, cancelled;
    for (const auto& t : trainers) {
      if (!t->error) continue;
      try {
        std::rethrow_exception(t->error);
      } catch (const Cancelled&) {
        if (!cancelled) cancelled = t->error;
      } catch (...) {
        if (!first_error) first_error = t->error;
      }
    }
    if (first_error) std::rethrow_exception(first_error);
    progress.check_cancel();
    if (cancelled) std::rethrow_exception(cancelled);

    for (auto& t : trainers) {
      AdaptOutcome outcome(std::move(*t->sae));
      outcome.layer = t->layer;
      outcome.regime = t->regime;
      outcome.stats = t->stats;
      outcome.final_eval = t->last_eval;
      outcome.decoder_cosine = decoder_cosine(*base[pass_first + t->layer_index].sae, outcome.sae);
      outcome.mean_decoder_cosine = finite_mean(outcome.decoder_cosine);
      if (callbacks.on_done) callbacks.on_done(outcome);
    }
  }
}

}  // namespace sightline
