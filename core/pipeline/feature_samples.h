// What Stages 4 and 5 (attrib, ablate) share: a feature's top-activating samples as the
// topk stage stored them (store_keys.h: dataset "vqa" = the eval split, "vsr" = the VSR
// split, sample_id = PromptItem::sample_id), resolved to the pipeline's dataset items, and
// the adapted SAEs the features belong to (the diff stage's regime).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/ablation/yes_no_eval.h"
#include "core/model/model.h"
#include "core/pipeline/context.h"
#include "core/sae/sae.h"
#include "core/store/store.h"
#include "core/tokenizer/tokenizer.h"

namespace sightline {

// The split a stored top-sample dataset name refers to: "vqa" -> kEval, "vsr" -> kVsr.
// Throws "file '<where>': field '<field>' ..." for any other name.
DataSplit top_sample_split(const std::string& dataset, const std::string& where, const std::string& field);

// A stage's list of top-sample datasets (field `field` of `j`): non-empty, each "vqa" or
// "vsr", none twice. Throws naming `where` and the field.
std::vector<std::string> parse_sample_datasets(const nlohmann::json& j, const std::string& field,
                                               const std::string& where);

// One stored top sample resolved to its dataset item.
struct FeatureSample {
  int32_t rank = 0;
  std::string dataset;  // "vqa" / "vsr"
  const PromptDataset* data = nullptr;
  int64_t index = 0;    // item index in *data
  double max_activation = 0.0;
  const PromptItem& item() const { return data->item(index); }
};

// (dataset, sample_id) -> item of the context's splits; each split is indexed on first use.
class SampleLookup {
 public:
  explicit SampleLookup(PipelineContext& context) : context_(context) {}
  // The item of `sample_id` in the split `dataset` names. Throws naming the stage, the
  // sample and the split when the split does not hold it (the data options differ from
  // those the samples were chosen under).
  FeatureSample find(const std::string& dataset, const std::string& sample_id, const std::string& stage);

 private:
  PipelineContext& context_;
  std::map<std::string, std::unordered_map<std::string, int64_t>> index_;
};

// The first `top_k` (0 = all) stored top samples of feature (layer, feature), in rank
// order, whose dataset is one of `datasets`. Samples of other datasets are skipped.
std::vector<FeatureSample> feature_top_samples(Store& store, int64_t run_id, const FeatureRef& feature,
                                           const std::vector<std::string>& datasets, int64_t top_k,
                                           SampleLookup& lookup, const std::string& stage);

// The samples as one model input: prompts and their images stacked [N, 3, S, S]. Throws
// naming the sample when one has no image (attribution corrupts the image).
BatchInput top_sample_input(const std::vector<FeatureSample>& samples, const std::string& stage);

// The regime of the adapted SAEs the features index (stages.diff.regime).
std::string diff_regime(const PipelineOptions& options);

// The adapted SAE of `layer` that the adapt stage stored under sae/L{layer}/{regime}, on
// the model's device and dtype. Throws naming the stage and the missing key.
Sae load_adapted_sae(Store& store, int64_t run_id, int layer, const std::string& regime,
                     const VisionLanguageModel& model, const std::string& stage);

// The tokens of "yes" and "no" for yes/no scoring: every casing / leading-space variant
// that is one token whose text is the word (a word tokenizer has one of each, a BPE
// vocabulary several). Throws naming `stage` when either word has no single-token form.
AnswerTokens yes_no_answer_tokens(const Tokenizer& tokenizer, const std::string& stage);

// "L3 F17", for messages and result summaries.
std::string feature_label(const FeatureRef& feature);

}  // namespace sightline
