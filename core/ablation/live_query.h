// The explorer's live query service: one question about one image, answered with and
// without an InterventionSet in a single forward pass of two sequences (row 0 as is, row
// 1 with the edits), and re-evaluation of a subset of a yes/no item pool under the same
// kind of InterventionSet. Work runs on the service's own worker thread; the UI submits
// and polls, never waiting on torch.
//
// Scheduling: at most one pending request per kind. Submitting a live query replaces a
// pending live query (it becomes kSuperseded; a running one finishes: it takes one
// forward pass); submitting a re-evaluation replaces a pending one and cancels a running
// one at its next batch. Live queries go first, also between the batches of a running
// re-evaluation, so a slider drag stays interactive while a re-evaluation runs.
//
// No torch in this header: queries and results are plain data (an image is an opaque
// ModelImage handle, attention a float array with its shape), so the explorer's UI can
// submit and read them without the engine's headers. What needs torch (the service's
// model and SAEs, making a ModelImage from a tensor, the attention as a tensor) is in
// core/ablation/live_query_torch.h.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/ablation/intervention_set.h"
#include "core/ablation/yes_no_types.h"
#include "core/common/progress.h"

namespace sightline {

// The service's model, SAEs and answer tokens (core/ablation/live_query_torch.h).
struct LiveServiceConfig;
// The pool's images as tensors (core/ablation/yes_no_eval.h).
struct ItemImages;

// A preprocessed image as the model's vision tower takes it: [3, S, S] or [1, 3, S, S]
// float32 pixels. Opaque here: core makes one (model_image() in live_query_torch.h, or
// core/pipeline/live_session's images) and the holder only passes it back in a LiveQuery.
struct ModelImage;
using ModelImagePtr = std::shared_ptr<const ModelImage>;

// Attention probabilities [layers, heads, queries, patches] as a plain row-major array.
struct AttentionPatterns {
  int64_t layers = 0, heads = 0, queries = 0, patches = 0;
  std::vector<float> values;  // layers * heads * queries * patches, row-major
  // Patterns were returned (the shape is set; queries may still be 0).
  bool defined() const { return layers > 0; }
  // The `patches` values of (layer, head, query row), or nullptr when one is out of range.
  const float* row(int64_t layer, int64_t head, int64_t query) const {
    if (layer < 0 || layer >= layers || head < 0 || head >= heads || query < 0 || query >= queries) return nullptr;
    return values.data() + ((layer * heads + head) * queries + query) * patches;
  }
};

struct LiveQuery {
  ModelImagePtr image;              // null for a text-only prompt
  std::vector<int64_t> prompt_ids;  // one kImageTokenIndex exactly when an image is given
  InterventionSet interventions;
  std::vector<SaeFeature> watch;    // features whose activations are reported
  int top_k = 10;
  // Also return the baseline row's attention patterns onto the image keys (LiveResult::
  // attention; needs an image). Read during the forward pass by an edit at each layer's
  // blocks.L.attn.hook_pattern that keeps only that slice, so the full [B, H, T, T]
  // patterns are never held for all layers at once.
  bool attention = false;
};

struct TokenProbability {
  int64_t id = 0;
  std::string text;
  double p = 0.0;  // softmax over the vocabulary
};

// The model's answer at the prompt's last position, for one variant.
struct LiveAnswer {
  int64_t answer_id = -1;  // argmax token
  std::string answer_text;
  double p_yes = 0.0, p_no = 0.0;  // softmax over the vocabulary, summed over the answer variants
  double p_yes_normalised = 0.0;   // P(yes) / (P(yes) + P(no))
  std::vector<TokenProbability> top;  // top_k tokens, most probable first
  // Per watched feature (LiveQuery::watch order): max of h_f over the text positions, read
  // at the feature's hook after that hook's edits; 0 when the prompt has no text position.
  std::vector<double> watch_max;
};

struct LiveResult {
  uint64_t id = 0;
  LiveAnswer baseline, intervened;
  // With LiveQuery::attention: [layers, heads, Q, P]: the attention probabilities of the
  // baseline row (no interventions) from each query position after the image block (Q of
  // them: the prompt's ids after the image marker, in order) onto the P image positions
  // (row-major patch grid). Not defined() otherwise.
  AttentionPatterns attention;
  // Prepared-batch position of attention query row 0 (= image offset + P); -1 without.
  // Prompt id i (i > the marker's index m) is query row i - m - 1.
  int64_t attention_first = -1;
  double seconds = 0.0;  // worker time for the query
  std::string error;     // non-empty when the query failed (the answers are then empty)
};

// Baseline scores and encoded images are cached per pool item / image, so a repeated
// re-evaluation runs one pass (the intervened one). A query with no interventions only
// fills those caches: submit one when the user picks a subset to make the next one fast.
struct ReevalQuery {
  std::vector<int64_t> items;  // indices into the pool given by set_items (at most max_reeval_items)
  InterventionSet interventions;
};

struct ReevalResult {
  uint64_t id = 0;
  EvalDelta delta;                               // over the query's items; flipped indexes them
  std::vector<ItemScore> baseline, intervened;   // in the query's item order
  double seconds = 0.0;
  std::string error;
};

enum class RequestState { kUnknown, kPending, kRunning, kDone, kFailed, kSuperseded };

// "unknown", "pending", "running", "done", "failed", "superseded".
std::string to_string(RequestState state);

class LiveQueryService {
 public:
  // Starts the worker. Throws when config.model is null or the answer tokens are invalid.
  // (Callers include core/ablation/live_query_torch.h for the config.)
  explicit LiveQueryService(LiveServiceConfig config);
  // Supersedes pending work, cancels a running re-evaluation and joins the worker.
  ~LiveQueryService();
  LiveQueryService(const LiveQueryService&) = delete;
  LiveQueryService& operator=(const LiveQueryService&) = delete;

