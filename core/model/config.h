// Model configurations as HF config.json states them: the Llama decoder, the CLIP-style
// vision tower and the LLaVA projector. Parsing validates every field it reads and names
// the file and key at fault.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sightline {

// RoPE frequency scaling; rope_type "llama3" per FORMATS.md, or none (plain theta).
struct RopeScaling {
  std::string rope_type;  // "" = none, "llama3"
  double factor = 8.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct LlamaConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // GQA groups; = num_attention_heads when absent
  int64_t head_dim = 0;             // hidden_size / num_attention_heads when absent
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  int64_t max_position_embeddings = 2048;
  bool tie_word_embeddings = false;
  bool attention_bias = false;
  bool mlp_bias = false;
  int64_t bos_token_id = -1;
  std::vector<int64_t> eos_token_ids;
  int64_t pad_token_id = -1;
  std::string torch_dtype = "float32";

  // Inverse RoPE frequencies [head_dim / 2] in float64, scaling applied.
  std::vector<double> rope_inv_freq() const;
};

struct VisionConfig {
  int64_t hidden_size = 1024;
  int64_t intermediate_size = 4096;
  int64_t num_hidden_layers = 24;
  int64_t num_attention_heads = 16;
  int64_t image_size = 336;
  int64_t patch_size = 14;
  int64_t num_channels = 3;
  double layer_norm_eps = 1e-5;
  std::string hidden_act = "quick_gelu";  // "quick_gelu" | "gelu"
  std::vector<double> image_mean{0.48145466, 0.4578275, 0.40821073};
  std::vector<double> image_std{0.26862954, 0.26130258, 0.27577711};

  int64_t grid() const { return image_size / patch_size; }
  int64_t num_patches() const { return grid() * grid(); }
};

// The LLaVA part of config.json: projector and how image features are selected.
struct MultimodalConfig {
  bool present = false;                     // false for a plain Llama checkpoint
  std::string projector_type = "mlp2x_gelu";  // LLaVA-1.5 / LLaVA-MORE projector
  int64_t mm_hidden_size = 1024;
  int64_t vision_select_layer = -2;           // HF hidden_states index (negative from the end)
  std::string vision_select_feature = "patch";  // "patch" drops CLS, "cls_patch" keeps it
  std::string vision_tower_name;
  std::string image_aspect_ratio = "pad";
  std::optional<VisionConfig> vision;         // inline "vision_config", or from --vision

  // Number of CLIP layers to run for the selected hidden state.
  int64_t vision_layers_used(int64_t num_layers) const;
};

struct ModelConfig {
  std::string source;          // the config.json path, for messages
  std::string model_type;      // "llama", "llava_llama", ...
  LlamaConfig text;
  MultimodalConfig mm;
};

// Parses a Llama or LLaVA config.json. `where` names the file in error messages.
ModelConfig parse_model_config(const nlohmann::json& j, const std::string& where);
ModelConfig load_model_config(const std::string& config_path);
// Reads a vision config from an HF CLIP directory's config.json: either a full CLIP config
// with "vision_config" or a CLIPVisionConfig with the keys at the top level.
VisionConfig load_vision_config(const std::string& config_path);
VisionConfig parse_vision_config(const nlohmann::json& j, const std::string& where);
// Known towers by HF name (openai/clip-vit-large-patch14-336), for LLaVA checkpoints
// whose config names the tower without describing it.
std::optional<VisionConfig> known_vision_config(const std::string& name);

nlohmann::json to_json(const LlamaConfig& c);
nlohmann::json to_json(const VisionConfig& c);
// A full config.json for the model (plain Llama when mm.present is false).
nlohmann::json to_json(const ModelConfig& c);

}  // namespace sightline
