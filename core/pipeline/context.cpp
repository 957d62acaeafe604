#include "core/pipeline/context.h"

#include <torch/types.h>

#include <fmt/format.h>

#include <filesystem>

#include "core/common/error.h"
#include "core/common/runtime.h"
#include "core/data/vqa.h"
#include "core/data/vsr.h"
#include "core/io/json_util.h"
#include "core/model/config.h"
#include "core/model/hooks.h"
#include "core/pipeline/datasets.h"
#include "core/sae/sae_io.h"
#include "core/tokenizer/prompt.h"
#include "core/tokenizer/word_tokenizer.h"
#include "core/train/world_eval.h"
#include "core/train/world_recipe.h"

namespace fs = std::filesystem;

namespace sightline {

std::string to_string(DataSplit split) {
  switch (split) {
    case DataSplit::kTrain: return "train";
    case DataSplit::kHeldout: return "heldout";
    case DataSplit::kEval: return "eval";
    case DataSplit::kVsr: return "vsr";
  }
  return "?";
}

namespace {

// The residual-stream layer an SAE directory reads, from its config's hook point; -1
// when the directory holds no SAE config.
int sae_dir_layer(const fs::path& dir) {
  std::string hook, file;
  if (fs::exists(dir / "hyperparams.json")) {
    file = (dir / "hyperparams.json").string();
    const auto j = read_json_file(file);
    hook = json_get_or<std::string>(j, "hook_point_in", json_get_or<std::string>(j, "hook_point", "", file), file);
  } else if (fs::exists(dir / "cfg.json")) {
    file = (dir / "cfg.json").string();
    const auto j = read_json_file(file);
    hook = json_get_or<std::string>(j, "hook_name", "", file);
    if (hook.empty() && j.contains("metadata") && j["metadata"].is_object())
      hook = json_get_or<std::string>(j["metadata"], "hook_name", "", file);
  } else {
    return -1;
  }
  check(!hook.empty(), "file '{}': field 'hook_point_in' (or hook_name) is missing: which layer does this SAE read?",
        file);
  HookPoint point;
  try {
    point = parse_hook_name(hook);
  } catch (const Error& e) {
    fail("file '{}': field 'hook_point_in': {}", file, e.what());
  }
  check(point.site == HookSite::kResidPost,
        "file '{}': SAE hook point '{}' is not a residual stream (blocks.L.hook_resid_post)", file, hook);
  return point.layer;
}

std::map<int, std::string> discover_saes(const std::string& path) {
  check(fs::is_directory(path), "SAE folder '{}' does not exist or is not a directory", path);
  std::map<int, std::string> out;
  const int single = sae_dir_layer(path);
  if (single >= 0) {
    out[single] = path;
    return out;
  }
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator(path))
    if (entry.is_directory()) dirs.push_back(entry.path());
  std::sort(dirs.begin(), dirs.end());
  for (const auto& d : dirs) {
    const int layer = sae_dir_layer(d);
    if (layer < 0) continue;
    const auto [it, inserted] = out.emplace(layer, d.string());
    check(inserted, "SAE folder '{}': layer {} has two SAEs ('{}' and '{}')", path, layer, it->second, d.string());
  }
  check(!out.empty(), "SAE folder '{}' holds no SAE directory (hyperparams.json or cfg.json)", path);
  return out;
}

}  // namespace

struct PipelineContext::Impl {
  std::mutex model_mutex, tokenizer_mutex, sae_mutex, data_mutex;
  std::unique_ptr<VisionLanguageModel> model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::map<int, std::unique_ptr<Sae>> saes;
  std::map<DataSplit, std::unique_ptr<PromptDataset>> datasets;
  bool have_world = false;
  WorldPreset world;
  std::string model_dir;
  std::string tokenizer_path;
};

