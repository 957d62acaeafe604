// core/skills model passes on a tiny random VLM: group firing counts, item maxima and top
// samples equal a direct item-by-item computation; the lexical filter drops a feature
// built to fire only on a cue word and keeps one that fires whatever the prompt.
#include <gtest/gtest.h>
#include <torch/types.h>

#include <algorithm>
#include <set>
#include <utility>

#include "core/common/constants.h"
#include "core/common/error.h"
#include "core/diffing/feature_stats.h"
#include "core/model/hooks.h"
#include "core/skills/code_stream.h"
#include "core/skills/lexical.h"
#include "core/skills/top_samples.h"
#include "tests/sae_fixture.h"
#include "tests/test_util.h"

using namespace sightline;

namespace {

// The cue word's id. Its embedding is the only one with a component along dimension 0,
// and a large one, so "residual[0] after block 0 is large" means "this token is the cue".
constexpr int64_t kCue = 9;

// The random SAEs of layers 0 and 1, and a hand-made one.
struct Tiny : test::TinySaeModel {
  explicit Tiny(test::TinySaeModel base) : test::TinySaeModel(std::move(base)) {}
  std::unique_ptr<Sae> cue_sae;  // layer 0: f0 = cue detector, f1 = always on, f2 = never
};

Tiny& tiny() {
  static Tiny t = [] {
    auto ckpt = test::make_tiny_checkpoint({}, 31);
    auto& emb = ckpt.tensors.at("model.embed_tokens.weight");  // [V, D] float64
    emb.select(1, 0).zero_();
    emb[kCue][0] = 40.0;
    Tiny out(test::load_tiny_with_saes(ckpt, "skills-tiny", 48, 200));
    const int64_t D = out.model->config().text.hidden_size;
    SaeConfig cfg;
    cfg.variant = SaeVariant::ReLU;
    cfg.d_model = D;
    cfg.d_sae = 3;
    cfg.hook_point = residual_hook(0);
    auto w_enc = torch::zeros({3, D});
    w_enc[0][0] = 1.0;  // reads dimension 0; fires above 20 (the cue's ~40, others' few units)
    auto w_dec = torch::zeros({D, 3});
    for (int64_t f = 0; f < 3; ++f) w_dec[f][f] = 1.0;
    out.cue_sae = std::make_unique<Sae>(cfg, w_enc, torch::tensor({-20.0f, 1.0f, -1.0f}), w_dec, torch::zeros({D}));
    return out;
  }();
  return t;
}

// `n` items: BOS, an image (all but every fourth item), 2..7 text tokens; the items with
// i % 3 == 0 hold the cue word.
InMemoryPromptDataset make_dataset(int64_t n, uint64_t seed) {
  return test::make_tiny_prompts(n, seed, [](int64_t i, int64_t t, int64_t len) {
    return i % 3 == 0 && t == len / 2 ? kCue : 10 + (i * 7 + t * 13) % 50;
  });
}

std::vector<LayerFeatures> random_layers(std::vector<int64_t> features = {}) {
  return {{0, tiny().saes[0].get(), features}, {1, tiny().saes[1].get(), features}};
}

// One item's activations of every feature of `sae` (reading `layer`), with the types and
// ids of its positions: the model run on the item alone.
struct ItemCodes {
  at::Tensor h;      // [T, F] float64
  at::Tensor types;  // [T] int8
  at::Tensor ids;    // [T] int64
};
ItemCodes item_codes(const PromptDataset& ds, int64_t i, const Sae& sae, int layer) {
  ForwardRequest req;
  req.logits = LogitsMode::kNone;
  req.capture = {residual_hook(layer)};
  const auto prepared = tiny().model->prepare(make_prompt_batch(ds, i, 1));
  const auto out = tiny().model->forward(prepared, req);
  return {sae.encode(out.at(residual_hook(layer))[0]).to(torch::kFloat64), prepared.token_types[0],
          prepared.input_ids[0]};
}

bool counted(int type, Positions p) {
  if (type != kTokenText && type != kTokenImage) return false;
  return p == Positions::kAll || (p == Positions::kText) == (type == kTokenText);
}

}  // namespace

