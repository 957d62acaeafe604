// Yes/no evaluation with and without interventions (METHOD.md Stage 5): a VSR caption
// asked as a statement about its image, or a VQA yes/no question. The prediction is the
// larger of P("yes") and P("no") at the answer position (each prompt's last position;
// ties go to "yes", as in core/train/world_eval). P(correct) is normalised over the two
// answers: P(label) / (P(yes) + P(no)), so it lies in [0, 1] whatever mass the rest of
// the vocabulary takes. Accuracies are in percent, so differences are in points.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "core/ablation/interventions.h"
#include "core/common/progress.h"
#include "core/model/model.h"

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

// The images the items index, either as pixels [N, 3, S, S] or as their projected image
// tokens [N, P, D] (encode_item_images), which skips the vision tower on every pass.
// Tokens win when both are set.
struct ItemImages {
  at::Tensor pixels;
  at::Tensor tokens;
  int64_t count() const;  // N, or 0 when neither is set
};

struct EvalOptions {
  int64_t batch_size = 32;     // sequences per forward pass
  bool begin_progress = true;  // false: only tick and check_cancel (one phase over many calls)
};

struct ItemScore {
  double p_yes = 0.0, p_no = 0.0;  // softmax over the whole vocabulary, summed over the variants
  double p_correct = 0.0;          // normalised over the two answers (see the file comment)
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

// The projected image tokens [N, P, D] of pixels [N, 3, S, S], `batch` images at a time,
// on the model's device and dtype. Progress: one unit per image; cancellable.
at::Tensor encode_item_images(const VisionLanguageModel& model, const at::Tensor& pixels, int64_t batch,
                              Progress& progress);

// Prepares a batch like VisionLanguageModel::prepare, but inserts the given image tokens
// ([n, P, D], one per sequence that holds kImageTokenIndex, in order) instead of running
// the vision tower. Throws naming the sequence when its placeholders and the tokens disagree.
PreparedBatch prepare_with_image_tokens(const VisionLanguageModel& model,
                                        const std::vector<std::vector<int64_t>>& ids, const at::Tensor& image_tokens);

// Scores every item under `interventions` (empty: the model as it is). Items are batched
// by length; the result is in item order. Progress: one unit per item; check_cancel()
// between batches (throws Cancelled). Throws naming the item when its image index or
// placeholder count is wrong, and when an answer token is outside the vocabulary.
std::vector<ItemScore> score_yes_no(const VisionLanguageModel& model, const std::vector<YesNoItem>& items,
                                    const ItemImages& images, const InterventionSet& interventions,
                                    const InterventionResources& resources, const AnswerTokens& answers,
                                    const EvalOptions& options, Progress& progress);

// Accuracy and mean P(correct) of `scores`, or of scores[subset] when subset is non-empty.
EvalSummary summarize(const std::vector<ItemScore>& scores, const std::vector<int64_t>& subset = {});

// baseline vs intervened scores of the same items (same order); subset as in summarize.
EvalDelta compare(const std::vector<ItemScore>& baseline, const std::vector<ItemScore>& intervened,
                  const std::vector<int64_t>& subset = {});

}  // namespace sightline
