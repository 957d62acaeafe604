// core/ablation: interventions (projection, head ablation, steering, row restriction),
// yes/no evaluation against direct per-item forwards, control draws and the study's rows.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/types.h>

#include <set>

#include "core/ablation/ablation_study.h"
#include "core/ablation/interventions.h"
#include "core/ablation/yes_no_eval.h"
#include "core/common/error.h"
#include "tests/test_ablation_util.h"

using namespace sightline;
using namespace sightline::test;
using testing::HasSubstr;

namespace {

// Residual [T, D] of sequence 0 at blocks.<layer>.hook_resid_post, with optional edits.
BatchInput single(const TinyWorld& w, const YesNoItem& it) {
  return BatchInput{{it.prompt_ids}, it.image >= 0 ? w.pixels.narrow(0, it.image, 1) : at::Tensor()};
}

at::Tensor resid_post(const TinyWorld& w, int layer, const InterventionSet& set, const YesNoItem& it) {
  ForwardRequest req;
  req.capture.insert(hook_name({HookSite::kResidPost, layer}));
  req.logits = LogitsMode::kNone;
  add_interventions(req, set, w.resources, *w.model);
  return w.model->forward(single(w, it), req).at(hook_name({HookSite::kResidPost, layer}))[0].to(torch::kFloat64);
}

}  // namespace

TEST(AblationBasis, IndependentDirectionsGiveAnOrthonormalBasisOfTheirSpan) {
  torch::manual_seed(3);
  const auto v = torch::randn({32, 3}, torch::kFloat64);
  const auto q = orthonormal_basis(v);
  ASSERT_EQ(q.size(1), 3);
  EXPECT_LT((q.t().mm(q) - torch::eye(3, torch::kFloat64)).abs().max().item<double>(), 1e-12);
  // Every direction lies in span(Q).
  EXPECT_LT((q.mm(q.t().mm(v)) - v).abs().max().item<double>(), 1e-10);
}

TEST(AblationBasis, DependentDirectionsAreRemovedOnce) {
  torch::manual_seed(4);
  const auto a = torch::randn({32, 1}, torch::kFloat64), b = torch::randn({32, 1}, torch::kFloat64);
  // [a, 2a, b, a - 3b]: rank 2. An unpivoted QR would keep a spurious third column.
  const auto v = torch::cat({a, 2 * a, b, a - 3 * b}, 1);
  const auto q = orthonormal_basis(v);
  ASSERT_EQ(q.size(1), 2);
  EXPECT_LT((q.t().mm(q) - torch::eye(2, torch::kFloat64)).abs().max().item<double>(), 1e-12);
  EXPECT_LT((q.mm(q.t().mm(v)) - v).abs().max().item<double>(), 1e-10);
  EXPECT_EQ(orthonormal_basis(torch::zeros({8, 2}, torch::kFloat64)).size(1), 0);
}

TEST(AblationIntervention, FeatureAblationRemovesTheComponentAtTextPositionsOnly) {
  const auto w = make_tiny_world(0);
  const auto& item = w.items[0];
  const auto base = resid_post(w, 0, {}, item);
  InterventionSet set;
  set.ablate_features = {{0, 5}};
  const auto abl = resid_post(w, 0, set, item);
  const auto v = feature_directions(*w.saes.at(0), {5}).to(torch::kFloat64).squeeze(1);  // (D,)
  const auto types = w.model->prepare(single(w, item)).token_types[0];
  int64_t text = 0, other = 0;
  for (int64_t t = 0; t < base.size(0); ++t) {
    if (types[t].item<int8_t>() == kTokenText) {
      ++text;
      EXPECT_LT(std::abs(abl[t].dot(v).item<double>()), 1e-5 * base[t].norm().item<double>()) << "position " << t;
      const auto want = base[t] - base[t].dot(v) * v;
      EXPECT_LT((abl[t] - want).abs().max().item<double>(), 1e-5) << "position " << t;
      EXPECT_GT(std::abs(base[t].dot(v).item<double>()), 1e-3);  // there was something to remove
    } else {
      ++other;
      EXPECT_TRUE(torch::equal(abl[t], base[t])) << "position " << t << " (type "
                                                   << static_cast<int>(types[t].item<int8_t>()) << ")";
    }
  }
  EXPECT_GT(text, 2);
  EXPECT_GT(other, 16);  // BOS and the image
}

