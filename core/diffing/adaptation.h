// Stage 1 of METHOD.md (paper 4.1): adapt base SAEs to the VLM's residual stream. For
// each layer, copies of the base SAE are fine-tuned under the regimes full / image / text
// (warm start) and random (random init, all positions), the loss masked by token type
// while the VLM runs whole sequences; FVU and L0 on a held-out set every N training
// tokens; decoder cosine to the base SAE at the end.
//
// One VLM forward per batch serves every (layer, regime) trainer of a pass: the batch's
// residuals of all the pass's layers are broadcast to one trainer thread per (layer,
// regime), each running train_sae() (core/sae/trainer.h) on its own stream. A bounded
// queue (queue_batches) keeps the producer at most that far ahead of the slowest trainer,
// so memory does not grow with the data set. The held-out residuals of the pass's layers
// are computed once and kept in memory (heldout items x positions x D floats per layer).
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "core/common/progress.h"
#include "core/diffing/feature_stats.h"
#include "core/diffing/positions.h"
#include "core/diffing/prompt_dataset.h"
#include "core/model/model.h"
#include "core/sae/sae.h"
#include "core/sae/trainer.h"

namespace sightline {

struct AdaptOptions {
  std::vector<Regime> regimes = all_regimes();
  // Trainer settings shared by every regime. total_tokens is set per regime to the
  // positions it will see; init_b_dec_to_mean is forced on for random; seed is offset per
  // (layer, regime).
  SaeTrainOptions train;
  // Budget. train_tokens > 0: every regime trains on exactly this many of its own
  // positions, cycling over the training items as often as it takes (equal budgets, so
  // FVU curves compare at equal tokens seen). train_tokens = 0: every regime makes
  // `epochs` passes over the items (the paper: one pass over 50k VQAv2 pairs), so a
  // regime sees as many positions as the items hold of its kind.
  int64_t train_tokens = 0;
  int64_t epochs = 1;
  int64_t batch_size = 8;      // sequences per VLM forward
  int64_t k = 0;               // TopK k of the adapted SAEs; 0 = the base SAE's k when it
                               // is TopK, else 50 (at most d_sae; the paper re-instantiates
                               // LLaMA-Scope JumpReLU SAEs as TopK, k = 50)
  int64_t layers_per_pass = 0; // layers trained together per pass over the data; 0 = all
  int64_t queue_batches = 4;   // forward batches buffered ahead of the slowest trainer
  uint64_t seed = 1;           // random-init seed (layer l uses seed * 1000 + l)
};

// One held-out evaluation of one (layer, regime) SAE during training.
struct AdaptEvalPoint {
  int layer = 0;
  Regime regime = Regime::kFull;
  int64_t step = 0;       // optimiser steps so far
  int64_t tokens = 0;     // training positions seen so far
  double fvu = 0;         // on the held-out positions of the regime (NaN: none)
  double fvu_text = 0;    // on the held-out text positions, whatever the regime: one
                          // ruler for comparing regimes (NaN: none)
  double l0 = 0;
  double mse = 0;
  double dead_fraction = 0;
  double train_mse = 0;   // mean training MSE since the previous evaluation
  int64_t rows = 0;       // held-out positions evaluated
};

struct AdaptOutcome {
  explicit AdaptOutcome(Sae adapted) : sae(std::move(adapted)) {}
  int layer = 0;
  Regime regime = Regime::kFull;
  Sae sae;                              // the adapted SAE
  SaeTrainStats stats;                  // final training statistics
  AdaptEvalPoint final_eval;            // the last held-out evaluation
  std::vector<double> decoder_cosine;   // c_f against the base SAE, per feature
  double mean_decoder_cosine = 0;
};

struct AdaptCallbacks {
  // Batches of evaluation points as they arrive (called on the adapt_saes thread).
  std::function<void(const std::vector<AdaptEvalPoint>&)> on_eval;
  // Each finished SAE, after its pass, in (layer, regime) order (adapt_saes thread).
  std::function<void(AdaptOutcome&)> on_done;
};

// The SAE a regime starts from: the base SAE as TopK with `k` (0: see AdaptOptions::k)
// for warm starts; for random, a fresh SAE of the same shape and k from torch's RNG
// seeded with `seed`. Same device and dtype as `base`.
Sae initial_sae(const Sae& base, Regime regime, int64_t k, uint64_t seed);

// Trains every (layer, regime) pair. `base` SAEs read blocks.{layer}.hook_resid_post of
// `model`. Progress: "held-out activations" (items), then "adapt SAEs L..." over the
// training positions of all trainers of the pass. Cancel reaches every trainer (throws
// Cancelled); an error in one trainer stops the others and is rethrown.
void adapt_saes(const VisionLanguageModel& model, const std::vector<LayerSae>& base, const PromptDataset& train,
                const PromptDataset& heldout, const AdaptOptions& options, Progress& progress,
                const AdaptCallbacks& callbacks);

}  // namespace sightline
