// sightline inspect ...: look at one tokenizer, image or forward pass from the command line.
#include <CLI/CLI.hpp>
#include <torch/types.h>

#include <cstdio>
#include <sstream>

#include "app/commands.h"
#include "core/common/error.h"
#include "core/image/image.h"
#include "core/io/npy.h"
#include "core/model/model.h"
#include "core/tokenizer/tokenizer.h"

namespace sightline::app {

namespace {

std::vector<int64_t> parse_ids(const std::string& text) {
  std::vector<int64_t> ids;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    check(used == item.size() && !item.empty(), "--ids: '{}' is not an integer token id", item);
    ids.push_back(v);
  }
  check(!ids.empty(), "--ids is empty");
  return ids;
}

ClipPreprocess preprocess_for(const VisionConfig& v, const std::string& aspect) {
  ClipPreprocess p;
  p.size = static_cast<int>(v.image_size);
  p.pad_to_square = aspect == "pad";
  for (int c = 0; c < 3; ++c) {
    p.mean[c] = static_cast<float>(v.image_mean[c]);
    p.std[c] = static_cast<float>(v.image_std[c]);
    p.pad_color[c] = static_cast<uint8_t>(static_cast<int>(v.image_mean[c] * 255));
  }
  return p;
}

}  // namespace

void register_inspect(CLI::App& app, Action& action) {
  auto* inspect = app.add_subcommand("inspect", "Inspect tokenizers, images and forward passes");
  inspect->require_subcommand(1);

  {
    auto* cmd = inspect->add_subcommand("tokenize", "Print the token ids of a text");
    auto tokenizer = std::make_shared<std::string>();
    auto text = std::make_shared<std::string>();
    auto bos = std::make_shared<bool>(false), eos = std::make_shared<bool>(false);
    cmd->add_option("--tokenizer", *tokenizer, "tokenizer.model, tokenizer.json, vocab.json or a directory")
        ->required();
    cmd->add_option("--text", *text, "Text to encode")->required();
    cmd->add_flag("--bos", *bos, "Prepend the begin-of-text token");
    cmd->add_flag("--eos", *eos, "Append the end-of-text token");
    cmd->callback([=, &action] {
      action = [=] {
        const auto tok = load_tokenizer(*tokenizer);
        std::vector<int64_t> ids;
        if (*bos) ids.push_back(tok->bos_id());
        for (int64_t id : tok->encode(*text)) ids.push_back(id);
        if (*eos) ids.push_back(tok->eos_id());
        std::string line;
        for (size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
        std::printf("%s\n", line.c_str());
      };
    });
  }

  {
    auto* cmd = inspect->add_subcommand("image", "Write an image preprocessed as CLIP / LLaVA does");
    auto image = std::make_shared<std::string>(), out = std::make_shared<std::string>();
    auto size = std::make_shared<int>(336);
    auto no_pad = std::make_shared<bool>(false);
    cmd->add_option("--image", *image, "JPEG / PNG file")->required();
    cmd->add_option("--size", *size, "Output size S (pixels)")->check(CLI::Range(1, 8192));
    cmd->add_flag("--no-pad", *no_pad, "Skip LLaVA's expand-to-square padding");
    cmd->add_option("--out", *out, "Output .npy, float32 [3, S, S]")->required();
    cmd->callback([=, &action] {
      action = [=] {
        ClipPreprocess p;
        p.size = *size;
        p.pad_to_square = !*no_pad;
        const auto pixels = preprocess_clip(load_image(*image), p);
        write_npy(*out, pixels);
        std::printf("%s: [3, %d, %d] float32\n", out->c_str(), *size, *size);
      };
    });
  }

  {
    auto* cmd = inspect->add_subcommand("forward", "Run one forward pass and write logits (and a residual)");
    auto model = std::make_shared<std::string>(), vision = std::make_shared<std::string>();
    auto ids = std::make_shared<std::string>(), image = std::make_shared<std::string>();
    auto out = std::make_shared<std::string>(), hidden_out = std::make_shared<std::string>();
    auto hidden = std::make_shared<int>(-1);
    auto device = std::make_shared<std::string>("cpu"), dtype = std::make_shared<std::string>("float32");
    cmd->add_option("--model", *model, "HF Llama or LLaVA directory")->required();
    cmd->add_option("--vision", *vision, "HF CLIP directory for a checkpoint without its tower");
    cmd->add_option("--ids", *ids, "Comma-separated token ids; -200 marks the image")->required();
    cmd->add_option("--image", *image, "Image for the -200 marker");
    cmd->add_option("--out", *out, "Logits .npy, float32 [T, vocab]")->required();
    cmd->add_option("--hidden", *hidden, "Also write the residual after block L");
    cmd->add_option("--hidden-out", *hidden_out, "Residual .npy, float32 [T, d_model]");
    cmd->add_option("--device", *device, "cpu, cuda, cuda:N or auto");
    cmd->add_option("--dtype", *dtype, "float32, bfloat16 or float16");
    cmd->callback([=, &action] {
      action = [=] {
        check((*hidden >= 0) == !hidden_out->empty(), "--hidden and --hidden-out go together");
        LoadOptions options{*model, *vision, *device, *dtype};
        const auto vlm = VisionLanguageModel::load(options);
        BatchInput input;
        input.ids.push_back(parse_ids(*ids));
        bool wants_image = false;
        for (int64_t id : input.ids[0]) wants_image = wants_image || id == kImageTokenIndex;
        check(wants_image == !image->empty(), "{}", wants_image ? "--ids holds -200 but no --image was given"
                                                                : "--image was given but --ids holds no -200");
        if (wants_image) {
          const auto& cfg = vlm->config();
          input.pixels = preprocess_clip(load_image(*image), preprocess_for(*cfg.mm.vision, cfg.mm.image_aspect_ratio))
                             .unsqueeze(0);
        }
        ForwardRequest request;
        if (*hidden >= 0) {
          check(*hidden < vlm->num_layers(), "--hidden {} is outside the model's {} layers", *hidden,
                vlm->num_layers());
          request.capture.insert("blocks." + std::to_string(*hidden) + ".hook_resid_post");
        }
        const auto result = vlm->forward(input, request);
        write_npy(*out, result.logits[0].to(torch::kCPU, torch::kFloat32).contiguous());
        if (*hidden >= 0) {
          write_npy(*hidden_out,
                    result.at("blocks." + std::to_string(*hidden) + ".hook_resid_post")[0]
                        .to(torch::kCPU, torch::kFloat32)
                        .contiguous());
        }
        std::printf("%s: [%lld, %lld] float32\n", out->c_str(), static_cast<long long>(result.logits.size(1)),
                    static_cast<long long>(result.logits.size(2)));
      };
    });
  }
}

}  // namespace sightline::app
