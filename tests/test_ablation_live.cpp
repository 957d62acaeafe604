// core/ablation/live_query: both variants of a live query against direct forwards,
// watched feature activations, supersession of pending requests, re-evaluation against
// score_yes_no, and failures reported as results.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/types.h>

#include <thread>

#include "core/ablation/live_query.h"
#include "core/ablation/live_query_torch.h"
#include "core/common/error.h"
#include "tests/test_ablation_util.h"

using namespace sightline;
using namespace sightline::test;
using testing::HasSubstr;

namespace {

LiveServiceConfig config_of(const TinyWorld& w) {
  LiveServiceConfig c;
  c.model = w.model.get();
  c.resources = w.resources;
  c.answers = w.answers;
  c.token_text = [](int64_t id) { return "tok" + std::to_string(id); };
  c.eval.batch_size = 4;
  return c;
}

LiveQuery query_of(const TinyWorld& w, const YesNoItem& it) {
  LiveQuery q;
  q.prompt_ids = it.prompt_ids;
  if (it.image >= 0) q.image = model_image(w.pixels[it.image]);
  q.interventions.ablate_features = {{0, 5}, {1, 2}};
  q.interventions.ablate_heads = {{1, 0, HeadAblationMode::kZero}};
  q.watch = {{0, 5}, {1, 2}, {1, 9}};
  q.top_k = 4;
  return q;
}

// Probabilities [V] and resid_post of both layers for one sequence, with optional edits.
struct Direct {
  at::Tensor probs;
  std::map<int, at::Tensor> resid;
};

Direct direct(const TinyWorld& w, const YesNoItem& it, const InterventionSet& set) {
  ForwardRequest req;
  req.logits = LogitsMode::kLast;
  req.capture = {"blocks.0.hook_resid_post", "blocks.1.hook_resid_post"};
  add_interventions(req, set, w.resources, *w.model);
  const auto out = w.model->forward(
      BatchInput{{it.prompt_ids}, it.image >= 0 ? w.pixels.narrow(0, it.image, 1) : at::Tensor()}, req);
  return {torch::softmax(out.logits[0].to(torch::kFloat64), 0),
          {{0, out.at("blocks.0.hook_resid_post")[0]}, {1, out.at("blocks.1.hook_resid_post")[0]}}};
}

void expect_answer(const LiveAnswer& a, const Direct& d, const TinyWorld& w, const LiveQuery& q,
                   const std::vector<int64_t>& text_positions) {
  const auto top = d.probs.topk(4);
  ASSERT_EQ(a.top.size(), 4u);
  for (int64_t j = 0; j < 4; ++j) {
    EXPECT_EQ(a.top[static_cast<size_t>(j)].id, std::get<1>(top)[j].item<int64_t>());
    EXPECT_NEAR(a.top[static_cast<size_t>(j)].p, std::get<0>(top)[j].item<double>(), 1e-5);
  }
  EXPECT_EQ(a.answer_id, a.top[0].id);
  EXPECT_EQ(a.answer_text, "tok" + std::to_string(a.answer_id));
  EXPECT_NEAR(a.p_yes, d.probs[5].item<double>(), 1e-5);
  EXPECT_NEAR(a.p_no, d.probs[6].item<double>(), 1e-5);
  ASSERT_EQ(a.watch_max.size(), q.watch.size());
  const auto idx = torch::tensor(text_positions, torch::kInt64);
  for (size_t k = 0; k < q.watch.size(); ++k) {
    const auto& f = q.watch[k];
    const auto h = w.saes.at(f.layer)->encode(d.resid.at(f.layer).index_select(0, idx));
    EXPECT_NEAR(a.watch_max[k], h.select(1, f.feature).max().item<double>(), 1e-4) << "watch " << k;
  }
}

}  // namespace

