// The plain data of a yes/no evaluation (core/ablation/yes_no_eval.h runs it): the items,
// the answer tokens, the per-item scores and their summaries. No torch here, so that code
// which only shows results (the explorer's UI) does not pull the engine's headers.
#pragma once

#include <cstdint>
#include <vector>

namespace sightline {

struct YesNoItem {
  std::vector<int64_t> prompt_ids;  // the whole prompt, ending at the answer position
  int64_t image = -1;               // row of the item set's images; -1: a text-only prompt
  bool label = false;               // the correct answer is "yes"
};

// The answer tokens. P(yes) is the softmax mass summed over `yes` (e.g. "yes" and "Yes"
// of a BPE vocabulary), P(no) over `no`; the world's word tokenizer has one of each.
struct AnswerTokens {
  std::vector<int64_t> yes, no;
};

struct EvalOptions {
  int64_t batch_size = 32;     // sequences per forward pass
  bool begin_progress = true;  // false: only tick and check_cancel (one phase over many calls)
};

struct ItemScore {
  double p_yes = 0.0, p_no = 0.0;  // softmax over the whole vocabulary, summed over the variants
  double p_correct = 0.0;          // normalised over the two answers (see yes_no_eval.h)
  bool predicted_yes = false;      // P(yes) >= P(no)
  bool correct = false;
};

struct EvalSummary {
  int64_t n = 0;
  double accuracy = 0.0;        // percent of items correct
  double mean_p_correct = 0.0;  // mean normalised P(correct)
};

// A comparison of the same items without and with interventions.
struct EvalDelta {
  EvalSummary baseline, intervened;
  double d_accuracy = 0.0;      // points: intervened - baseline
  double d_p_correct = 0.0;     // intervened - baseline
  std::vector<int64_t> flipped;  // items (indices into the scored list) whose prediction changed
};

// Accuracy and mean P(correct) of `scores`, or of scores[subset] when subset is non-empty.
EvalSummary summarize(const std::vector<ItemScore>& scores, const std::vector<int64_t>& subset = {});

// baseline vs intervened scores of the same items (same order); subset as in summarize.
EvalDelta compare(const std::vector<ItemScore>& baseline, const std::vector<ItemScore>& intervened,
                  const std::vector<int64_t>& subset = {});

}  // namespace sightline
