#include "core/train/world_recipe.h"

#include <torch/types.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "core/common/error.h"
#include "core/io/json_util.h"
#include "core/model/model.h"
#include "core/tokenizer/word_tokenizer.h"
#include "core/train/lm_loss.h"
#include "core/train/patch_words.h"
#include "core/train/vision_pretrain.h"
#include "core/train/world_eval.h"
#include "core/train/world_saes.h"
#include "core/world/corpus.h"
#include "core/world/questions.h"

namespace fs = std::filesystem;

namespace sightline {

// ---------------------------------------------------------------- presets

WorldPreset world_preset(const std::string& name) {
  WorldPreset p;
  p.name = name;
  auto& lm = p.lm;
  lm.hidden_size = 128;
  lm.intermediate_size = 384;
  lm.num_hidden_layers = 6;
  lm.num_attention_heads = 4;
  lm.num_key_value_heads = 2;
  lm.head_dim = 32;
  lm.rms_norm_eps = 1e-5;
  lm.rope_theta = 10000.0;
  lm.max_position_embeddings = 512;
  lm.tie_word_embeddings = true;
  auto& v = p.vision;
  v.hidden_size = 128;
  v.intermediate_size = 512;
  v.num_hidden_layers = 4;
  v.num_attention_heads = 4;
  v.image_size = 64;
  v.patch_size = 8;
  v.hidden_act = "quick_gelu";
  // Step counts fit the 45-minute build budget on 2 CPU cores at the measured ~8k
  // training tokens/s (tests/bench/bench_train_step).
  p.lm_optim = {800, 32, 2e-3, 0.05, 0.03, 0.01, 1.0};
  p.vision_optim = {1200, 32, 1e-3, 0.05, 0.05, 0.01, 1.0};
  p.align_optim = {600, 32, 2e-3, 0.1, 0.05, 0.0, 1.0};
  p.tune_optim = {3000, 32, 1e-3, 0.05, 0.03, 0.01, 1.0};
  p.eval_scenes = 300;
  // Relation facts stated outright would let the LM copy answers instead of reading
  // positions; two per document keep the words without doing the reasoning for it.
  p.data.corpus_facts = 2;
  if (name == "default") return p;
  check(name == "micro", "unknown world preset '{}' (default, micro)", name);
  lm.hidden_size = 64;
  lm.intermediate_size = 128;
  lm.num_hidden_layers = 2;
  lm.num_attention_heads = 2;
  lm.num_key_value_heads = 1;
  lm.head_dim = 32;
  v.hidden_size = 64;
  v.intermediate_size = 128;
  v.num_hidden_layers = 2;
  v.num_attention_heads = 2;
  p.data.n_train = 400;
  p.data.n_val = 60;
  p.data.n_test = 60;
  p.data.n_corpus_train = 400;
  p.data.n_corpus_val = 50;
  p.lm_optim = {300, 16, 3e-3, 0.1, 0.05, 0.0, 1.0};
  p.vision_optim = {150, 16, 2e-3, 0.1, 0.05, 0.0, 1.0};
  p.align_optim = {60, 16, 3e-3, 0.1, 0.05, 0.0, 1.0};
  p.tune_optim = {600, 16, 3e-3, 0.1, 0.05, 0.0, 1.0};
  p.eval_scenes = 60;
  p.sae.expansion = 4;
  p.sae.k = 8;
  p.sae.train_tokens = 30000;
  p.sae.eval_tokens = 3000;
  p.sae.batch_tokens = 512;
  return p;
}

nlohmann::json to_json(const WorldPreset& p) {
  return {{"name", p.name},
          {"seed", p.seed},
          {"data", world_data_options_to_json(p.data)},
          {"lm", to_json(p.lm)},
          {"vision", to_json(p.vision)},
          {"vision_select_layer", p.vision_select_layer},
          {"lm_optim", to_json(p.lm_optim)},
          {"vision_optim", to_json(p.vision_optim)},
          {"align_optim", to_json(p.align_optim)},
          {"tune_optim", to_json(p.tune_optim)},
          {"tune_caption_fraction", p.tune_caption_fraction},
          {"tune_vsr_fraction", p.tune_vsr_fraction},
          {"tune_items_per_sequence", p.tune_items_per_sequence},
          {"tune_skills", p.tune_skills},
          {"align_dense_weight", p.align_dense_weight},
          {"lm_grid_fraction", p.lm_grid_fraction},
          {"vision_relation_targets", p.vision_relation_targets},
          {"eval_scenes", p.eval_scenes},
          {"reuse_base_from", p.reuse_base_from},
          {"sae",
           {{"expansion", p.sae.expansion},
            {"k", p.sae.k},
            {"train_tokens", p.sae.train_tokens},
            {"eval_tokens", p.sae.eval_tokens},
            {"batch_tokens", p.sae.batch_tokens},
            {"lr", p.sae.lr}}}};
}

namespace {

// A typo in a world config would otherwise build a different world than asked for without
// a word (an hour of training on the default preset): every key must be one to_json()
// writes, and the model shapes ("lm", "vision", "vision_select_layer"), which the preset
// fixes, may only repeat the preset's values (a manifest's "preset" holds them).
void check_world_preset_keys(const nlohmann::json& j, const WorldPreset& p, const std::string& where) {
  check(j.is_object(), "file '{}': expected a JSON object for the world preset", where);
  const nlohmann::json known = to_json(p);
  for (const auto& [key, value] : j.items()) {
    check(known.contains(key), "file '{}': field '{}' is unknown (expected one of the keys of --print-config)", where,
          key);
    const bool fixed = key == "lm" || key == "vision" || key == "vision_select_layer";
    if (key == "sae" || fixed) {
      if (value.is_object() && known[key].is_object()) {
        for (const auto& [sub, v] : value.items()) {
          check(known[key].contains(sub), "file '{}': field '{}.{}' is unknown", where, key, sub);
          check(!fixed || v == known[key][sub], "file '{}': field '{}.{}' is {}, but preset '{}' fixes it at {}",
                where, key, sub, v.dump(), p.name, known[key][sub].dump());
        }
      } else {
        check(!fixed || value == known[key], "file '{}': field '{}' is {}, but preset '{}' fixes it at {}", where,
              key, value.dump(), p.name, known[key].dump());
      }
    }
  }
}

}  // namespace

WorldPreset world_preset_from_json(const nlohmann::json& j, const std::string& where) {
  WorldPreset p = world_preset(json_get_or<std::string>(j, "name", "default", where));
  check_world_preset_keys(j, p, where);
  p.seed = json_get_or<uint64_t>(j, "seed", p.seed, where);
  if (j.contains("data")) p.data = world_data_options_from_json(j["data"], where + "' field 'data", p.data);
  auto optim = [&](const char* key, OptimOptions& o) {
    if (j.contains(key)) o = optim_options_from_json(j[key], where + "' field '" + key, o);
  };
  optim("lm_optim", p.lm_optim);
  optim("vision_optim", p.vision_optim);
  optim("align_optim", p.align_optim);
  optim("tune_optim", p.tune_optim);
  p.tune_caption_fraction = json_get_or<double>(j, "tune_caption_fraction", p.tune_caption_fraction, where);
  p.tune_vsr_fraction = json_get_or<double>(j, "tune_vsr_fraction", p.tune_vsr_fraction, where);
  p.tune_items_per_sequence = json_get_or<int64_t>(j, "tune_items_per_sequence", p.tune_items_per_sequence, where);
  check(p.tune_items_per_sequence >= 1 && p.tune_items_per_sequence <= 64,
        "file '{}': field 'tune_items_per_sequence' is {}, expected 1 to 64", where, p.tune_items_per_sequence);
  p.tune_skills = json_get_or<std::vector<std::string>>(j, "tune_skills", p.tune_skills, where);
  for (const std::string& skill : p.tune_skills) {
    const auto& known = question_skills();
    check(std::find(known.begin(), known.end(), skill) != known.end(),
          "file '{}': field 'tune_skills' names '{}' (expected one of {})", where, skill, fmt::join(known, ", "));
  }
  p.align_dense_weight = json_get_or<double>(j, "align_dense_weight", p.align_dense_weight, where);
  p.lm_grid_fraction = json_get_or<double>(j, "lm_grid_fraction", p.lm_grid_fraction, where);
  p.vision_relation_targets = json_get_or<bool>(j, "vision_relation_targets", p.vision_relation_targets, where);
  p.eval_scenes = json_get_or<int64_t>(j, "eval_scenes", p.eval_scenes, where);
  p.reuse_base_from = json_get_or<std::string>(j, "reuse_base_from", p.reuse_base_from, where);
  if (j.contains("sae")) {
    const auto& s = j["sae"];
    const std::string w = where + "' field 'sae";
    p.sae.expansion = json_get_or<int64_t>(s, "expansion", p.sae.expansion, w);
    p.sae.k = json_get_or<int64_t>(s, "k", p.sae.k, w);
    p.sae.train_tokens = json_get_or<int64_t>(s, "train_tokens", p.sae.train_tokens, w);
    p.sae.eval_tokens = json_get_or<int64_t>(s, "eval_tokens", p.sae.eval_tokens, w);
    p.sae.batch_tokens = json_get_or<int64_t>(s, "batch_tokens", p.sae.batch_tokens, w);
    p.sae.lr = json_get_or<double>(s, "lr", p.sae.lr, w);
  }
  return p;
}

// ---------------------------------------------------------------- helpers

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Sample streams draw scene indices from a split's whole index space (scene i is a pure
// function of (seed, split, i)), so training never repeats a scene; the written split
// files hold the first n scenes of the same streams.
constexpr int64_t kStreamSpan = 90000000;

TokenSequence all_tokens(std::vector<int64_t> ids) {
  TokenSequence s;
  s.loss.assign(ids.size(), 1);
  s.loss[0] = 0;
  s.ids = std::move(ids);
  return s;
}

TokenSequence corpus_sequence(const WordTokenizer& tok, const std::string& doc) {
  std::vector<int64_t> ids{tok.bos_id()};
  for (int64_t id : tok.encode(doc)) ids.push_back(id);
  ids.push_back(tok.eos_id());
  return all_tokens(std::move(ids));
}

// <bos> <image> scene : ... .  (loss on the description)
TokenSequence caption_sequence(const WordTokenizer& tok, const Scene& scene, const WorldOptions& world) {
  std::vector<int64_t> ids{tok.bos_id(), kImageTokenIndex};
  for (int64_t id : tok.encode(describe_scene(scene, world))) ids.push_back(id);
  ids.push_back(tok.eos_id());
  TokenSequence s;
  s.loss.assign(ids.size(), 1);
  s.loss[0] = s.loss[1] = 0;
  s.ids = std::move(ids);
  return s;
}

// prompt + answer word (loss on the answer only).
TokenSequence answer_sequence(std::vector<int64_t> prompt, int64_t answer) {
  TokenSequence s;
  s.ids = std::move(prompt);
  s.loss.assign(s.ids.size(), 0);
  s.ids.push_back(answer);
  s.loss.push_back(1);
  return s;
}

// The questions and statements of a scene with their answers, as the corpus words them.
std::string qa_text(const SceneRecord& r) {
  std::string text;
  for (const std::string& item : corpus_qa_items(r)) text += item + " ";
  return text;
}

// A grid document: <bos>, P placeholder positions that an embedding edit fills with the
// scene's per-patch word bags (patch_words.h), then the scene's questions and statements
// (loss on those). The base LM thus also learns to answer from a scene laid out as a
// grid of word bags: still words only, but in the shape the image tokens will take.
TokenSequence grid_sequence(const WordTokenizer& tok, const SceneRecord& r, int64_t P) {
  std::vector<int64_t> ids{tok.bos_id()};
  ids.insert(ids.end(), static_cast<size_t>(P), WordTokenizer::kPadId);
  for (int64_t id : tok.encode(qa_text(r))) ids.push_back(id);
  ids.push_back(tok.eos_id());
  TokenSequence s;
  s.loss.assign(ids.size(), 1);
  for (int64_t i = 0; i <= P; ++i) s.loss[static_cast<size_t>(i)] = 0;
  s.ids = std::move(ids);
  return s;
}

int64_t word(const WordTokenizer& tok, const std::string& w) {
  const auto id = tok.word_id(w);
  check(id.has_value(), "the world vocabulary lacks the answer word '{}'", w);
  return *id;
}

struct TrainStats {
  double loss = 0;
  int64_t targets = 0, correct = 0;
  int64_t tokens = 0;
};

// One optimisation step on a batch (with the request's edits, if any); returns its loss
// statistics.
TrainStats train_step(VisionLanguageModel& model, Optimiser& opt, const LmBatch& batch, int64_t step,
                      ForwardRequest req = {}) {
  req.grad = true;
  torch::AutoGradMode grad(true);  // the embedding lookup in prepare() is part of the graph
  const auto prepared = model.prepare(to_batch_input(batch));
  const auto out = model.forward(prepared, req);
  const auto loss = next_token_loss(out.logits, prepared, batch);
  opt.zero_grad();
  loss.loss.backward();
  opt.step(step);
  TrainStats s;
  s.loss = loss.loss.item<double>();
  s.targets = loss.targets;
  s.correct = loss.correct;
  for (auto len : prepared.lengths) s.tokens += len;
  return s;
}

// A training step on grid documents: the word bags [B, P, V] times the (trainable)
// embedding table replace positions 1..P of the layer-0 input.
TrainStats train_step_grid(VisionLanguageModel& model, Optimiser& opt, const LmBatch& batch, const at::Tensor& bags,
                           int64_t step) {
  at::Tensor embed;
  for (const auto& [name, value] : model.named_parameters()) {
    if (name == "model.embed_tokens.weight") embed = value;
  }
  const int64_t P = bags.size(1);
  ForwardRequest req;
  req.edits["hook_embed"].push_back([&](const at::Tensor& x, const HookContext&) {
    const auto soft = torch::matmul(bags.to(embed.device()), embed).to(x.scalar_type());
    return torch::cat({x.narrow(1, 0, 1), soft, x.narrow(1, 1 + P, x.size(1) - 1 - P)}, 1);
  });
  return train_step(model, opt, batch, step, std::move(req));
}

TrainStats eval_batches(const VisionLanguageModel& model, const std::vector<LmBatch>& batches) {
  torch::NoGradGuard guard;
  TrainStats total;
  double weighted = 0;
  for (const auto& b : batches) {
    const auto prepared = model.prepare(to_batch_input(b));
    const auto out = model.forward(prepared, ForwardRequest{});
    const auto loss = next_token_loss(out.logits, prepared, b);
    weighted += loss.loss.item<double>() * static_cast<double>(loss.targets);
    total.targets += loss.targets;
    total.correct += loss.correct;
  }
  total.loss = total.targets ? weighted / static_cast<double>(total.targets) : 0;
  return total;
}

void copy_parameters(VisionLanguageModel& to, const VisionLanguageModel& from) {
  torch::NoGradGuard guard;
  std::map<std::string, at::Tensor> src;
  for (const auto& [name, value] : from.named_parameters()) src[name] = value;
  for (auto& [name, value] : to.named_parameters()) {
    auto it = src.find(name);
    if (it != src.end()) value.copy_(it->second);
  }
}

}  // namespace