TEST(AblationLive, OneQueryReturnsBothVariantsAsDirectForwardsGiveThem) {
  const auto w = make_tiny_world(0);
  LiveQueryService service(config_of(w));
  const auto& item = w.items[2];
  const auto q = query_of(w, item);
  const auto id = service.submit(q);
  const auto r = service.wait_live(id, 30);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, id);
  EXPECT_TRUE(r->error.empty()) << r->error;
  EXPECT_EQ(service.state(id), RequestState::kDone);
  EXPECT_EQ(service.live_result(), r);
  // Text positions: after BOS (0) and the 16 image tokens.
  std::vector<int64_t> text;
  for (int64_t t = 17; t < static_cast<int64_t>(item.prompt_ids.size()) + 15; ++t) text.push_back(t);
  expect_answer(r->baseline, direct(w, item, {}), w, q, text);
  expect_answer(r->intervened, direct(w, item, q.interventions), w, q, text);
  // The intervention does something, and an ablated feature reads ~0 after its own edit.
  EXPECT_GT(std::abs(r->baseline.p_yes - r->intervened.p_yes) + std::abs(r->baseline.p_no - r->intervened.p_no), 1e-6);
  EXPECT_NEAR(r->intervened.watch_max[1], 0.0, 1e-4);
  EXPECT_GT(r->baseline.watch_max[0] + r->baseline.watch_max[1] + r->baseline.watch_max[2], 0.0);

  // Text-only prompts work the same way.
  const auto& text_item = w.items[4];
  LiveQuery tq = query_of(w, text_item);
  const auto tr = service.run_live(tq);
  std::vector<int64_t> ttext;
  for (int64_t t = 1; t < static_cast<int64_t>(text_item.prompt_ids.size()); ++t) ttext.push_back(t);
  expect_answer(tr.intervened, direct(w, text_item, tq.interventions), w, tq, ttext);
}

TEST(AblationLive, NewerRequestsSupersedePendingOnes) {
  const auto w = make_tiny_world(0);
  LiveQueryService service(config_of(w));
  service.pause();
  const auto a = service.submit(query_of(w, w.items[0]));
  const auto b = service.submit(query_of(w, w.items[1]));
  EXPECT_EQ(service.state(a), RequestState::kSuperseded);
  EXPECT_EQ(service.state(b), RequestState::kPending);
  const auto c = service.submit(query_of(w, w.items[2]));
  EXPECT_EQ(service.state(b), RequestState::kSuperseded);
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_EQ(service.wait_live(a, 0.01), nullptr);
  service.resume();
  const auto r = service.wait_live(c, 30);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, c);
  EXPECT_EQ(service.state(c), RequestState::kDone);
  EXPECT_EQ(service.wait_live(b, 0.01), nullptr);
  EXPECT_EQ(service.state(999), RequestState::kUnknown);
}

TEST(AblationLive, ReevaluationMatchesScoringAndSupersedes) {
  const auto w = make_tiny_world(0);
  LiveQueryService service(config_of(w));
  service.set_items(w.items, ItemImages{w.pixels, {}});
  ReevalQuery q;
  q.items = {8, 0, 4, 3, 3, 6};
  q.interventions.ablate_features = {{1, 1}};
  q.interventions.steer = {{0, 7, 3.0, SteerPositions::kText, {}}};
  service.pause();
  ReevalQuery first = q;
  first.items = {1};
  const auto old_id = service.submit(first);
  const auto id = service.submit(q);
  EXPECT_EQ(service.state(old_id), RequestState::kSuperseded);
  service.resume();
  const auto r = service.wait_reeval(id, 30);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->error.empty()) << r->error;
  std::vector<YesNoItem> items;
  for (int64_t i : q.items) items.push_back(w.items[static_cast<size_t>(i)]);
  const ItemImages px{w.pixels, {}};
  const auto base = score_yes_no(*w.model, items, px, {}, w.resources, w.answers, {}, null_progress());
  const auto intervened =
      score_yes_no(*w.model, items, px, q.interventions, w.resources, w.answers, {}, null_progress());
  ASSERT_EQ(r->baseline.size(), items.size());
  ASSERT_EQ(r->intervened.size(), items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    EXPECT_NEAR(r->baseline[i].p_yes, base[i].p_yes, 1e-5) << "item " << i;
    EXPECT_NEAR(r->intervened[i].p_yes, intervened[i].p_yes, 1e-5) << "item " << i;
  }
  const auto d = compare(base, intervened);
  EXPECT_NEAR(r->delta.d_accuracy, d.d_accuracy, 1e-9);
  EXPECT_NEAR(r->delta.d_p_correct, d.d_p_correct, 1e-6);
  EXPECT_EQ(r->delta.flipped, d.flipped);
  // Again, now from the caches (baseline scores and image tokens): the same numbers.
  const auto again = service.wait_reeval(service.submit(q), 30);
  ASSERT_TRUE(again);
  EXPECT_NEAR(again->delta.d_p_correct, r->delta.d_p_correct, 1e-6);
  EXPECT_EQ(service.reeval_fraction(), -1.0);
}

