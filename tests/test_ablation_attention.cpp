// core/ablation/live_query: the attention patterns a live query returns (LiveQuery::
// attention) against a direct engine forward with the pattern hooks captured (exact
// numbers), against the independent float64 reference forward, unaffected by the
// query's interventions (row 0 is the model as it is); and cancel_reeval.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/types.h>

#include "core/ablation/live_query.h"
#include "core/ablation/live_query_torch.h"
#include "core/common/error.h"
#include "tests/test_ablation_util.h"

using namespace sightline;
using namespace sightline::test;
using testing::HasSubstr;

namespace {

LiveServiceConfig attention_config_of(const TinyWorld& w) {
  LiveServiceConfig c;
  c.model = w.model.get();
  c.resources = w.resources;
  c.answers = w.answers;
  c.eval.batch_size = 4;
  return c;
}

LiveQuery attention_query_of(const TinyWorld& w, const YesNoItem& it) {
  LiveQuery q;
  q.prompt_ids = it.prompt_ids;
  q.image = model_image(w.pixels[it.image]);
  q.attention = true;
  q.top_k = 3;
  return q;
}

// Patterns [H, T, T] of row 0 per layer of a direct engine forward with the pattern hooks
// captured: `rows` = 2 builds the batch as the service does (the image encoded once, its
// tokens given to both rows); 1 runs `it` alone through the vision tower.
std::vector<at::Tensor> direct_patterns(const TinyWorld& w, const YesNoItem& it, int64_t rows) {
  torch::NoGradGuard guard;
  ForwardRequest req;
  req.logits = LogitsMode::kNone;
  for (int l = 0; l < w.model->num_layers(); ++l) req.capture.insert(hook_name({HookSite::kPattern, l}));
  const auto px = w.pixels.narrow(0, it.image, 1);
  ForwardOutput out;
  if (rows == 2) {
    const auto tokens = w.model->encode_images(px);
    out = w.model->forward(prepare_with_image_tokens(*w.model, {it.prompt_ids, it.prompt_ids}, torch::cat({tokens, tokens}, 0)),
                           req);
  } else {
    out = w.model->forward(BatchInput{{it.prompt_ids}, px}, req);
  }
  std::vector<at::Tensor> patterns;
  for (int l = 0; l < w.model->num_layers(); ++l) patterns.push_back(out.at(hook_name({HookSite::kPattern, l}))[0]);
  return patterns;
}

}  // namespace

TEST(AblationAttention, LiveAttentionIsTheEnginesPatternOntoTheImageKeys) {
  const auto w = make_tiny_world(0);
  LiveQueryService service(attention_config_of(w));
  const YesNoItem& item = w.items[2];  // BOS, image, 4 words, "answer :"
  ASSERT_GE(item.image, 0);
  const auto id = service.submit(attention_query_of(w, item));
  const auto r = service.wait_live(id, 30);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->error.empty()) << r->error;
  const int64_t P = w.model->image_tokens();  // 16
  const int64_t n = static_cast<int64_t>(item.prompt_ids.size());
  // The image block starts at position 1 (after BOS); every id after the marker is a query row.
  EXPECT_EQ(r->attention_first, 1 + P);
  ASSERT_TRUE(r->attention.defined());
  EXPECT_EQ(r->attention.layers, w.model->num_layers());
  EXPECT_EQ(r->attention.heads, w.model->config().text.num_attention_heads);
  EXPECT_EQ(r->attention.queries, n - 2);
  EXPECT_EQ(r->attention.patches, P);
  ASSERT_EQ(static_cast<int64_t>(r->attention.values.size()),
            r->attention.layers * r->attention.heads * r->attention.queries * r->attention.patches);
  // The plain values are the row-major [L, H, Q, P] array: as a tensor again, and row().
  const at::Tensor att = attention_tensor(r->attention);
  ASSERT_EQ(att.dim(), 4);
  EXPECT_EQ(att.size(0), r->attention.layers);
  EXPECT_EQ(att.size(3), P);
  EXPECT_EQ(att.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(att.is_contiguous());
  for (int64_t l = 0; l < r->attention.layers; ++l)
    for (int64_t h = 0; h < r->attention.heads; ++h)
      for (int64_t q = 0; q < r->attention.queries; ++q) {
        const float* row = r->attention.row(l, h, q);
        ASSERT_NE(row, nullptr);
        for (int64_t p = 0; p < P; ++p) EXPECT_EQ(row[p], att[l][h][q][p].item<float>());
      }
  EXPECT_EQ(r->attention.row(r->attention.layers, 0, 0), nullptr);
  EXPECT_EQ(r->attention.row(0, 0, r->attention.queries), nullptr);
  EXPECT_FALSE(attention_tensor(AttentionPatterns{}).defined());

  // The same computation as the service (two identical rows, image tokens inserted once):
  // the numbers are identical. As a batch of one they agree to float rounding.
  const int64_t first = r->attention_first, T = first + (n - 2);
  for (int64_t rows : {2, 1}) {
    const auto patterns = direct_patterns(w, item, rows);
    for (int l = 0; l < w.model->num_layers(); ++l) {
      const auto expected = patterns[static_cast<size_t>(l)].narrow(1, first, T - first).narrow(2, 1, P);
      if (rows == 2)
        EXPECT_TRUE(torch::equal(att[l], expected)) << "layer " << l << ": max diff "
                                                    << (att[l] - expected).abs().max().item<double>();
      else
        // A few float32 ulps: OpenBLAS picks other kernels for one row than for two (6e-7
        // measured on a 2-core CI machine).
        EXPECT_TRUE(torch::allclose(att[l], expected, 1e-5, 2e-6))
            << "layer " << l << ": max diff " << (att[l] - expected).abs().max().item<double>();
    }
  }
  // And the independent float64 reference forward.
  const auto ref = reference_forward(w.ckpt, item.prompt_ids, w.pixels[item.image].to(torch::kFloat64));
  for (int l = 0; l < w.model->num_layers(); ++l) {
    const auto expected = ref.pattern[static_cast<size_t>(l)].narrow(1, first, T - first).narrow(2, 1, P);
    EXPECT_TRUE(torch::allclose(att[l].to(torch::kFloat64), expected, 1e-4, 1e-5)) << "layer " << l;
  }
  // Probabilities over all keys sum to 1, so the image share of each row is at most 1.
  EXPECT_LE(att.sum(3).max().item<double>(), 1.0 + 1e-5);
  EXPECT_GT(att.sum().item<double>(), 0.0);
}

