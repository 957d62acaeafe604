// Attention overlays for Stage 4 (paper Fig. 4, 15-17): a head's attention weights from
// the question's text positions onto the image positions, laid out on the patch grid
// (row-major, grid = sqrt(image tokens)), plus the total attention mass on image tokens.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/attribution/head_ranking.h"
#include "core/model/model.h"

namespace sightline {

// Which query rows are read: the mean over the text positions after the image block (the
// question; default), each sequence's last real position, or one chosen position.
enum class AttentionQuery { kMeanText, kLast, kToken };

// "mean_text", "last", "token".
std::string to_string(AttentionQuery query);
// Parses the names above; throws "file '<where>': field '<field>' ..." otherwise.
AttentionQuery parse_attention_query(const std::string& name, const std::string& where, const std::string& field);

struct AttentionMapOptions {
  AttentionQuery query = AttentionQuery::kMeanText;
  // kToken: the query position per sequence, in prepared-batch coordinates (see
  // prepared_position); one entry per sequence of the batch.
  std::vector<int64_t> positions;
};

struct AttentionGrids {
  HeadId head;
  at::Tensor grids;       // [B, grid, grid] float32 CPU: attention onto image token r * grid + c
  at::Tensor image_mass;  // [B] float64 CPU: attention mass on all image tokens
};

// One forward (no grad, stopping after the deepest layer asked for) capturing the
// patterns of `heads`' layers; one AttentionGrids per head, in order. Every sequence must
// hold one image block whose token count is a perfect square; kMeanText needs at least one
// text position after it. Throws naming the head, sequence or position at fault.
std::vector<AttentionGrids> attention_grids(const VisionLanguageModel& model, const PreparedBatch& batch,
                                            const std::vector<HeadId>& heads,
                                            const AttentionMapOptions& options = {});

// The same from an already captured blocks.L.attn.hook_pattern [B, H, T, T].
AttentionGrids attention_grids_from_pattern(const at::Tensor& pattern, const PreparedBatch& batch, const HeadId& head,
                                            const AttentionMapOptions& options = {});

// The prepared-batch position of index `raw_index` of sequence b's token ids (the image
// marker expands to the image block). Throws when the index is outside the sequence or
// is the image marker itself.
int64_t prepared_position(const PreparedBatch& batch, const std::vector<int64_t>& ids, int64_t b, int64_t raw_index);

}  // namespace sightline
