#include "core/pipeline/live_session.h"

#include <ATen/ATen.h>
#include <torch/types.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "core/ablation/live_query_torch.h"
#include "core/common/constants.h"
#include "core/common/error.h"
#include "core/image/image.h"
#include "core/pipeline/context.h"
#include "core/pipeline/feature_samples.h"
#include "core/pipeline/options.h"
#include "core/pipeline/store_keys.h"
#include "core/sae/sae.h"
#include "core/store/store.h"

namespace fs = std::filesystem;

namespace sightline {

namespace {

std::atomic<uint64_t> g_live_image_version{0};

// The run whose options and results the session uses: `name`, or the newest.
RunRecord live_session_run(Store& store, const std::string& path, const std::string& name) {
  std::optional<RunRecord> run;
  if (name.empty()) {
    const auto runs = store.runs();
    if (!runs.empty()) run = runs.front();
    check(run.has_value(), "file '{}': table 'runs': no run recorded yet", path);
  } else {
    run = store.latest_run(name);
    check(run.has_value(), "file '{}': table 'runs': no run named '{}'", path, name);
  }
  return *run;
}

// Mean |score| per (head_layer, head) over the features that scored it, with one method
// per feature: A, else B, else exact (the heads view's default order).
std::vector<LiveHead> live_session_rank_heads(const std::vector<std::vector<HeadScore>>& per_feature, int layers,
                                              int heads, int keep) {
  std::map<std::pair<int, int>, LiveHead> sums;
  for (const auto& scores : per_feature) {
    std::string method;
    for (const char* m : {"A", "B", "exact"}) {
      if (std::any_of(scores.begin(), scores.end(), [&](const HeadScore& s) { return s.method == m; })) {
        method = m;
        break;
      }
    }
    for (const HeadScore& s : scores) {
      if (s.method != method || s.head_layer < 0 || s.head_layer >= layers || s.head < 0 || s.head >= heads) continue;
      LiveHead& h = sums[{s.head_layer, s.head}];
      h.layer = s.head_layer;
      h.head = s.head;
      h.mean_abs_score += std::fabs(s.score);
      ++h.features;
    }
  }
  std::vector<LiveHead> out;
  for (auto& [key, h] : sums) {
    h.mean_abs_score /= std::max(1, h.features);
    out.push_back(h);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const LiveHead& a, const LiveHead& b) { return a.mean_abs_score > b.mean_abs_score; });
  if (static_cast<int>(out.size()) > keep) out.resize(static_cast<size_t>(keep));
  return out;
}

// An image for display and for the model: pixels [3, S, S] (normalised with mean / std)
// as the model's input, un-normalised to RGB for display.
LiveImage live_session_image(const at::Tensor& pixels, const std::vector<double>& image_mean,
                             const std::vector<double>& image_std) {
  torch::NoGradGuard guard;
  const auto px = pixels.to(torch::kCPU, torch::kFloat32).contiguous();
  const auto mean = torch::tensor(image_mean, torch::kFloat64).to(torch::kFloat32).view({3, 1, 1});
  const auto std = torch::tensor(image_std, torch::kFloat64).to(torch::kFloat32).view({3, 1, 1});
  const ImageU8 shown = tensor_to_image(px * std + mean);
  LiveImage image;
  image.width = shown.width;
  image.height = shown.height;
  image.rgb = shown.rgb;
  image.input = model_image(px);
  image.version = ++g_live_image_version;
  return image;
}

}  // namespace

LiveSession::LiveSession() = default;
LiveSession::~LiveSession() = default;