TEST(AblationIntervention, SeveralNonOrthogonalFeaturesAreProjectedOutExactly) {
  const auto w = make_tiny_world(0);
  const auto& item = w.items[1];
  // Features 1, 2 and 3 of layer 1's SAE were made non-orthogonal (cos 0.8 and 0.6), and
  // feature 4 repeats feature 1's direction.
  InterventionSet set;
  set.ablate_features = {{1, 1}, {1, 2}, {1, 3}, {1, 4}};
  const auto base = resid_post(w, 1, {}, item);
  const auto abl = resid_post(w, 1, set, item);
  const auto v = feature_directions(*w.saes.at(1), {1, 2, 3, 4}).to(torch::kFloat64);  // (D, 4)
  EXPECT_GT(std::abs(v.select(1, 0).dot(v.select(1, 1)).item<double>()), 0.5);
  // The projection onto span(V) from the pseudo-inverse, independent of the QR route.
  const auto proj = v.mm(torch::linalg_pinv(v));
  const auto types = w.model->prepare(single(w, item)).token_types[0];
  for (int64_t t = 0; t < base.size(0); ++t) {
    if (types[t].item<int8_t>() != kTokenText) {
      EXPECT_TRUE(torch::equal(abl[t], base[t]));
      continue;
    }
    const auto dots = abl[t].unsqueeze(0).mm(v);  // (1, 4)
    EXPECT_LT(dots.abs().max().item<double>(), 1e-5 * base[t].norm().item<double>()) << "position " << t;
    const auto want = base[t] - proj.mv(base[t]);
    EXPECT_LT((abl[t] - want).abs().max().item<double>(), 1e-5);
  }
  // Removing the directions one after another does not: the second removal brings back
  // part of the first direction.
  const auto y = base[base.size(0) - 1];
  const auto naive = y - y.dot(v.select(1, 0)) * v.select(1, 0);
  const auto naive2 = naive - naive.dot(v.select(1, 1)) * v.select(1, 1);
  EXPECT_GT(std::abs(naive2.dot(v.select(1, 0)).item<double>()), 1e-3);
}

TEST(AblationIntervention, ZeroHeadAblationMatchesTheReferenceAndMeanSetsTheMean) {
  const auto w = make_tiny_world(0);
  const auto ids = w.items[0].prompt_ids;
  InterventionSet set;
  set.ablate_heads = {{1, 2, HeadAblationMode::kZero}};
  ForwardRequest req;
  req.capture = {"blocks.1.attn.hook_z", "blocks.0.attn.hook_z"};
  add_interventions(req, set, w.resources, *w.model);
  const auto out = w.model->forward(BatchInput{{ids}, w.pixels.narrow(0, 0, 1)}, req);
  const auto z = out.at("blocks.1.attn.hook_z")[0];  // (T, H, dh)
  EXPECT_EQ(z.select(1, 2).abs().max().item<float>(), 0.0f);
  EXPECT_GT(z.select(1, 1).abs().max().item<float>(), 0.0f);
  // Downstream, the logits equal the float64 reference with that head zeroed.
  const auto ref = reference_forward(w.ckpt, ids, w.pixels[0].to(torch::kFloat64), {1, 2});
  const auto got = out.logits[0].to(torch::kFloat64);
  EXPECT_LT((got - ref.logits).abs().max().item<double>() / ref.logits.abs().max().item<double>(), 1e-4);
  const auto plain = reference_forward(w.ckpt, ids, w.pixels[0].to(torch::kFloat64));
  EXPECT_GT((got - plain.logits).abs().max().item<double>(), 1e-3);

  // Mean ablation: the head's z is the given mean at every position.
  const auto means = mean_head_outputs(*w.model, {BatchInput{{ids}, w.pixels.narrow(0, 0, 1)}}, {0}, null_progress());
  ASSERT_EQ(means.at(0).sizes(), (std::vector<int64_t>{4, 8}));
  InterventionResources res = w.resources;
  res.head_means = means;
  InterventionSet mean_set;
  mean_set.ablate_heads = {{0, 3, HeadAblationMode::kMean}};
  ForwardRequest mreq;
  mreq.capture = {"blocks.0.attn.hook_z"};
  add_interventions(mreq, mean_set, res, *w.model);
  const auto mz = w.model->forward(BatchInput{{ids}, w.pixels.narrow(0, 0, 1)}, mreq).at("blocks.0.attn.hook_z")[0];
  for (int64_t t = 0; t < mz.size(0); ++t) EXPECT_TRUE(torch::allclose(mz[t][3], means.at(0)[3]));
  // The mean itself is the average of the plain z over the sequence.
  EXPECT_TRUE(torch::allclose(out.at("blocks.0.attn.hook_z")[0].mean(0), means.at(0), 1e-5, 1e-6));
  // Missing means are an error naming the head.
  EXPECT_THAT(
      [&] {
        ForwardRequest r;
        add_interventions(r, mean_set, w.resources, *w.model);
      },
      testing::ThrowsMessage<Error>(HasSubstr("L0H3")));
}

