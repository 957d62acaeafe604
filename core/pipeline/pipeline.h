// A headless pipeline run: opens the store, finds or creates the run, and executes the
// requested stages through JobRunner (core/jobs), so finished stages are reused, a killed
// run resumes, and progress / cancel work from the CLI or the explorer.
//
// Run identity: a run is (name, exact options). Starting a pipeline with a name whose
// newest run has the same options JSON resumes that run (its done stages are reused);
// any other options, or `new_run`, create a new run of that name, so a run's stored
// options always describe all of its results. Files a run writes (adapted SAEs) go to
// run_dir(db, id) = "<db folder>/<db file stem>-runs/run-<id>/".
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/jobs/job_runner.h"
#include "core/pipeline/context.h"
#include "core/pipeline/options.h"
#include "core/store/store.h"

namespace sightline {

struct PipelineRunOptions {
  std::string db_path;              // the store file (created when absent)
  std::string name = "default";     // run name
  bool new_run = false;             // never resume: always a new run
  std::vector<std::string> stages;  // stages to run (their dependencies are added); empty = all
  std::set<std::string> force;      // stages to recompute even when done
};

// "<db folder>/<db file stem>-runs/run-<id>"
std::string run_dir(const std::string& db_path, int64_t run_id);

class Pipeline {
 public:
  // Opens the store (read-write: one writer per file), resolves the run and builds the
  // stage graph. Loads no model yet. Throws Error on bad options or sources.
  Pipeline(PipelineOptions options, PipelineRunOptions run);
  ~Pipeline();  // cancels a run still going and waits for it
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  int64_t run_id() const { return run_id_; }
  bool resumed() const { return resumed_; }  // an existing run was picked up
  const std::vector<std::string>& stage_names() const { return stage_names_; }
  Store& store() { return store_; }
  PipelineContext& context() { return *context_; }
  JobRunner& runner() { return *runner_; }

  // start() + wait(): the final snapshot.
  RunSnapshot run() { return runner_->run(); }

 private:
  Store store_;
  int64_t run_id_ = 0;
  bool resumed_ = false;
  std::vector<std::string> stage_names_;
  std::unique_ptr<PipelineContext> context_;
  std::unique_ptr<JobRunner> runner_;
};

}  // namespace sightline
