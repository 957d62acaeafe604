// Stage "attrib" (METHOD.md Stage 4, paper 5.2, Fig. 4, 13-17): for each spatial feature,
// attribution patching of its objective to the attention heads of layers 0..L (Methods A
// and B, core/attribution), exact activation patching of every head and the rank
// agreement of the two, and the attention grids of its strongest and weakest heads on its
// top samples for the explorer's overlays. What it reads and writes: store_keys.h.
//
// Options ("stages.attrib"), defaults in attrib_defaults():
//   top_k                16            top samples per feature the maps average over
//   datasets             ["vqa"]       which stored top samples count (METHOD.md: VQA)
//   batch_size           8             samples per forward
//   objective            "projection"  | "sae_activation" (h_f summed over text positions)
//   activation           "qk"          query + key (the paper) | "z" (head output)
//   methods              ["A", "B"]    attribution methods to run (at least one)
//   corruption           "per_position" | "global": the mean image embedding
//   corruption_strength  1.0           in (0, 1]; 1 replaces the image embeddings
//   mean_items           256           eval-split items averaged into the mean (0 = all)
//   exact                true          exact patching of every head: (L + 1) x (H + Hkv)
//                                      runs per batch for qk; turn off for big models
//   denoising            false         exact patching also patches clean into corrupt
//                                      (B's own counterpart; else B is compared to -noising)
//   overlay_method       "B"           map the overlay heads are ranked by (|score|): A, B
//                                      or exact (paper A.11: B ranks more sharply)
//   overlay_heads        3             top heads whose attention grids are stored
//   overlay_bottom_heads 3             bottom heads stored as the control (A.12)
//   overlay_datasets     ["vqa", "vsr"] top samples the overlays are drawn on (A.11)
//   overlay_query        "mean_text"   | "last": which query rows the grids average
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>

#include "core/attribution/attention_maps.h"
#include "core/attribution/attribution.h"
#include "core/attribution/corruption.h"
#include "core/attribution/head_ranking.h"
#include "core/common/error.h"
#include "core/io/json_util.h"
#include "core/io/safetensors.h"
#include "core/jobs/job_runner.h"
#include "core/pipeline/context.h"
#include "core/pipeline/feature_samples.h"
#include "core/pipeline/stages.h"
#include "core/pipeline/store_keys.h"
#include "core/store/store.h"

namespace fs = std::filesystem;

