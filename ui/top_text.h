// The words of the feature page's top samples when the autointerp stage did not show them
// to a chat model (no endpoint: the shipped world's case). Each stored top activation names
// its sample by id only; this loads the run's data through PipelineContext (the run's own
// options, so the same prompts and sample ids) and resolves every sample exactly as the
// autointerp stage does (core/pipeline/sample_index.h). Torch work: call it on a task
// thread, never the UI thread. No GL, no ImGui.
#pragma once

#include <string>

#include "core/common/progress.h"
#include "ui/snapshot.h"

namespace sightline::ui {

// Whether some feature of `results` has top activations with token activations (the only
// case resolve_top_texts has work to do).
bool has_top_tokens(const RunResults& results);

// Fills FeatureDetail::top_text of every feature of `results` (one entry per top
// activation; a sample found in neither the evaluation nor the VSR split, or whose
// activations fit no layout, gets no tokens and its reason in error) and clears
// top_text_pending. `options_json` is the run's options (RunRecord::options_json); a
// non-empty `world_dir` replaces its sources (the explorer's --world). `where` names the
// run in messages (e.g. "file 'run.db': run 'x'"). A failure that stops every sample (the
// options are not JSON, the world or model is missing, the evaluation split cannot be
// built) goes into results.top_text_error instead of being thrown; Cancelled is rethrown.
void resolve_top_texts(RunResults& results, const std::string& options_json, const std::string& world_dir,
                       const std::string& where, Progress& progress);

}  // namespace sightline::ui
