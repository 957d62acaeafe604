#include "core/ablation/yes_no_eval.h"

#include <torch/types.h>

#include <algorithm>
#include <numeric>

#include "core/common/constants.h"
#include "core/common/error.h"

namespace sightline {

int64_t ItemImages::count() const {
  if (tokens.defined()) return tokens.size(0);
  return pixels.defined() ? pixels.size(0) : 0;
}

at::Tensor encode_item_images(const VisionLanguageModel& model, const at::Tensor& pixels, int64_t batch,
                              Progress& progress) {
  check(model.has_vision(), "encode_item_images: model '{}' has no vision tower", model.config().source);
  check(pixels.defined() && pixels.dim() == 4, "encode_item_images: pixels must be [N, 3, S, S], got {}",
        pixels.defined() ? c10::str(pixels.sizes()) : std::string("none"));
  check(batch > 0, "encode_item_images: batch must be positive, got {}", batch);
  torch::NoGradGuard guard;
  const int64_t n = pixels.size(0);
  progress.begin("encode images", n);
  std::vector<at::Tensor> parts;
  for (int64_t start = 0; start < n; start += batch) {
    progress.check_cancel();
    const int64_t len = std::min(batch, n - start);
    parts.push_back(model.encode_images(pixels.narrow(0, start, len)));  // (len, P, D)
    progress.tick(len);
  }
  return parts.empty() ? at::Tensor() : torch::cat(parts, 0);
}

PreparedBatch prepare_with_image_tokens(const VisionLanguageModel& model,
                                        const std::vector<std::vector<int64_t>>& ids, const at::Tensor& image_tokens) {
  int64_t n_images = 0;
  for (const auto& seq : ids) n_images += std::count(seq.begin(), seq.end(), kImageTokenIndex);
  if (n_images == 0) return model.prepare(BatchInput{ids, {}});
  check(image_tokens.defined() && image_tokens.dim() == 3 && image_tokens.size(0) == n_images,
        "prepare_with_image_tokens: the batch has {} image markers but image tokens {}", n_images,
        image_tokens.defined() ? c10::str(image_tokens.sizes()) : std::string("none"));
  const int64_t P = image_tokens.size(1);
  // The text goes through the engine's own assembly (embedding, BOS typing, padding) with
  // P filler tokens where the image goes; those rows are then replaced by the image tokens.
  std::vector<std::vector<int64_t>> filled;
  std::vector<int64_t> offsets;
  for (size_t b = 0; b < ids.size(); ++b) {
    const auto& seq = ids[b];
    std::vector<int64_t> row;
    int64_t offset = -1;
    for (int64_t id : seq) {
      if (id == kImageTokenIndex) {
        check(offset < 0, "sequence {} holds more than one image marker ({})", b, kImageTokenIndex);
        offset = static_cast<int64_t>(row.size());
        row.insert(row.end(), static_cast<size_t>(P), 0);
      } else {
        row.push_back(id);
      }
    }
    filled.push_back(std::move(row));
    offsets.push_back(offset);
  }
  PreparedBatch out = model.prepare(BatchInput{filled, {}});
  const auto tokens = image_tokens.to(out.embeds.device(), out.embeds.scalar_type());
  std::vector<at::Tensor> rows;
  int64_t image = 0;
  const int64_t T = out.embeds.size(1);
  for (int64_t b = 0; b < out.batch(); ++b) {
    const int64_t off = offsets[static_cast<size_t>(b)];
    out.image_offsets[static_cast<size_t>(b)] = off;
    if (off < 0) {
      rows.push_back(out.embeds[b]);
      continue;
    }
    rows.push_back(torch::cat(
        {out.embeds[b].narrow(0, 0, off), tokens[image++], out.embeds[b].narrow(0, off + P, T - off - P)}, 0));
    out.token_types[b].narrow(0, off, P).fill_(static_cast<int8_t>(kTokenImage));
    out.input_ids[b].narrow(0, off, P).fill_(kImageTokenIndex);
  }
  out.embeds = torch::stack(rows, 0);
  return out;
}

namespace {

void check_answers(const AnswerTokens& answers, int64_t vocab) {
  check(!answers.yes.empty() && !answers.no.empty(), "yes/no evaluation: the answer tokens are empty (yes {}, no {})",
        answers.yes.size(), answers.no.size());
  for (const auto* list : {&answers.yes, &answers.no}) {
    for (int64_t id : *list) {
      check(id >= 0 && id < vocab, "yes/no evaluation: answer token {} is outside the vocabulary [0, {})", id, vocab);
    }
  }
  for (int64_t y : answers.yes) {
    check(std::find(answers.no.begin(), answers.no.end(), y) == answers.no.end(),
          "yes/no evaluation: token {} is listed as both a yes and a no answer", y);
  }
}

}  // namespace

std::vector<ItemScore> score_yes_no(const VisionLanguageModel& model, const std::vector<YesNoItem>& items,
                                    const ItemImages& images, const InterventionSet& interventions,
                                    const InterventionResources& resources, const AnswerTokens& answers,
                                    const EvalOptions& options, Progress& progress) {
  check(options.batch_size > 0, "yes/no evaluation: batch_size must be positive, got {}", options.batch_size);
  check_answers(answers, model.config().text.vocab_size);
  const int64_t n_images = images.count();
  for (size_t i = 0; i < items.size(); ++i) {
    const auto& it = items[i];
    check(!it.prompt_ids.empty(), "yes/no item {}: empty prompt", i);
    const auto markers = std::count(it.prompt_ids.begin(), it.prompt_ids.end(), kImageTokenIndex);
    check(markers == (it.image >= 0 ? 1 : 0), "yes/no item {}: image {} but {} image markers in the prompt", i,
          it.image, markers);
    check(it.image < n_images, "yes/no item {}: image {} is outside the {} images given", i, it.image, n_images);
  }
  ForwardRequest request;
  request.logits = LogitsMode::kLast;
  add_interventions(request, interventions, resources, model);
  // Length-sorted batches waste less on padding; results go back to item order.
  std::vector<size_t> order(items.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return items[a].prompt_ids.size() < items[b].prompt_ids.size(); });
  const auto yes = torch::tensor(answers.yes, torch::kInt64);
  const auto no = torch::tensor(answers.no, torch::kInt64);
  std::vector<ItemScore> scores(items.size());
  if (options.begin_progress) progress.begin("yes/no evaluation", static_cast<int64_t>(items.size()));
  torch::NoGradGuard guard;
  const auto bs = static_cast<size_t>(options.batch_size);
  for (size_t start = 0; start < order.size(); start += bs) {
    progress.check_cancel();
    const size_t end = std::min(order.size(), start + bs);
    std::vector<std::vector<int64_t>> ids;
    std::vector<int64_t> image_rows;
    for (size_t k = start; k < end; ++k) {
      const auto& it = items[order[k]];
      ids.push_back(it.prompt_ids);
      if (it.image >= 0) image_rows.push_back(it.image);
    }
    PreparedBatch batch;
    if (image_rows.empty()) {
      batch = model.prepare(BatchInput{ids, {}});
    } else if (images.tokens.defined()) {
      const auto index = torch::tensor(image_rows, torch::kInt64).to(images.tokens.device());
      batch = prepare_with_image_tokens(model, ids, images.tokens.index_select(0, index));
    } else {
      const auto index = torch::tensor(image_rows, torch::kInt64).to(images.pixels.device());
      batch = model.prepare(BatchInput{ids, images.pixels.index_select(0, index)});
    }
    const auto logits = model.forward(batch, request).logits;  // (B, V)
    const auto logp = torch::log_softmax(logits.to(torch::kFloat32), 1);
    const auto lse_yes = logp.index_select(1, yes.to(logp.device())).logsumexp(1);  // (B,)
    const auto lse_no = logp.index_select(1, no.to(logp.device())).logsumexp(1);
    const auto both = torch::stack({lse_yes, lse_no}, 1).to(torch::kCPU, torch::kFloat64).contiguous();  // (B, 2)
    const auto acc = both.accessor<double, 2>();
    for (size_t k = start; k < end; ++k) {
      const int64_t row = static_cast<int64_t>(k - start);
      const double ly = acc[row][0], ln = acc[row][1];
      ItemScore& s = scores[order[k]];
      s.p_yes = std::exp(ly);
      s.p_no = std::exp(ln);
      // P(yes) / (P(yes) + P(no)) = sigmoid(log P(yes) - log P(no)), stable for tiny masses.
      const double p_yes_norm = 1.0 / (1.0 + std::exp(ln - ly));
      s.predicted_yes = ly >= ln;
      const bool label = items[order[k]].label;
      s.p_correct = label ? p_yes_norm : 1.0 - p_yes_norm;
      s.correct = s.predicted_yes == label;
    }
    progress.tick(static_cast<int64_t>(end - start));
  }
  return scores;
}