TEST(AblationLive, FailuresAreResultsNotCrashes) {
  const auto w = make_tiny_world(0);
  LiveQueryService service(config_of(w));
  LiveQuery bad = query_of(w, w.items[0]);
  bad.image = nullptr;  // the prompt still holds the image marker
  const auto id = service.submit(bad);
  const auto r = service.wait_live(id, 30);
  ASSERT_TRUE(r);
  EXPECT_EQ(service.state(id), RequestState::kFailed);
  EXPECT_THAT(r->error, HasSubstr("image markers"));
  LiveQuery missing = query_of(w, w.items[0]);
  missing.watch = {{1, 500}};
  EXPECT_THAT(service.wait_live(service.submit(missing), 30)->error, HasSubstr("500"));

  service.set_items(w.items, ItemImages{w.pixels, {}});
  ReevalQuery too_many;
  too_many.items.assign(501, 0);
  const auto rid = service.submit(too_many);
  const auto rr = service.wait_reeval(rid, 30);
  ASSERT_TRUE(rr);
  EXPECT_THAT(rr->error, HasSubstr("at most 500"));
  ReevalQuery outside;
  outside.items = {42};
  EXPECT_THAT(service.wait_reeval(service.submit(outside), 30)->error, HasSubstr("item 42"));

  LiveServiceConfig no_model = config_of(w);
  no_model.model = nullptr;
  EXPECT_THROW(LiveQueryService{no_model}, Error);
}

TEST(AblationLive, ANewReevaluationCancelsTheRunningOne) {
  const auto w = make_tiny_world(0);
  auto config = config_of(w);
  config.eval.batch_size = 2;  // many batches: many points where the cancel is seen
  LiveQueryService service(config);
  service.set_items(w.items, ItemImages{w.pixels, {}});
  ReevalQuery big;
  for (int i = 0; i < 500; ++i) big.items.push_back(i % 9);
  big.interventions.ablate_features = {{0, 3}};
  const auto first = service.submit(big);
  while (service.state(first) == RequestState::kPending) std::this_thread::yield();
  ReevalQuery small;
  small.items = {0, 1};
  small.interventions.ablate_features = {{0, 4}};
  const auto second = service.submit(small);
  const auto r = service.wait_reeval(second, 30);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, second);
  EXPECT_EQ(r->intervened.size(), 2u);
  // The first either finished before the second arrived or was cancelled; never both a
  // result and superseded, and never left running.
  const auto s = service.state(first);
  EXPECT_TRUE(s == RequestState::kSuperseded || s == RequestState::kDone) << to_string(s);
  EXPECT_EQ(service.wait_reeval(first, 0.01) != nullptr, s == RequestState::kDone);
  EXPECT_EQ(service.reeval_result(), r);
}
