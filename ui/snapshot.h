// The plain in-memory data the explorer's views read. Producers (stage workers, the
// store reader, the synthetic generator) build these structs on their own threads and
// publish them into a DataSlot; the UI thread takes a shared_ptr copy each frame (an
// atomic load), so a view never blocks and never sees a half-built table (Tracy's
// hand-off of finished results). No torch, no GL here.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/store/records.h"
#include "ui/find_data.h"

namespace sightline::ui {

// Bits of FeatureTable::flags: what the stages concluded about a feature.
enum FeatureFlag : uint8_t {
  kFlagAdapted = 1,           // in A at the thresholds stage 2 ran with
  kFlagSpatialCandidate = 2,  // stage 3: dp_f and OR_f above the candidate thresholds
  kFlagSpatialFeature = 4,    // stage 3: candidate that passed the lexical filter and is in A
  kFlagAnalysed = 8,          // chosen for attribution / ablation (stages 4-5)
};

// E_v values below this are drawn at log10 = -10 (dead features have E_v = 0).
inline constexpr double kEnergyFloor = 1e-10;

// One row per SAE feature over all layers (Fig. 2's points). All vectors have size().
struct FeatureTable {
  int num_layers = 0;
  std::vector<uint16_t> layer;          // SAE layer L (residual after block L)
  std::vector<int32_t> feature;         // feature index within the layer's SAE
  std::vector<float> visual_energy;     // E_v(f) = mean h_f^2 over text positions, >= 0
  std::vector<float> decoder_cosine;    // c_f = cos(W_dec_base[:, f], W_dec_vlm[:, f])
  std::vector<uint8_t> flags;           // FeatureFlag bits
  std::string source;                   // where the table came from (a DB path, "synthetic")

  size_t size() const { return layer.size(); }
  // Throws Error naming the field when sizes disagree, a layer is >= num_layers, an
  // energy is negative / not finite or a cosine is outside [-1, 1] (beyond rounding).
  void validate() const;
  // The row of (layer, feature), or -1 (a linear scan: for one-off look-ups).
  int64_t find(int layer_index, int feature_index) const;
};

// log10(max(E_v, kEnergyFloor)): the scatter's y coordinate.
float log_energy(float visual_energy);

// One line of a line plot.
struct Curve {
  std::string label;
  std::vector<float> x, y;
};

// A figure made of curves sharing axes (FVU over training, cosine per layer, ...).
struct CurveSet {
  std::string title, x_label, y_label;
  bool log_y = false;  // y holds log10 of the shown quantity
  std::vector<Curve> curves;
  // >= 0: the held-out FVU of this SAE layer during adaptation, one curve per regime
  // (the curves view's final-FVU table reads these sets).
  int fvu_layer = -1;
};

// Fig. 8: the threshold sweep stage 2 (diff) stored, one cell per (eps, p_cos).
struct SweepTable {
  std::string regime;         // the diff stage's regime
  std::vector<double> eps;    // rows, ascending (row 0 is drawn at the bottom)
  std::vector<double> p_cos;  // columns, ascending
  // Stored metric ("count", "jaccard", "layer_correlation": core/pipeline/store_keys.h)
  // -> rows x cols values, row-major; NaN where the store holds none.
  std::map<std::string, std::vector<float>> metrics;
  int rows() const { return static_cast<int>(eps.size()); }
  int cols() const { return static_cast<int>(p_cos.size()); }
};

// A rows x cols matrix shown as an image (layer x head attribution maps, ...).
struct HeatMap {
  std::string title, x_label, y_label;  // x = columns, y = rows
  int rows = 0, cols = 0;
  std::vector<float> values;            // row-major, rows * cols
  bool diverging = false;               // signed data: symmetric range, diverging colormap
};

enum class DataState {
  kMissing,    // nobody has produced it: the view says which stage to run
  kComputing,  // a producer is working on it: the view says "computing..."
  kReady,      // data() is set
  kFailed,     // the producer threw: message() holds why
};

struct DataStatus {
  DataState state = DataState::kMissing;
  std::string message;  // kMissing: the stage to run; kFailed: the error; kComputing: what
  double progress = -1; // kComputing: fraction in [0, 1], or -1 when unknown
};

// One published value plus its state. Producers call begin() / set_progress() / publish()
// / fail() from any thread; the UI calls data() and status() every frame.
template <typename T>
class DataSlot {
 public:
  std::shared_ptr<const T> data() const { return std::atomic_load(&data_); }
  // Bumped by every publish(); views cache derived data keyed on it.
  uint64_t version() const { return version_.load(); }

