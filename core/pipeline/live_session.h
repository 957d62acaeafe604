// The explorer's live model for views 5 (Overlays) and 6 (Ablation): the world's VLM and
// tokenizer (through PipelineContext, so a run's own sources work too), the run's adapted
// SAEs for its spatial features and its top heads (from the store), the VSR test
// statements with their images, a yes/no re-evaluation pool (VSR statements + the VQA
// yes/no control) and a LiveQueryService over all of it. load() does the torch work and
// runs on a task thread; afterwards the session is shared read-only by the UI thread
// (prompts, token texts, lists) and task threads (images), and every forward pass runs
// on the service's worker thread.
//
// No torch in this header: the explorer's UI (ui/live_views) reads the session's plain
// data and passes its images (opaque ModelImage handles) back in live queries; the torch
// work stays in live_session.cpp and core/ablation.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/ablation/live_query.h"
#include "core/common/progress.h"

namespace sightline {

class PipelineContext;
class Sae;

// Where the live model comes from. With a store, the run's options name the sources
// (world_dir, when set, replaces them) and give the spatial features, their adapted SAEs
// and the head scores; without one, only the world is used (nothing to toggle).
struct LiveSources {
  std::string world_dir;
  std::string db_path;
  std::string run_name;            // "" = the newest run, as the store loader reads
  std::string device = "cpu";
  int64_t max_vsr_items = 300;     // re-evaluation pool: the first VSR statements (split order)
  int64_t max_vqa_items = 200;     // and the first VQA yes/no questions of the eval split
  int top_heads = 8;               // toggleable heads: the run's strongest by mean |score|
};

// One VSR statement of the run's VSR split (the world's test split in world mode).
struct LiveStatement {
  std::string text;      // the caption
  std::string relation;
  bool label = false;    // the caption is true of the image
  int64_t image = -1;    // the dataset's image index
  std::vector<int64_t> prompt_ids;  // the statement prompt the pipeline scores
};

// An image as the model sees it: the preprocessed [3, S, S] input (opaque: it goes back to
// the service in a LiveQuery) and the same pixels un-normalised to RGB for display, so the
// patch grid lies exactly over it.
struct LiveImage {
  std::string label;         // "VSR test 12: <caption>" or the file's path
  int64_t statement = -1;    // the statement shown, or -1 for a file
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // width * height * 3, rows top-down
  ModelImagePtr input;       // [3, S, S] float32, the model's input
  uint64_t version = 0;      // unique per prepared image
};

// A head of the run's attribution results with its strength over the spatial features.
struct LiveHead {
  int layer = 0, head = 0;
  double mean_abs_score = 0;  // mean over the features scored of |score| (method A, else B, else exact)
  int features = 0;           // features that scored it
};

// Accuracy of one group of pool items without and with the re-evaluated interventions.
struct RelationAccuracy {
  std::string name;      // the relation, "all VSR" or "VQA yes/no (control)"
  bool control = false;  // the VQA yes/no control
  bool total = false;    // the "all VSR" row
  EvalDelta delta;       // over the group's items
};

class LiveSession {
 public:
  // Loads everything (blocking; call on a task thread). Progress: one phase per step;
  // cancellable between steps. Throws Error naming what is missing: no world and no run
  // sources, a world without manifest.json, a model directory without config.json, an
  // unreadable store or run. A spatial layer whose adapted SAE cannot be loaded is left
  // out with a line in warnings().
  static std::shared_ptr<LiveSession> load(const LiveSources& sources, Progress& progress);
  ~LiveSession();
  LiveSession(const LiveSession&) = delete;
  LiveSession& operator=(const LiveSession&) = delete;

  // "world '<dir>': 2 layers x 2 heads, 16 image tokens (4 x 4), run 'x' of '<db>'".
  const std::string& description() const { return description_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  int num_layers() const { return num_layers_; }
  int num_heads() const { return num_heads_; }
  int64_t image_tokens() const { return image_tokens_; }
  int grid() const { return grid_; }  // sqrt(image_tokens), 0 when not a square

  const std::vector<LiveStatement>& statements() const { return statements_; }
  // The statements' relations, sorted, each once.
  const std::vector<std::string>& relations() const { return relations_; }
  // Statement i's image (renders / reads and preprocesses: call off the UI thread).
  // Throws Error for an index out of range.
  LiveImage statement_image(int64_t index) const;
  // An image file decoded (core/image) and preprocessed as the model's tower expects.
  // Throws Error naming the file when it is missing or cannot be decoded.
  LiveImage file_image(const std::string& path) const;

  // The prompt of a question about the image, in the model's format; a text equal to
  // statement `statement`'s caption gives that statement's own prompt (its "statement :"
  // form in the world). Throws Error naming the question when it cannot be encoded.
  std::vector<int64_t> question_ids(const std::string& question, int64_t statement = -1) const;
  // One display text per prompt id ("<image>" for the image marker).
  std::vector<std::string> token_texts(const std::vector<int64_t>& ids) const;

  // What the ablation view can toggle: the run's spatial features whose adapted SAE
  // loaded, and the run's strongest heads.
  const std::vector<SaeFeature>& features() const { return features_; }
  const std::vector<LiveHead>& top_heads() const { return top_heads_; }

  // The re-evaluation pool: for pool item i, its relation ("" for a control item) and
  // whether it is a VQA yes/no control item. The pool is also the service's item set.
  const std::vector<std::string>& pool_relation() const { return pool_relation_; }
  const std::vector<bool>& pool_control() const { return pool_control_; }
  int64_t pool_size() const { return static_cast<int64_t>(pool_relation_.size()); }
  // Per relation (sorted), then "all VSR", then the control: accuracies of `result`, whose
  // query covered pool items `items` (in that order).
  std::vector<RelationAccuracy> relation_accuracy(const ReevalResult& result, const std::vector<int64_t>& items) const;

  LiveQueryService& service() { return *service_; }

 private:
  LiveSession();

  std::unique_ptr<PipelineContext> context_;
  std::vector<std::unique_ptr<Sae>> saes_;
  std::unique_ptr<LiveQueryService> service_;
  std::string description_;
  std::vector<std::string> warnings_;
  int num_layers_ = 0, num_heads_ = 0, grid_ = 0;
  int64_t image_tokens_ = 0;
  std::vector<double> image_mean_, image_std_;
  bool pad_to_square_ = false;
  int image_size_ = 0;
  std::vector<LiveStatement> statements_;
  std::vector<std::string> relations_;
  std::vector<SaeFeature> features_;
  std::vector<LiveHead> top_heads_;
  std::vector<std::string> pool_relation_;
  std::vector<bool> pool_control_;
};

}  // namespace sightline
