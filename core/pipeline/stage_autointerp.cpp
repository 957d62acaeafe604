// Stage "autointerp" (METHOD.md Stage 3, paper 5.1 and appendix A.8), optional: for every
// feature of the skill selections "spatial" and "ocr" (written by the shift / lexical
// stages), a chat model describes the feature from its top-activating samples (prompt A)
// and validates the description on held-out positives and random negatives (prompt B, F1).
// Without an endpoint the stage logs that it was skipped and finishes at once.
//
// Inputs: the topk stage's top activations (Store::top_activations, strongest first,
// deduplicated here by sample id across the VQA and VSR sets); each sample's question from
// the context's evaluation (VQA) split or VSR split, looked up by sample id. Prompt A
// shows the first n_examples distinct samples with the tokens the feature fires on marked;
// the remaining top samples are the held-out positives; the negatives are random items of
// the evaluation split that are not among the feature's top samples.
// OVERLAY: each prompt A sample also carries its image with the feature's per-patch
// activations (TopActivation::patch_acts) drawn over it as a red heat map. Validation
// samples carry no image: a heat map of the feature itself would give the label away.
//
// Options ("stages.autointerp"), defaults in autointerp_defaults():
//   endpoint     ""                OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1
//                                  ("" = skip the stage; https needs a local http proxy)
//   model        "gpt-4o-mini"     the model name sent with each request (the paper's)
//   api_key_env  "OPENAI_API_KEY"  NAME of the environment variable holding the key
//                                  ("" = send no key)
//   variant      "raw"             raw | overlay
//   n_examples   5                 prompt A samples (the paper: up to 5)
//   n_holdout    5                 prompt B: held-out positives, and as many negatives
//   timeout_s    60                per request: connect timeout and whole-response timeout
//   seed         1                 which positives / negatives are drawn, and their order
//
// Outputs: feature extras autointerp_f1 / _precision / _recall (store_keys.h), and
// <run dir>/autointerp/results.json:
//   {"endpoint", "model", "variant", "n_examples", "n_holdout", "seed",
//    "features": [{"layer", "feature", "selections": ["spatial", ...],
//                  "description", "f1", "precision", "recall", "counts", "examples",
//                  "validation", "error"  (core/autointerp/autointerp.h to_json),
//                  "images": [file names beside results.json, one per example, "" = none],
//                  "missing_samples": top samples found in neither split}]}
// A feature whose endpoint call failed has its "error" set and no metric.
#include <ATen/core/Tensor.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>

#include "core/autointerp/autointerp.h"
#include "core/common/error.h"
#include "core/image/image.h"
#include "core/io/json_util.h"
#include "core/jobs/job_runner.h"
#include "core/pipeline/context.h"
#include "core/pipeline/datasets.h"
#include "core/pipeline/sample_index.h"
#include "core/pipeline/stages.h"
#include "core/pipeline/store_keys.h"
#include "core/store/store.h"

namespace fs = std::filesystem;

