#include "core/pipeline/skill_stage_util.h"

#include <filesystem>
#include <set>

#include "core/common/error.h"
#include "core/io/json_util.h"
#include "core/jobs/job_runner.h"
#include "core/pipeline/context.h"
#include "core/pipeline/store_keys.h"
#include "core/sae/sae_io.h"
#include "core/skills/skill_config.h"
#include "core/store/store.h"

namespace fs = std::filesystem;

namespace sightline {

std::vector<Sae> load_diff_saes(PipelineContext& ctx, StageContext& sc, const std::string& stage) {
  const std::string regime = json_get<std::string>(ctx.options().stage("diff"), "regime", "stages.diff");
  const VisionLanguageModel& model = ctx.model();
  SaeLoadOptions load;
  load.device = model.device();
  load.dtype = model.dtype();
  std::vector<Sae> out;
  for (int l : ctx.layers()) {
    const std::string key = store_keys::sae_tensor_key(l, regime);
    const auto ref = sc.store().tensor(sc.run_id(), key);
    check(ref.has_value(), "stage {}: the store has no adapted SAE '{}' (the diff stage's regime '{}')", stage, key,
          regime);
    out.push_back(load_sae(fs::path(ref->path).parent_path().parent_path().string(), load));
  }
  return out;
}

std::vector<SkillFilter> run_skills(const PipelineContext& ctx) {
  return parse_skills(ctx.options().stage("shift").at("skills"), "stages.shift");
}

std::map<int, std::vector<int64_t>> candidate_union(Store& store, int64_t run_id,
                                                    const std::vector<SkillFilter>& skills) {
  std::map<int, std::set<int64_t>> sets;
  for (const auto& s : skills)
    for (const auto& ref : store.selection(run_id, store_keys::candidates_selection(s.name())))
      sets[ref.layer].insert(ref.feature);
  std::map<int, std::vector<int64_t>> out;
  for (const auto& [layer, set] : sets) out[layer] = std::vector<int64_t>(set.begin(), set.end());
  return out;
}

StreamOptions parse_stream_options(const nlohmann::json& j, const std::string& where) {
  StreamOptions o;
  o.batch_size = json_get<int64_t>(j, "batch_size", where);
  o.chunk_rows = json_get<int64_t>(j, "chunk_rows", where);
  check(o.batch_size > 0, "file '{}': field 'batch_size' must be positive, got {}", where, o.batch_size);
  check(o.chunk_rows > 0, "file '{}': field 'chunk_rows' must be positive, got {}", where, o.chunk_rows);
  return o;
}

std::vector<LayerFeatures> layer_features(const std::vector<int>& layers, const std::vector<Sae>& saes,
                                          const std::map<int, std::vector<int64_t>>& features) {
  check(layers.size() == saes.size(), "layer features: {} layers, {} SAEs", layers.size(), saes.size());
  std::vector<LayerFeatures> out;
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto it = features.find(layers[i]);
    if (it == features.end() || it->second.empty()) continue;
    out.push_back({layers[i], &saes[i], it->second});
  }
  return out;
}

}  // namespace sightline
