// The engine: a LLaVA-architecture vision-language model (CLIP-style ViT -> projector ->
// Llama decoder) in LibTorch, device- and dtype-generic. A plain Llama checkpoint loads as
// the same class without a vision tower. Parameters carry the HF / LLaVA-MORE tensor names.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/common/constants.h"
#include "core/model/config.h"
#include "core/model/hooks.h"

namespace sightline {

struct LoadOptions {
  std::string model_dir;   // HF directory (config.json + safetensors, sharded or not)
  std::string vision_dir;  // optional HF CLIP directory for a tower the checkpoint lacks
  std::string device = "cpu";
  std::string dtype = "float32";  // float32 | bfloat16 | float16
};

struct BatchInput {
  std::vector<std::vector<int64_t>> ids;  // per sequence; at most one kImageTokenIndex each
  at::Tensor pixels;  // [N, 3, S, S]: one image per sequence that holds kImageTokenIndex, in order
};

// A batch after image insertion, right-padded to the longest sequence.
struct PreparedBatch {
  at::Tensor embeds;       // [B, T, D] layer-0 input
  at::Tensor token_types;  // [B, T] int8 TokenType
  at::Tensor input_ids;    // [B, T] int64 (image positions hold kImageTokenIndex, padding 0)
  std::vector<int64_t> lengths;        // real length of each sequence
  std::vector<int64_t> image_offsets;  // first image position per sequence, -1 when none
  int64_t batch() const { return static_cast<int64_t>(lengths.size()); }
};

class VisionLanguageModel {
 public:
  // A randomly initialised model (torch's RNG: seed it with torch::manual_seed first).
  explicit VisionLanguageModel(const ModelConfig& config);
  ~VisionLanguageModel();
  VisionLanguageModel(const VisionLanguageModel&) = delete;
  VisionLanguageModel& operator=(const VisionLanguageModel&) = delete;

  // Loads config.json + weights; every tensor is checked against the config's shapes.
  static std::unique_ptr<VisionLanguageModel> load(const LoadOptions& options);
  // The config load() would build (config.json, and the vision tower's config from
  // options.vision_dir when given), without reading any weights.
  static ModelConfig load_config(const LoadOptions& options);
  // Writes config.json + model.safetensors (HF / LLaVA-MORE names) into `dir`.
  void save(const std::string& dir, const std::string& dtype = "float32") const;

  const ModelConfig& config() const;
  int num_layers() const;
  bool has_vision() const;
  int64_t image_tokens() const;  // model_image_tokens(config())
  std::string device() const;
  std::string dtype() const;
  void to(const std::string& device, const std::string& dtype);

  // Image features before the projector [N, P, mm_hidden] and after it [N, P, D].
  at::Tensor vision_features(const at::Tensor& pixels) const;
  at::Tensor encode_images(const at::Tensor& pixels) const;

  PreparedBatch prepare(const BatchInput& input) const;
  // Runs the decoder on a prepared batch (with its grad mode per request.grad).
  ForwardOutput forward(const PreparedBatch& batch, const ForwardRequest& request) const;
  ForwardOutput forward(const BatchInput& input, const ForwardRequest& request) const;

  // All parameters by HF name (a tied lm_head is listed once, as the embedding).
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const;
  // Parameters whose names start with any of `prefixes` require grad; all others are frozen.
  void set_trainable(const std::vector<std::string>& prefixes);
  std::vector<at::Tensor> trainable_parameters() const;
  int64_t parameter_count() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Tokens per image after projection (0 without a vision tower).
int64_t model_image_tokens(const ModelConfig& config);

}  // namespace sightline
