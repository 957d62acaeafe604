// What the Stage 3 pipeline stages (shift, topk, lexical) share: the SAEs they encode
// with (the adapted SAEs the diff stage diffed), the skills of the run, and the candidate
// features the shift stage selected.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/data/skill_filter.h"
#include "core/sae/sae.h"
#include "core/skills/code_stream.h"
#include "core/store/records.h"

namespace sightline {

class PipelineContext;
class StageContext;
class Store;

// The adapted SAEs of the diff stage's regime for every analysed layer, in
// ctx.layers() order, on the model's device and dtype. Throws naming the missing store
// entry (`stage` names the asking stage).
std::vector<Sae> load_diff_saes(PipelineContext& ctx, StageContext& sc, const std::string& stage);

// The skills of the run: stages.shift.skills resolved (presets, files, inline).
std::vector<SkillFilter> run_skills(const PipelineContext& ctx);

// Features in any "<skill>_candidates" selection of the run, by layer, ascending; each
// listed once.
std::map<int, std::vector<int64_t>> candidate_union(Store& store, int64_t run_id,
                                                    const std::vector<SkillFilter>& skills);

// batch_size and chunk_rows of a stage's options, checked positive.
StreamOptions parse_stream_options(const nlohmann::json& j, const std::string& where);

// LayerFeatures for the layers of `features` that have any (saes[i] is the SAE of
// layers[i]).
std::vector<LayerFeatures> layer_features(const std::vector<int>& layers, const std::vector<Sae>& saes,
                                          const std::map<int, std::vector<int64_t>>& features);

}  // namespace sightline