TEST(GroupFiring, StreamingEqualsDirectCountsPerGroup) {
  const auto ds = make_dataset(9, 3);
  // Groups: every item, the items holding the cue, and an empty group.
  std::vector<std::vector<uint8_t>> groups(3, std::vector<uint8_t>(9, 0));
  for (int64_t i = 0; i < 9; ++i) {
    groups[0][static_cast<size_t>(i)] = 1;
    groups[1][static_cast<size_t>(i)] = i % 3 == 0;
  }
  StreamOptions so;
  so.batch_size = 4;  // padding in every batch
  so.chunk_rows = 7;  // chunks straddle items
  for (Positions p : {Positions::kAll, Positions::kText}) {
    const auto got = count_group_firing(*tiny().model, random_layers(), ds, groups, p, so, null_progress());
    ASSERT_EQ(got.size(), 2u);
    for (int l = 0; l < 2; ++l) {
      const Sae& sae = *tiny().saes[static_cast<size_t>(l)];
      GroupFiring want;
      want.tokens.assign(3, 0);
      want.fires.assign(3, std::vector<int64_t>(static_cast<size_t>(sae.d_sae()), 0));
      for (int64_t i = 0; i < 9; ++i) {
        const auto c = item_codes(ds, i, sae, l);
        for (int64_t t = 0; t < c.types.size(0); ++t) {
          if (!counted(c.types[t].item<int>(), p)) continue;
          for (size_t g = 0; g < 3; ++g) {
            if (!groups[g][static_cast<size_t>(i)]) continue;
            ++want.tokens[g];
            for (int64_t f = 0; f < sae.d_sae(); ++f)
              want.fires[g][static_cast<size_t>(f)] += c.h[t][f].item<double>() > 0;
          }
        }
      }
      EXPECT_EQ(got[static_cast<size_t>(l)].tokens, want.tokens) << "layer " << l;
      EXPECT_EQ(got[static_cast<size_t>(l)].fires, want.fires) << "layer " << l;
      EXPECT_EQ(want.tokens[2], 0);
      int64_t fired = 0;
      for (int64_t v : want.fires[1]) fired += v;
      EXPECT_GT(fired, 0) << "the test SAE must fire on the skill group for the comparison to mean anything";
    }
  }
  groups[1].pop_back();
  EXPECT_THROW(count_group_firing(*tiny().model, random_layers(), ds, groups, Positions::kAll, so, null_progress()),
               Error);
}

TEST(TopSamples, RankingAndActivationsEqualDirectComputation) {
  const auto ds = make_dataset(10, 4);
  const std::vector<int64_t> features{5, 0, 17, 40};  // any subset, any order
  StreamOptions so;
  so.batch_size = 3;
  so.chunk_rows = 5;
  const int64_t k = 3;
  const auto got = top_samples(*tiny().model, random_layers(features), ds, k, Positions::kText, so, null_progress());
  const auto maxima =
      item_max_activations(*tiny().model, random_layers(features), ds, Positions::kImage, so, null_progress());
  const int64_t image_tokens = tiny().model->image_tokens();
  ASSERT_EQ(got.size(), 2u);
  int64_t samples = 0;
  for (int l = 0; l < 2; ++l) {
    const Sae& sae = *tiny().saes[static_cast<size_t>(l)];
    std::vector<ItemCodes> codes;
    for (int64_t i = 0; i < ds.size(); ++i) codes.push_back(item_codes(ds, i, sae, l));
    ASSERT_EQ(got[static_cast<size_t>(l)].size(), features.size());
    for (size_t c = 0; c < features.size(); ++c) {
      const int64_t f = features[c];
      // Direct ranking: max over text positions, score descending then item ascending.
      std::vector<ScoredItem> want;
      for (int64_t i = 0; i < ds.size(); ++i) {
        double text_max = 0, image_max = 0;
        for (int64_t t = 0; t < codes[static_cast<size_t>(i)].types.size(0); ++t) {
          const int type = codes[static_cast<size_t>(i)].types[t].item<int>();
          const double v = codes[static_cast<size_t>(i)].h[t][f].item<double>();
          if (type == kTokenText) text_max = std::max(text_max, v);
          if (type == kTokenImage) image_max = std::max(image_max, v);
        }
        if (text_max > 0) want.push_back({i, text_max});
        EXPECT_NEAR(maxima[static_cast<size_t>(l)][i][static_cast<int64_t>(c)].item<double>(), image_max,
                    1e-4 * (1 + image_max));
      }
      std::sort(want.begin(), want.end(), [](const ScoredItem& a, const ScoredItem& b) {
        return a.score != b.score ? a.score > b.score : a.item < b.item;
      });
      if (static_cast<int64_t>(want.size()) > k) want.resize(static_cast<size_t>(k));
      const auto& g = got[static_cast<size_t>(l)][c];
      ASSERT_EQ(g.size(), want.size()) << "layer " << l << " feature " << f;
      for (size_t j = 0; j < g.size(); ++j) {
        EXPECT_EQ(g[j].item, want[j].item);
        EXPECT_EQ(g[j].sample_id, ds.item(want[j].item).sample_id);
        EXPECT_NEAR(g[j].max_activation, want[j].score, 1e-4 * (1 + want[j].score));
        // Token and patch activations: the item's sequence split around its image.
        const auto& it = ds.item(g[j].item);
        const auto& h = codes[static_cast<size_t>(g[j].item)].h;
        std::vector<float> seq(static_cast<size_t>(h.size(0)));
        for (int64_t t = 0; t < h.size(0); ++t) seq[static_cast<size_t>(t)] = t == 0 ? 0.0f : h[t][f].item<float>();
        const auto want_acts = split_sequence_activations(it.ids, image_tokens, seq);
        ASSERT_EQ(g[j].acts.token_acts.size(), want_acts.token_acts.size());
        ASSERT_EQ(g[j].acts.patch_acts.size(), it.image >= 0 ? static_cast<size_t>(image_tokens) : 0u);
        for (size_t t = 0; t < want_acts.token_acts.size(); ++t)
          EXPECT_NEAR(g[j].acts.token_acts[t], want_acts.token_acts[t], 1e-4);
        for (size_t p = 0; p < want_acts.patch_acts.size(); ++p)
          EXPECT_NEAR(g[j].acts.patch_acts[p], want_acts.patch_acts[p], 1e-4);
        ++samples;
      }
    }
  }
  EXPECT_GT(samples, 4) << "the test SAEs must fire for the comparison to mean anything";
  EXPECT_THROW(top_samples(*tiny().model, random_layers({48}), ds, k, Positions::kText, so, null_progress()), Error);
}

