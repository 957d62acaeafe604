// Settings of a pipeline run (`sightline run`): where the model, SAEs and data come from,
// how much data each stage reads, and each stage's own options. Every setting has a
// documented default; `sightline run --print-config` prints them all as JSON, and a
// config file (--config) overrides any subset. The exact options of a run are stored
// with it (RunRecord::options_json).
//
// JSON layout:
//   {
//     "device": "cpu", "dtype": "float32", "layers": [],
//     "source": {"world": "", "model": "", "vision": "", "sae": "", "tokenizer": "",
//                "vqa_questions": "", "vqa_annotations": "", "vsr": "", "images": ""},
//     "data":   {"train_items": 50000, "heldout_items": 500, "eval_items": 5000,
//                "vsr_items": 5000, "seed": 1},
//     "stages": {"adapt": {...}, "diff": {...}}   (see each stage's file for its keys)
//   }
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sightline {

// Where everything comes from. World mode when `world` is set; real mode otherwise.
struct SourceOptions {
  std::string world;            // a world directory (sightline world build): manifest.json,
                                // tokenizer/, vlm/, saes/L{l}R/; its data are regenerated in memory
  std::string model;            // real mode: HF / LLaVA-MORE checkpoint directory
  std::string vision;           // real mode, optional: HF CLIP directory for the tower
  std::string sae;              // real mode: a folder of LLaMA-Scope / SAELens SAE directories
                                // (e.g. Llama3_1-8B-Base-L15R-8x), or one SAE directory
  std::string tokenizer;        // real mode: tokenizer file or folder; "" = the model directory
  std::string vqa_questions;    // real mode: VQAv2 questions file
  std::string vqa_annotations;  // real mode: VQAv2 annotations file
  std::string vsr;              // real mode, optional: VSR jsonl
  std::string images;           // real mode: the folder holding the images both name
  bool world_mode() const { return !world.empty(); }
};

// How many items each split holds (capped at what the source has).
//   world mode: train = the world's train split, heldout = its val split, eval = its test
//               split (VQA questions of each scene in scene order); vsr = the test
//               split's VSR statements.
//   real mode:  the VQA items are shuffled with `seed`, then cut into train, heldout and
//               eval in that order (disjoint); vsr = the VSR file in file order.
struct DataOptions {
  int64_t train_items = 50000;  // SAE adaptation training items (the paper: 50k VQAv2 pairs)
  int64_t heldout_items = 500;  // held-out items for FVU / L0 during adaptation
  int64_t eval_items = 5000;    // VQA evaluation items (E_v; D_base of later stages)
  int64_t vsr_items = 5000;     // VSR items for later stages
  uint64_t seed = 1;            // real mode: the shuffle before splitting
};

struct PipelineOptions {
  std::string device = "cpu";     // cpu, cuda, cuda:N, auto
  std::string dtype = "float32";  // model and SAE dtype: float32, bfloat16, float16
  std::vector<int> layers;        // layers to analyse; empty = every layer with a base SAE
  SourceOptions source;
  DataOptions data;
  // Each stage's options by stage name, complete (defaults filled in by
  // pipeline_options_from_json / default_pipeline_options).
  std::map<std::string, nlohmann::json> stages;

  // The options of stage `name` (throws naming the stage when absent).
  const nlohmann::json& stage(const std::string& name) const;
};

// Every setting at its default, stage options included.
PipelineOptions default_pipeline_options();
nlohmann::json to_json(const PipelineOptions& options);
// Starts from the defaults and overrides what `j` holds; unknown keys are errors (a typo
// must not silently fall back to a default). Each stage's options are validated by the
// stage. Throws "file '<where>': field '<key>' ...".
PipelineOptions pipeline_options_from_json(const nlohmann::json& j, const std::string& where);
// Reads a JSON file with pipeline_options_from_json.
PipelineOptions load_pipeline_options(const std::string& path);
// Writes to_json(options) (atomically).
void save_pipeline_options(const PipelineOptions& options, const std::string& path);

// The part of the options every stage's results depend on (device, dtype, layers,
// source, data), for stage hashes.
nlohmann::json common_options_json(const PipelineOptions& options);

// Throws "file '<where>': field '<field>' has unknown key '<k>' (known: ...)" when `j`
// (an object) holds a key that `defaults` lacks. Stages use it for their own sections.
void check_known_keys(const nlohmann::json& j, const nlohmann::json& defaults, const std::string& where,
                      const std::string& field);

}  // namespace sightline