TEST(AblationAttention, InterventionsLeaveTheReturnedAttentionUntouched) {
  const auto w = make_tiny_world(1);
  LiveQueryService service(attention_config_of(w));
  const YesNoItem& item = w.items[0];
  LiveQuery plain = attention_query_of(w, item);
  LiveQuery edited = plain;
  // Layer 0's head ablation changes layer 1's input, so layer 1's patterns of row 1 change;
  // the returned attention is row 0's.
  edited.interventions.ablate_heads = {{0, 0, HeadAblationMode::kZero}, {0, 1, HeadAblationMode::kZero}};
  edited.interventions.ablate_features = {{0, 5}};
  const auto a = service.run_live(plain);
  const auto b = service.run_live(edited);
  ASSERT_TRUE(a.attention.defined() && b.attention.defined());
  EXPECT_TRUE(torch::equal(attention_tensor(a.attention), attention_tensor(b.attention)));
  EXPECT_GT(std::abs(b.baseline.p_yes - b.intervened.p_yes), 1e-7) << "the edits do change the answer";
  EXPECT_DOUBLE_EQ(a.baseline.p_yes, b.baseline.p_yes);

  // Without attention asked for, none is returned.
  LiveQuery none = plain;
  none.attention = false;
  const auto c = service.run_live(none);
  EXPECT_FALSE(c.attention.defined());
  EXPECT_EQ(c.attention_first, -1);
}

TEST(AblationAttention, AttentionOfATextOnlyPromptIsAnErrorNotACrash) {
  const auto w = make_tiny_world(0);
  LiveQueryService service(attention_config_of(w));
  LiveQuery q;
  q.prompt_ids = w.items[4].prompt_ids;  // text only
  q.attention = true;
  EXPECT_THAT(error_of([&] { service.run_live(q); }), HasSubstr("attention patterns were asked for but the prompt has no image"));
  const auto id = service.submit(q);
  const auto r = service.wait_live(id, 30);
  ASSERT_TRUE(r);
  EXPECT_THAT(r->error, HasSubstr("no image"));
  EXPECT_EQ(service.state(id), RequestState::kFailed);
}

TEST(AblationAttention, CancelReevalSupersedesThePendingReevaluation) {
  const auto w = make_tiny_world(0);
  LiveQueryService service(attention_config_of(w));
  service.set_items(w.items, ItemImages{w.pixels, {}});
  service.pause();
  ReevalQuery q;
  q.items = {0, 1, 2, 3};
  q.interventions.ablate_heads = {{1, 0, HeadAblationMode::kZero}};
  const auto id = service.submit(q);
  EXPECT_EQ(service.state(id), RequestState::kPending);
  service.cancel_reeval();
  EXPECT_EQ(service.state(id), RequestState::kSuperseded);
  EXPECT_EQ(service.wait_reeval(id, 1), nullptr);
  service.resume();
  // The service still works afterwards.
  const auto again = service.submit(q);
  const auto r = service.wait_reeval(again, 30);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->error.empty()) << r->error;
  EXPECT_EQ(r->baseline.size(), 4u);
  EXPECT_EQ(service.reeval_fraction(), -1.0);
}