// ---------------------------------------------------------------- build

nlohmann::json build_world(const WorldPreset& preset, const std::string& out_dir, Progress& progress,
                           const LogFn& log, const WorldBuildOptions& build) {
  validate_world_data_options(preset.data);
  fs::create_directories(out_dir);
  const auto& world = preset.data.world;
  const auto t_all = Clock::now();
  nlohmann::json metrics, timings;
  torch::manual_seed(static_cast<int64_t>(preset.seed));

  // 1. tokenizer
  const WordTokenizer tok(world_vocabulary(world));
  fs::create_directories(fs::path(out_dir) / "tokenizer");
  tok.save((fs::path(out_dir) / "tokenizer" / "vocab.json").string());
  log(fmt::format("tokenizer: {} tokens", tok.vocab_size()));

  // 2. base LM on the text corpus
  ModelConfig lm_config;
  lm_config.source = "world base LM";
  lm_config.model_type = "llama";
  lm_config.text = preset.lm;
  lm_config.text.vocab_size = tok.vocab_size();
  lm_config.text.bos_token_id = tok.bos_id();
  lm_config.text.eos_token_ids = {tok.eos_id()};
  lm_config.text.pad_token_id = WordTokenizer::kPadId;
  auto t0 = Clock::now();
  VisionLanguageModel base(lm_config);
  base.to(build.device, "float32");
  const bool reuse = !preset.reuse_base_from.empty();
  if (reuse) {
    LoadOptions load;
    load.model_dir = (fs::path(preset.reuse_base_from) / "base_lm").string();
    const auto loaded = VisionLanguageModel::load(load);
    check(loaded->config().text.vocab_size == tok.vocab_size() &&
              loaded->config().text.hidden_size == preset.lm.hidden_size &&
              loaded->config().text.num_hidden_layers == preset.lm.num_hidden_layers,
          "reuse_base_from '{}': its base LM does not match this preset", preset.reuse_base_from);
    copy_parameters(base, *loaded);
    log(fmt::format("base LM reused from {}", load.model_dir));
  } else {
    const auto& o = preset.lm_optim;
    const int grid = static_cast<int>(preset.vision.image_size / preset.vision.patch_size);
    const int64_t grid_tokens = static_cast<int64_t>(grid) * grid;
    base.set_trainable({""});
    Optimiser opt(base.trainable_parameters(), o);
    std::vector<LmBatch> val;
    for (int64_t b = 0; b < 4; ++b) {
      LmBatch batch;
      for (int64_t i = 0; i < 32; ++i) {
        const auto r = make_scene_record(preset.data, WorldSplit::CorpusVal, b * 32 + i);
        batch.sequences.push_back(corpus_sequence(tok, corpus_document(r, world)));
      }
      val.push_back(std::move(batch));
    }
    // The same documents scored only on answer words (the token after "answer :"):
    // whether the LM answers, not just whether it has learnt the templates.
    std::vector<LmBatch> val_answers = val;
    const auto answer_id = tok.word_id("answer"), colon_id = tok.word_id(":");
    for (auto& b : val_answers) {
      for (auto& seq : b.sequences) {
        for (size_t i = 0; i < seq.ids.size(); ++i) {
          seq.loss[i] = i >= 2 && seq.ids[i - 2] == answer_id && seq.ids[i - 1] == colon_id;
        }
      }
    }
    progress.begin("base LM", o.steps);
    TrainStats window;
    int64_t window_steps = 0;
    auto window_t0 = Clock::now();
    for (int64_t step = 0; step < o.steps; ++step) {
      progress.check_cancel();
      LmBatch batch;
      // Every k-th step trains on grid documents (lm_grid_fraction of the steps).
      const bool grid_step = preset.lm_grid_fraction > 0 &&
                             std::floor((step + 1) * preset.lm_grid_fraction) > std::floor(step * preset.lm_grid_fraction);
      std::vector<Scene> scenes;
      for (int64_t i = 0; i < o.batch_size; ++i) {
        const auto r = make_scene_record(preset.data, WorldSplit::CorpusTrain, (step * o.batch_size + i) % kStreamSpan);
        if (grid_step) {
          scenes.push_back(r.scene);
          batch.sequences.push_back(grid_sequence(tok, r, grid_tokens));
        } else {
          batch.sequences.push_back(corpus_sequence(tok, corpus_document(r, world)));
        }
      }
      const auto s = grid_step ? train_step_grid(base, opt, batch, patch_word_bags(scenes, world, grid, tok), step)
                               : train_step(base, opt, batch, step);
      window.loss += s.loss;
      window.tokens += s.tokens;
      ++window_steps;
      progress.tick();
      const int64_t every = std::max<int64_t>(1, o.steps / 6);
      if ((step + 1) % every == 0 || step + 1 == o.steps) {
        const double rate = window.tokens / std::max(1e-9, seconds_since(window_t0));
        const auto v = eval_batches(base, val);
        const auto va = eval_batches(base, val_answers);
        const double answer_acc = static_cast<double>(va.correct) / std::max<int64_t>(1, va.targets);
        log(fmt::format("base LM step {}/{}: train loss {:.3f}, val loss {:.3f}, val token acc {:.3f}, "
                        "val answer acc {:.3f}, {:.0f} tok/s",
                        step + 1, o.steps, window.loss / window_steps, v.loss,
                        static_cast<double>(v.correct) / std::max<int64_t>(1, v.targets), answer_acc, rate));
        window = {};
        window_steps = 0;
        window_t0 = Clock::now();
        metrics["base_lm"] = {{"val_loss", v.loss},
                              {"val_answer_accuracy", answer_acc},
                              {"val_token_accuracy", static_cast<double>(v.correct) / std::max<int64_t>(1, v.targets)}};
      }
    }
    base.set_trainable({});
  }
  timings["base_lm_s"] = seconds_since(t0);
  base.save((fs::path(out_dir) / "base_lm").string());

  {
    auto text = evaluate_world_text(base, tok, preset.data, WorldSplit::Test, preset.eval_scenes, progress);
    metrics["base_lm_test_in_words"] = text.to_json();
    log(fmt::format("base LM answering from words: VSR {:.3f}, VQA yes/no {:.3f}, existence {:.3f}, colour {:.3f}",
                    text.vsr.accuracy(), text.vqa_type["yes/no"].accuracy(), text.vqa_skill["existence"].accuracy(),
                    text.vqa_skill["colour"].accuracy()));
  }

  // 7 (done early: it needs only the base LM). Base SAEs per layer.
  t0 = Clock::now();
  if (reuse) {
    fs::copy(fs::path(preset.reuse_base_from) / "saes", fs::path(out_dir) / "saes",
             fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    metrics["base_saes"] = read_json_file((fs::path(preset.reuse_base_from) / "manifest.json").string())["metrics"]["base_saes"];
  } else {
    metrics["base_saes"] = train_world_base_saes(base, tok, preset, out_dir, progress, log);
  }
  timings["base_saes_s"] = seconds_since(t0);

  // 3-5. the VLM: tower pretraining, alignment, tuning
  ModelConfig vlm_config = lm_config;
  vlm_config.source = "world VLM";
  vlm_config.model_type = "llava_llama";
  vlm_config.mm.present = true;
  vlm_config.mm.mm_hidden_size = preset.vision.hidden_size;
  vlm_config.mm.vision_select_layer = preset.vision_select_layer;
  vlm_config.mm.vision_select_feature = "patch";
  vlm_config.mm.vision_tower_name = "sightline-shapes-vit";
  vlm_config.mm.image_aspect_ratio = "pad";
  vlm_config.mm.vision = preset.vision;
  VisionLanguageModel vlm(vlm_config);
  vlm.to(build.device, "float32");
  copy_parameters(vlm, base);

  auto train_scene = [&](int64_t i) { return make_scene_record(preset.data, WorldSplit::Train, i % kStreamSpan).scene; };
  auto val_scene = [&](int64_t i) { return make_scene_record(preset.data, WorldSplit::Val, i).scene; };
  t0 = Clock::now();
  const auto vr = pretrain_vision(vlm, train_scene, val_scene, std::min<int64_t>(preset.data.n_val, 200), world,
                                  preset.vision_optim, progress, log, preset.vision_relation_targets);
  metrics["vision"] = {{"colour_accuracy", vr.colour_accuracy},
                       {"cell_accuracy", vr.cell_accuracy},
                       {"contact_accuracy", vr.contact_accuracy}};
  if (preset.vision_relation_targets) metrics["vision"]["relation_accuracy"] = vr.relation_accuracy;
  timings["vision_s"] = seconds_since(t0);
  const auto& vision = *vlm.config().mm.vision;

  auto image_batch = [&](std::vector<Scene>& scenes, LmBatch& batch) {
    batch.images = scene_pixels(scenes, world, vision);
  };

  // Alignment: the projector learns to map each patch to the LM embeddings of the words
  // it stands for (patch_words.h) and to make the frozen LM write the scene's description.
  t0 = Clock::now();
  {
    const auto& o = preset.align_optim;
    vlm.set_trainable({"model.mm_projector."});
    Optimiser opt(vlm.trainable_parameters(), o);
    at::Tensor embed;
    for (const auto& [name, value] : vlm.named_parameters()) {
      if (name == "model.embed_tokens.weight") embed = value.detach();
    }
    const int grid = static_cast<int>(vision.grid());
    progress.begin("align projector", o.steps);
    TrainStats window;
    double window_dense = 0;
    int64_t window_steps = 0;
    for (int64_t step = 0; step < o.steps; ++step) {
      progress.check_cancel();
      LmBatch batch;
      std::vector<Scene> scenes;
      for (int64_t i = 0; i < o.batch_size; ++i) {
        scenes.push_back(train_scene(step * o.batch_size + i + 7777777));
        auto seq = caption_sequence(tok, scenes.back(), world);
        seq.image = i;
        batch.sequences.push_back(std::move(seq));
      }
      image_batch(scenes, batch);
      torch::AutoGradMode grad(true);
      const auto target = patch_word_embeddings(scenes, world, grid, tok, embed);
      const auto projected = vlm.encode_images(batch.images);
      const auto dense = (projected - target).pow(2).sum(-1).mean() / target.pow(2).sum(-1).mean();
      ForwardRequest req;
      req.grad = true;
      const auto prepared = vlm.prepare(to_batch_input(batch));
      const auto caption = next_token_loss(vlm.forward(prepared, req).logits, prepared, batch);
      const auto loss = caption.loss + preset.align_dense_weight * dense;
      opt.zero_grad();
      loss.backward();
      opt.step(step);
      window.loss += caption.loss.item<double>();
      window.targets += caption.targets;
      window.correct += caption.correct;
      window_dense += dense.item<double>();
      ++window_steps;
      progress.tick();
      const int64_t every = std::max<int64_t>(1, o.steps / 5);
      if ((step + 1) % every == 0 || step + 1 == o.steps) {
        const double acc = static_cast<double>(window.correct) / std::max<int64_t>(1, window.targets);
        log(fmt::format("align step {}/{}: caption loss {:.3f}, token acc {:.3f}, patch-word error {:.3f}", step + 1,
                        o.steps, window.loss / window_steps, acc, window_dense / window_steps));
        metrics["align"] = {{"caption_token_accuracy", acc}, {"patch_word_relative_error", window_dense / window_steps}};
        window = {};
        window_dense = 0;
        window_steps = 0;
      }
    }
  }
  timings["align_s"] = seconds_since(t0);

  // Tuning: projector + LM on questions and statements (the tower stays frozen).
  t0 = Clock::now();
  {
    const auto& o = preset.tune_optim;
    vlm.set_trainable({"model.mm_projector.", "model.layers.", "model.embed_tokens.", "model.norm.", "lm_head."});
    Optimiser opt(vlm.trainable_parameters(), o);
    progress.begin("tune VLM", o.steps);
    TrainStats window;
    int64_t window_steps = 0;
    auto window_t0 = Clock::now();
    uint64_t pick = preset.seed * 0x9E3779B97F4A7C15ULL + 1;
    for (int64_t step = 0; step < o.steps; ++step) {
      progress.check_cancel();
      LmBatch batch;
      std::vector<Scene> scenes;
      for (int64_t i = 0; i < o.batch_size; ++i) {
        const auto record = make_scene_record(preset.data, WorldSplit::Train, (step * o.batch_size + i) % kStreamSpan);
        scenes.push_back(record.scene);
        pick = pick * 6364136223846793005ULL + 1442695040888963407ULL;
        const double u = static_cast<double>(pick >> 11) / 9007199254740992.0;
        TokenSequence seq;
        std::vector<const WorldQuestion*> questions;
        for (const auto& q : record.questions) {
          if (preset.tune_skills.empty() ||
              std::find(preset.tune_skills.begin(), preset.tune_skills.end(), q.skill) != preset.tune_skills.end())
            questions.push_back(&q);
        }
        const bool vsr = record.vsr && preset.tune_vsr_fraction > 0;
        const int64_t n_items = static_cast<int64_t>(questions.size()) + (vsr ? 1 : 0);
        if (u < preset.tune_caption_fraction || n_items == 0) {
          seq = caption_sequence(tok, record.scene, world);
        } else {
          // A scene's VSR statement (when it has one) is asked tune_vsr_fraction of the
          // time, else one of its questions uniformly.
          const double u2 = static_cast<double>((pick >> 3) & 0xFFFF) / 65536.0;
          if (vsr && (u2 < preset.tune_vsr_fraction || questions.empty())) {
            seq = answer_sequence(world_statement_ids(tok, record.vsr->caption, true),
                                  word(tok, record.vsr->label ? "yes" : "no"));
          } else {
            const auto& q = *questions[static_cast<size_t>((pick >> 24) % questions.size())];
            seq = answer_sequence(world_question_ids(tok, q.question, true), word(tok, q.answer));
          }
          // LLaVA-style multi-turn: more of the scene's questions after the first, each
          // answered (loss on every answer word), drawn at random with replacement.
          if (preset.tune_items_per_sequence > 1 && !questions.empty()) {
            for (int64_t k = 1; k < preset.tune_items_per_sequence; ++k) {
              pick = pick * 6364136223846793005ULL + 1442695040888963407ULL;
              const auto& q = *questions[static_cast<size_t>((pick >> 24) % questions.size())];
              auto prompt = world_question_ids(tok, q.question, false);
              prompt.erase(prompt.begin());  // its <bos>
              const auto turn = answer_sequence(std::move(prompt), word(tok, q.answer));
              seq.ids.insert(seq.ids.end(), turn.ids.begin(), turn.ids.end());
              seq.loss.insert(seq.loss.end(), turn.loss.begin(), turn.loss.end());
            }
          }
        }
        seq.image = i;
        batch.sequences.push_back(std::move(seq));
      }
      image_batch(scenes, batch);
      const auto s = train_step(vlm, opt, batch, step);
      window.loss += s.loss;
      window.tokens += s.tokens;
      window.targets += s.targets;
      window.correct += s.correct;
      ++window_steps;
      progress.tick();
      const int64_t every = std::max<int64_t>(1, o.steps / 8);
      if ((step + 1) % every == 0 || step + 1 == o.steps) {
        log(fmt::format("tune step {}/{}: loss {:.3f}, answer acc {:.3f}, {:.0f} tok/s", step + 1, o.steps,
                        window.loss / window_steps,
                        static_cast<double>(window.correct) / std::max<int64_t>(1, window.targets),
                        window.tokens / std::max(1e-9, seconds_since(window_t0))));
        window = {};
        window_steps = 0;
        window_t0 = Clock::now();
      }
    }
    vlm.set_trainable({});
  }
  timings["tune_s"] = seconds_since(t0);
  vlm.save((fs::path(out_dir) / "vlm").string());

  // 6. evaluation on the held-out test split
  t0 = Clock::now();
  const auto eval = evaluate_world_vlm(vlm, tok, preset.data, WorldSplit::Test, preset.eval_scenes, progress);
  metrics["vlm_test"] = eval.to_json();
  timings["eval_s"] = seconds_since(t0);
  log(fmt::format("VLM test: VSR {:.3f} (shuffled images {:.3f}), VQA yes/no {:.3f} (shuffled {:.3f}, blank {:.3f})",
                  eval.vsr.accuracy(), eval.vsr_shuffled.accuracy(),
                  eval.vqa_type.count("yes/no") ? eval.vqa_type.at("yes/no").accuracy() : 0.0,
                  eval.vqa_yesno_shuffled.accuracy(), eval.vqa_yesno_blank.accuracy()));
  for (const auto& [rel, t] : eval.vsr_relation) log(fmt::format("  {:<22} {:.3f} (n={})", rel, t.accuracy(), t.total));
  for (const auto& [skill, t] : eval.vqa_skill) log(fmt::format("  skill {:<16} {:.3f} (n={})", skill, t.accuracy(), t.total));

  timings["total_s"] = seconds_since(t_all);
  timings["device"] = build.device;
  nlohmann::json manifest{{"format", "sightline-world/1"},
                          {"preset", to_json(preset)},
                          {"vocab_size", tok.vocab_size()},
                          {"metrics", metrics},
                          {"timings", timings},
                          {"files",
                           {{"tokenizer", "tokenizer/vocab.json"},
                            {"base_lm", "base_lm"},
                            {"vlm", "vlm"},
                            {"saes", "saes"}}}};
  write_json_file((fs::path(out_dir) / "manifest.json").string(), manifest);
  return manifest;
}

}  // namespace sightline