std::shared_ptr<LiveSession> LiveSession::load(const LiveSources& sources, Progress& progress) {
  std::shared_ptr<LiveSession> s(new LiveSession());
  progress.begin("read the run's sources", 0);
  PipelineOptions options = default_pipeline_options();
  std::optional<Store> store;
  RunRecord run;
  if (!sources.db_path.empty()) {
    store.emplace(Store::open(sources.db_path, Store::Mode::kReadOnly));
    run = live_session_run(*store, sources.db_path, sources.run_name);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(run.options_json);
    } catch (const std::exception& e) {
      fail("file '{}': table 'runs': run '{}' field 'options_json' is not JSON ({})", sources.db_path, run.name,
           e.what());
    }
    options = pipeline_options_from_json(j, fmt::format("{} run '{}' options", sources.db_path, run.name));
  }
  if (!sources.world_dir.empty()) {
    options.source = SourceOptions{};
    options.source.world = sources.world_dir;
  }
  check(options.source.world_mode() || !options.source.model.empty(),
        "no world directory: start the explorer with --world DIR (or --db of a run made on a world)");
  if (options.source.world_mode())
    check(fs::is_directory(options.source.world), "world '{}': no such directory", options.source.world);
  options.device = sources.device;
  // The eval split is read only for its yes/no questions: a few times the pool's share.
  options.data.eval_items = std::min(options.data.eval_items, std::max<int64_t>(64, 4 * sources.max_vqa_items));
  s->context_ = std::make_unique<PipelineContext>(options);
  PipelineContext& ctx = *s->context_;
  progress.check_cancel();

  progress.begin("load the model and tokenizer", 0);
  const VisionLanguageModel& model = ctx.model();
  const Tokenizer& tokenizer = ctx.tokenizer();
  const AnswerTokens answers = yes_no_answer_tokens(tokenizer, "gui live model");
  const ModelConfig& config = model.config();
  const VisionConfig& vision = *config.mm.vision;
  s->num_layers_ = model.num_layers();
  s->num_heads_ = static_cast<int>(config.text.num_attention_heads);
  s->image_tokens_ = model.image_tokens();
  const auto side = static_cast<int>(std::lround(std::sqrt(static_cast<double>(s->image_tokens_))));
  s->grid_ = static_cast<int64_t>(side) * side == s->image_tokens_ ? side : 0;
  s->image_mean_ = vision.image_mean;
  s->image_std_ = vision.image_std;
  s->image_size_ = static_cast<int>(vision.image_size);
  // Files follow the model's config (LLaVA "pad"); the world's square scenes are the same either way.
  s->pad_to_square_ = config.mm.image_aspect_ratio == "pad";
  progress.check_cancel();

  InterventionResources resources;
  if (store) {
    progress.begin("load the run's adapted SAEs", 0);
    const std::string regime = diff_regime(options);
    std::vector<FeatureRef> refs = store->selection(run.id, store_keys::kSpatialSelection);
    std::map<int, const Sae*> by_layer;
    std::set<int> failed;
    for (const FeatureRef& f : refs) {
      if (by_layer.count(f.layer) || failed.count(f.layer)) continue;
      try {
        s->saes_.push_back(std::make_unique<Sae>(load_adapted_sae(*store, run.id, f.layer, regime, model, "gui")));
        by_layer[f.layer] = s->saes_.back().get();
      } catch (const std::exception& e) {
        failed.insert(f.layer);
        s->warnings_.push_back(fmt::format("layer {}: {} (its features cannot be ablated)", f.layer, e.what()));
      }
      progress.check_cancel();
    }
    resources.saes = by_layer;
    std::vector<std::vector<HeadScore>> scores;
    std::set<std::pair<int, int>> scored;
    for (const FeatureRef& f : refs) {
      if (by_layer.count(f.layer) && f.feature >= 0 && f.feature < by_layer.at(f.layer)->d_sae())
        s->features_.push_back({f.layer, f.feature});
      scores.push_back(store->head_scores(run.id, f.layer, f.feature));
      scored.insert({f.layer, f.feature});
    }
    for (const AblationRow& row : store->ablations(run.id)) {
      if (scored.insert({row.layer, row.feature}).second) scores.push_back(store->head_scores(run.id, row.layer, row.feature));
    }
    s->top_heads_ = live_session_rank_heads(scores, s->num_layers_, s->num_heads_, sources.top_heads);
  }
  progress.check_cancel();

  progress.begin("VSR statements", 0);
  const PromptDataset& vsr = ctx.dataset(DataSplit::kVsr);
  std::set<std::string> relations;
  for (int64_t i = 0; i < vsr.size(); ++i) {
    const PromptItem& item = vsr.item(i);
    LiveStatement st;
    st.text = item.text;
    st.relation = item.relation;
    st.label = item.answer == "yes";
    st.image = item.image;
    st.prompt_ids = item.ids;
    if (!st.relation.empty()) relations.insert(st.relation);
    s->statements_.push_back(std::move(st));
  }
  s->relations_.assign(relations.begin(), relations.end());
  progress.check_cancel();

  // The re-evaluation pool: VSR statements first, then the VQA yes/no control; each
  // distinct image once in `pixels`.
  std::vector<YesNoItem> pool;
  std::vector<at::Tensor> pixels;
  std::map<std::pair<int, int64_t>, int64_t> image_row;  // (dataset, image) -> row
  const PromptDataset& eval = ctx.dataset(DataSplit::kEval);
  std::vector<std::pair<int64_t, bool>> chosen;  // (item, control)
  for (int64_t i = 0; i < vsr.size() && i < sources.max_vsr_items; ++i) chosen.push_back({i, false});
  int64_t n_control = 0;
  for (int64_t i = 0; i < eval.size() && n_control < sources.max_vqa_items; ++i) {
    if (eval.item(i).answer_type != "yes/no" || (eval.item(i).answer != "yes" && eval.item(i).answer != "no")) continue;
    chosen.push_back({i, true});
    ++n_control;
  }
  progress.begin("evaluation pool images", static_cast<int64_t>(chosen.size()));
  for (const auto& [i, control] : chosen) {
    const PromptDataset& data = control ? eval : vsr;
    const PromptItem& item = data.item(i);
    YesNoItem y;
    y.prompt_ids = item.ids;
    y.label = item.answer == "yes";
    if (item.image >= 0) {
      const auto [it, inserted] = image_row.emplace(std::make_pair(control ? 1 : 0, item.image),
                                                    static_cast<int64_t>(pixels.size()));
      if (inserted) pixels.push_back(data.pixels(item.image));
      y.image = it->second;
    }
    pool.push_back(std::move(y));
    s->pool_relation_.push_back(control ? std::string() : item.relation);
    s->pool_control_.push_back(control);
    progress.tick();
    progress.check_cancel();
  }

  LiveServiceConfig service;
  service.model = &model;
  service.resources = resources;
  service.answers = answers;
  service.token_text = [&tokenizer](int64_t id) { return tokenizer.token_text(id); };
  service.max_reeval_items = std::max<int64_t>(1, static_cast<int64_t>(pool.size()));
  s->service_ = std::make_unique<LiveQueryService>(service);
  ItemImages images;
  if (!pixels.empty()) images.pixels = torch::stack(pixels, 0);
  s->service_->set_items(std::move(pool), images);

  const std::string where = options.source.world_mode() ? fmt::format("world '{}'", options.source.world)
                                                         : fmt::format("model '{}'", options.source.model);
  s->description_ = fmt::format("{}: {} layers x {} heads, {} image tokens", where, s->num_layers_, s->num_heads_,
                                s->image_tokens_);
  if (s->grid_ > 0) s->description_ += fmt::format(" ({} x {})", s->grid_, s->grid_);
  if (store) s->description_ += fmt::format(", run '{}' of '{}'", run.name, sources.db_path);
  return s;
}