PipelineContext::PipelineContext(PipelineOptions options, std::string run_dir)
    : options_(std::move(options)), run_dir_(std::move(run_dir)), impl_(std::make_unique<Impl>()) {
  const auto& src = options_.source;
  std::string sae_path;
  if (src.world_mode()) {
    const std::string manifest_path = (fs::path(src.world) / "manifest.json").string();
    check(fs::exists(manifest_path), "world '{}': manifest.json not found (build one with 'sightline world build')",
          src.world);
    const auto manifest = read_json_file(manifest_path);
    impl_->world = world_preset_from_json(json_get<nlohmann::json>(manifest, "preset", manifest_path),
                                          manifest_path + "' field 'preset");
    impl_->have_world = true;
    impl_->model_dir = (fs::path(src.world) / "vlm").string();
    impl_->tokenizer_path = (fs::path(src.world) / "tokenizer" / "vocab.json").string();
    sae_path = (fs::path(src.world) / "saes").string();
  } else {
    check(!src.model.empty(), "pipeline source: give a world (--world DIR) or a model (--model DIR)");
    check(!src.sae.empty(), "pipeline source: real mode needs base SAEs (--sae DIR)");
    impl_->model_dir = src.model;
    impl_->tokenizer_path = src.tokenizer.empty() ? src.model : src.tokenizer;
    sae_path = src.sae;
  }
  check(fs::exists(fs::path(impl_->model_dir) / "config.json"), "model directory '{}': config.json not found",
        impl_->model_dir);
  sae_dirs_ = discover_saes(sae_path);
  if (options_.layers.empty()) {
    for (const auto& [layer, dir] : sae_dirs_) layers_.push_back(layer);
  } else {
    layers_ = options_.layers;
    std::sort(layers_.begin(), layers_.end());
    layers_.erase(std::unique(layers_.begin(), layers_.end()), layers_.end());
    for (int l : layers_) check(sae_dirs_.count(l), "layer {} was asked for but '{}' holds no SAE for it", l, sae_path);
  }
}

PipelineContext::~PipelineContext() = default;

const std::string& PipelineContext::base_sae_dir(int layer) const {
  const auto it = sae_dirs_.find(layer);
  check(it != sae_dirs_.end(), "no base SAE for layer {}", layer);
  return it->second;
}

LoadOptions PipelineContext::model_load_options() const {
  LoadOptions o;
  o.model_dir = impl_->model_dir;
  o.vision_dir = options_.source.world_mode() ? "" : options_.source.vision;
  o.device = resolve_device(options_.device);
  o.dtype = options_.dtype;
  return o;
}

int64_t PipelineContext::image_tokens() const {
  {
    std::lock_guard<std::mutex> lock(impl_->model_mutex);
    if (impl_->model) return impl_->model->image_tokens();
  }
  const ModelConfig config = VisionLanguageModel::load_config(model_load_options());
  check(config.mm.present && config.mm.vision, "model '{}' has no vision tower (a VLM is needed)", impl_->model_dir);
  return model_image_tokens(config);
}

const VisionLanguageModel& PipelineContext::model() {
  std::lock_guard<std::mutex> lock(impl_->model_mutex);
  if (!impl_->model) {
    impl_->model = VisionLanguageModel::load(model_load_options());
    check(impl_->model->has_vision(), "model '{}' has no vision tower (a VLM is needed)", impl_->model_dir);
  }
  return *impl_->model;
}

const Tokenizer& PipelineContext::tokenizer() {
  std::lock_guard<std::mutex> lock(impl_->tokenizer_mutex);
  if (!impl_->tokenizer) impl_->tokenizer = load_tokenizer(impl_->tokenizer_path);
  return *impl_->tokenizer;
}

const Sae& PipelineContext::base_sae(int layer) {
  const std::string dir = base_sae_dir(layer);
  std::lock_guard<std::mutex> lock(impl_->sae_mutex);
  auto& slot = impl_->saes[layer];
  if (!slot) {
    SaeLoadOptions o;
    o.device = resolve_device(options_.device);
    o.dtype = options_.dtype;
    slot = std::make_unique<Sae>(load_sae(dir, o));
  }
  return *slot;
}

std::vector<int64_t> PipelineContext::question_prompt(const std::string& question, bool with_image) {
  const Tokenizer& tok = tokenizer();
  if (const auto* word = dynamic_cast<const WordTokenizer*>(&tok)) return world_question_ids(*word, question, with_image);
  return llava_more_prompt(tok, question, with_image);
}