TEST(AblationIntervention, SteeringAddsAtTheChosenPositionsAndRowsOnly) {
  const auto w = make_tiny_world(0);
  const auto ids = w.items[0].prompt_ids;
  InterventionSet set;
  set.steer = {{0, 7, 2.5, SteerPositions::kLast, {}}};
  ForwardRequest req, plain;
  req.capture = plain.capture = {"blocks.0.hook_resid_post"};
  req.logits = plain.logits = LogitsMode::kNone;
  add_interventions(req, set, w.resources, *w.model, {1});  // row 1 only
  BatchInput in{{ids, ids}, torch::cat({w.pixels.narrow(0, 0, 1), w.pixels.narrow(0, 0, 1)})};
  const auto got = w.model->forward(in, req).at("blocks.0.hook_resid_post").to(torch::kFloat64);
  const auto base = w.model->forward(in, plain).at("blocks.0.hook_resid_post").to(torch::kFloat64);
  EXPECT_TRUE(torch::equal(got[0], base[0]));  // row 0 untouched
  const auto v = feature_directions(*w.saes.at(0), {7}).to(torch::kFloat64).squeeze(1);
  const int64_t last = got.size(1) - 1;
  EXPECT_LT((got[1][last] - base[1][last] - 2.5 * v).abs().max().item<double>(), 1e-5);
  EXPECT_TRUE(torch::equal(got[1].narrow(0, 0, last), base[1].narrow(0, 0, last)));
  // A row outside the batch is an error naming it.
  ForwardRequest bad;
  add_interventions(bad, set, w.resources, *w.model, {5});
  EXPECT_THAT([&] { w.model->forward(in, bad); }, testing::ThrowsMessage<Error>(HasSubstr("row 5")));
}

TEST(AblationIntervention, BadReferencesAreErrorsNamingThem) {
  const auto w = make_tiny_world(0);
  InterventionSet set;
  set.ablate_features = {{0, 999}};
  ForwardRequest req;
  EXPECT_THAT([&] { add_interventions(req, set, w.resources, *w.model); },
              testing::ThrowsMessage<Error>(HasSubstr("feature 999")));
  set.ablate_features = {{7, 1}};
  EXPECT_THAT([&] { add_interventions(req, set, w.resources, *w.model); },
              testing::ThrowsMessage<Error>(HasSubstr("layer 7")));
  InterventionSet heads;
  heads.ablate_heads = {{0, 4, HeadAblationMode::kZero}};
  EXPECT_THAT([&] { add_interventions(req, heads, w.resources, *w.model); },
              testing::ThrowsMessage<Error>(HasSubstr("head 4")));
}

