#include "core/sae/trainer.h"

#include <torch/types.h>  // first: clip_grad.h assumes it
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adam.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "core/common/error.h"
#include "core/io/json_util.h"
#include "core/sae/tensor_util.h"

namespace sightline {

using sae_detail::shape_string;

nlohmann::json to_json(const SaeTrainOptions& o) {
  return {{"batch_size", o.batch_size},
          {"lr", o.lr},
          {"warmup_steps", o.warmup_steps},
          {"total_tokens", o.total_tokens},
          {"decay_fraction", o.decay_fraction},
          {"final_lr_fraction", o.final_lr_fraction},
          {"adam_beta1", o.adam_beta1},
          {"adam_beta2", o.adam_beta2},
          {"adam_eps", o.adam_eps},
          {"max_grad_norm", o.max_grad_norm},
          {"shuffle_buffer_mb", o.shuffle_buffer_mb},
          {"eval_every_tokens", o.eval_every_tokens},
          {"dead_window_tokens", o.dead_window_tokens},
          {"aux_k", o.aux_k},
          {"aux_k_coefficient", o.aux_k_coefficient},
          {"init_b_dec_to_mean", o.init_b_dec_to_mean},
          {"seed", o.seed}};
}

namespace {

void validate(const SaeTrainOptions& o, const std::string& where) {
  check(o.batch_size > 0, "file '{}': field 'batch_size' must be positive, got {}", where, o.batch_size);
  check(o.lr > 0 && std::isfinite(o.lr), "file '{}': field 'lr' must be a positive number, got {}", where, o.lr);
  check(o.warmup_steps >= 0, "file '{}': field 'warmup_steps' must be >= 0, got {}", where, o.warmup_steps);
  check(o.total_tokens >= 0, "file '{}': field 'total_tokens' must be >= 0, got {}", where, o.total_tokens);
  check(o.decay_fraction >= 0 && o.decay_fraction <= 1, "file '{}': field 'decay_fraction' must be in [0, 1], got {}",
        where, o.decay_fraction);
  check(o.final_lr_fraction >= 0 && o.final_lr_fraction <= 1,
        "file '{}': field 'final_lr_fraction' must be in [0, 1], got {}", where, o.final_lr_fraction);
  check(o.adam_beta1 >= 0 && o.adam_beta1 < 1, "file '{}': field 'adam_beta1' must be in [0, 1), got {}", where,
        o.adam_beta1);
  check(o.adam_beta2 >= 0 && o.adam_beta2 < 1, "file '{}': field 'adam_beta2' must be in [0, 1), got {}", where,
        o.adam_beta2);
  check(o.adam_eps > 0, "file '{}': field 'adam_eps' must be positive, got {}", where, o.adam_eps);
  check(o.max_grad_norm >= 0, "file '{}': field 'max_grad_norm' must be >= 0, got {}", where, o.max_grad_norm);
  check(o.shuffle_buffer_mb > 0, "file '{}': field 'shuffle_buffer_mb' must be positive, got {}", where,
        o.shuffle_buffer_mb);
  check(o.eval_every_tokens >= 0, "file '{}': field 'eval_every_tokens' must be >= 0, got {}", where,
        o.eval_every_tokens);
  check(o.dead_window_tokens > 0, "file '{}': field 'dead_window_tokens' must be positive, got {}", where,
        o.dead_window_tokens);
  check(o.aux_k >= 0, "file '{}': field 'aux_k' must be >= 0, got {}", where, o.aux_k);
  check(o.aux_k_coefficient >= 0, "file '{}': field 'aux_k_coefficient' must be >= 0, got {}", where,
        o.aux_k_coefficient);
}

}  // namespace

SaeTrainOptions sae_train_options_from_json(const nlohmann::json& j, const std::string& where) {
  SaeTrainOptions o;
  o.batch_size = json_get_or<int64_t>(j, "batch_size", o.batch_size, where);
  o.lr = json_get_or<double>(j, "lr", o.lr, where);
  o.warmup_steps = json_get_or<int64_t>(j, "warmup_steps", o.warmup_steps, where);
  o.total_tokens = json_get_or<int64_t>(j, "total_tokens", o.total_tokens, where);
  o.decay_fraction = json_get_or<double>(j, "decay_fraction", o.decay_fraction, where);
  o.final_lr_fraction = json_get_or<double>(j, "final_lr_fraction", o.final_lr_fraction, where);
  o.adam_beta1 = json_get_or<double>(j, "adam_beta1", o.adam_beta1, where);
  o.adam_beta2 = json_get_or<double>(j, "adam_beta2", o.adam_beta2, where);
  o.adam_eps = json_get_or<double>(j, "adam_eps", o.adam_eps, where);
  o.max_grad_norm = json_get_or<double>(j, "max_grad_norm", o.max_grad_norm, where);
  o.shuffle_buffer_mb = json_get_or<double>(j, "shuffle_buffer_mb", o.shuffle_buffer_mb, where);
  o.eval_every_tokens = json_get_or<int64_t>(j, "eval_every_tokens", o.eval_every_tokens, where);
  o.dead_window_tokens = json_get_or<int64_t>(j, "dead_window_tokens", o.dead_window_tokens, where);
  o.aux_k = json_get_or<int64_t>(j, "aux_k", o.aux_k, where);
  o.aux_k_coefficient = json_get_or<double>(j, "aux_k_coefficient", o.aux_k_coefficient, where);
  o.init_b_dec_to_mean = json_get_or<bool>(j, "init_b_dec_to_mean", o.init_b_dec_to_mean, where);
  o.seed = json_get_or<uint64_t>(j, "seed", o.seed, where);
  validate(o, where);
  return o;
}

namespace {

// The masked-in rows of a stream batch as [M, D] on x's device and dtype.
at::Tensor masked_rows(const ActivationBatch& batch, int64_t d_model, int64_t index) {
  check(batch.x.defined(), "activation stream, batch {}: x is undefined", index);
  check(batch.x.is_floating_point(), "activation stream, batch {}: x must be floating point, got {}", index,
        std::string(c10::toString(batch.x.scalar_type())));
  check(batch.x.dim() >= 1 && batch.x.size(-1) == d_model,
        "activation stream, batch {}: x has shape {}, expected [..., {}] (d_model)", index,
        shape_string(batch.x.sizes()), d_model);
  const auto x = batch.x.reshape({-1, d_model});
  if (!batch.mask.defined()) return x;
  check(batch.mask.scalar_type() == torch::kBool, "activation stream, batch {}: mask must be bool, got {}", index,
        std::string(c10::toString(batch.mask.scalar_type())));
  check(batch.mask.sizes() == batch.x.sizes().slice(0, batch.x.dim() - 1),
        "activation stream, batch {}: mask has shape {}, x has shape {} (expected the mask to match x without its "
        "last dimension)",
        index, shape_string(batch.mask.sizes()), shape_string(batch.x.sizes()));
  return x.index({batch.mask.reshape({-1}).to(x.device())});
}

double scheduled_lr(const SaeTrainOptions& o, int64_t step) {
  double scale = 1.0;
  if (o.warmup_steps > 0) scale = std::min(1.0, static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps));
  if (o.total_tokens > 0 && o.decay_fraction > 0) {
    const double total_steps = std::ceil(static_cast<double>(o.total_tokens) / static_cast<double>(o.batch_size));
    const double decay_start = total_steps * (1.0 - o.decay_fraction);
    if (step >= decay_start) {
      const double f = std::min(1.0, (step - decay_start) / std::max(1.0, total_steps - decay_start));
      scale *= 1.0 - f * (1.0 - o.final_lr_fraction);
    }
  }
  return o.lr * scale;
}

// Rows from many stream batches mixed before they form minibatches. Holds at most
// `capacity` rows [capacity, D] (plus one shuffled copy while draining); when full, it
// shuffles and hands out half, so every minibatch mixes rows from several batches.
class ShuffleBuffer {
 public:
  ShuffleBuffer(int64_t capacity, int64_t d_model, const torch::TensorOptions& options, uint64_t seed)
      : rows_(torch::empty({capacity, d_model}, options)), generator_(at::detail::createCPUGenerator(seed)) {}

