#include "core/attribution/attention_maps.h"

#include <torch/types.h>

#include <algorithm>
#include <cmath>

#include "core/common/error.h"

namespace sightline {

std::string to_string(AttentionQuery query) {
  switch (query) {
    case AttentionQuery::kMeanText: return "mean_text";
    case AttentionQuery::kLast: return "last";
    case AttentionQuery::kToken: return "token";
  }
  return "mean_text";
}

AttentionQuery parse_attention_query(const std::string& name, const std::string& where, const std::string& field) {
  if (name == "mean_text") return AttentionQuery::kMeanText;
  if (name == "last") return AttentionQuery::kLast;
  if (name == "token") return AttentionQuery::kToken;
  fail("file '{}': field '{}' is '{}', expected one of mean_text, last, token", where, field, name);
}

namespace {

struct Block {
  int64_t first = 0, count = 0, grid = 0;
};

Block image_block_of(const at::Tensor& types_row, int64_t b, const std::string& head) {
  const auto is_image = types_row.eq(static_cast<int8_t>(kTokenImage));
  Block k;
  k.count = is_image.sum().item<int64_t>();
  check(k.count > 0, "attention map {}: sequence {} has no image tokens", head, b);
  k.first = is_image.to(torch::kInt64).argmax().item<int64_t>();
  check(is_image.narrow(0, k.first, std::min(k.count, types_row.size(0) - k.first)).all().item<bool>(),
        "attention map {}: sequence {}: the image tokens do not form one block", head, b);
  k.grid = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(k.count))));
  check(k.grid * k.grid == k.count, "attention map {}: sequence {} has {} image tokens, not a square patch grid", head,
        b, k.count);
  return k;
}

// Real length of a right-padded sequence: one past its last non-padding position.
int64_t real_length(const at::Tensor& types_row) {
  const auto real = types_row.ne(static_cast<int8_t>(kTokenPad)).nonzero();
  return real.numel() == 0 ? 0 : real.max().item<int64_t>() + 1;
}

}  // namespace

AttentionGrids attention_grids_from_pattern(const at::Tensor& pattern, const PreparedBatch& batch, const HeadId& head,
                                            const AttentionMapOptions& options) {
  const std::string name = to_string(head);
  check(batch.token_types.defined() && batch.token_types.dim() == 2,
        "attention map {}: the batch's tensor 'token_types' must be [B, T]", name);
  const int64_t B = batch.token_types.size(0), T = batch.token_types.size(1);
  check(pattern.defined() && pattern.dim() == 4 && pattern.size(0) == B && pattern.size(2) == T &&
            pattern.size(3) == T,
        "attention map {}: hook 'blocks.{}.attn.hook_pattern' has shape {}, expected [{}, H, {}, {}]", name,
        head.layer, pattern.defined() ? c10::str(pattern.sizes()) : std::string("(undefined)"), B, T, T);
  check(head.head >= 0 && head.head < pattern.size(1), "attention map {}: head {} is outside [0, {})", name, head.head,
        pattern.size(1));
  if (options.query == AttentionQuery::kToken) {
    check(static_cast<int64_t>(options.positions.size()) == B,
          "attention map {}: {} query positions given for a batch of {} sequences", name, options.positions.size(), B);
  }
  torch::NoGradGuard no_grad;
  const auto types = batch.token_types.to(torch::kCPU);
  const auto weights = pattern.detach().select(1, head.head).to(torch::kCPU, torch::kFloat64);  // [B, T, T]
  AttentionGrids out;
  out.head = head;
  std::vector<at::Tensor> grids;
  out.image_mass = torch::zeros({B}, torch::kFloat64);
  for (int64_t b = 0; b < B; ++b) {
    const auto row_types = types[b];
    const Block block = image_block_of(row_types, b, name);
    const int64_t length = real_length(row_types);
    at::Tensor rows;  // query positions
    switch (options.query) {
      case AttentionQuery::kMeanText: {
        const auto after = torch::arange(T, torch::kInt64) >= block.first + block.count;
        rows = (row_types.eq(static_cast<int8_t>(kTokenText)) & after).nonzero().reshape({-1});
        check(rows.numel() > 0, "attention map {}: sequence {} has no text position after its image", name, b);
        break;
      }
      case AttentionQuery::kLast:
        rows = torch::full({1}, length - 1, torch::kInt64);
        break;
      case AttentionQuery::kToken: {
        const int64_t p = options.positions[static_cast<size_t>(b)];
        check(p >= 0 && p < length, "attention map {}: query position {} of sequence {} is outside [0, {})", name, p,
              b, length);
        rows = torch::full({1}, p, torch::kInt64);
        break;
      }
    }
    const auto w = weights[b].index_select(0, rows).mean(0);  // [T] mean attention row
    grids.push_back(w.narrow(0, block.first, block.count).reshape({block.grid, block.grid}).to(torch::kFloat32));
    out.image_mass[b] = (w * row_types.eq(static_cast<int8_t>(kTokenImage)).to(torch::kFloat64)).sum();
  }
  // Every sequence of a batch has the same image token count, so the grids stack.
  for (const auto& g : grids) {
    check(g.sizes() == grids.front().sizes(), "attention map {}: sequences have image grids of different sizes", name);
  }
  out.grids = torch::stack(grids, 0);
  return out;
}

std::vector<AttentionGrids> attention_grids(const VisionLanguageModel& model, const PreparedBatch& batch,
                                            const std::vector<HeadId>& heads, const AttentionMapOptions& options) {
  check(!heads.empty(), "attention maps: no heads asked for");
  const auto H = model.config().text.num_attention_heads;
  ForwardRequest request;
  int deepest = 0;
  for (const auto& h : heads) {
    check(h.layer >= 0 && h.layer < model.num_layers() && h.head >= 0 && h.head < H,
          "attention maps: head {} is outside model '{}' ({} layers x {} heads)", to_string(h), model.config().source,
          model.num_layers(), H);
    request.capture.insert("blocks." + std::to_string(h.layer) + ".attn.hook_pattern");
    deepest = std::max(deepest, h.layer);
  }
  request.stop_after_layer = deepest;
  request.logits = LogitsMode::kNone;
  const auto out = model.forward(batch, request);
  std::vector<AttentionGrids> result;
  for (const auto& h : heads) {
    result.push_back(attention_grids_from_pattern(
        out.at("blocks." + std::to_string(h.layer) + ".attn.hook_pattern"), batch, h, options));
  }
  return result;
}

int64_t prepared_position(const PreparedBatch& batch, const std::vector<int64_t>& ids, int64_t b, int64_t raw_index) {
  check(b >= 0 && b < batch.batch(), "prepared position: sequence {} is outside the batch of {}", b, batch.batch());
  check(raw_index >= 0 && raw_index < static_cast<int64_t>(ids.size()),
        "prepared position: index {} is outside sequence {} of {} tokens", raw_index, b, ids.size());
  const int64_t marker = batch.image_offsets.size() > static_cast<size_t>(b)
                             ? batch.image_offsets[static_cast<size_t>(b)]
                             : -1;
  if (marker < 0 || raw_index < marker) return raw_index;
  check(raw_index != marker, "prepared position: index {} of sequence {} is the image marker", raw_index, b);
  const int64_t P = batch.token_types[b].eq(static_cast<int8_t>(kTokenImage)).sum().item<int64_t>();
  return raw_index + P - 1;
}

}  // namespace sightline
