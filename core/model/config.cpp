#include "core/model/config.h"

#include <cmath>

#include "core/common/error.h"
#include "core/io/json_util.h"

namespace sightline {

std::vector<double> LlamaConfig::rope_inv_freq() const {
  const int64_t half = head_dim / 2;
  std::vector<double> inv(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    inv[i] = std::pow(rope_theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
  }
  if (rope_scaling.rope_type == "llama3") {
    // FORMATS.md, "RoPE": Meta's llama3 frequency scaling.
    const double pi = 3.14159265358979323846;
    const double old_ctx = static_cast<double>(rope_scaling.original_max_position_embeddings);
    const double low_wavelen = old_ctx / rope_scaling.low_freq_factor;
    const double high_wavelen = old_ctx / rope_scaling.high_freq_factor;
    for (auto& f : inv) {
      const double wavelen = 2.0 * pi / f;
      if (wavelen > low_wavelen) {
        f = f / rope_scaling.factor;
      } else if (wavelen >= high_wavelen) {
        const double s = (old_ctx / wavelen - rope_scaling.low_freq_factor) /
                         (rope_scaling.high_freq_factor - rope_scaling.low_freq_factor);
        f = (1.0 - s) * f / rope_scaling.factor + s * f;
      }
    }
  }
  return inv;
}

int64_t MultimodalConfig::vision_layers_used(int64_t num_layers) const {
  // HF hidden_states has num_layers + 1 entries; entry 0 is the embeddings.
  const int64_t index = vision_select_layer < 0 ? num_layers + 1 + vision_select_layer : vision_select_layer;
  return index;
}

namespace {

void require_positive(int64_t v, const char* key, const std::string& where) {
  check(v > 0, "file '{}': field '{}' must be positive, got {}", where, key, v);
}

LlamaConfig parse_llama(const nlohmann::json& j, const std::string& where) {
  LlamaConfig c;
  c.vocab_size = json_get<int64_t>(j, "vocab_size", where);
  c.hidden_size = json_get<int64_t>(j, "hidden_size", where);
  c.intermediate_size = json_get<int64_t>(j, "intermediate_size", where);
  c.num_hidden_layers = json_get<int64_t>(j, "num_hidden_layers", where);
  c.num_attention_heads = json_get<int64_t>(j, "num_attention_heads", where);
  for (auto [v, k] : {std::pair{c.vocab_size, "vocab_size"}, {c.hidden_size, "hidden_size"},
                      {c.intermediate_size, "intermediate_size"}, {c.num_hidden_layers, "num_hidden_layers"},
                      {c.num_attention_heads, "num_attention_heads"}}) {
    require_positive(v, k, where);
  }
  c.num_key_value_heads = json_get_or<int64_t>(j, "num_key_value_heads", c.num_attention_heads, where);
  require_positive(c.num_key_value_heads, "num_key_value_heads", where);
  check(c.num_attention_heads % c.num_key_value_heads == 0,
        "file '{}': field 'num_key_value_heads' ({}) must divide num_attention_heads ({})", where,
        c.num_key_value_heads, c.num_attention_heads);
  const int64_t default_head_dim = c.hidden_size / c.num_attention_heads;
  c.head_dim = j.contains("head_dim") && !j["head_dim"].is_null() ? json_get<int64_t>(j, "head_dim", where)
                                                                   : default_head_dim;
  require_positive(c.head_dim, "head_dim", where);
  check(c.head_dim % 2 == 0, "file '{}': field 'head_dim' must be even for RoPE, got {}", where, c.head_dim);
  c.rms_norm_eps = json_get_or<double>(j, "rms_norm_eps", 1e-6, where);
  c.rope_theta = json_get_or<double>(j, "rope_theta", 10000.0, where);
  c.max_position_embeddings = json_get_or<int64_t>(j, "max_position_embeddings", 2048, where);
  c.tie_word_embeddings = json_get_or<bool>(j, "tie_word_embeddings", false, where);
  c.attention_bias = json_get_or<bool>(j, "attention_bias", false, where);
  c.mlp_bias = json_get_or<bool>(j, "mlp_bias", false, where);
  c.torch_dtype = json_get_or<std::string>(j, "torch_dtype", "float32", where);
  if (j.contains("bos_token_id") && j["bos_token_id"].is_number_integer()) c.bos_token_id = j["bos_token_id"];
  if (j.contains("pad_token_id") && j["pad_token_id"].is_number_integer()) c.pad_token_id = j["pad_token_id"];
  if (j.contains("eos_token_id")) {
    const auto& e = j["eos_token_id"];
    if (e.is_number_integer()) {
      c.eos_token_ids.push_back(e.get<int64_t>());
    } else if (e.is_array()) {
      for (const auto& v : e) {
        check(v.is_number_integer(), "file '{}': field 'eos_token_id' must hold integers", where);
        c.eos_token_ids.push_back(v.get<int64_t>());
      }
    }
  }
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
    const auto& r = j["rope_scaling"];
    const std::string rwhere = where + "' field 'rope_scaling";
    check(r.is_object(), "file '{}': field 'rope_scaling' must be an object or null", where);
    std::string type = r.contains("rope_type") ? json_get<std::string>(r, "rope_type", rwhere)
                                               : json_get_or<std::string>(r, "type", "", rwhere);
    if (type == "llama3") {
      c.rope_scaling.rope_type = type;
      c.rope_scaling.factor = json_get<double>(r, "factor", rwhere);
      c.rope_scaling.low_freq_factor = json_get<double>(r, "low_freq_factor", rwhere);
      c.rope_scaling.high_freq_factor = json_get<double>(r, "high_freq_factor", rwhere);
      c.rope_scaling.original_max_position_embeddings =
          json_get<int64_t>(r, "original_max_position_embeddings", rwhere);
      check(c.rope_scaling.high_freq_factor > c.rope_scaling.low_freq_factor && c.rope_scaling.factor > 0,
            "file '{}': field 'rope_scaling' has inconsistent factors", where);
    } else if (type != "default" && !type.empty()) {
      fail("file '{}': field 'rope_scaling.rope_type' '{}' is not supported (llama3 or none)", where, type);
    }
  }
  return c;
}

}  // namespace

VisionConfig parse_vision_config(const nlohmann::json& j, const std::string& where) {
  VisionConfig v;
  v.hidden_size = json_get<int64_t>(j, "hidden_size", where);
  v.intermediate_size = json_get<int64_t>(j, "intermediate_size", where);
  v.num_hidden_layers = json_get<int64_t>(j, "num_hidden_layers", where);
  v.num_attention_heads = json_get<int64_t>(j, "num_attention_heads", where);
  v.image_size = json_get<int64_t>(j, "image_size", where);
  v.patch_size = json_get<int64_t>(j, "patch_size", where);
  v.num_channels = json_get_or<int64_t>(j, "num_channels", 3, where);
  v.layer_norm_eps = json_get_or<double>(j, "layer_norm_eps", 1e-5, where);
  v.hidden_act = json_get_or<std::string>(j, "hidden_act", "quick_gelu", where);
  if (j.contains("image_mean")) v.image_mean = json_get<std::vector<double>>(j, "image_mean", where);
  if (j.contains("image_std")) v.image_std = json_get<std::vector<double>>(j, "image_std", where);
  for (auto [val, k] : {std::pair{v.hidden_size, "hidden_size"}, {v.intermediate_size, "intermediate_size"},
                        {v.num_hidden_layers, "num_hidden_layers"}, {v.num_attention_heads, "num_attention_heads"},
                        {v.image_size, "image_size"}, {v.patch_size, "patch_size"}}) {
    require_positive(val, k, where);
  }
  check(v.hidden_size % v.num_attention_heads == 0,
        "file '{}': vision 'hidden_size' {} is not divisible by 'num_attention_heads' {}", where, v.hidden_size,
        v.num_attention_heads);
  check(v.image_size % v.patch_size == 0, "file '{}': vision 'image_size' {} is not a multiple of 'patch_size' {}",
        where, v.image_size, v.patch_size);
  check(v.hidden_act == "quick_gelu" || v.hidden_act == "gelu",
        "file '{}': vision 'hidden_act' '{}' is not supported (quick_gelu, gelu)", where, v.hidden_act);
  check(v.image_mean.size() == 3 && v.image_std.size() == 3,
        "file '{}': vision 'image_mean'/'image_std' must have 3 values", where);
  return v;
}

std::optional<VisionConfig> known_vision_config(const std::string& name) {
  if (name.find("clip-vit-large-patch14-336") != std::string::npos) {
    return VisionConfig{};  // the defaults are CLIP ViT-L/14-336 (FORMATS.md)
  }
  if (name.find("clip-vit-large-patch14") != std::string::npos) {
    VisionConfig v;
    v.image_size = 224;
    return v;
  }
  return std::nullopt;
}

ModelConfig parse_model_config(const nlohmann::json& j, const std::string& where) {
  check(j.is_object(), "file '{}': config must be a JSON object", where);
  ModelConfig c;
  c.source = where;
  c.model_type = json_get_or<std::string>(j, "model_type", "llama", where);
  // A LLaVA config keeps the Llama keys at the top level; some HF layouts nest them.
  const nlohmann::json& text = j.contains("text_config") && j["text_config"].is_object() ? j["text_config"] : j;
  c.text = parse_llama(text, where);
  if (j.contains("mm_projector_type") || j.contains("mm_hidden_size") || j.contains("vision_config")) {
    c.mm.present = true;
    c.mm.projector_type = json_get_or<std::string>(j, "mm_projector_type", "mlp2x_gelu", where);
    check(c.mm.projector_type == "mlp2x_gelu",
          "file '{}': field 'mm_projector_type' '{}' is not supported (mlp2x_gelu)", where,
          c.mm.projector_type);
    c.mm.vision_select_layer = json_get_or<int64_t>(j, "mm_vision_select_layer", -2, where);
    c.mm.vision_select_feature = json_get_or<std::string>(j, "mm_vision_select_feature", "patch", where);
    check(c.mm.vision_select_feature == "patch" || c.mm.vision_select_feature == "cls_patch",
          "file '{}': field 'mm_vision_select_feature' '{}' is not supported (patch, cls_patch)", where,
          c.mm.vision_select_feature);
    c.mm.vision_tower_name = json_get_or<std::string>(j, "mm_vision_tower", "", where);
    c.mm.image_aspect_ratio = json_get_or<std::string>(j, "image_aspect_ratio", "pad", where);
    if (j.contains("vision_config") && j["vision_config"].is_object()) {
      c.mm.vision = parse_vision_config(j["vision_config"], where + "' field 'vision_config");
    } else {
      c.mm.vision = known_vision_config(c.mm.vision_tower_name);
    }
    const int64_t default_mm_hidden = c.mm.vision ? c.mm.vision->hidden_size : 1024;
    c.mm.mm_hidden_size = json_get_or<int64_t>(j, "mm_hidden_size", default_mm_hidden, where);
    if (c.mm.vision) {
      check(c.mm.mm_hidden_size == c.mm.vision->hidden_size,
            "file '{}': field 'mm_hidden_size' {} disagrees with the vision tower's hidden_size {}", where,
            c.mm.mm_hidden_size, c.mm.vision->hidden_size);
      const int64_t used = c.mm.vision_layers_used(c.mm.vision->num_hidden_layers);
      check(used >= 1 && used <= c.mm.vision->num_hidden_layers,
            "file '{}': field 'mm_vision_select_layer' {} is outside the tower's {} layers", where,
            c.mm.vision_select_layer, c.mm.vision->num_hidden_layers);
    }
  }
  return c;
}

ModelConfig load_model_config(const std::string& config_path) {
  return parse_model_config(read_json_file(config_path), config_path);
}

VisionConfig load_vision_config(const std::string& config_path) {
  const nlohmann::json j = read_json_file(config_path);
  if (j.contains("vision_config") && j["vision_config"].is_object()) {
    return parse_vision_config(j["vision_config"], config_path + "' field 'vision_config");
  }
  return parse_vision_config(j, config_path);
}

nlohmann::json to_json(const LlamaConfig& c) {
  nlohmann::json j{{"vocab_size", c.vocab_size},
                   {"hidden_size", c.hidden_size},
                   {"intermediate_size", c.intermediate_size},
                   {"num_hidden_layers", c.num_hidden_layers},
                   {"num_attention_heads", c.num_attention_heads},
                   {"num_key_value_heads", c.num_key_value_heads},
                   {"head_dim", c.head_dim},
                   {"rms_norm_eps", c.rms_norm_eps},
                   {"rope_theta", c.rope_theta},
                   {"max_position_embeddings", c.max_position_embeddings},
                   {"tie_word_embeddings", c.tie_word_embeddings},
                   {"attention_bias", c.attention_bias},
                   {"mlp_bias", c.mlp_bias},
                   {"hidden_act", "silu"},
                   {"torch_dtype", c.torch_dtype}};
  j["rope_scaling"] = nullptr;
  if (c.rope_scaling.rope_type == "llama3") {
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", c.rope_scaling.factor},
                         {"low_freq_factor", c.rope_scaling.low_freq_factor},
                         {"high_freq_factor", c.rope_scaling.high_freq_factor},
                         {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings}};
  }
  if (c.bos_token_id >= 0) j["bos_token_id"] = c.bos_token_id;
  if (c.pad_token_id >= 0) j["pad_token_id"] = c.pad_token_id;
  if (c.eos_token_ids.size() == 1) j["eos_token_id"] = c.eos_token_ids[0];
  if (c.eos_token_ids.size() > 1) j["eos_token_id"] = c.eos_token_ids;
  return j;
}