const PromptDataset& PipelineContext::dataset(DataSplit split) {
  const VisionLanguageModel& m = model();
  const Tokenizer& tok = tokenizer();
  std::lock_guard<std::mutex> lock(impl_->data_mutex);
  auto& slot = impl_->datasets[split];
  if (slot) return *slot;
  const auto* word = dynamic_cast<const WordTokenizer*>(&tok);
  const bool vsr = split == DataSplit::kVsr;
  // VSR captions are statements: the world's "statement :" prompt, or for a chat model the
  // caption followed by a yes/no instruction (METHOD.md Stage 5 asks it as a yes/no question).
  PromptBuilder prompt = [&tok, word, vsr](const std::string& text) {
    if (word) return vsr ? world_statement_ids(*word, text, true) : world_question_ids(*word, text, true);
    return llava_more_prompt(tok, vsr ? text + " Answer yes or no." : text, true);
  };
  const auto& data = options_.data;
  const int64_t limits[] = {data.train_items, data.heldout_items, data.eval_items, data.vsr_items};
  const int64_t limit = limits[static_cast<int>(split)];
  const VisionConfig& vision = *m.config().mm.vision;
  if (impl_->have_world) {
    const WorldSplit ws[] = {WorldSplit::Train, WorldSplit::Val, WorldSplit::Test, WorldSplit::Test};
    slot = make_world_dataset(impl_->world.data, ws[static_cast<int>(split)], vsr, limit, prompt, vision);
    return *slot;
  }
  const auto& src = options_.source;
  check(!src.images.empty(), "pipeline source: real mode needs the image folder (--images DIR)");
  ClipPreprocess pre;
  pre.size = static_cast<int>(vision.image_size);
  pre.pad_to_square = m.config().mm.image_aspect_ratio == "pad";
  for (int c = 0; c < 3; ++c) {
    pre.mean[static_cast<size_t>(c)] = static_cast<float>(vision.image_mean.at(static_cast<size_t>(c)));
    pre.std[static_cast<size_t>(c)] = static_cast<float>(vision.image_std.at(static_cast<size_t>(c)));
    pre.pad_color[static_cast<size_t>(c)] =
        static_cast<uint8_t>(vision.image_mean.at(static_cast<size_t>(c)) * 255.0);  // LLaVA: int(mean * 255)
  }
  if (vsr) {
    check(!src.vsr.empty(), "pipeline source: a stage needs VSR items but no VSR file was given (--vsr FILE)");
    auto items = read_vsr_jsonl(src.vsr);
    if (static_cast<int64_t>(items.size()) > limit) items.resize(static_cast<size_t>(limit));
    slot = make_vsr_dataset(fmt::format("vsr file '{}'", src.vsr), items, src.images, prompt, pre);
    return *slot;
  }
  check(!src.vqa_questions.empty() && !src.vqa_annotations.empty(),
        "pipeline source: real mode needs VQAv2 questions and annotations files (--vqa-questions, --vqa-annotations)");
  const auto all = read_vqa(src.vqa_questions, src.vqa_annotations);
  const auto order = shuffled_indices(static_cast<int64_t>(all.size()), data.seed);
  // Disjoint cuts of one shuffled order: train, then heldout, then eval.
  int64_t begin = 0;
  for (int s = 0; s < static_cast<int>(split); ++s) begin += limits[s];
  begin = std::min<int64_t>(begin, static_cast<int64_t>(all.size()));
  const int64_t end = std::min<int64_t>(begin + limit, static_cast<int64_t>(all.size()));
  std::vector<VqaItem> items;
  for (int64_t i = begin; i < end; ++i) items.push_back(all[static_cast<size_t>(order[static_cast<size_t>(i)])]);
  slot = make_vqa_dataset(fmt::format("vqa file '{}' ({} split)", src.vqa_questions, to_string(split)), items,
                          src.images, prompt, pre);
  return *slot;
}

nlohmann::json PipelineContext::model_provenance() const {
  nlohmann::json j{{"mode", options_.source.world_mode() ? "world" : "real"},
                   {"model_dir", impl_->model_dir},
                   {"tokenizer", impl_->tokenizer_path},
                   {"device", options_.device},
                   {"dtype", options_.dtype}};
  if (!options_.source.world_mode() && !options_.source.vision.empty()) j["vision_dir"] = options_.source.vision;
  if (options_.source.world_mode()) j["world"] = options_.source.world;
  const std::string config = (fs::path(impl_->model_dir) / "config.json").string();
  j["config"] = read_json_file(config);
  return j;
}

nlohmann::json PipelineContext::sae_provenance() const {
  nlohmann::json layers = nlohmann::json::object();
  for (int l : layers_) layers[std::to_string(l)] = sae_dirs_.at(l);
  return {{"layers", layers}};
}

}  // namespace sightline
