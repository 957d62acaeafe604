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
#include "core/ablation/yes_no_types.h"
#include "core/common/progress.h"
#include "core/model/model.h"

namespace sightline {

// The images the items index, either as pixels [N, 3, S, S] or as their projected image
// tokens [N, P, D] (encode_item_images), which skips the vision tower on every pass.
// Tokens win when both are set.
struct ItemImages {
  at::Tensor pixels;
  at::Tensor tokens;
  int64_t count() const;  // N, or 0 when neither is set
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

}  // namespace sightline
