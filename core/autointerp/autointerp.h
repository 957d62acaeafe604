// Auto-interpretation of one SAE feature (METHOD.md Stage 3, paper 5.1 and appendix A.8):
//   prompt A: a chat model reads the feature's top-activating samples (question text with
//             the tokens it fires on marked, plus, in the OVERLAY variant, one image per
//             sample, e.g. an attention heat map) and completes "this neuron activates
//             for ..." as {"description": "..."};
//   prompt B: in short rounds, the model reads the description and unmarked held-out
//             positives mixed with random negatives and answers {"classifications":
//             [0/1, ...]}; F1 of those answers against the truth is the description's
//             confidence.
// Everything here takes plain structs; the pipeline stage (core/pipeline/stage_autointerp.cpp)
// builds them from the store and the datasets.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "core/autointerp/chat_client.h"

namespace sightline {

// RAW: text only. OVERLAY: each sample also carries an image (ChatPart PNG).
enum class InterpVariant { kRaw, kOverlay };
// "raw", "overlay".
std::string to_string(InterpVariant variant);
// Inverse of to_string; throws Error naming `where` and `field`.
InterpVariant parse_interp_variant(const std::string& text, const std::string& where, const std::string& field);

// One sample as the prompts show it.
struct InterpExample {
  std::string sample_id;  // unique per sample; duplicates are dropped (the first kept)
  std::string dataset;    // where it came from ("vqa", "vsr"), shown to the model
  // Text pieces whose concatenation is the question (a piece may begin with a space), and
  // the feature's activation on each (same length; may be empty for validation samples).
  std::vector<std::string> tokens;
  std::vector<float> activations;
  std::string image_png;  // OVERLAY: PNG bytes (e.g. a heat map); "" = none
  // The concatenated pieces.
  std::string text() const;
};

// What interpret_feature gets for one feature.
struct FeatureExamples {
  std::vector<InterpExample> top;                // strongest first; prompt A uses the first n_examples
  std::vector<InterpExample> heldout_positives;  // other samples the feature fires on strongly
  std::vector<InterpExample> random_negatives;   // random samples, not among its top ones
};

struct InterpOptions {
  InterpVariant variant = InterpVariant::kRaw;
  int64_t n_examples = 5;  // prompt A samples (the paper: up to k = 5)
  int64_t n_holdout = 5;   // prompt B: up to this many positives and as many negatives
  int64_t rounds = 2;      // prompt B calls the validation set is split into (the paper: two)
  uint64_t seed = 1;       // which held-out positives / negatives are drawn, and their order
};

// One prompt B sample and the model's answer.
struct ValidationItem {
  std::string sample_id;
  bool positive = false;  // true = held-out positive, false = random negative
  int predicted = -1;     // the model's 0/1; -1 = not classified (its round failed)
};

struct InterpResult {
  std::string description;  // "" when prompt A failed
  // Over the validation items, positives as the positive class. precision = TP / (TP + FP)
  // (0 when the model said 1 for nothing), recall = TP / (TP + FN), F1 = 2PR / (P + R)
  // (0 when P + R = 0). NaN when validation did not complete.
  double f1 = std::numeric_limits<double>::quiet_NaN();
  double precision = std::numeric_limits<double>::quiet_NaN();
  double recall = std::numeric_limits<double>::quiet_NaN();
  int64_t true_positives = 0, false_positives = 0, false_negatives = 0, true_negatives = 0;
  std::vector<InterpExample> examples;     // the samples prompt A showed, in order
  std::vector<ValidationItem> validation;  // prompt B's samples, in the order shown
  // "" on success; otherwise what failed ("prompt A: <endpoint error>", "prompt B round 2:
  // ..."). A description can be present with an error when only validation failed.
  std::string error;
  bool ok() const { return error.empty(); }
};

// The activation marks of prompt A, for one sample: the text with every token whose
// activation scaled to 0-10 against `max_activation` (round(10 a / max)) is >= 1 wrapped
// in << >> (its leading space kept outside), then a line "activations: tok 10, tok 3"
// (the marked tokens in order; "activations: none" when none is marked). Throws Error when
// tokens and activations differ in length.
std::string mark_activations(const InterpExample& example, float max_activation);

// Prompt A's messages (system, user) for `examples`, with the activation scale the
// largest activation among them. OVERLAY: each sample's image follows its text.
std::vector<ChatMessage> description_messages(const std::vector<InterpExample>& examples, InterpVariant variant);

// Prompt B's messages for `samples` (unmarked text). OVERLAY: images are attached only
// when every sample has one, so the presence of an image never gives the answer away.
std::vector<ChatMessage> validation_messages(const std::string& description, const std::vector<InterpExample>& samples,
                                             InterpVariant variant);

// Parses prompt A's reply: the JSON object in it (``` fences and text around it are
// ignored), field "description" a non-empty string. Throws Error naming what is missing.
std::string parse_description_reply(const std::string& reply);
// Parses prompt B's reply: field "classifications", an array of exactly `n` 0/1 values
// (numbers or booleans). Throws Error naming the field and what is wrong.
std::vector<int> parse_classification_reply(const std::string& reply, size_t n);

// The deterministic selection, exposed for tests: prompt A's samples (the first
// n_examples distinct ones of `top`), and the validation samples (up to n_holdout
// positives and n_holdout negatives drawn with `seed`, none repeating a prompt A sample or
// each other, shuffled with `seed`), with their labels.
struct InterpSelection {
  std::vector<InterpExample> description;
  std::vector<InterpExample> validation;
  std::vector<bool> positive;  // per validation sample
};
InterpSelection select_interp_examples(const FeatureExamples& examples, const InterpOptions& options);

// Runs prompt A, then prompt B in options.rounds rounds, and computes F1. Never throws for
// an endpoint or reply failure, nor for bad examples: those come back in InterpResult::error
// (a slow endpoint ends at the client's read timeout). Throws Cancelled when `cancelled`
// turns true (checked while waiting on the endpoint).
InterpResult interpret_feature(const ChatClient& client, const FeatureExamples& examples,
                               const InterpOptions& options, const std::function<bool()>& cancelled = {});

// The result as stored for the explorer: {"description", "f1", "precision", "recall",
// "counts": {"tp","fp","fn","tn"}, "examples": [{"sample_id", "dataset", "text",
// "marked", "tokens", "activations", "has_image"}], "validation": [{"sample_id",
// "positive", "predicted"}], "error"} (NaN metrics as null).
nlohmann::json to_json(const InterpResult& result);

}  // namespace sightline