  int64_t capacity() const { return rows_.size(0); }
  int64_t filled() const { return filled_; }
  at::Tensor contents() const { return rows_.narrow(0, 0, filled_); }

  // Appends rows; calls drain_half() whenever the buffer fills.
  template <typename Drain>
  void add(const at::Tensor& rows, Drain&& drain_half) {
    int64_t offset = 0;
    while (offset < rows.size(0)) {
      const int64_t take = std::min(capacity() - filled_, rows.size(0) - offset);
      rows_.narrow(0, filled_, take).copy_(rows.narrow(0, offset, take));
      filled_ += take;
      offset += take;
      if (filled_ == capacity()) drain_half();
    }
  }

  // Shuffles the held rows, returns the first `count` of them and keeps the rest.
  at::Tensor take_shuffled(int64_t count) {
    count = std::min(count, filled_);
    const auto order = torch::randperm(filled_, generator_, torch::TensorOptions().dtype(torch::kInt64));
    const auto shuffled = rows_.narrow(0, 0, filled_).index_select(0, order.to(rows_.device()));
    const int64_t rest = filled_ - count;
    if (rest > 0) rows_.narrow(0, 0, rest).copy_(shuffled.narrow(0, count, rest));
    filled_ = rest;
    return shuffled.narrow(0, 0, count);
  }

