// A run's prompt items by sample id, and the question words of a stored top activation:
// the path the autointerp stage uses to show a top sample to the chat model, shared with
// the explorer's feature page (which shows the same words when the stage did not run).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/autointerp/question_tokens.h"
#include "core/diffing/prompt_dataset.h"
#include "core/pipeline/context.h"
#include "core/store/records.h"
#include "core/tokenizer/tokenizer.h"

namespace sightline {

// Sample ids of the context's evaluation and VSR splits, each split loaded on first need.
// Not thread-safe: one user at a time.
class SampleIndex {
 public:
  explicit SampleIndex(PipelineContext& ctx) : ctx_(ctx) {}

  // The item with `sample_id`, or nullptr (the VSR split is tried when the evaluation
  // split lacks it; a context without VSR items just has none). `dataset`, when given,
  // receives the item's dataset. Throws Error when the evaluation split cannot be loaded.
  const PromptItem* find(const std::string& sample_id, const PromptDataset** dataset);
  // The evaluation split (loaded and indexed on first call).
  const PromptDataset& eval();
  // Why the VSR split could not be loaded ("" when it was, or was not needed).
  const std::string& vsr_error() const { return vsr_error_; }

 private:
  void add(DataSplit split);

  PipelineContext& ctx_;
  std::set<DataSplit> loaded_;
  std::unordered_map<std::string, std::pair<const PromptDataset*, int64_t>> index_;
  std::string vsr_error_;
};

// The question's text pieces of `item` (the sample `top` names) and the feature's
// activation on each, as prompt A shows them: question_tokens() over the item's prompt
// with top.token_acts. `image_tokens`: the model's positions per image. Throws Error
// naming the sample when token_acts fits none of question_tokens()'s layouts.
QuestionTokens top_question_tokens(const Tokenizer& tokenizer, const PromptItem& item, const TopActivation& top,
                                   int64_t image_tokens);

}  // namespace sightline
