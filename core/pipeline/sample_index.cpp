#include "core/pipeline/sample_index.h"

#include <fmt/format.h>

#include "core/common/error.h"

namespace sightline {

const PromptItem* SampleIndex::find(const std::string& sample_id, const PromptDataset** dataset) {
  add(DataSplit::kEval);
  auto it = index_.find(sample_id);
  if (it == index_.end()) {
    add(DataSplit::kVsr);
    it = index_.find(sample_id);
  }
  if (it == index_.end()) return nullptr;
  if (dataset) *dataset = it->second.first;
  return &it->second.first->item(it->second.second);
}

const PromptDataset& SampleIndex::eval() {
  add(DataSplit::kEval);
  return ctx_.dataset(DataSplit::kEval);
}

void SampleIndex::add(DataSplit split) {
  if (!loaded_.insert(split).second) return;
  const PromptDataset* d = nullptr;
  try {
    d = &ctx_.dataset(split);
  } catch (const Cancelled&) {
    throw;
  } catch (const Error& e) {
    if (split != DataSplit::kVsr) throw;
    vsr_error_ = e.what();
    return;
  }
  for (int64_t i = 0; i < d->size(); ++i) index_.emplace(d->item(i).sample_id, std::make_pair(d, i));
}

QuestionTokens top_question_tokens(const Tokenizer& tokenizer, const PromptItem& item, const TopActivation& top,
                                   int64_t image_tokens) {
  return question_tokens(tokenizer, item.ids, top.token_acts, item.text, image_tokens,
                         fmt::format("sample '{}'", top.sample_id));
}

}  // namespace sightline
