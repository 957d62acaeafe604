// sightline inspect sae-encode / sae-decode: run one SAE (LLaMA-Scope or SAELens
// directory) over the rows of a .npy file.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>

#include "app/commands.h"
#include "core/sae/sae_io.h"
#include "core/sae/sae_npy.h"

namespace sightline::app {

void register_sae_inspect(CLI::App& inspect, Action& action) {
  for (const bool encoding : {true, false}) {
    auto* cmd = inspect.add_subcommand(
        encoding ? "sae-encode" : "sae-decode",
        encoding ? "Write an SAE's feature activations [N, d_sae] (float32, residual units) of rows [N, d_model]"
                 : "Write an SAE's reconstruction [N, d_model] (float32) of feature activations [N, d_sae]");
    auto sae_dir = std::make_shared<std::string>(), input = std::make_shared<std::string>();
    auto out = std::make_shared<std::string>();
    auto device = std::make_shared<std::string>("cpu");
    cmd->add_option("--sae", *sae_dir, "LLaMA-Scope (hyperparams.json) or SAELens (cfg.json) directory")->required();
    cmd->add_option("--input", *input,
                    encoding ? "Input .npy [N, d_model]" : "Input .npy [N, d_sae] of feature activations")
        ->required();
    cmd->add_option("--out", *out, encoding ? "Output .npy, float32 [N, d_sae]" : "Output .npy, float32 [N, d_model]")
        ->required();
    cmd->add_option("--device", *device, "cpu, cuda, cuda:N or auto");
    cmd->callback([=, &action] {
      action = [=] {
        SaeLoadOptions options;
        options.device = *device;
        const auto sae = load_sae(*sae_dir, options);
        const auto shape = encoding ? encode_npy_file(sae, *sae_dir, *input, *out)
                                    : decode_npy_file(sae, *sae_dir, *input, *out);
        std::printf("%s: [%lld, %lld] float32\n", out->c_str(), static_cast<long long>(shape[0]),
                    static_cast<long long>(shape[1]));
      };
    });
  }
}

}  // namespace sightline::app
