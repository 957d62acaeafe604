// sightline inspect ...: look at one file or one forward pass from the command line.
#include <CLI/CLI.hpp>

#include "app/commands.h"

namespace sightline::app {

void register_inspect(CLI::App& app, Action& action) {
  auto* inspect = app.add_subcommand("inspect", "Inspect tokenizers, images and forward passes");
  inspect->require_subcommand(1);
  (void)action;
}

}  // namespace sightline::app