  DataStatus status() const {
    std::lock_guard<std::mutex> lock(mutex_);
    DataStatus s = status_;
    if (s.state == DataState::kComputing) s.progress = progress_.load();
    return s;
  }
  void begin(const std::string& what) { set(DataState::kComputing, what); progress_.store(-1); }
  void set_progress(double fraction) { progress_.store(fraction); }
  void set_missing(const std::string& hint) { set(DataState::kMissing, hint); }
  void fail(const std::string& why) { set(DataState::kFailed, why); }
  void publish(std::shared_ptr<const T> value) {
    std::atomic_store(&data_, std::move(value));
    version_.fetch_add(1);
    set(DataState::kReady, "");
  }

 private:
  void set(DataState state, const std::string& message) {
    std::lock_guard<std::mutex> lock(mutex_);
    status_.state = state;
    status_.message = message;
  }

  std::shared_ptr<const T> data_;
  std::atomic<uint64_t> version_{0};
  std::atomic<double> progress_{-1};
  mutable std::mutex mutex_;
  DataStatus status_;
};

// What stages 3-5 stored about one feature (a stage-3 candidate, a skill feature or an
// analysed one). Empty members: the stage did not write them for this feature.
struct FeatureDetail {
  FeatureRef ref;
  std::map<std::string, double> metrics;  // every computed metric (columns and extras) by name
  // (relation, OR) from the "vsr_or:<relation>" extras, strongest association first.
  std::vector<std::pair<std::string, double>> relations;
  std::vector<TopActivation> top;  // by rank, 0 = strongest, with token / patch activations
  // One per entry of `top` once ui/top_text.h resolved them (empty before): the sample's
  // question words and the feature's activation on each, from the run's own data; an entry
  // with no tokens carries why in its error.
  std::vector<TokenExample> top_text;
  // Head scores per method ("A", "B", "exact"), ordered by (head_layer, head).
  std::map<std::string, std::vector<HeadScore>> heads;
  bool has_patching = false;
  PatchingRow patching;            // valid when has_patching
  bool has_description = false;    // the autointerp stage described it
  FeatureDescription description;  // valid when has_description
};

// A run's stage 3-5 results: per-feature details and the ablation table.
struct RunResults {
  std::string source;
  std::map<FeatureRef, FeatureDetail> features;
  std::vector<AblationRow> ablations;  // as Store::ablations returns them
  // The top samples' question words (FeatureDetail::top_text): true while a task is still
  // resolving them; top_text_error says why none could be ("" = fine, or nothing to do).
  bool top_text_pending = false;
  std::string top_text_error;
  // The detail of (layer, feature), or nullptr when no stage 3-5 row names it.
  const FeatureDetail* find(int layer, int feature) const;
};

// The [head_layer x head] map of `scores` (rows = head layers 0..max, cols = heads
// 0..max; unscored cells 0), diverging when a score is negative.
HeatMap head_heat_map(const std::vector<HeadScore>& scores, const std::string& title);
// Fig. 13 for a whole run: per method ("A", "B", "exact", in that order, those present),
// the [head_layer x head] map of each head's score averaged over the features scored
// with that method; titled with the method and the feature count.
std::vector<HeatMap> run_head_heat_maps(const RunResults& results);
// `scores` ranked by |score|, strongest first (ties: lower head_layer, then head).
std::vector<HeadScore> rank_heads(std::vector<HeadScore> scores);

// Everything the views can show. Shared (shared_ptr) by the UI and the producers.
struct Snapshot {
  DataSlot<FeatureTable> features;           // stage 2 (+ flags from stages 3-4)
  DataSlot<std::vector<CurveSet>> curves;    // stage 1 (FVU, cosine per layer)
  DataSlot<std::vector<HeatMap>> heat_maps;  // stage 4 (attribution maps)
  DataSlot<RunResults> results;              // stages 3-5 (skills, heads, ablation)
  DataSlot<ShiftTable> shift;                // stage 3 shift statistics of every feature (Fig. 9)
  DataSlot<BookmarkLists> bookmarks;         // the store's bookmark lists
  DataSlot<SweepTable> sweep;                // stage 2's threshold sweep (Fig. 8)
};

}  // namespace sightline::ui
