// The pipeline's stages: each is defined in its own file (stage_adapt.cpp,
// stage_diff.cpp, ...) as a StageDefinition, and listed once in stage_definitions()
// (stages.cpp). Adding a stage = adding its file and one line there.
//
// A stage's run function wires an analysis module (core/diffing, ...) to the store: it
// reads what it needs from the PipelineContext (model, SAEs, data: loaded once, on first
// use) and from upstream stages' rows, and writes its results with StageContext::write /
// commit (core/jobs/job_runner.h), so a finished stage is never recomputed and a killed
// one restarts cleanly.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "core/jobs/stage_graph.h"

namespace sightline {

class PipelineContext;

struct StageDefinition {
  std::string name;
  std::string description;        // one line, for --help and --print-config readers
  std::vector<std::string> deps;  // stages whose results it reads
  // The stage's options with every default (the "stages.<name>" section of the config).
  std::function<nlohmann::json()> defaults;
  // Checks a complete options object (defaults merged); throws naming `where` and the key.
  std::function<void(const nlohmann::json& options, const std::string& where)> validate;
  // The runnable stage for a context (options_hash from the context's options).
  std::function<Stage(PipelineContext& context)> make;
};

// Every stage in pipeline order.
const std::vector<StageDefinition>& stage_definitions();
// The definition called `name`; throws listing the known stages.
const StageDefinition& stage_definition(const std::string& name);

// Names of the requested stages plus everything they depend on, in pipeline order.
// Empty `requested` = all stages. Throws naming an unknown stage.
std::vector<std::string> stage_closure(const std::vector<std::string>& requested);

// The definitions of the individual stages (one file each).
StageDefinition adapt_stage_definition();
StageDefinition diff_stage_definition();
// Stage 3 (skill features): shift -> topk -> lexical. topk comes before lexical because the
// lexical filter re-runs each candidate's top VQA samples, which topk stores.
StageDefinition shift_stage_definition();
StageDefinition topk_stage_definition();
StageDefinition lexical_stage_definition();
// Stages 4 and 5 (stage_attrib.cpp, stage_ablate.cpp). Both read the "spatial" selection
// and the top samples the topk stage writes, so they are listed in stage_definitions()
// together with it.
StageDefinition attrib_stage_definition();
StageDefinition ablate_stage_definition();
StageDefinition autointerp_stage_definition();

}  // namespace sightline
