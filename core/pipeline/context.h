// What every stage of a run shares: the options, the run's folder for files, and the
// model, tokenizer, base SAEs and datasets, each loaded once, on first use (a resumed run
// whose stages are all done loads nothing). Thread-safe: stages may run on several
// worker threads.
//
// World mode (--world DIR): manifest.json's preset gives the data options; the VLM is
// DIR/vlm, the tokenizer DIR/tokenizer/vocab.json, the base SAEs DIR/saes/L{l}R; the
// datasets are regenerated in memory from the preset (make_scene_record), never read
// from files.
// Real mode: --model DIR [--vision DIR], --sae DIR (a folder of SAE directories or one
// SAE directory; the layer comes from each SAE's hook point blocks.L.hook_resid_post),
// VQAv2 questions + annotations, optional VSR jsonl, an image folder; prompts are built
// with llava_more_prompt for a Llama 3 tokenizer, or the world's prompt format for a word
// tokenizer (so a written world dataset runs through real mode too).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/diffing/prompt_dataset.h"
#include "core/model/model.h"
#include "core/pipeline/options.h"
#include "core/sae/sae.h"
#include "core/tokenizer/tokenizer.h"

namespace sightline {

// The data splits stages read (see DataOptions for what each holds).
enum class DataSplit { kTrain, kHeldout, kEval, kVsr };
// "train", "heldout", "eval", "vsr".
std::string to_string(DataSplit split);

class PipelineContext {
 public:
  // Checks the sources exist and discovers the base SAEs' layers (reading only small
  // JSON files). `run_dir` is where stages write files (created on demand; may be set
  // later with set_run_dir, once the run's id is known). Throws Error naming the missing
  // or malformed file.
  PipelineContext(PipelineOptions options, std::string run_dir = "");
  ~PipelineContext();
  PipelineContext(const PipelineContext&) = delete;
  PipelineContext& operator=(const PipelineContext&) = delete;

  const PipelineOptions& options() const { return options_; }
  const std::string& run_dir() const { return run_dir_; }
  void set_run_dir(std::string dir) { run_dir_ = std::move(dir); }
  // The analysed layers, ascending: options().layers, or every layer with a base SAE.
  const std::vector<int>& layers() const { return layers_; }
  // The base SAE directory of a layer (throws for a layer without one).
  const std::string& base_sae_dir(int layer) const;

  // Loaded on first call, then shared.
  const VisionLanguageModel& model();
  // Tokens per image: from the loaded model, else from its config alone (no weights read),
  // for callers that need the prompt layout but not the model.
  int64_t image_tokens() const;
  const Tokenizer& tokenizer();
  const Sae& base_sae(int layer);
  const PromptDataset& dataset(DataSplit split);

  // Provenance recorded with the run: paths and configs of the model and SAEs.
  nlohmann::json model_provenance() const;
  nlohmann::json sae_provenance() const;

  // Builds the prompt of a question for this model's tokenizer, with or without the image.
  std::vector<int64_t> question_prompt(const std::string& question, bool with_image);

 private:
  LoadOptions model_load_options() const;

  struct Impl;
  PipelineOptions options_;
  std::string run_dir_;
  std::vector<int> layers_;
  std::map<int, std::string> sae_dirs_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sightline