 private:
  at::Tensor rows_;
  int64_t filled_ = 0;
  at::Generator generator_;
};

// Turns requires_grad off again however training ends.
struct GradScope {
  explicit GradScope(Sae& s) : sae(s) { sae.set_requires_grad(true); }
  ~GradScope() { sae.set_requires_grad(false); }
  Sae& sae;
};

}  // namespace

SaeTrainStats train_sae(Sae& sae, const ActivationStream& next, const SaeTrainOptions& options, Progress& progress,
                        const SaeEvalCallback& on_eval) {
  validate(options, "SAE training options");
  check(static_cast<bool>(next), "train_sae: the activation stream is empty (no callback)");
  const int64_t D = sae.d_model();
  const auto param_options = sae.w_enc().options().requires_grad(false);
  const int64_t row_bytes = D * static_cast<int64_t>(c10::elementSize(param_options.dtype().toScalarType()));
  const int64_t budget_rows = static_cast<int64_t>(options.shuffle_buffer_mb * 1024.0 * 1024.0 / row_bytes);
  const int64_t capacity = std::max(budget_rows, 2 * options.batch_size);
  // Hand out a whole number of minibatches each time the buffer fills.
  const int64_t half = std::max<int64_t>(1, (capacity / 2) / options.batch_size) * options.batch_size;
  ShuffleBuffer buffer(capacity, D, param_options, options.seed);

  GradScope grad_scope(sae);
  auto params = sae.parameters();
  torch::optim::Adam adam(params, torch::optim::AdamOptions(options.lr)
                                      .betas({options.adam_beta1, options.adam_beta2})
                                      .eps(options.adam_eps));
  const bool jump = sae.variant() == SaeVariant::JumpReLU;
  const bool use_aux = sae.variant() == SaeVariant::TopK && options.aux_k > 0 && options.aux_k_coefficient > 0;

  progress.begin("train SAE", options.total_tokens);
  SaeTrainStats stats;
  stats.dead_fraction = sae.dead_fraction(options.dead_window_tokens);
  auto acc_mse = torch::zeros({}, param_options.dtype(torch::kFloat64));
  auto acc_l0 = torch::zeros({}, param_options.dtype(torch::kFloat64));
  int64_t acc_rows = 0;
  bool b_dec_initialised = !options.init_b_dec_to_mean;

  auto report = [&] {
    stats.mse = acc_rows ? acc_mse.item<double>() / acc_rows : 0.0;
    stats.l0 = acc_rows ? acc_l0.item<double>() / acc_rows : 0.0;
    stats.dead_fraction = sae.dead_fraction(options.dead_window_tokens);
    acc_mse.zero_();
    acc_l0.zero_();
    acc_rows = 0;
    if (on_eval) {
      torch::NoGradGuard no_grad;
      on_eval(sae, stats);
    }
  };
  int64_t next_eval = options.eval_every_tokens;
  int64_t last_report_tokens = 0;
  report();

  auto init_b_dec = [&] {
    if (b_dec_initialised) return;
    // The mean of a whole buffer is a better start for b_dec than one minibatch's.
    torch::NoGradGuard no_grad;
    at::Tensor b_dec = sae.b_dec();
    b_dec.copy_(buffer.contents().mean(0));
    b_dec_initialised = true;
  };
  auto step = [&](const at::Tensor& xb) {
    const double lr = scheduled_lr(options, stats.steps);
    for (auto& group : adam.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
    const auto loss = sae.loss(xb);
    auto total = loss.total;
    if (use_aux) {
      const auto dead = sae.tokens_since_fired() >= options.dead_window_tokens;  // [F]
      const int64_t n_dead = dead.sum().item<int64_t>();
      if (n_dead > 0) {
        const auto e = (loss.x - loss.x_hat).detach();  // [N, D] what the live features missed
        const auto masked = loss.pre.masked_fill(~dead.to(loss.pre.device()).unsqueeze(0),
                                                 -std::numeric_limits<double>::infinity());
        const auto top = masked.topk(std::min(options.aux_k, n_dead), 1);
        const auto h_aux = torch::zeros_like(loss.pre).scatter(1, std::get<1>(top), torch::relu(std::get<0>(top)));
        const auto e_hat = torch::matmul(h_aux, sae.w_dec().t());
        total = total + options.aux_k_coefficient * (e - e_hat).pow(2).sum(1).mean();
      }
    }
    adam.zero_grad();
    total.backward();
    if (options.max_grad_norm > 0) torch::nn::utils::clip_grad_norm_(params, options.max_grad_norm);
    adam.step();
    sae.normalize_decoder();
    {
      torch::NoGradGuard no_grad;
      if (jump) {
        at::Tensor threshold = sae.threshold();
        threshold.clamp_min_(0);
      }
      const auto h = loss.h.detach();
      sae.record_firing(h);
      acc_mse += loss.mse.detach().to(torch::kFloat64) * static_cast<double>(loss.rows);
      acc_l0 += (h > 0).sum().to(torch::kFloat64);
    }
    acc_rows += loss.rows;
    stats.tokens += loss.rows;
    stats.steps += 1;
    stats.lr = lr;
    progress.tick(loss.rows);
    progress.check_cancel();
    if (options.eval_every_tokens > 0 && stats.tokens >= next_eval) {
      while (next_eval <= stats.tokens) next_eval += options.eval_every_tokens;
      report();
      last_report_tokens = stats.tokens;
    }
  };
  auto train_on = [&](const at::Tensor& rows) {
    for (int64_t off = 0; off < rows.size(0); off += options.batch_size)
      step(rows.narrow(0, off, std::min(options.batch_size, rows.size(0) - off)));
  };
  auto drain_half = [&] {
    init_b_dec();
    train_on(buffer.take_shuffled(half));
  };

  ActivationBatch batch;
  for (int64_t index = 0;; ++index) {
    progress.check_cancel();
    batch = ActivationBatch{};
    if (!next(batch)) break;
    at::Tensor rows;
    {
      torch::NoGradGuard no_grad;
      rows = masked_rows(batch, D, index).to(param_options.device(), param_options.dtype().toScalarType());
    }
    buffer.add(rows, drain_half);
  }
  if (buffer.filled() > 0) {
    init_b_dec();
    train_on(buffer.take_shuffled(buffer.filled()));
  }
  if (stats.tokens != last_report_tokens) report();
  return stats;
}

SaeEval evaluate(const Sae& sae, const ActivationStream& next, Progress& progress) {
  check(static_cast<bool>(next), "evaluate: the activation stream is empty (no callback)");
  torch::NoGradGuard no_grad;
  const int64_t D = sae.d_model();
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64).device(sae.w_enc().device());
  SaeEval out;
  at::Tensor mean = torch::zeros({D}, f64);  // running mean of the rows
  double centred = 0.0;                      // running sum ||x - mean||^2
  auto sse = torch::zeros({}, f64);
  auto active = torch::zeros({}, f64);
  auto fired = torch::zeros({sae.d_sae()}, f64.dtype(torch::kBool));
  progress.begin("evaluate SAE", 0);
  ActivationBatch batch;
  for (int64_t index = 0;; ++index) {
    progress.check_cancel();
    batch = ActivationBatch{};
    if (!next(batch)) break;
    const auto rows = masked_rows(batch, D, index).to(sae.w_enc().device());
    const int64_t nb = rows.size(0);
    if (nb == 0) continue;
    const auto h = sae.encode(rows);
    const auto x_hat = sae.decode(h);
    const auto xd = rows.to(torch::kFloat64);
    sse += (xd - x_hat.to(torch::kFloat64)).pow(2).sum();
    active += (h > 0).sum().to(torch::kFloat64);
    fired |= (h > 0).any(0);
    // Chan et al.'s pairwise merge of (count, mean, centred sum of squares).
    const auto mean_b = xd.mean(0);
    const double centred_b = (xd - mean_b).pow(2).sum().item<double>();
    const int64_t n = out.rows, total = n + nb;
    const auto delta = mean_b - mean;
    centred += centred_b + delta.pow(2).sum().item<double>() * (static_cast<double>(n) * nb / total);
    mean += delta * (static_cast<double>(nb) / total);
    out.rows = total;
    progress.tick(nb);
  }
  if (out.rows == 0) {
    out.fvu = std::numeric_limits<double>::quiet_NaN();
    out.dead_fraction = 1.0;
    return out;
  }
  const double sse_d = sse.item<double>();
  out.fvu = centred > 0 ? sse_d / centred : std::numeric_limits<double>::quiet_NaN();
  out.mse = sse_d / out.rows;
  out.l0 = active.item<double>() / out.rows;
  out.dead_fraction = 1.0 - fired.to(torch::kFloat64).mean().item<double>();
  return out;
}

}  // namespace sightline