EvalSummary summarize(const std::vector<ItemScore>& scores, const std::vector<int64_t>& subset) {
  EvalSummary out;
  auto add = [&](const ItemScore& s) {
    ++out.n;
    out.accuracy += s.correct ? 1.0 : 0.0;
    out.mean_p_correct += s.p_correct;
  };
  if (subset.empty()) {
    for (const auto& s : scores) add(s);
  } else {
    for (int64_t i : subset) {
      check(i >= 0 && i < static_cast<int64_t>(scores.size()), "summarize: item {} is outside the {} scores", i,
            scores.size());
      add(scores[static_cast<size_t>(i)]);
    }
  }
  if (out.n > 0) {
    out.accuracy = 100.0 * out.accuracy / static_cast<double>(out.n);
    out.mean_p_correct /= static_cast<double>(out.n);
  }
  return out;
}

EvalDelta compare(const std::vector<ItemScore>& baseline, const std::vector<ItemScore>& intervened,
                  const std::vector<int64_t>& subset) {
  check(baseline.size() == intervened.size(), "compare: {} baseline scores but {} intervened", baseline.size(),
        intervened.size());
  EvalDelta d;
  d.baseline = summarize(baseline, subset);
  d.intervened = summarize(intervened, subset);
  d.d_accuracy = d.intervened.accuracy - d.baseline.accuracy;
  d.d_p_correct = d.intervened.mean_p_correct - d.baseline.mean_p_correct;
  auto visit = [&](size_t i) {
    if (baseline[i].predicted_yes != intervened[i].predicted_yes) d.flipped.push_back(static_cast<int64_t>(i));
  };
  if (subset.empty()) {
    for (size_t i = 0; i < baseline.size(); ++i) visit(i);
  } else {
    for (int64_t i : subset) visit(static_cast<size_t>(i));
  }
  return d;
}

}  // namespace sightline