namespace sightline {

namespace {

namespace k = store_keys;

nlohmann::json attrib_defaults() {
  return {{"top_k", 16},
          {"datasets", {k::kDatasetVqa}},
          {"batch_size", 8},
          {"objective", "projection"},
          {"activation", "qk"},
          {"methods", {k::kMethodA, k::kMethodB}},
          {"corruption", "per_position"},
          {"corruption_strength", 1.0},
          {"mean_items", 256},
          {"exact", true},
          {"denoising", false},
          {"overlay_method", k::kMethodB},
          {"overlay_heads", 3},
          {"overlay_bottom_heads", 3},
          {"overlay_datasets", {k::kDatasetVqa, k::kDatasetVsr}},
          {"overlay_query", "mean_text"}};
}

struct AttribStageOptions {
  int64_t top_k = 16;
  std::vector<std::string> datasets;
  int64_t batch_size = 8;
  AttributionOptions attribution;
  CorruptionMean corruption = CorruptionMean::kPerPosition;
  int64_t mean_items = 256;
  bool exact = true;
  bool denoising = false;
  std::string overlay_method;
  int64_t overlay_heads = 3, overlay_bottom_heads = 3;
  std::vector<std::string> overlay_datasets;
  AttentionMapOptions overlay;
};

AttribStageOptions parse_attrib(const nlohmann::json& j, const std::string& where) {
  check_known_keys(j, attrib_defaults(), where, "options");
  AttribStageOptions o;
  o.top_k = json_get<int64_t>(j, "top_k", where);
  check(o.top_k > 0, "file '{}': field 'top_k' must be positive, got {}", where, o.top_k);
  o.datasets = parse_sample_datasets(j, "datasets", where);
  o.batch_size = json_get<int64_t>(j, "batch_size", where);
  check(o.batch_size > 0, "file '{}': field 'batch_size' must be positive, got {}", where, o.batch_size);
  auto& a = o.attribution;
  a.objective = parse_attribution_objective(json_get<std::string>(j, "objective", where), where, "objective");
  a.activation = parse_head_activation(json_get<std::string>(j, "activation", where), where, "activation");
  const auto methods = json_get<std::vector<std::string>>(j, "methods", where);
  a.method_a = a.method_b = false;
  for (const auto& m : methods) {
    check(m == k::kMethodA || m == k::kMethodB, "file '{}': field 'methods' holds '{}', expected A or B", where, m);
    bool& flag = m == k::kMethodA ? a.method_a : a.method_b;
    check(!flag, "file '{}': field 'methods' lists '{}' twice", where, m);
    flag = true;
  }
  check(a.method_a || a.method_b, "file '{}': field 'methods' is empty (give A, B or both)", where);
  o.corruption = parse_corruption_mean(json_get<std::string>(j, "corruption", where), where, "corruption");
  a.corruption_strength = json_get<double>(j, "corruption_strength", where);
  check(a.corruption_strength > 0.0 && a.corruption_strength <= 1.0,
        "file '{}': field 'corruption_strength' must be in (0, 1], got {}", where, a.corruption_strength);
  o.mean_items = json_get<int64_t>(j, "mean_items", where);
  check(o.mean_items >= 0, "file '{}': field 'mean_items' must be >= 0, got {}", where, o.mean_items);
  o.exact = json_get<bool>(j, "exact", where);
  o.denoising = json_get<bool>(j, "denoising", where);
  check(!o.denoising || o.exact, "file '{}': field 'denoising' needs 'exact' on", where);
  o.overlay_method = json_get<std::string>(j, "overlay_method", where);
  const bool computed = (o.overlay_method == k::kMethodA && a.method_a) ||
                        (o.overlay_method == k::kMethodB && a.method_b) ||
                        (o.overlay_method == k::kMethodExact && o.exact);
  check(computed, "file '{}': field 'overlay_method' is '{}', which this configuration does not compute (methods {}{})",
        where, o.overlay_method, fmt::join(methods, ", "), o.exact ? ", exact" : "");
  o.overlay_heads = json_get<int64_t>(j, "overlay_heads", where);
  o.overlay_bottom_heads = json_get<int64_t>(j, "overlay_bottom_heads", where);
  check(o.overlay_heads >= 0, "file '{}': field 'overlay_heads' must be >= 0, got {}", where, o.overlay_heads);
  check(o.overlay_bottom_heads >= 0, "file '{}': field 'overlay_bottom_heads' must be >= 0, got {}", where,
        o.overlay_bottom_heads);
  o.overlay_datasets = parse_sample_datasets(j, "overlay_datasets", where);
  o.overlay.query = parse_attention_query(json_get<std::string>(j, "overlay_query", where), where, "overlay_query");
  // A chosen token needs a position per sample, which a config cannot give.
  check(o.overlay.query != AttentionQuery::kToken,
        "file '{}': field 'overlay_query' must be mean_text or last ('token' needs per-sample positions)", where);
  return o;
}

// The run's folder for this stage's files.
fs::path stage_dir(const PipelineContext& ctx) {
  check(!ctx.run_dir().empty(), "stage attrib: the run has no folder for its files (run_dir is not set)");
  const fs::path dir = fs::path(ctx.run_dir()) / "attrib";
  fs::create_directories(dir);
  return dir;
}

// The mean layer-0 image embedding over the first `items` items of the eval split (0 = all).
MeanImageEmbedding mean_embedding(const VisionLanguageModel& model, const PromptDataset& eval, int64_t items,
                                  int64_t batch_size, CorruptionMean mode, Progress& progress) {
  const int64_t n = items > 0 ? std::min(items, eval.size()) : eval.size();
  int64_t next = 0;
  return compute_mean_image_embedding(
      [&](PreparedBatch& batch) {
        // Text-only items are skipped; a batch of them only is skipped whole.
        while (next < n) {
          const int64_t count = std::min(batch_size, n - next);
          BatchInput input = make_prompt_batch(eval, next, count);
          next += count;
          if (!input.pixels.defined()) continue;
          at::NoGradGuard no_grad;
          batch = model.prepare(input);
          return true;
        }
        return false;
      },
      mode, progress);
}

void add_rows(std::vector<HeadScore>& rows, const FeatureRef& f, const char* method, const at::Tensor& map) {
  const auto t = map.to(at::kCPU, at::kDouble).contiguous();
  const auto m = t.accessor<double, 2>();
  for (int64_t l = 0; l < m.size(0); ++l) {
    for (int64_t h = 0; h < m.size(1); ++h) {
      HeadScore s;
      s.layer = f.layer;
      s.feature = f.feature;
      s.method = method;
      s.head_layer = static_cast<int32_t>(l);
      s.head = static_cast<int32_t>(h);
      s.score = m[l][h];
      rows.push_back(std::move(s));
    }
  }
}

// [K, 2] int64 (layer, head).
at::Tensor head_table(const std::vector<RankedHead>& heads) {
  auto t = at::zeros({static_cast<int64_t>(heads.size()), 2}, at::kLong);
  for (size_t i = 0; i < heads.size(); ++i) {
    t[static_cast<int64_t>(i)][0] = heads[i].head.layer;
    t[static_cast<int64_t>(i)][1] = heads[i].head.head;
  }
  return t;
}

// The overlay file of one feature: top and bottom heads of `map` and their attention
// grids on `batches` (the samples in `samples` order). Returns the grids' shape.
std::vector<int64_t> write_overlays(const VisionLanguageModel& model, const std::vector<PreparedBatch>& batches,
                                    const std::vector<FeatureSample>& samples, const at::Tensor& map,
                                    const AttribStageOptions& o, const std::string& path) {
  const auto top = top_heads(map, o.overlay_heads);
  const auto bottom = bottom_heads(map, o.overlay_bottom_heads);
  std::vector<HeadId> heads;
  for (const auto& h : top) heads.push_back(h.head);
  for (const auto& h : bottom) heads.push_back(h.head);
  std::vector<std::vector<at::Tensor>> grids(heads.size()), mass(heads.size());
  if (!heads.empty()) {
    for (const auto& batch : batches) {
      const auto g = attention_grids(model, batch, heads, o.overlay);
      for (size_t i = 0; i < heads.size(); ++i) {
        grids[i].push_back(g[i].grids);
        mass[i].push_back(g[i].image_mass);
      }
    }
  }
  // [K, N, g, g] and [K, N] for heads [first, first + count).
  auto stacked = [&](size_t first, size_t count, bool want_grids) {
    std::vector<at::Tensor> parts;
    for (size_t i = first; i < first + count; ++i) parts.push_back(at::cat(want_grids ? grids[i] : mass[i], 0));
    return parts;
  };
  const int64_t P = model.image_tokens();
  const auto g = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(P))));
  const auto N = static_cast<int64_t>(samples.size());
  auto stack_or_empty = [&](const std::vector<at::Tensor>& parts, bool want_grids) {
    if (!parts.empty()) return at::stack(parts, 0);
    return want_grids ? at::zeros({0, N, g, g}, at::kFloat) : at::zeros({0, N}, at::kDouble);
  };
  const auto top_grids = stack_or_empty(stacked(0, top.size(), true), true);
  auto ranks = at::zeros({N}, at::kLong);
  nlohmann::json ids = nlohmann::json::array();
  for (int64_t i = 0; i < N; ++i) {
    ranks[i] = samples[static_cast<size_t>(i)].rank;
    ids.push_back({{"dataset", samples[static_cast<size_t>(i)].dataset},
                   {"sample_id", samples[static_cast<size_t>(i)].item().sample_id}});
  }
  save_safetensors(path,
                   {{"top_heads", head_table(top)},
                    {"top_grids", top_grids},
                    {"top_image_mass", stack_or_empty(stacked(0, top.size(), false), false)},
                    {"bottom_heads", head_table(bottom)},
                    {"bottom_grids", stack_or_empty(stacked(top.size(), bottom.size(), true), true)},
                    {"bottom_image_mass", stack_or_empty(stacked(top.size(), bottom.size(), false), false)},
                    {"ranks", ranks}},
                   {{"samples", ids.dump()},
                    {"overlay_method", o.overlay_method},
                    {"query", to_string(o.overlay.query)}});
  return top_grids.sizes().vec();
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

