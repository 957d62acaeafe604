// sightline: the command-line entry point.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>

#include "app/commands.h"
#include "core/common/error.h"
#include "core/common/runtime.h"

int main(int argc, char** argv) {
  CLI::App app{"Sightline: stage-wise model diffing of a vision-language model"};
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads", threads, "CPU threads for torch (0 = all cores)");
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Debug logging");

  sightline::app::Action action;
  sightline::app::register_inspect(app, action);
  sightline::app::register_sae_inspect(*app.get_subcommand("inspect"), action);
  sightline::app::register_world(app, action);
  sightline::app::register_gui(app, action);
  sightline::app::register_run(app, action);
  sightline::app::register_report(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  try {
    sightline::init_runtime(threads);
    if (action) action();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