LiveImage LiveSession::statement_image(int64_t index) const {
  check(index >= 0 && index < static_cast<int64_t>(statements_.size()), "VSR statement {} is out of range [0, {})",
        index, statements_.size());
  const LiveStatement& st = statements_[static_cast<size_t>(index)];
  LiveImage image = live_session_image(context_->dataset(DataSplit::kVsr).pixels(st.image), image_mean_, image_std_);
  image.label = fmt::format("VSR {}: {}", index, st.text);
  image.statement = index;
  return image;
}

LiveImage LiveSession::file_image(const std::string& path) const {
  ClipPreprocess pre;
  pre.size = image_size_;
  pre.pad_to_square = pad_to_square_;
  for (size_t c = 0; c < 3; ++c) {
    pre.mean[c] = static_cast<float>(image_mean_.at(c));
    pre.std[c] = static_cast<float>(image_std_.at(c));
    pre.pad_color[c] = static_cast<uint8_t>(image_mean_.at(c) * 255.0);  // LLaVA: int(mean * 255)
  }
  LiveImage image = live_session_image(preprocess_clip(load_image(path), pre), image_mean_, image_std_);
  image.label = path;
  return image;
}

std::vector<int64_t> LiveSession::question_ids(const std::string& question, int64_t statement) const {
  if (statement >= 0 && statement < static_cast<int64_t>(statements_.size()) &&
      statements_[static_cast<size_t>(statement)].text == question)
    return statements_[static_cast<size_t>(statement)].prompt_ids;
  check(!question.empty(), "question: empty (type a question about the image)");
  try {
    return context_->question_prompt(question, true);
  } catch (const std::exception& e) {
    fail("question '{}': {}", question, e.what());
  }
}

std::vector<std::string> LiveSession::token_texts(const std::vector<int64_t>& ids) const {
  const Tokenizer& tok = context_->tokenizer();
  std::vector<std::string> out;
  for (int64_t id : ids) {
    if (id == kImageTokenIndex) {
      out.push_back("<image>");
      continue;
    }
    try {
      out.push_back(tok.token_text(id));
    } catch (const std::exception&) {
      out.push_back(fmt::format("<{}>", id));
    }
  }
  return out;
}

std::vector<RelationAccuracy> LiveSession::relation_accuracy(const ReevalResult& result,
                                                            const std::vector<int64_t>& items) const {
  std::map<std::string, std::vector<int64_t>> by_relation;
  std::vector<int64_t> all_vsr, control;
  for (size_t k = 0; k < items.size() && k < result.baseline.size(); ++k) {
    const int64_t i = items[k];
    if (i < 0 || i >= pool_size()) continue;
    if (pool_control_[static_cast<size_t>(i)]) {
      control.push_back(static_cast<int64_t>(k));
    } else {
      all_vsr.push_back(static_cast<int64_t>(k));
      const std::string& r = pool_relation_[static_cast<size_t>(i)];
      by_relation[r.empty() ? "(no relation)" : r].push_back(static_cast<int64_t>(k));
    }
  }
  std::vector<RelationAccuracy> out;
  auto add = [&](const std::string& name, const std::vector<int64_t>& subset, bool total, bool is_control) {
    if (subset.empty()) return;
    RelationAccuracy row;
    row.name = name;
    row.total = total;
    row.control = is_control;
    row.delta = compare(result.baseline, result.intervened, subset);
    out.push_back(std::move(row));
  };
  for (const auto& [name, subset] : by_relation) add(name, subset, false, false);
  add("all VSR", all_vsr, true, false);
  add("VQA yes/no (control)", control, false, true);
  return out;
}

}  // namespace sightline
