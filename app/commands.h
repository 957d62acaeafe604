// Each file app/cmd_*.cpp adds one family of subcommands to the CLI. A subcommand's
// CLI11 callback only stores what to run in `action`; main() runs it after parsing, once
// the runtime (threads, logging) is set up, and turns exceptions into one stderr line.
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace sightline::app {

using Action = std::function<void()>;

void register_inspect(CLI::App& app, Action& action);
void register_world(CLI::App& app, Action& action);
void register_gui(CLI::App& app, Action& action);
void register_run(CLI::App& app, Action& action);
void register_report(CLI::App& app, Action& action);
// Adds sae-encode / sae-decode under the `inspect` subcommand.
void register_sae_inspect(CLI::App& inspect, Action& action);

}  // namespace sightline::app