TEST(AblationEval, ImageTokensPathMatchesTheEngineAssembly) {
  const auto w = make_tiny_world(0);
  std::vector<std::vector<int64_t>> ids = {w.items[0].prompt_ids, w.items[3].prompt_ids, {1, 9, 10}};
  const auto pixels = torch::cat({w.pixels.narrow(0, 0, 1), w.pixels.narrow(0, 3, 1)});
  const auto a = w.model->prepare(BatchInput{ids, pixels});
  const auto tokens = encode_item_images(*w.model, pixels, 1, null_progress());
  const auto b = prepare_with_image_tokens(*w.model, ids, tokens);
  EXPECT_TRUE(torch::equal(a.token_types, b.token_types));
  EXPECT_TRUE(torch::equal(a.input_ids, b.input_ids));
  EXPECT_EQ(a.lengths, b.lengths);
  EXPECT_EQ(a.image_offsets, b.image_offsets);
  EXPECT_LT((a.embeds - b.embeds).abs().max().item<float>(), 1e-5) << (a.embeds - b.embeds).abs().amax({2});
}

TEST(AblationEval, AccuracyAndProbabilityEqualADirectCount) {
  const auto w = make_tiny_world(0);
  for (bool ablate : {false, true}) {
    InterventionSet set;
    if (ablate) set.ablate_features = {{0, 5}, {1, 2}};
    // One sequence per forward (no padding, no batching), straight from the logits.
    int64_t correct = 0;
    double p_sum = 0.0;
    std::vector<ItemScore> direct;
    for (const auto& it : w.items) {
      ForwardRequest req;
      req.logits = LogitsMode::kLast;
      add_interventions(req, set, w.resources, *w.model);
      BatchInput in{{it.prompt_ids}, it.image >= 0 ? w.pixels.narrow(0, it.image, 1) : at::Tensor()};
      const auto p = torch::softmax(w.model->forward(in, req).logits[0].to(torch::kFloat64), 0);
      const double py = p[w.answers.yes[0]].item<double>(), pn = p[w.answers.no[0]].item<double>();
      const bool yes = py >= pn;
      correct += yes == it.label;
      p_sum += (it.label ? py : pn) / (py + pn);
      direct.push_back({py, pn, 0, yes, yes == it.label});
    }
    EvalOptions opt;
    opt.batch_size = 3;  // several padded batches of mixed lengths
    for (bool tokens : {false, true}) {
      ItemImages images;
      if (tokens) {
        images.tokens = encode_item_images(*w.model, w.pixels, 4, null_progress());
      } else {
        images.pixels = w.pixels;
      }
      const auto scores = score_yes_no(*w.model, w.items, images, set, w.resources, w.answers, opt, null_progress());
      ASSERT_EQ(scores.size(), w.items.size());
      for (size_t i = 0; i < scores.size(); ++i) {
        EXPECT_EQ(scores[i].predicted_yes, direct[i].predicted_yes) << "item " << i;
        EXPECT_NEAR(scores[i].p_yes, direct[i].p_yes, 1e-5);
        EXPECT_NEAR(scores[i].p_no, direct[i].p_no, 1e-5);
      }
      const auto s = summarize(scores);
      EXPECT_EQ(s.n, static_cast<int64_t>(w.items.size()));
      EXPECT_NEAR(s.accuracy, 100.0 * static_cast<double>(correct) / static_cast<double>(w.items.size()), 1e-9);
      EXPECT_NEAR(s.mean_p_correct, p_sum / static_cast<double>(w.items.size()), 1e-5);
    }
  }
}