nlohmann::json to_json(const VisionConfig& v) {
  return {{"model_type", "clip_vision_model"},
          {"hidden_size", v.hidden_size},
          {"intermediate_size", v.intermediate_size},
          {"num_hidden_layers", v.num_hidden_layers},
          {"num_attention_heads", v.num_attention_heads},
          {"image_size", v.image_size},
          {"patch_size", v.patch_size},
          {"num_channels", v.num_channels},
          {"layer_norm_eps", v.layer_norm_eps},
          {"hidden_act", v.hidden_act},
          {"image_mean", v.image_mean},
          {"image_std", v.image_std}};
}

nlohmann::json to_json(const ModelConfig& c) {
  nlohmann::json j = to_json(c.text);
  if (!c.mm.present) {
    j["model_type"] = "llama";
    j["architectures"] = {"LlamaForCausalLM"};
    return j;
  }
  j["model_type"] = "llava_llama";
  j["architectures"] = {"LlavaLlamaForCausalLM"};
  j["mm_projector_type"] = c.mm.projector_type;
  j["mm_hidden_size"] = c.mm.mm_hidden_size;
  j["mm_vision_select_layer"] = c.mm.vision_select_layer;
  j["mm_vision_select_feature"] = c.mm.vision_select_feature;
  j["mm_vision_tower"] = c.mm.vision_tower_name;
  j["mm_use_im_start_end"] = false;
  j["mm_use_im_patch_token"] = false;
  j["image_aspect_ratio"] = c.mm.image_aspect_ratio;
  j["mm_patch_merge_type"] = "flat";
  if (c.mm.vision) j["vision_config"] = to_json(*c.mm.vision);
  return j;
}

}  // namespace sightline