  // Replaces the re-evaluation pool (images as pixels or tokens, as in score_yes_no) and
  // drops its caches; a pending or running re-evaluation is superseded.
  void set_items(std::vector<YesNoItem> items, ItemImages images);

  // Queue a request; returns its id (increasing, shared by both kinds).
  uint64_t submit(LiveQuery query);
  uint64_t submit(ReevalQuery query);

  RequestState state(uint64_t id) const;
  // The newest finished result of each kind (done or failed), or null.
  std::shared_ptr<const LiveResult> live_result() const;
  std::shared_ptr<const ReevalResult> reeval_result() const;
  // Blocks until request `id` is done, failed or superseded, or timeout_s passes; returns
  // its result, or null when it was superseded, timed out, or is not of that kind.
  std::shared_ptr<const LiveResult> wait_live(uint64_t id, double timeout_s = 60.0);
  std::shared_ptr<const ReevalResult> wait_reeval(uint64_t id, double timeout_s = 60.0);
  // Fraction done of the running re-evaluation, or -1 when none runs.
  double reeval_fraction() const;
  // Cancels the re-evaluation: a pending one becomes kSuperseded, a running one stops at
  // its next batch (kSuperseded, no result). Live queries are untouched.
  void cancel_reeval();

  // While paused the worker starts nothing new (a running request finishes); requests
  // still queue and supersede. For coalescing bursts of UI edits, and for tests.
  void pause();
  void resume();

  // Runs one query on the calling thread (what the worker does), for the CLI and tests.
  // Throws Error on bad input (the worker reports it as a failed result instead).
  LiveResult run_live(const LiveQuery& query) const;

 private:
  struct Pool;
  void worker();
  void run_pending_live(std::unique_lock<std::mutex>& lock);
  ReevalResult run_reeval(const ReevalQuery& query, const std::shared_ptr<Pool>& pool, Progress& progress);
  void set_state(uint64_t id, RequestState state);  // lock held

  std::unique_ptr<const LiveServiceConfig> config_;  // in a pointer: its type needs torch
  int threads_ = 1;
  mutable std::mutex mutex_;
  std::condition_variable wake_;  // the worker waits on it
  std::condition_variable done_;  // waiters on results
  bool stop_ = false, paused_ = false;
  uint64_t next_id_ = 1;
  std::optional<std::pair<uint64_t, LiveQuery>> pending_live_;
  std::optional<std::pair<uint64_t, ReevalQuery>> pending_reeval_;
  std::shared_ptr<Progress> running_reeval_;  // cancel handle of the running re-evaluation
  std::shared_ptr<Pool> pool_;
  std::map<uint64_t, RequestState> states_;
  std::map<uint64_t, std::shared_ptr<const LiveResult>> live_results_;
  std::map<uint64_t, std::shared_ptr<const ReevalResult>> reeval_results_;
  std::shared_ptr<const LiveResult> latest_live_;
  std::shared_ptr<const ReevalResult> latest_reeval_;
  std::thread thread_;
};

}  // namespace sightline