namespace sightline {

namespace {

// The skill selections whose features are described (written by the skill stages).
const std::vector<std::string>& skill_selections() {
  static const std::vector<std::string> names{"spatial", "ocr"};
  return names;
}

nlohmann::json autointerp_defaults() {
  return {{"endpoint", ""},   {"model", "gpt-4o-mini"}, {"api_key_env", "OPENAI_API_KEY"},
          {"variant", "raw"}, {"n_examples", 5},        {"n_holdout", 5},
          {"timeout_s", 60.0}, {"seed", 1}};
}

struct AutointerpStageOptions {
  ChatEndpoint endpoint;
  InterpOptions interp;
};

AutointerpStageOptions parse_autointerp(const nlohmann::json& j, const std::string& where) {
  AutointerpStageOptions o;
  o.endpoint.base_url = json_get<std::string>(j, "endpoint", where);
  o.endpoint.model = json_get<std::string>(j, "model", where);
  o.endpoint.api_key_env = json_get<std::string>(j, "api_key_env", where);
  const double timeout = json_get<double>(j, "timeout_s", where);
  o.endpoint.connect_timeout_s = timeout;
  o.endpoint.read_timeout_s = timeout;
  o.interp.variant = parse_interp_variant(json_get<std::string>(j, "variant", where), where, "variant");
  o.interp.n_examples = json_get<int64_t>(j, "n_examples", where);
  o.interp.n_holdout = json_get<int64_t>(j, "n_holdout", where);
  o.interp.seed = json_get<uint64_t>(j, "seed", where);
  check(timeout > 0, "file '{}': field 'timeout_s' must be positive, got {}", where, timeout);
  check(o.interp.n_examples > 0, "file '{}': field 'n_examples' must be positive, got {}", where, o.interp.n_examples);
  check(o.interp.n_holdout > 0, "file '{}': field 'n_holdout' must be positive, got {}", where, o.interp.n_holdout);
  if (!o.endpoint.base_url.empty()) {
    check(!o.endpoint.model.empty(), "file '{}': field 'model' is empty", where);
    try {
      parse_http_url(o.endpoint.base_url);
    } catch (const Error& e) {
      fail("file '{}': field 'endpoint': {}", where, e.what());
    }
  }
  return o;
}

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  check(in.good(), "file '{}': cannot be read", path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The model input image de-normalised (x * std + mean) with the per-patch activations
// over it in red, alpha 0.6 * a / max(a). nullopt when patch_acts is not a square grid
// (or a CLS entry plus one).
std::optional<ImageU8> heat_map_overlay(const at::Tensor& pixels, const std::vector<float>& patch_acts,
                                        const VisionConfig& vision) {
  size_t first = 0;
  auto grid_of = [](size_t n) {
    const auto g = static_cast<size_t>(std::lround(std::sqrt(static_cast<double>(n))));
    return g * g == n ? g : 0;
  };
  size_t g = grid_of(patch_acts.size());
  if (g == 0 && patch_acts.size() > 1) {
    g = grid_of(patch_acts.size() - 1);
    first = 1;
  }
  if (g == 0 || pixels.dim() != 3 || pixels.size(0) != 3) return std::nullopt;
  const at::Tensor t = pixels.to(at::kFloat).contiguous();
  const float* d = t.data_ptr<float>();
  const int h = static_cast<int>(t.size(1)), w = static_cast<int>(t.size(2));
  float max_act = 0;
  for (size_t i = first; i < patch_acts.size(); ++i)
    if (std::isfinite(patch_acts[i])) max_act = std::max(max_act, patch_acts[i]);
  ImageU8 img;
  img.width = w;
  img.height = h;
  img.rgb.resize(static_cast<size_t>(w) * static_cast<size_t>(h) * 3);
  const size_t plane = static_cast<size_t>(w) * static_cast<size_t>(h);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const size_t gy = static_cast<size_t>(y) * g / static_cast<size_t>(h);
      const size_t gx = static_cast<size_t>(x) * g / static_cast<size_t>(w);
      const float a = patch_acts[first + gy * g + gx];
      const double alpha = max_act > 0 && std::isfinite(a) ? 0.6 * std::max(0.0f, a) / max_act : 0.0;
      uint8_t* px = img.at(x, y);
      for (size_t c = 0; c < 3; ++c) {
        const double v = d[c * plane + static_cast<size_t>(y) * static_cast<size_t>(w) + static_cast<size_t>(x)] *
                             vision.image_std.at(c) +
                         vision.image_mean.at(c);
        const double base = std::clamp(v, 0.0, 1.0) * 255.0;
        const double heat = c == 0 ? 255.0 : 0.0;
        px[c] = static_cast<uint8_t>(std::lround((1 - alpha) * base + alpha * heat));
      }
    }
  }
  return img;
}

// An example showing the item's text only (held-out positives and negatives).
InterpExample text_example(const PromptItem& item, const std::string& dataset) {
  InterpExample e;
  e.sample_id = item.sample_id;
  e.dataset = dataset;
  e.tokens = {item.text};
  return e;
}

struct FeatureJob {
  FeatureRef ref;
  std::vector<std::string> selections;
};

void run_autointerp(PipelineContext& ctx, StageContext& sc) {
  const AutointerpStageOptions o = parse_autointerp(ctx.options().stage("autointerp"), "stages.autointerp");
  if (o.endpoint.base_url.empty()) {
    const std::string message =
        "skipped: no endpoint configured (set stages.autointerp.endpoint to an OpenAI-compatible base URL, e.g. "
        "http://127.0.0.1:8000/v1)";
    spdlog::info("stage autointerp: {}", message);
    sc.commit({}, nlohmann::json{{"skipped", message}}.dump());
    return;
  }
  const ChatClient client(o.endpoint);  // throws for a missing key variable: a setup error, not a feature's

  // The features of the skill selections, each once, with the selections it is in.
  std::map<FeatureRef, std::vector<std::string>> wanted;
  for (const auto& name : skill_selections())
    for (const auto& f : sc.store().selection(sc.run_id(), name)) wanted[f].push_back(name);
  std::vector<FeatureJob> jobs;
  for (auto& [ref, names] : wanted) jobs.push_back({ref, names});

  check(!ctx.run_dir().empty(), "stage autointerp: the pipeline context has no run folder to write results to");
  const fs::path out_dir = fs::path(ctx.run_dir()) / "autointerp";
  fs::create_directories(out_dir);
  const fs::path results_path = out_dir / "results.json";

  std::unique_ptr<SampleIndex> samples;
  const Tokenizer* tokenizer = nullptr;
  int64_t image_tokens = 0;
  const VisionConfig* vision = nullptr;
  if (!jobs.empty()) {
    sc.progress().begin("load model, tokenizer and data", 0);
    samples = std::make_unique<SampleIndex>(ctx);
    tokenizer = &ctx.tokenizer();
    image_tokens = ctx.model().image_tokens();
    if (ctx.model().config().mm.vision) vision = &*ctx.model().config().mm.vision;
    samples->eval();
  }

  sc.progress().begin("describe features", static_cast<int64_t>(jobs.size()));
  const auto cancelled = [&sc] { return sc.progress().cancelled(); };
  nlohmann::json features = nlohmann::json::array();
  std::vector<FeatureValue> f1s, precisions, recalls;
  int64_t described = 0, failed = 0;
  for (const auto& job : jobs) {
    sc.check_cancel();
    const auto [layer, feature] = job.ref;
    const std::string tag = fmt::format("L{} F{}", layer, feature);
    InterpResult result;
    std::vector<std::string> images;
    int64_t missing = 0;  // top samples in neither split (another split or data options)
    try {
      const auto tops = sc.store().top_activations(sc.run_id(), layer, feature, true);
      FeatureExamples ex;
      std::set<std::string> seen;
      for (const auto& top : tops) {
        if (!seen.insert(top.sample_id).second) continue;
        const PromptDataset* dataset = nullptr;
        const PromptItem* item = samples->find(top.sample_id, &dataset);
        if (!item) {
          ++missing;
          continue;
        }
        if (static_cast<int64_t>(ex.top.size()) >= o.interp.n_examples) {
          ex.heldout_positives.push_back(text_example(*item, top.dataset));
          continue;
        }
        const QuestionTokens q = top_question_tokens(*tokenizer, *item, top, image_tokens);
        InterpExample e;
        e.sample_id = top.sample_id;
        e.dataset = top.dataset;
        e.tokens = q.pieces;
        e.activations = q.activations;
        std::string image_name;
        if (o.interp.variant == InterpVariant::kOverlay && vision && item->image >= 0 && !top.patch_acts.empty()) {
          if (auto img = heat_map_overlay(dataset->pixels(item->image), top.patch_acts, *vision)) {
            image_name = fmt::format("L{}-F{}-r{}.png", layer, feature, top.rank);
            const std::string path = (out_dir / image_name).string();
            save_png(path, *img);
            e.image_png = read_file_bytes(path);
          }
        }
        images.push_back(image_name);
        ex.top.push_back(std::move(e));
      }
      if (ex.top.empty()) {
        result.error = tops.empty() ? "no top activations in the store (did the topk stage run?)"
                                    : fmt::format("none of its {} top samples is in the evaluation or VSR split{}",
                                                  tops.size(),
                                                  samples->vsr_error().empty() ? "" : " (VSR: " + samples->vsr_error() + ")");
      } else {
        // Random evaluation items that are not among its top samples, drawn per feature.
        const PromptDataset& eval = samples->eval();
        const uint64_t seed = o.interp.seed ^ (static_cast<uint64_t>(layer) << 32) ^ static_cast<uint64_t>(feature) ^
                              0x5851F42D4C957F2Dull;
        for (int64_t i : shuffled_indices(eval.size(), seed)) {
          if (static_cast<int64_t>(ex.random_negatives.size()) >= o.interp.n_holdout) break;
          const PromptItem& it = eval.item(i);
          if (!seen.count(it.sample_id)) ex.random_negatives.push_back(text_example(it, "vqa"));
        }
        result = interpret_feature(client, ex, o.interp, cancelled);
      }
    } catch (const Cancelled&) {
      throw;
    } catch (const Error& e) {  // a sample that does not fit its prompt, an image that cannot be read
      result.error = e.what();
    }
    if (!result.ok()) {
      ++failed;
      spdlog::warn("stage autointerp: {}: {}", tag, result.error);
    }
    if (std::isfinite(result.f1)) {
      ++described;
      f1s.push_back({layer, feature, result.f1});
      precisions.push_back({layer, feature, result.precision});
      recalls.push_back({layer, feature, result.recall});
    }
    nlohmann::json j = to_json(result);
    j["layer"] = layer;
    j["feature"] = feature;
    j["selections"] = job.selections;
    j["images"] = images;
    j["missing_samples"] = missing;
    features.push_back(std::move(j));
    sc.progress().tick();
  }

  sc.progress().begin("write results", 0);
  write_json_file(results_path.string(), {{"endpoint", o.endpoint.base_url},
                                          {"model", o.endpoint.model},
                                          {"variant", to_string(o.interp.variant)},
                                          {"n_examples", o.interp.n_examples},
                                          {"n_holdout", o.interp.n_holdout},
                                          {"seed", o.interp.seed},
                                          {"features", std::move(features)}});
  const fs::path store_dir = fs::absolute(sc.store().path()).parent_path();
  const std::string relative = fs::absolute(results_path).lexically_relative(store_dir).string();
  const nlohmann::json summary{{"features", jobs.size()},
                               {"validated", described},
                               {"errors", failed},
                               {"variant", to_string(o.interp.variant)},
                               {store_keys::kAutointerpResultsFile, relative}};
  sc.commit(
      [&](Store& store) {
        store.set_feature_metric(sc.run_id(), store_keys::kAutointerpF1, f1s);
        store.set_feature_metric(sc.run_id(), store_keys::kAutointerpPrecision, precisions);
        store.set_feature_metric(sc.run_id(), store_keys::kAutointerpRecall, recalls);
      },
      summary.dump());
}

}  // namespace

StageDefinition autointerp_stage_definition() {
  StageDefinition d;
  d.name = "autointerp";
  d.description = "optional: describe the skill features with a chat model (prompt A) and score the description (F1)";
  d.deps = {"lexical"};
  d.defaults = autointerp_defaults;
  d.validate = [](const nlohmann::json& j, const std::string& where) { parse_autointerp(j, where); };
  d.make = [](PipelineContext& ctx) {
    Stage s;
    s.name = "autointerp";
    s.deps = {"lexical"};
    nlohmann::json key = common_options_json(ctx.options());
    key["stage"] = ctx.options().stage("autointerp");
    s.options_hash = hash_options(key.dump());
    s.run = [&ctx](StageContext& sc) { run_autointerp(ctx, sc); };
    s.reset = [](Store& store, int64_t run) {
      for (const char* k : {store_keys::kAutointerpF1, store_keys::kAutointerpPrecision, store_keys::kAutointerpRecall})
        store.clear_feature_metric(run, k);
    };
    return s;
  };
  return d;
}

}  // namespace sightline
