// Streaming SAE training and evaluation (METHOD.md Stage 1, paper 4.1). Activations come
// from a callback, pass through a bounded shuffle buffer and train with Adam; nothing
// proportional to the dataset is held in memory.
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>

#include "core/common/progress.h"
#include "core/sae/sae.h"

namespace sightline {

// One chunk of the activation stream. x [N, D] (or [..., D], flattened) in any float
// dtype / device; mask [N] bool (or x's leading shape) marks the rows that contribute
// (undefined = all rows). Masked-out rows are dropped before anything else sees them.
struct ActivationBatch {
  at::Tensor x;
  at::Tensor mask;
};

// Fills the batch and returns true, or returns false at the end of the stream.
using ActivationStream = std::function<bool(ActivationBatch&)>;

struct SaeTrainOptions {
  int64_t batch_size = 4096;           // rows per Adam step
  double lr = 2e-4;                    // peak learning rate (the paper scales it per layer)
  int64_t warmup_steps = 100;          // linear warm-up from 0 to lr
  int64_t total_tokens = 0;            // expected training rows, for the decay and the
                                       // progress total; 0 = unknown (no decay)
  double decay_fraction = 0.2;         // linear decay over the last fraction of total_tokens...
  double final_lr_fraction = 0.0;      // ...down to lr * final_lr_fraction
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_eps = 1e-8;
  double max_grad_norm = 0.0;          // gradient clipping; 0 = off
  double shuffle_buffer_mb = 256.0;    // rows held for shuffling, in the SAE's dtype (at
                                       // least 2 batches; twice this while reshuffling)
  int64_t eval_every_tokens = 0;       // on_eval every this many training rows (and at 0 and
                                       // at the end, once each); 0 = only at 0 and the end
  int64_t dead_window_tokens = 1000000;  // silent this long = dead
  int64_t aux_k = 256;                 // TopK only: AuxK (Gao et al. 2024) reconstructs the
                                       // residual x - x_hat with the top aux_k dead features
                                       // so they get gradient again; 0 = off
  double aux_k_coefficient = 1.0 / 32.0;  // weight of the AuxK term (Gao et al.'s 1/32)
  bool init_b_dec_to_mean = false;     // set b_dec to the mean of the first buffer (for a
                                       // randomly initialised SAE; leave off to warm-start)
  uint64_t seed = 0;                   // shuffle order
};

nlohmann::json to_json(const SaeTrainOptions& options);
// Missing keys keep their defaults; throws "file '<where>': field '<key>' ..." on a bad one.
SaeTrainOptions sae_train_options_from_json(const nlohmann::json& j, const std::string& where);

// A snapshot of training, handed to the evaluation callback.
struct SaeTrainStats {
  int64_t tokens = 0;        // training rows consumed so far
  int64_t steps = 0;         // optimiser steps so far
  double lr = 0.0;           // learning rate of the last step
  double mse = 0.0;          // mean per-row squared error since the previous callback
  double l0 = 0.0;           // mean active features per row since the previous callback
  double dead_fraction = 0;  // features silent for dead_window_tokens rows
};

// Called with the SAE as trained so far (evaluate it on a held-out stream here).
using SaeEvalCallback = std::function<void(const Sae&, const SaeTrainStats&)>;

// Trains `sae` in place (any variant; warm-start by passing a loaded / cloned SAE) on the
// masked-in rows of `next`. The loss is Sae::loss's total, plus for TopK the AuxK term
// aux_k_coefficient * mean ||e - W_dec h_aux||^2 with e = x - x_hat (no gradient) and h_aux
// the top aux_k pre-activations among dead features (ReLU'd). After each Adam step decoder columns are renormalised with
// their norms folded into the encoder (Sae::normalize_decoder), and JumpReLU thresholds
// are clamped at >= 0. progress: begin("train SAE", total_tokens), tick(rows) per step,
// check_cancel() per step (throws Cancelled). Returns the final stats.
SaeTrainStats train_sae(Sae& sae, const ActivationStream& next, const SaeTrainOptions& options,
                        Progress& progress = null_progress(), const SaeEvalCallback& on_eval = {});

struct SaeEval {
  int64_t rows = 0;            // masked-in rows evaluated
  double fvu = 0.0;            // sum ||x - x_hat||^2 / sum ||x - mean(x)||^2 (NaN when the
                               // rows have no variance)
  double mse = 0.0;            // mean per-row ||x - x_hat||^2
  double l0 = 0.0;             // mean active features per row
  double dead_fraction = 0.0;  // features that never fired on these rows
};

// Evaluates `sae` on the masked-in rows of `next` without training. Sums accumulate in
// float64; the total variance merges per-batch means and centred sums (Chan et al.), so
// a large common offset does not cancel away the variance.
SaeEval evaluate(const Sae& sae, const ActivationStream& next, Progress& progress = null_progress());

}  // namespace sightline
