#include "core/train/schedule.h"

#include <torch/types.h>  // first: clip_grad.h assumes it
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>

#include <cmath>

#include "core/io/json_util.h"

namespace sightline {

nlohmann::json to_json(const OptimOptions& o) {
  return {{"steps", o.steps},       {"batch_size", o.batch_size},
          {"lr", o.lr},             {"min_lr_fraction", o.min_lr_fraction},
          {"warmup_fraction", o.warmup_fraction}, {"weight_decay", o.weight_decay},
          {"grad_clip", o.grad_clip}};
}

OptimOptions optim_options_from_json(const nlohmann::json& j, const std::string& where, OptimOptions o) {
  o.steps = json_get_or<int64_t>(j, "steps", o.steps, where);
  o.batch_size = json_get_or<int64_t>(j, "batch_size", o.batch_size, where);
  o.lr = json_get_or<double>(j, "lr", o.lr, where);
  o.min_lr_fraction = json_get_or<double>(j, "min_lr_fraction", o.min_lr_fraction, where);
  o.warmup_fraction = json_get_or<double>(j, "warmup_fraction", o.warmup_fraction, where);
  o.weight_decay = json_get_or<double>(j, "weight_decay", o.weight_decay, where);
  o.grad_clip = json_get_or<double>(j, "grad_clip", o.grad_clip, where);
  return o;
}

double scheduled_lr(const OptimOptions& o, int64_t step) {
  const double warm = std::max<double>(1.0, o.warmup_fraction * static_cast<double>(o.steps));
  if (step < warm) return o.lr * (step + 1) / warm;
  const double progress = std::min(1.0, (step - warm) / std::max(1.0, o.steps - warm));
  const double cosine = 0.5 * (1 + std::cos(M_PI * progress));
  return o.lr * (o.min_lr_fraction + (1 - o.min_lr_fraction) * cosine);
}

struct Optimiser::Impl {
  std::vector<at::Tensor> params;
  OptimOptions options;
  torch::optim::AdamW adam;
  Impl(std::vector<at::Tensor> p, const OptimOptions& o)
      : params(std::move(p)),
        options(o),
        adam(params, torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay).betas({0.9, 0.98})) {}
};

Optimiser::Optimiser(std::vector<at::Tensor> params, const OptimOptions& options)
    : impl_(new Impl(std::move(params), options)) {}
Optimiser::~Optimiser() { delete impl_; }

void Optimiser::zero_grad() { impl_->adam.zero_grad(); }

void Optimiser::step(int64_t step_index) {
  if (impl_->options.grad_clip > 0) torch::nn::utils::clip_grad_norm_(impl_->params, impl_->options.grad_clip);
  const double lr = scheduled_lr(impl_->options, step_index);
  for (auto& group : impl_->adam.param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  }
  impl_->adam.step();
}

}  // namespace sightline
