#include "core/pipeline/feature_samples.h"

#include <ATen/ATen.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "core/common/error.h"
#include "core/io/json_util.h"
#include "core/pipeline/store_keys.h"
#include "core/sae/sae_io.h"

namespace fs = std::filesystem;

namespace sightline {

DataSplit top_sample_split(const std::string& dataset, const std::string& where, const std::string& field) {
  if (dataset == store_keys::kDatasetVqa) return DataSplit::kEval;
  if (dataset == store_keys::kDatasetVsr) return DataSplit::kVsr;
  fail("file '{}': field '{}' holds dataset '{}', expected {} or {}", where, field, dataset, store_keys::kDatasetVqa,
       store_keys::kDatasetVsr);
}

std::vector<std::string> parse_sample_datasets(const nlohmann::json& j, const std::string& field,
                                               const std::string& where) {
  const auto names = json_get<std::vector<std::string>>(j, field, where);
  check(!names.empty(), "file '{}': field '{}' is empty (give \"vqa\", \"vsr\" or both)", where, field);
  for (size_t i = 0; i < names.size(); ++i) {
    top_sample_split(names[i], where, field);
    check(std::find(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(i), names[i]) ==
              names.begin() + static_cast<std::ptrdiff_t>(i),
          "file '{}': field '{}' lists '{}' twice", where, field, names[i]);
  }
  return names;
}

FeatureSample SampleLookup::find(const std::string& dataset, const std::string& sample_id, const std::string& stage) {
  const DataSplit split = top_sample_split(dataset, "stage " + stage, "dataset");
  const PromptDataset& data = context_.dataset(split);
  auto [it, inserted] = index_.try_emplace(dataset);
  if (inserted) {
    for (int64_t i = 0; i < data.size(); ++i) it->second.emplace(data.item(i).sample_id, i);
  }
  const auto found = it->second.find(sample_id);
  check(found != it->second.end(),
        "stage {}: top sample '{}' (dataset '{}') is not in {} ({} items): were the samples chosen under other "
        "data options?",
        stage, sample_id, dataset, data.name(), data.size());
  FeatureSample s;
  s.dataset = dataset;
  s.data = &data;
  s.index = found->second;
  return s;
}

std::vector<FeatureSample> feature_top_samples(Store& store, int64_t run_id, const FeatureRef& feature,
                                           const std::vector<std::string>& datasets, int64_t top_k,
                                           SampleLookup& lookup, const std::string& stage) {
  std::vector<FeatureSample> out;
  for (const auto& row : store.top_activations(run_id, feature.layer, feature.feature, /*with_acts=*/false)) {
    if (top_k > 0 && static_cast<int64_t>(out.size()) >= top_k) break;
    if (std::find(datasets.begin(), datasets.end(), row.dataset) == datasets.end()) continue;
    FeatureSample s = lookup.find(row.dataset, row.sample_id, stage);
    s.rank = row.rank;
    s.max_activation = row.max_activation;
    out.push_back(s);
  }
  return out;
}

BatchInput top_sample_input(const std::vector<FeatureSample>& samples, const std::string& stage) {
  BatchInput in;
  std::vector<at::Tensor> pixels;
  for (const auto& s : samples) {
    const auto& item = s.item();
    check(item.image >= 0, "stage {}: top sample '{}' of {} has no image", stage, item.sample_id, s.data->name());
    in.ids.push_back(item.ids);
    pixels.push_back(s.data->pixels(item.image));
  }
  if (!pixels.empty()) in.pixels = at::stack(pixels, 0);
  return in;
}

std::string diff_regime(const PipelineOptions& options) {
  return json_get<std::string>(options.stage("diff"), "regime", "stages.diff");
}

Sae load_adapted_sae(Store& store, int64_t run_id, int layer, const std::string& regime,
                     const VisionLanguageModel& model, const std::string& stage) {
  const std::string key = store_keys::sae_tensor_key(layer, regime);
  const auto ref = store.tensor(run_id, key);
  check(ref.has_value(), "stage {}: the store has no adapted SAE '{}' (the features index the diff regime's SAEs)",
        stage, key);
  SaeLoadOptions load;
  load.device = model.device();
  load.dtype = model.dtype();
  // The tensor is checkpoints/final.safetensors inside a LLaMA-Scope directory.
  return load_sae(fs::path(ref->path).parent_path().parent_path().string(), load);
}

namespace {

std::string answer_word_lower_trimmed(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c)))
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

AnswerTokens yes_no_answer_tokens(const Tokenizer& tok, const std::string& stage) {
  AnswerTokens a;
  auto add = [&](std::vector<int64_t>& out, const std::string& word) {
    for (const std::string& v : {word, std::string(1, static_cast<char>(std::toupper(word[0]))) + word.substr(1)}) {
      for (const std::string& text : {v, " " + v}) {
        const auto ids = tok.encode(text);
        if (ids.size() != 1 || answer_word_lower_trimmed(tok.decode(ids)) != word) continue;
        if (std::find(out.begin(), out.end(), ids[0]) == out.end()) out.push_back(ids[0]);
      }
    }
  };
  add(a.yes, "yes");
  add(a.no, "no");
  check(!a.yes.empty() && !a.no.empty(), "stage {}: the {} tokenizer has no single-token 'yes' / 'no'", stage,
        tok.kind());
  return a;
}

std::string feature_label(const FeatureRef& feature) { return fmt::format("L{} F{}", feature.layer, feature.feature); }

}  // namespace sightline