TEST(AblationEval, LabelsFromTheLogitsGiveTheConstructedAccuracy) {
  // Items labelled by the model's own preference, then every third label flipped: the
  // accuracy must be exactly the share left unflipped, and the flipped items' P(correct)
  // must be the complements.
  auto w = make_tiny_world(0);
  const auto truth = score_yes_no(*w.model, w.items, {w.pixels, {}}, {}, w.resources, w.answers, {},
                                  null_progress());
  int64_t kept = 0;
  for (size_t i = 0; i < w.items.size(); ++i) {
    w.items[i].label = truth[i].predicted_yes != (i % 3 == 0);
    kept += i % 3 != 0;
  }
  const auto scores = score_yes_no(*w.model, w.items, {w.pixels, {}}, {}, w.resources, w.answers, {}, null_progress());
  EXPECT_NEAR(summarize(scores).accuracy, 100.0 * static_cast<double>(kept) / static_cast<double>(w.items.size()),
              1e-9);
  for (size_t i = 0; i < scores.size(); ++i) {
    EXPECT_EQ(scores[i].correct, i % 3 != 0);
    EXPECT_GE(scores[i].p_correct, 0.0);
    EXPECT_LE(scores[i].p_correct, 1.0);
    EXPECT_EQ(scores[i].p_correct >= 0.5, scores[i].correct) << "item " << i;
  }
  // A subset summary counts only its items.
  EXPECT_NEAR(summarize(scores, {0, 3, 6}).accuracy, 0.0, 1e-12);
  EXPECT_NEAR(summarize(scores, {1, 2}).accuracy, 100.0, 1e-12);
}

TEST(AblationEval, BadItemsAndAnswersAreErrors) {
  const auto w = make_tiny_world(0);
  auto items = w.items;
  items[2].image = 99;
  EXPECT_THAT([&] { score_yes_no(*w.model, items, {w.pixels, {}}, {}, w.resources, w.answers, {}, null_progress()); },
              testing::ThrowsMessage<Error>(HasSubstr("item 2")));
  AnswerTokens bad{{w.answers.yes[0]}, {1000}};
  EXPECT_THAT([&] { score_yes_no(*w.model, w.items, {w.pixels, {}}, {}, w.resources, bad, {}, null_progress()); },
              testing::ThrowsMessage<Error>(HasSubstr("1000")));
}

TEST(AblationControls, DistinctRandomSameLayerFeaturesPerSeedNeverTheAblatedOnes) {
  const std::vector<SaeFeature> ablated = {{2, 10}, {2, 11}, {5, 0}};
  const std::map<int, int64_t> d_sae = {{2, 64}, {5, 40}};
  const auto draws = draw_control_features(ablated, d_sae, 6, 17);
  ASSERT_EQ(draws.size(), 6u);
  std::set<SaeFeature> all;
  for (const auto& seed_draw : draws) {
    ASSERT_EQ(seed_draw.size(), ablated.size());
    for (size_t j = 0; j < ablated.size(); ++j) {
      EXPECT_EQ(seed_draw[j].layer, ablated[j].layer);  // same count, same layers
      EXPECT_GE(seed_draw[j].feature, 0);
      EXPECT_LT(seed_draw[j].feature, d_sae.at(seed_draw[j].layer));
      EXPECT_TRUE(all.insert(seed_draw[j]).second) << "repeated control L" << seed_draw[j].layer << " F"
                                                   << seed_draw[j].feature;
    }
  }
  for (const auto& f : ablated) EXPECT_EQ(all.count(f), 0u);
  EXPECT_EQ(draws, draw_control_features(ablated, d_sae, 6, 17));  // deterministic
  EXPECT_NE(draws, draw_control_features(ablated, d_sae, 6, 18));
  // A crowded layer: all 39 other features of layer 5 over 39 seeds, still distinct.
  const auto crowded = draw_control_features({{5, 0}}, d_sae, 39, 1);
  std::set<int64_t> seen;
  for (const auto& d : crowded) seen.insert(d[0].feature);
  EXPECT_EQ(seen.size(), 39u);
  EXPECT_EQ(seen.count(0), 0u);
  EXPECT_THAT([&] { draw_control_features({{5, 0}}, d_sae, 40, 1); },
              testing::ThrowsMessage<Error>(HasSubstr("layer 5")));
}

