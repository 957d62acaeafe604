#include "ui/live_views.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>

#include "core/common/constants.h"
#include "core/common/error.h"

namespace sightline::ui {

const char* to_label(AttentionRows rows) {
  switch (rows) {
    case AttentionRows::kLast: return "last token";
    case AttentionRows::kMeanText: return "mean of the question";
    case AttentionRows::kToken: return "chosen token";
  }
  return "?";
}

const char* to_label(OverlayScale scale) {
  switch (scale) {
    case OverlayScale::kPerMap: return "per map (min..max)";
    case OverlayScale::kShared: return "shared (0..max shown)";
    case OverlayScale::kUnit: return "probability (0..1)";
  }
  return "?";
}

AttentionMap attention_map(const LiveResult& result, int grid, int layer, int head, AttentionRows rows, int64_t row) {
  AttentionMap map;
  map.layer = layer;
  map.head = head;
  const AttentionPatterns& a = result.attention;  // (L, H, Q, P)
  if (!a.defined() || grid <= 0 || a.patches != static_cast<int64_t>(grid) * grid) return map;
  if (layer < 0 || layer >= a.layers || head < 0 || head >= a.heads || a.queries == 0) return map;
  const int64_t q = a.queries, p = a.patches;
  if (static_cast<int64_t>(a.values.size()) != a.layers * a.heads * q * p) return map;  // not the shape it says
  // Row-major (L, H, Q, P): the head's Q rows of P values follow each other.
  const float* base = a.row(layer, head, 0);
  map.grid = grid;
  map.values.assign(static_cast<size_t>(p), 0.0f);
  if (rows == AttentionRows::kMeanText) {
    for (int64_t r = 0; r < q; ++r)
      for (int64_t k = 0; k < p; ++k) map.values[static_cast<size_t>(k)] += base[r * p + k];
    for (float& v : map.values) v /= static_cast<float>(q);
  } else {
    const int64_t r = rows == AttentionRows::kLast ? q - 1 : std::clamp<int64_t>(row, 0, q - 1);
    std::copy(base + r * p, base + (r + 1) * p, map.values.begin());
  }
  map.min = map.values[0];
  map.max = map.values[0];
  map.argmax = 0;
  for (size_t k = 0; k < map.values.size(); ++k) {
    const float v = map.values[k];
    map.image_mass += v;
    map.min = std::min(map.min, v);
    if (v > map.max) {
      map.max = v;
      map.argmax = static_cast<int>(k);
    }
  }
  return map;
}

std::pair<float, float> overlay_range(const AttentionMap& map, OverlayScale scale, float shared_max) {
  std::pair<float, float> range{0.0f, 1.0f};
  switch (scale) {
    case OverlayScale::kPerMap: range = {map.min, map.max}; break;
    case OverlayScale::kShared: range = {0.0f, shared_max}; break;
    case OverlayScale::kUnit: range = {0.0f, 1.0f}; break;
  }
  if (!(range.second > range.first)) range.second = range.first + std::max(1e-6f, std::fabs(range.first) * 1e-6f);
  return range;
}

InterventionSet toggled_interventions(const std::set<SaeFeature>& features, const std::set<std::pair<int, int>>& heads) {
  InterventionSet set;
  set.ablate_features.assign(features.begin(), features.end());
  for (const auto& [layer, head] : heads) set.ablate_heads.push_back({layer, head, HeadAblationMode::kZero});
  return set;
}

// ---------------------------------------------------------------- loading

LiveViews::LiveViews(LiveSources sources)
    : sources_(std::move(sources)),
      loading_(std::make_shared<DataSlot<std::shared_ptr<LiveSession>>>()),
      image_(std::make_shared<DataSlot<LiveImage>>()),
      image_request_(std::make_shared<std::atomic<uint64_t>>(0)) {
  loading_->set_missing("not started");
  image_->set_missing("no image yet");
}

LiveViews::~LiveViews() = default;

void LiveViews::start(TaskList& tasks) {
  if (started_) return;
  started_ = true;
  if (sources_.world_dir.empty() && sources_.db_path.empty()) {
    loading_->set_missing("no world: start the explorer with --world DIR (or --db of a run made on a world)");
    return;
  }
  loading_->begin("loading model...");
  auto slot = loading_;
  const LiveSources sources = sources_;
  load_task_ = tasks.start("load live model", [slot, sources](Progress& progress) {
    try {
      auto session = LiveSession::load(sources, progress);
      slot->publish(std::make_shared<const std::shared_ptr<LiveSession>>(std::move(session)));
    } catch (const Cancelled&) {
      slot->fail("loading the model was cancelled");
      throw;
    } catch (const std::exception& e) {
      slot->fail(e.what());
      throw;
    }
  });
}

DataStatus LiveViews::status() const {
  if (session_) return DataStatus{DataState::kReady, "", -1};
  DataStatus s = loading_->status();
  // Published but not yet picked up by update(): still loading as far as the views go.
  if (s.state == DataState::kReady) s = DataStatus{DataState::kComputing, "loading model...", -1};
  return s;
}

bool LiveViews::busy() const {
  if (!started_) return false;
  const DataState load = loading_->status().state;
  if (load == DataState::kComputing || (load == DataState::kReady && !session_)) return true;
  if (!session_) return false;
  return image_requested_ || prompt_dirty_ || image_->status().state == DataState::kComputing || query_id_ != 0 ||
         reeval_id_ != 0;
}

// ---------------------------------------------------------------- per frame

void LiveViews::update(TaskList& tasks) {
  if (!session_ && loading_->status().state == DataState::kReady) {
    session_ = *loading_->data();
    const auto n = static_cast<int64_t>(session_->statements().size());
    statement_ = n > 0 ? std::clamp<int64_t>(statement_, 0, n - 1) : 0;
    if (!question_set_ && !file_mode_ && n > 0) question_ = session_->statements()[static_cast<size_t>(statement_)].text;
    layer = std::clamp(layer, 0, std::max(0, session_->num_layers() - 1));
    head = std::clamp(head, 0, std::max(0, session_->num_heads() - 1));
    prompt_dirty_ = true;
  }
  if (!session_) return;
  if (reeval_when_ready) {
    reeval_when_ready = false;
    start_reeval();
  }
  if (image_requested_) {
    prepare_image(tasks);
    image_requested_ = false;
  }
  if (prompt_dirty_) rebuild_prompt();
  LiveQueryService& service = session_->service();

  // A finished live query.
  if (query_id_ != 0) {
    const RequestState st = service.state(query_id_);
    if (st == RequestState::kDone || st == RequestState::kFailed) {
      const auto r = service.wait_live(query_id_, 0.0);
      if (r && r->error.empty()) {
        result_ = r;
        query_error_.clear();
      } else {
        result_.reset();
        query_error_ = r ? r->error : "the query's result was dropped";
      }
      result_stale_ = false;
      query_id_ = 0;
    } else if (st == RequestState::kSuperseded || st == RequestState::kUnknown) {
      query_id_ = 0;
    }
  }

  // (Re)submit when the image, the prompt or the toggles changed.
  const auto image = image_->data();
  if (image && image_->status().state == DataState::kReady && !prompt_.empty() && prompt_error_.empty()) {
    const bool changed = !query_submitted_ || image->version != query_image_version_ || prompt_ != query_prompt_ ||
                         features_on_ != query_features_ || heads_on_ != query_heads_;
    if (changed) {
      LiveQuery q;
      q.image = image->input;
      q.prompt_ids = prompt_;
      q.interventions = interventions();
      q.top_k = 5;
      q.attention = true;
      query_id_ = service.submit(std::move(q));
      query_submitted_ = true;
      query_image_version_ = image->version;
      query_prompt_ = prompt_;
      query_features_ = features_on_;
      query_heads_ = heads_on_;
      result_stale_ = result_ != nullptr;
    }
  }

  // A finished (or cancelled) re-evaluation.
  if (reeval_id_ != 0) {
    const RequestState st = service.state(reeval_id_);
    if (st == RequestState::kDone || st == RequestState::kFailed) {
      const auto r = service.wait_reeval(reeval_id_, 0.0);
      if (r && r->error.empty()) {
        reeval_result_ = r;
        reeval_interventions_ = reeval_pending_interventions_;
        reeval_items_ = reeval_pending_items_;
        reeval_message_ = fmt::format("{} items in {:.1f} s", r->baseline.size(), r->seconds);
      } else {
        reeval_message_ = r ? "failed: " + r->error : "failed: the result was dropped";
      }
      reeval_id_ = 0;
    } else if (st == RequestState::kSuperseded || st == RequestState::kUnknown) {
      reeval_message_ = "cancelled";
      reeval_id_ = 0;
    }
  }
}

// ---------------------------------------------------------------- image

void LiveViews::show_statement(int64_t index) {
  if (session_) {
    const auto n = static_cast<int64_t>(session_->statements().size());
    index = n > 0 ? std::clamp<int64_t>(index, 0, n - 1) : 0;
    if (n > 0) question_ = session_->statements()[static_cast<size_t>(index)].text;
    prompt_dirty_ = true;
  }
  question_set_ = false;
  statement_ = index;
  file_mode_ = false;
  image_requested_ = true;
}

void LiveViews::open_file(const std::string& path) {
  file_path_ = path;
  file_mode_ = true;
  image_requested_ = true;
  // A statement's own prompt belongs to its image: a file is asked the question as a question.
  question_set_ = true;
  prompt_dirty_ = true;
}

void LiveViews::prepare_image(TaskList& tasks) {
  auto slot = image_;
  auto latest = image_request_;
  const uint64_t request = ++*latest;
  auto session = session_;
  const bool file = file_mode_;
  const std::string path = file_path_;
  const int64_t index = statement_;
  slot->begin(file ? "opening " + path : "preparing VSR statement " + std::to_string(index));
  tasks.start(file ? "open image" : "prepare image", [slot, latest, request, session, file, path, index](Progress&) {
    try {
      auto image = std::make_shared<const LiveImage>(file ? session->file_image(path) : session->statement_image(index));
      // A newer request owns the slot now: drop this one.
      if (latest->load() == request) slot->publish(std::move(image));
    } catch (const std::exception& e) {
      if (latest->load() == request) slot->fail(e.what());
      throw;
    }
  });
}

std::vector<int64_t> LiveViews::filtered_statements() const {
  std::vector<int64_t> out;
  if (!session_) return out;
  const auto& all = session_->statements();
  for (size_t i = 0; i < all.size(); ++i)
    if (relation_filter.empty() || all[i].relation == relation_filter) out.push_back(static_cast<int64_t>(i));
  return out;
}

// ---------------------------------------------------------------- question

void LiveViews::set_question(const std::string& question) {
  if (question == question_ && question_set_) return;
  question_ = question;
  question_set_ = true;
  prompt_dirty_ = true;
}

void LiveViews::rebuild_prompt() {
  prompt_dirty_ = false;
  if (!session_) return;
  try {
    prompt_ = session_->question_ids(question_, file_mode_ ? -1 : statement_);
    prompt_tokens_ = session_->token_texts(prompt_);
    prompt_error_.clear();
  } catch (const std::exception& e) {
    prompt_.clear();
    prompt_tokens_.clear();
    prompt_error_ = e.what();
  }
  const int64_t marker = image_marker();
  if (token <= marker || token >= static_cast<int64_t>(prompt_.size())) token = -1;
  if (token < 0 && rows == AttentionRows::kToken) rows = AttentionRows::kLast;
}

int64_t LiveViews::image_marker() const {
  const auto it = std::find(prompt_.begin(), prompt_.end(), kImageTokenIndex);
  return it == prompt_.end() ? -1 : static_cast<int64_t>(it - prompt_.begin());
}

// ---------------------------------------------------------------- toggles and re-evaluation

void LiveViews::set_feature(const SaeFeature& feature, bool on) {
  if (on)
    features_on_.insert(feature);
  else
    features_on_.erase(feature);
}

void LiveViews::set_head(int layer_index, int head_index, bool on) {
  if (on)
    heads_on_.insert({layer_index, head_index});
  else
    heads_on_.erase({layer_index, head_index});
}

void LiveViews::start_reeval() {
  if (!session_ || session_->pool_size() == 0) {
    reeval_message_ = session_ ? "the evaluation pool is empty" : "the model is not loaded";
    return;
  }
  ReevalQuery q;
  q.items.resize(static_cast<size_t>(session_->pool_size()));
  for (size_t i = 0; i < q.items.size(); ++i) q.items[i] = static_cast<int64_t>(i);
  q.interventions = interventions();
  reeval_pending_interventions_ = q.interventions;
  reeval_pending_items_ = q.items;
  reeval_id_ = session_->service().submit(std::move(q));
  reeval_message_ = "running";
}

void LiveViews::cancel_reeval() {
  if (session_ && reeval_id_ != 0) session_->service().cancel_reeval();
}

double LiveViews::reeval_fraction() const {
  return session_ && reeval_id_ != 0 ? session_->service().reeval_fraction() : -1.0;
}

}  // namespace sightline::ui
