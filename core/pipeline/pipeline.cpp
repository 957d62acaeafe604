#include "core/pipeline/pipeline.h"

#include <filesystem>

#include "core/common/error.h"
#include "core/pipeline/stages.h"

namespace fs = std::filesystem;

namespace sightline {

std::string run_dir(const std::string& db_path, int64_t run_id) {
  const fs::path db(db_path);
  return (db.parent_path() / (db.stem().string() + "-runs") / ("run-" + std::to_string(run_id))).string();
}

Pipeline::Pipeline(PipelineOptions options, PipelineRunOptions run) : store_(Store::open(run.db_path)) {
  check(!run.name.empty(), "pipeline: the run name is empty");
  stage_names_ = stage_closure(run.stages);
  for (const auto& f : run.force) stage_definition(f);  // an unknown name is an error
  const std::string options_json = to_json(options).dump();
  if (!run.new_run) {
    const auto latest = store_.latest_run(run.name);
    if (latest && latest->options_json == options_json) {
      run_id_ = latest->id;
      resumed_ = true;
    }
  }
  // The context checks the sources before a run record is written for them.
  context_ = std::make_unique<PipelineContext>(options);
  if (!resumed_) {
    RunRecord r;
    r.name = run.name;
    r.options_json = options_json;
    r.model_provenance_json = context_->model_provenance().dump();
    r.sae_provenance_json = context_->sae_provenance().dump();
    run_id_ = store_.create_run(r);
  }
  context_->set_run_dir(run_dir(run.db_path, run_id_));
  std::vector<Stage> stages;
  for (const auto& name : stage_names_) stages.push_back(stage_definition(name).make(*context_));
  JobOptions jo;
  jo.force = run.force;
  runner_ = std::make_unique<JobRunner>(store_, run_id_, std::move(stages), jo);
}

Pipeline::~Pipeline() {
  // The runner's threads use the context and the store: stop them first.
  runner_.reset();
  context_.reset();
}

}  // namespace sightline
