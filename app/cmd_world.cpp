// sightline world ...: build the shapes world (models + manifest) or write its datasets.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include "app/commands.h"
#include "app/progress_bar.h"
#include "core/common/error.h"
#include "core/io/json_util.h"
#include "core/train/world_recipe.h"
#include "core/world/datasets.h"

namespace sightline::app {

void register_world(CLI::App& app, Action& action) {
  auto* world = app.add_subcommand("world", "Build the shapes world or write its datasets");
  world->require_subcommand(1);
  {
    auto* cmd = world->add_subcommand("build", "Train the world's models (tokenizer, base LM, ViT, VLM, base SAEs)");
    auto preset = std::make_shared<std::string>("default");
    auto out = std::make_shared<std::string>();
    auto config = std::make_shared<std::string>();
    auto print = std::make_shared<bool>(false);
    auto reuse = std::make_shared<bool>(false);
    auto device = std::make_shared<std::string>("cpu");
    cmd->add_option("--device", *device, "Where to train: cpu, or cuda[:N] with a CUDA build of LibTorch");
    cmd->add_option("--preset", *preset, "default | micro")->check(CLI::IsMember({"default", "micro"}));
    cmd->add_option("--out", *out, "Output directory");
    cmd->add_option("--config", *config, "JSON overriding preset settings (see --print-config)");
    cmd->add_flag("--print-config", *print, "Print the preset's settings as JSON and exit");
    cmd->add_flag("--reuse", *reuse, "Do nothing when --out already holds a world built with the same settings");
    cmd->callback([=, &action] {
      action = [=] {
        WorldPreset p = world_preset(*preset);
        if (!config->empty()) {
          auto j = read_json_file(*config);
          if (!j.contains("name")) j["name"] = *preset;
          p = world_preset_from_json(j, *config);
        }
        if (*print) {
          std::printf("%s\n", to_json(p).dump(2).c_str());
          return;
        }
        check(!out->empty(), "world build: --out DIR is required");
        const std::string manifest = *out + "/manifest.json";
        if (*reuse && std::filesystem::exists(manifest) &&
            read_json_file(manifest).value("preset", nlohmann::json()) == to_json(p)) {
          std::printf("world in %s is up to date\n", out->c_str());
          return;
        }
        run_with_progress([&](Progress& progress) {
          WorldBuildOptions build;
          build.device = *device;
          build_world(p, *out, progress, [](const std::string& line) { progress_log(line); }, build);
        });
        std::printf("world written to %s (manifest.json)\n", out->c_str());
      };
    });
  }
  {
    auto* cmd = world->add_subcommand("data", "Write the world's datasets (VSR/VQA files, images, corpus)");
    auto out = std::make_shared<std::string>();
    auto config = std::make_shared<std::string>();
    cmd->add_option("--out", *out, "Output directory")->required();
    cmd->add_option("--config", *config, "World data options JSON");
    cmd->callback([=, &action] {
      action = [=] {
        WorldDataOptions options;
        if (!config->empty()) options = world_data_options_from_json(read_json_file(*config), *config);
        run_with_progress([&](Progress& progress) { write_world_dataset(*out, options, progress); });
        std::printf("datasets written to %s\n", out->c_str());
      };
    });
  }
}

}  // namespace sightline::app
