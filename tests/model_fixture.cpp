#include "tests/model_fixture.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/io/safetensors.h"

namespace fs = std::filesystem;

namespace sightline::test {

namespace {
constexpr int64_t V = 61, D = 32, I = 48, L = 2, H = 4, DH = 8;
constexpr int64_t VD = 16, VI = 24, VL = 3, VH = 2, IMG = 16, PATCH = 4;
}  // namespace

TinyCheckpoint make_tiny_checkpoint(const TinySpec& spec, uint64_t seed) {
  at::manual_seed(static_cast<int64_t>(seed));
  TinyCheckpoint c;
  const int64_t KV = spec.kv_heads;
  c.config = {{"architectures", {spec.vision ? "LlavaLlamaForCausalLM" : "LlamaForCausalLM"}},
              {"model_type", spec.vision ? "llava_llama" : "llama"},
              {"vocab_size", V},
              {"hidden_size", D},
              {"intermediate_size", I},
              {"num_hidden_layers", L},
              {"num_attention_heads", H},
              {"num_key_value_heads", KV},
              {"rms_norm_eps", 1e-5},
              {"rope_theta", 10000.0},
              {"max_position_embeddings", 4096},
              {"tie_word_embeddings", spec.tie_embeddings},
              {"bos_token_id", 1},
              {"eos_token_id", {2, 3}},
              {"torch_dtype", "float32"}};
  // head_dim 8: inv_freq 1, 0.1, 0.01, 0.001 -> wavelengths 6.3, 63, 628, 6283; with an
  // original context of 1024 and factors 1 / 4 these fall in all three llama3 bands.
  if (spec.llama3_rope) {
    c.config["rope_scaling"] = {{"rope_type", "llama3"},
                                {"factor", 8.0},
                                {"low_freq_factor", 1.0},
                                {"high_freq_factor", 4.0},
                                {"original_max_position_embeddings", 1024}};
  } else {
    c.config["rope_scaling"] = nullptr;
  }
  auto opts = at::TensorOptions().dtype(at::kDouble);
  auto w = [&](std::vector<int64_t> shape, double scale) { return at::randn(shape, opts) * scale; };
  auto& t = c.tensors;
  t["model.embed_tokens.weight"] = w({V, D}, 1.0);
  for (int64_t l = 0; l < L; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    t[p + "input_layernorm.weight"] = 1.0 + w({D}, 0.1);
    t[p + "post_attention_layernorm.weight"] = 1.0 + w({D}, 0.1);
    t[p + "self_attn.q_proj.weight"] = w({H * DH, D}, 0.3);
    t[p + "self_attn.k_proj.weight"] = w({KV * DH, D}, 0.3);
    t[p + "self_attn.v_proj.weight"] = w({KV * DH, D}, 0.3);
    t[p + "self_attn.o_proj.weight"] = w({D, H * DH}, 0.2);
    t[p + "mlp.gate_proj.weight"] = w({I, D}, 0.2);
    t[p + "mlp.up_proj.weight"] = w({I, D}, 0.2);
    t[p + "mlp.down_proj.weight"] = w({D, I}, 0.2);
  }
  t["model.norm.weight"] = 1.0 + w({D}, 0.1);
  if (!spec.tie_embeddings) t["lm_head.weight"] = w({V, D}, 0.2);
  if (spec.vision) {
    c.config["mm_projector_type"] = "mlp2x_gelu";
    c.config["mm_hidden_size"] = VD;
    c.config["mm_vision_select_layer"] = -2;
    c.config["mm_vision_select_feature"] = "patch";
    c.config["mm_vision_tower"] = "tiny-clip";
    c.config["vision_config"] = {{"hidden_size", VD},   {"intermediate_size", VI}, {"num_hidden_layers", VL},
                                 {"num_attention_heads", VH}, {"image_size", IMG}, {"patch_size", PATCH},
                                 {"layer_norm_eps", 1e-5}, {"hidden_act", "quick_gelu"}};
    t["model.mm_projector.0.weight"] = w({D, VD}, 0.3);
    t["model.mm_projector.0.bias"] = w({D}, 0.1);
    t["model.mm_projector.2.weight"] = w({D, D}, 0.3);
    t["model.mm_projector.2.bias"] = w({D}, 0.1);
    const std::string v = "model.vision_tower.vision_tower.vision_model.";
    const int64_t P = (IMG / PATCH) * (IMG / PATCH);
    t[v + "embeddings.class_embedding"] = w({VD}, 0.5);
    t[v + "embeddings.patch_embedding.weight"] = w({VD, 3, PATCH, PATCH}, 0.2);
    t[v + "embeddings.position_embedding.weight"] = w({P + 1, VD}, 0.5);
    t[v + "pre_layrnorm.weight"] = 1.0 + w({VD}, 0.1);
    t[v + "pre_layrnorm.bias"] = w({VD}, 0.1);
    t[v + "post_layernorm.weight"] = 1.0 + w({VD}, 0.1);
    t[v + "post_layernorm.bias"] = w({VD}, 0.1);
    for (int64_t l = 0; l < VL; ++l) {
      const std::string p = v + "encoder.layers." + std::to_string(l) + ".";
      for (const char* n : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
        t[p + "self_attn." + n + ".weight"] = w({VD, VD}, 0.3);
        t[p + "self_attn." + n + ".bias"] = w({VD}, 0.1);
      }
      t[p + "layer_norm1.weight"] = 1.0 + w({VD}, 0.1);
      t[p + "layer_norm1.bias"] = w({VD}, 0.1);
      t[p + "layer_norm2.weight"] = 1.0 + w({VD}, 0.1);
      t[p + "layer_norm2.bias"] = w({VD}, 0.1);
      t[p + "mlp.fc1.weight"] = w({VI, VD}, 0.3);
      t[p + "mlp.fc1.bias"] = w({VI}, 0.1);
      t[p + "mlp.fc2.weight"] = w({VD, VI}, 0.3);
      t[p + "mlp.fc2.bias"] = w({VD}, 0.1);
    }
  }
  return c;
}

TinyCheckpoint write_tiny_checkpoint(const TinyCheckpoint& ckpt, const std::string& dir, const std::string& dtype,
                                     int shards) {
  fs::create_directories(dir);
  const auto st = dtype == "BF16" ? at::kBFloat16 : at::kFloat;
  TinyCheckpoint stored = ckpt;
  std::vector<std::vector<std::pair<std::string, at::Tensor>>> parts(static_cast<size_t>(shards));
  nlohmann::json weight_map = nlohmann::json::object();
  size_t i = 0;
  for (auto& [name, value] : stored.tensors) {
    auto s = value.to(st);
    value = s.to(at::kDouble);
    const size_t shard = i++ % static_cast<size_t>(shards);
    parts[shard].emplace_back(name, s);
    weight_map[name] = "model-0000" + std::to_string(shard + 1) + "-of-0000" + std::to_string(shards) + ".safetensors";
  }
  if (shards == 1) {
    save_safetensors((fs::path(dir) / "model.safetensors").string(), parts[0]);
  } else {
    for (size_t s = 0; s < parts.size(); ++s) {
      save_safetensors((fs::path(dir) / ("model-0000" + std::to_string(s + 1) + "-of-0000" + std::to_string(shards) +
                                         ".safetensors"))
                           .string(),
                       parts[s]);
    }
    std::ofstream((fs::path(dir) / "model.safetensors.index.json").string())
        << nlohmann::json{{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}}.dump(2);
  }
  std::ofstream((fs::path(dir) / "config.json").string()) << stored.config.dump(2);
  return stored;
}

namespace {

// Independent of core/model: scalar loops for RoPE frequencies, explicit per-head GQA.
std::vector<double> reference_inv_freq(const nlohmann::json& cfg) {
  const double theta = cfg["rope_theta"].get<double>();
  std::vector<double> inv;
  for (int64_t i = 0; i < DH; i += 2) inv.push_back(1.0 / std::pow(theta, static_cast<double>(i) / DH));
  if (!cfg["rope_scaling"].is_null()) {
    const auto& r = cfg["rope_scaling"];
    const double factor = r["factor"], lo = r["low_freq_factor"], hi = r["high_freq_factor"];
    const double old = r["original_max_position_embeddings"].get<double>();
    for (auto& f : inv) {
      const double wavelen = 2 * M_PI / f;
      if (wavelen < old / hi) continue;
      if (wavelen > old / lo) {
        f /= factor;
        continue;
      }
      const double smooth = (old / wavelen - lo) / (hi - lo);
      f = (1 - smooth) * f / factor + smooth * f;
    }
  }
  return inv;
}

at::Tensor rms(const at::Tensor& x, const at::Tensor& w, double eps) {
  return x / at::sqrt(x.pow(2).mean({-1}, true) + eps) * w;
}

at::Tensor layer_norm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  auto mu = x.mean({-1}, true);
  auto var = (x - mu).pow(2).mean({-1}, true);
  return (x - mu) / at::sqrt(var + 1e-5) * w + b;
}

at::Tensor dense(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b = {}) {
  auto y = at::matmul(x, w.t());
  return b.defined() ? y + b : y;
}

at::Tensor reference_vision(const TinyCheckpoint& c, const at::Tensor& pixels) {
  const auto& t = c.tensors;
  const std::string v = "model.vision_tower.vision_tower.vision_model.";
  const int64_t g = IMG / PATCH;
  // Patch embedding as explicit per-patch dot products, row-major over the grid.
  const auto wpe = t.at(v + "embeddings.patch_embedding.weight").reshape({VD, -1});
  std::vector<at::Tensor> tokens{t.at(v + "embeddings.class_embedding")};
  for (int64_t r = 0; r < g; ++r) {
    for (int64_t col = 0; col < g; ++col) {
      auto patch = pixels.slice(1, r * PATCH, (r + 1) * PATCH).slice(2, col * PATCH, (col + 1) * PATCH).reshape({-1});
      tokens.push_back(at::matmul(wpe, patch));
    }
  }
  auto x = at::stack(tokens) + t.at(v + "embeddings.position_embedding.weight");
  x = layer_norm(x, t.at(v + "pre_layrnorm.weight"), t.at(v + "pre_layrnorm.bias"));
  for (int64_t l = 0; l < VL - 1; ++l) {  // select layer -2: hidden_states[VL - 1]
    const std::string p = v + "encoder.layers." + std::to_string(l) + ".";
    auto h = layer_norm(x, t.at(p + "layer_norm1.weight"), t.at(p + "layer_norm1.bias"));
    auto q = dense(h, t.at(p + "self_attn.q_proj.weight"), t.at(p + "self_attn.q_proj.bias"));
    auto k = dense(h, t.at(p + "self_attn.k_proj.weight"), t.at(p + "self_attn.k_proj.bias"));
    auto vv = dense(h, t.at(p + "self_attn.v_proj.weight"), t.at(p + "self_attn.v_proj.bias"));
    const int64_t hd = VD / VH;
    std::vector<at::Tensor> heads;
    for (int64_t hh = 0; hh < VH; ++hh) {
      auto qh = q.slice(1, hh * hd, (hh + 1) * hd), kh = k.slice(1, hh * hd, (hh + 1) * hd);
      auto vh = vv.slice(1, hh * hd, (hh + 1) * hd);
      heads.push_back(at::matmul(at::softmax(at::matmul(qh, kh.t()) / std::sqrt(double(hd)), -1), vh));
    }
    x = x + dense(at::cat(heads, 1), t.at(p + "self_attn.out_proj.weight"), t.at(p + "self_attn.out_proj.bias"));
    h = layer_norm(x, t.at(p + "layer_norm2.weight"), t.at(p + "layer_norm2.bias"));
    h = dense(h, t.at(p + "mlp.fc1.weight"), t.at(p + "mlp.fc1.bias"));
    h = h * at::sigmoid(1.702 * h);
    x = x + dense(h, t.at(p + "mlp.fc2.weight"), t.at(p + "mlp.fc2.bias"));
  }
  x = x.slice(0, 1);  // drop CLS
  x = dense(x, t.at("model.mm_projector.0.weight"), t.at("model.mm_projector.0.bias"));
  x = 0.5 * x * (1 + at::erf(x / std::sqrt(2.0)));
  return dense(x, t.at("model.mm_projector.2.weight"), t.at("model.mm_projector.2.bias"));
}

}  // namespace

