// Terminal progress for long CLI work: the work runs on a worker thread while the main
// thread redraws one status line (label, bar, done/total, ETA) on stderr; Ctrl-C asks
// the work to cancel cooperatively. Log lines printed through progress_log() appear
// above the bar.
#pragma once

#include <functional>
#include <string>

#include "core/common/progress.h"

namespace sightline::app {

// Runs `work` with a Progress; rethrows its exception (Cancelled after Ctrl-C).
void run_with_progress(const std::function<void(Progress&)>& work);

// Prints a line above the progress bar (thread-safe).
void progress_log(const std::string& line);

}  // namespace sightline::app
