// Training-loop pieces shared by the shapes world's recipes.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

namespace sightline {

struct OptimOptions {
  int64_t steps = 1000;
  int64_t batch_size = 32;
  double lr = 1e-3;
  double min_lr_fraction = 0.1;   // cosine decay down to lr * this
  double warmup_fraction = 0.05;  // linear warm-up over this share of the steps
  double weight_decay = 0.01;
  double grad_clip = 1.0;         // global norm; <= 0 disables
};

nlohmann::json to_json(const OptimOptions& o);
// Fields missing from j keep their values in `base`.
OptimOptions optim_options_from_json(const nlohmann::json& j, const std::string& where, OptimOptions base = {});

// Learning rate at `step` (0-based): linear warm-up then cosine decay.
double scheduled_lr(const OptimOptions& o, int64_t step);

// AdamW over `params` with the schedule; step() applies clipping, the lr and one update.
class Optimiser {
 public:
  Optimiser(std::vector<at::Tensor> params, const OptimOptions& options);
  ~Optimiser();
  void zero_grad();
  void step(int64_t step_index);

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace sightline