ReferenceRun reference_forward(const TinyCheckpoint& c, const std::vector<int64_t>& ids, const at::Tensor& pixels,
                               std::pair<int, int> zero_head) {
  const auto& t = c.tensors;
  const int64_t KV = c.config["num_key_value_heads"];
  std::vector<at::Tensor> rows;
  for (int64_t id : ids) {
    if (id == -200) {
      auto img = reference_vision(c, pixels);
      for (int64_t p = 0; p < img.size(0); ++p) rows.push_back(img[p]);
    } else {
      rows.push_back(t.at("model.embed_tokens.weight")[id]);
    }
  }
  ReferenceRun run;
  auto x = at::stack(rows);  // (T, D)
  run.embeds = x;
  const int64_t T = x.size(0);
  const auto inv = reference_inv_freq(c.config);
  auto rope = [&](const at::Tensor& v) {  // v (T, n, dh), rotate-half convention
    auto out = at::empty_like(v);
    for (int64_t pos = 0; pos < T; ++pos) {
      for (int64_t i = 0; i < DH / 2; ++i) {
        const double a = pos * inv[i], cs = std::cos(a), sn = std::sin(a);
        auto x1 = v.select(0, pos).select(1, i), x2 = v.select(0, pos).select(1, i + DH / 2);
        out.select(0, pos).select(1, i).copy_(x1 * cs - x2 * sn);
        out.select(0, pos).select(1, i + DH / 2).copy_(x2 * cs + x1 * sn);
      }
    }
    return out;
  };
  for (int64_t l = 0; l < L; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    auto h = rms(x, t.at(p + "input_layernorm.weight"), 1e-5);
    auto q = dense(h, t.at(p + "self_attn.q_proj.weight")).view({T, H, DH});
    auto k = dense(h, t.at(p + "self_attn.k_proj.weight")).view({T, KV, DH});
    auto v = dense(h, t.at(p + "self_attn.v_proj.weight")).view({T, KV, DH});
    run.q.push_back(q);
    run.k.push_back(k);
    run.v.push_back(v);
    auto qr = rope(q);
    auto kr = rope(k);
    std::vector<at::Tensor> zs, pats;
    for (int64_t hh = 0; hh < H; ++hh) {
      const int64_t g = hh / (H / KV);
      auto scores = at::matmul(qr.select(1, hh), kr.select(1, g).t()) / std::sqrt(double(DH));
      auto causal = at::ones({T, T}, at::kBool).triu(1);
      scores = scores.masked_fill(causal, -INFINITY);
      auto probs = at::softmax(scores, -1);
      pats.push_back(probs);
      auto z = at::matmul(probs, v.select(1, g));
      if (zero_head.first == l && zero_head.second == hh) z = at::zeros_like(z);
      zs.push_back(z);
    }
    auto z = at::stack(zs, 1);  // (T, H, DH)
    run.z.push_back(z);
    run.pattern.push_back(at::stack(pats, 0));
    x = x + dense(z.reshape({T, H * DH}), t.at(p + "self_attn.o_proj.weight"));
    h = rms(x, t.at(p + "post_attention_layernorm.weight"), 1e-5);
    auto gate = dense(h, t.at(p + "mlp.gate_proj.weight"));
    auto mlp = dense(gate * at::sigmoid(gate) * dense(h, t.at(p + "mlp.up_proj.weight")), t.at(p + "mlp.down_proj.weight"));
    x = x + mlp;
    run.resid_post.push_back(x);
  }
  x = rms(x, t.at("model.norm.weight"), 1e-5);
  const auto& head = t.count("lm_head.weight") ? t.at("lm_head.weight") : t.at("model.embed_tokens.weight");
  run.logits = dense(x, head);
  return run;
}

}  // namespace sightline::test