TEST(AblationStudy, RowsAgreeWithDirectEvaluationAndTheCsvHasThePaperColumns) {
  const auto w = make_tiny_world(0);
  AblationData data;
  data.vsr = w.items;
  data.vsr_images.pixels = w.pixels;
  data.vqa = {w.items[1], w.items[4], w.items[7]};
  data.vqa_images.pixels = w.pixels;
  AblationTarget t;
  t.feature = {1, 2};
  t.vsr_items = {0, 2, 3, 5, 8};
  t.relations = {"above", "on top of"};
  t.vsr_odds_ratio = 4.32;
  AblationOptions opt;
  opt.control_seeds = 3;
  opt.eval.batch_size = 4;
  Progress progress;
  const auto rows = run_ablation_study(*w.model, w.resources, w.answers, data, {t}, opt, progress);
  ASSERT_EQ(rows.size(), 1u);
  const auto& r = rows[0];
  EXPECT_EQ(progress.done(), progress.total());
  EXPECT_EQ(r.layer, 1);
  EXPECT_EQ(r.feature, 2);
  EXPECT_EQ(r.n_samples, 5);
  EXPECT_EQ(r.relations, "above, on top of");
  EXPECT_DOUBLE_EQ(r.vsr_or, 4.32);

  std::vector<YesNoItem> subset;
  for (int64_t i : t.vsr_items) subset.push_back(w.items[static_cast<size_t>(i)]);
  const ItemImages px{w.pixels, {}};
  auto score = [&](const std::vector<YesNoItem>& items, const InterventionSet& set) {
    return score_yes_no(*w.model, items, px, set, w.resources, w.answers, {}, null_progress());
  };
  InterventionSet abl;
  abl.ablate_features = {t.feature};
  const auto base = score(subset, {});
  const auto d = compare(base, score(subset, abl));
  EXPECT_NEAR(r.d_vsr_acc, d.d_accuracy, 1e-9);
  EXPECT_NEAR(r.d_vsr_prob, d.d_p_correct, 1e-6);
  EXPECT_NEAR(r.d_vqa_acc, compare(score(data.vqa, {}), score(data.vqa, abl)).d_accuracy, 1e-9);
  ASSERT_EQ(r.controls.size(), 3u);
  double sum = 0.0;
  for (size_t s = 0; s < r.controls.size(); ++s) {
    ASSERT_EQ(r.controls[s].size(), 1u);
    EXPECT_EQ(r.controls[s][0].layer, 1);
    EXPECT_NE(r.controls[s][0].feature, 2);
    InterventionSet c;
    c.ablate_features = r.controls[s];
    const double dc = compare(base, score(subset, c)).d_accuracy;
    EXPECT_NEAR(r.d_ctrl_seeds[s], dc, 1e-9);
    sum += dc;
  }
  EXPECT_NEAR(r.d_ctrl, sum / 3.0, 1e-9);
  EXPECT_EQ(r.controls, draw_control_features({t.feature}, {{1, w.saes.at(1)->d_sae()}}, 3, opt.seed));

  const auto csv = ablation_csv(rows);
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "layer,feature,d_vsr_acc,d_vsr_prob,d_vqa_acc,d_ctrl,vsr_or,n_samples,relations");
  EXPECT_THAT(csv, HasSubstr(",4.3200,5,\"above, on top of\"\n"));

  t.vsr_items = {0, 99};
  EXPECT_THAT([&] { run_ablation_study(*w.model, w.resources, w.answers, data, {t}, opt, null_progress()); },
              testing::ThrowsMessage<Error>(HasSubstr("VSR item 99")));
}

TEST(AblationStudy, CancelStopsTheStudy) {
  const auto w = make_tiny_world(0);
  AblationData data;
  data.vsr = w.items;
  data.vsr_images.pixels = w.pixels;
  AblationTarget t;
  t.feature = {0, 1};
  t.vsr_items = {0, 1};
  Progress progress;
  progress.cancel();
  EXPECT_THROW(run_ablation_study(*w.model, w.resources, w.answers, data, {t}, {}, progress), Cancelled);
}