void run_attrib(PipelineContext& ctx, StageContext& sc) {
  at::init_num_threads();  // this worker thread takes the process's torch thread count
  const AttribStageOptions o = parse_attrib(ctx.options().stage("attrib"), "stages.attrib");
  Store& store = sc.store();
  const int64_t run = sc.run_id();
  const auto features = store.selection(run, k::kSpatialSelection);
  nlohmann::json result{{"features", features.size()}};
  if (features.empty()) {  // a run may have no spatial features: nothing to attribute
    sc.commit({}, result.dump());
    return;
  }
  sc.progress().begin("load model, SAEs and data", 0);
  const VisionLanguageModel& model = ctx.model();
  const std::string regime = diff_regime(ctx.options());
  std::map<int, Sae> saes;
  for (const auto& f : features) {
    if (!saes.count(f.layer)) saes.emplace(f.layer, load_adapted_sae(store, run, f.layer, regime, model, "attrib"));
  }
  const fs::path dir = stage_dir(ctx);

  const auto mean = mean_embedding(model, ctx.dataset(DataSplit::kEval), o.mean_items, o.batch_size, o.corruption,
                                   sc.progress());
  TensorRef mean_ref;
  mean_ref.key = k::kMeanImageEmbedding;
  mean_ref.path = (dir / "mean_image_embedding.safetensors").string();
  mean_ref.shape = mean.mean.sizes().vec();
  save_safetensors(mean_ref.path, {{"mean", mean.mean}},
                   {{"mode", to_string(mean.mode)}, {"images", std::to_string(mean.images)}});

  ExactPatchingOptions exact_options;
  exact_options.objective = o.attribution.objective;
  exact_options.activation = o.attribution.activation;
  exact_options.corruption_strength = o.attribution.corruption_strength;
  exact_options.denoising = o.denoising;

  SampleLookup lookup(ctx);
  std::vector<HeadScore> head_rows;
  std::vector<PatchingRow> patching_rows;
  std::vector<TensorRef> tensors{mean_ref};
  std::vector<at::Tensor> overlay_maps;  // per attributed feature, for recurring heads
  nlohmann::json skipped = nlohmann::json::array(), per_feature = nlohmann::json::array();
  int64_t samples_total = 0, forwards = 0, backwards = 0, exact_forwards = 0;
  double attribution_s = 0.0, exact_s = 0.0;
  for (const auto& f : features) {
    sc.check_cancel();
    const std::string label = feature_label(f);
    const auto samples = feature_top_samples(store, run, f, o.datasets, o.top_k, lookup, "attrib");
    if (samples.empty()) {
      skipped.push_back(label);
      continue;
    }
    const BatchInput input = top_sample_input(samples, "attrib");
    const auto batches = prepare_batches(model, input.ids, input.pixels, o.batch_size);
    FeatureTarget target;
    target.sae = &saes.at(f.layer);
    target.layer = f.layer;
    target.feature = f.feature;

    auto t0 = std::chrono::steady_clock::now();
    const HeadAttribution attribution = attribute_heads(model, target, batches, mean, o.attribution, sc.progress());
    attribution_s += seconds_since(t0);
    forwards += attribution.forward_passes;
    backwards += attribution.backward_passes;
    samples_total += attribution.samples;
    if (attribution.method_a.defined()) add_rows(head_rows, f, k::kMethodA, attribution.method_a.score);
    if (attribution.method_b.defined()) add_rows(head_rows, f, k::kMethodB, attribution.method_b.score);
    nlohmann::json info{{"feature", label}, {"samples", attribution.samples}};
    if (attribution.method_a.defined() && attribution.method_b.defined()) {
      const auto overlap = top_k_overlap(attribution.method_a.score, attribution.method_b.score,
                                         std::max<int64_t>(o.overlay_heads, 1));
      info["top_overlap_ab"] = overlap.fraction;
    }
    at::Tensor exact_map;
    if (o.exact) {
      t0 = std::chrono::steady_clock::now();
      const ExactPatching exact = exact_patch_heads(model, target, batches, mean, exact_options, sc.progress());
      exact_s += seconds_since(t0);
      exact_forwards += exact.forward_passes;
      exact_map = exact.noising.effect;
      add_rows(head_rows, f, k::kMethodExact, exact_map);
      const PatchingAgreement agreement = compare_with_exact(attribution, exact);
      PatchingRow p;
      p.layer = f.layer;
      p.feature = f.feature;
      p.spearman_a = agreement.spearman_a;
      p.spearman_b = agreement.spearman_b;
      patching_rows.push_back(p);
    }
    const at::Tensor map = o.overlay_method == k::kMethodA   ? attribution.method_a.score
                           : o.overlay_method == k::kMethodB ? attribution.method_b.score
                                                             : exact_map;
    overlay_maps.push_back(map);

    const auto overlay_samples = feature_top_samples(store, run, f, o.overlay_datasets, o.top_k, lookup, "attrib");
    if (!overlay_samples.empty()) {
      sc.progress().begin("attention overlays " + label, 0);
      const BatchInput overlay_input = top_sample_input(overlay_samples, "attrib");
      const auto overlay_batches = prepare_batches(model, overlay_input.ids, overlay_input.pixels, o.batch_size);
      TensorRef ref;
      ref.key = k::attention_tensor_key(f.layer, f.feature);
      ref.path = (dir / fmt::format("attn-L{}-F{}.safetensors", f.layer, f.feature)).string();
      ref.shape = write_overlays(model, overlay_batches, overlay_samples, map, o, ref.path);
      tensors.push_back(ref);
    }
    per_feature.push_back(info);
  }

  // Heads in the top overlay_heads of at least two features (paper Fig. 4: recurring heads).
  nlohmann::json recurring = nlohmann::json::array();
  if (overlay_maps.size() >= 2 && o.overlay_heads > 0) {
    for (const auto& r : recurring_heads(overlay_maps, o.overlay_heads, 2))
      recurring.push_back({{"head", to_string(r.head)}, {"features", r.count}, {"mean_score", r.mean_score}});
  }
  const auto attributed = static_cast<int64_t>(overlay_maps.size());
  result["attributed"] = attributed;
  result["skipped_no_samples"] = skipped;
  result["samples"] = samples_total;
  result["mean_images"] = mean.images;
  result["forward_passes"] = forwards;
  result["backward_passes"] = backwards;
  result["exact_forward_passes"] = exact_forwards;
  result["seconds_attribution"] = attribution_s;
  result["seconds_exact"] = exact_s;
  result["recurring_heads"] = recurring;
  result["per_feature"] = per_feature;
  sc.progress().begin("write results", 0);
  sc.commit(
      [&](Store& s) {
        s.put_head_scores(run, head_rows);
        s.put_patching(run, patching_rows);
        for (const auto& t : tensors) s.put_tensor(run, t);
      },
      result.dump());
}

}  // namespace

StageDefinition attrib_stage_definition() {
  StageDefinition d;
  d.name = "attrib";
  d.description = "attribution patching of each spatial feature to attention heads (methods A, B, exact), overlays";
  d.deps = {"lexical"};
  d.defaults = attrib_defaults;
  d.validate = [](const nlohmann::json& j, const std::string& where) { parse_attrib(j, where); };
  d.make = [](PipelineContext& ctx) {
    Stage s;
    s.name = "attrib";
    s.deps = {"lexical"};
    nlohmann::json key = common_options_json(ctx.options());
    key["stage"] = ctx.options().stage("attrib");
    s.options_hash = hash_options(key.dump());
    s.run = [&ctx](StageContext& sc) { run_attrib(ctx, sc); };
    // Head and patching rows are this stage's alone. Its tensors are keyed upserts that a
    // rerun rewrites (the store has no per-key delete, and clearing the table would drop
    // the adapt stage's SAEs).
    s.reset = [](Store& store, int64_t run) {
      store.clear(run, StoreTable::kHeads);
      store.clear(run, StoreTable::kPatching);
    };
    return s;
  };
  return d;
}

}  // namespace sightline