TEST(LexicalFilter, DropsAFeatureThatFiresOnlyOnTheCueWord) {
  const auto ds = make_dataset(12, 5);
  const Sae& sae = *tiny().cue_sae;
  // The construction holds: f0 fires exactly at the cue's positions, f1 everywhere, f2 never.
  for (int64_t i = 0; i < ds.size(); ++i) {
    const auto c = item_codes(ds, i, sae, 0);
    for (int64_t t = 0; t < c.types.size(0); ++t) {
      if (!counted(c.types[t].item<int>(), Positions::kAll)) continue;
      EXPECT_EQ(c.h[t][0].item<double>() > 0, c.ids[t].item<int64_t>() == kCue) << "item " << i << " position " << t;
      EXPECT_GT(c.h[t][1].item<double>(), 0);
      EXPECT_EQ(c.h[t][2].item<double>(), 0);
    }
  }
  // Samples: the image items holding the cue (where f0 is at its strongest) for f0 and
  // f1, none for f2. Item 0 and 6 share nothing; item 3 (no image) is skipped.
  const std::vector<int64_t> cue_items{0, 3, 6, 9};
  const std::vector<LayerFeatures> layers{{0, &sae, {0, 1, 2}}};
  const std::vector<std::vector<std::vector<int64_t>>> samples{{cue_items, cue_items, {}}};
  const std::vector<NeutralPrompt> neutral{{"describe the image", {1, kImageTokenIndex, 20, 21, 22}},
                                           {"what is in the image", {1, kImageTokenIndex, 23, 24, 25, 26}}};
  LexicalOptions o;
  o.stream.batch_size = 3;
  const auto r = lexical_filter(*tiny().model, layers, ds, samples, neutral, o, null_progress());
  ASSERT_EQ(r.size(), 1u);
  ASSERT_EQ(r[0].size(), 3u);
  int64_t images = 0;
  for (int64_t i : cue_items) images += ds.item(i).image >= 0;
  EXPECT_EQ(images, 3);
  EXPECT_EQ(r[0][0].runs, images * 2);
  EXPECT_EQ(r[0][0].fired, 0);
  EXPECT_FALSE(r[0][0].pass);  // the cue-word feature is dropped
  EXPECT_EQ(r[0][1].runs, images * 2);
  EXPECT_EQ(r[0][1].fired, images * 2);
  EXPECT_TRUE(r[0][1].pass);  // the prompt-independent feature persists
  EXPECT_EQ(r[0][2].runs, 0);
  EXPECT_FALSE(r[0][2].pass);

  // The same "neutral" prompts with the cue word in them: f0 persists, so the drop above
  // is the cue's absence and not the filter failing to run.
  const std::vector<NeutralPrompt> cued{{"cued", {1, kImageTokenIndex, 20, kCue, 22}}};
  const auto with_cue = lexical_filter(*tiny().model, layers, ds, samples, cued, o, null_progress());
  EXPECT_TRUE(with_cue[0][0].pass);
  EXPECT_EQ(with_cue[0][0].fired, images);

  EXPECT_THROW(lexical_filter(*tiny().model, layers, ds, samples, {}, o, null_progress()), Error);
  EXPECT_THROW(lexical_filter(*tiny().model, layers, ds, samples, {{"no image", {1, 20, 21}}}, o, null_progress()),
               Error);
}

TEST(DerivedPromptDataset, ItemsOverAnotherDatasetsImages) {
  const auto ds = make_dataset(4, 6);
  const auto sub = subset_dataset(ds, {2, 0});
  ASSERT_EQ(sub.size(), 2);
  EXPECT_EQ(sub.item(0).sample_id, "item2");
  EXPECT_TRUE(torch::equal(sub.pixels(sub.item(0).image), ds.pixels(ds.item(2).image)));
  EXPECT_THROW(sub.item(2), Error);
  EXPECT_THROW(subset_dataset(ds, {4}), Error);
}
