// core/skills on constructed data: firing counts, frequencies, dp and odds ratios with
// known exact values, the candidate rule, relation association, top-item tracking, the
// split of a sequence's activations into tokens and patches, the merge of top-sample
// lists, the lexical decision and the skill settings.
#include <gtest/gtest.h>
#include <ATen/Parallel.h>
#include <torch/types.h>

#include <cmath>
#include <fstream>

#include "core/common/constants.h"
#include "core/common/error.h"
#include "core/skills/firing.h"
#include "core/skills/lexical.h"
#include "core/skills/skill_config.h"
#include "core/skills/top_samples.h"
#include "tests/test_util.h"

using namespace sightline;

TEST(OddsRatio, HaldaneCorrectionOnAllFourCells) {
  // (3.5 / 7.5) / (1.5 / 19.5) = 68.25 / 11.25
  EXPECT_DOUBLE_EQ(odds_ratio(3, 10, 1, 20), 68.25 / 11.25);
  // A zero cell stays finite: (4.5 / 0.5) / (0.5 / 4.5) = 81.
  EXPECT_DOUBLE_EQ(odds_ratio(4, 4, 0, 4), 81.0);
  EXPECT_DOUBLE_EQ(odds_ratio(0, 4, 4, 4), 1.0 / 81.0);
  EXPECT_DOUBLE_EQ(odds_ratio(0, 7, 0, 7), 1.0);
  EXPECT_DOUBLE_EQ(odds_ratio(2, 8, 2, 8), 1.0);
  EXPECT_TRUE(std::isnan(odds_ratio(0, 0, 1, 5)));
  EXPECT_TRUE(std::isnan(odds_ratio(1, 5, 0, 0)));
  EXPECT_THROW(odds_ratio(6, 5, 1, 5), Error);
  EXPECT_THROW(odds_ratio(1, 5, -1, 5), Error);
  EXPECT_DOUBLE_EQ(firing_frequency(3, 12), 0.25);
  EXPECT_TRUE(std::isnan(firing_frequency(0, 0)));
}

namespace {

// Rows of three items; the row's values are chosen so each feature's counts are known:
//   feature 0 fires on rows 0, 1, 4;  feature 1 on every row;  feature 2 never;
//   feature 3 fires (tiny positive) on row 5 only.
at::Tensor constructed_codes() {
  return torch::tensor({{1.0, 0.5, 0.0, 0.0},
                        {2.0, 0.5, 0.0, 0.0},
                        {0.0, 0.5, 0.0, 0.0},
                        {0.0, 0.5, 0.0, 0.0},
                        {0.3, 0.5, 0.0, 0.0},
                        {0.0, 0.5, 0.0, 1e-6}},
                       torch::kFloat32);
}

// Groups: 0 = every row, 1 = rows 0, 1, 5 (the "skill" items), 2 = rows 2, 3.
at::Tensor constructed_membership() {
  return torch::tensor({{1, 1, 0}, {1, 1, 0}, {1, 0, 1}, {1, 0, 1}, {1, 0, 0}, {1, 1, 0}}, torch::kBool);
}

}  // namespace

TEST(FiringCounter, CountsPerGroupExactlyAndChunkingDoesNotMatter) {
  FiringCounter whole(3, 4);
  whole.add(constructed_codes(), constructed_membership());
  const GroupFiring g = whole.result();
  EXPECT_EQ(g.tokens, (std::vector<int64_t>{6, 3, 2}));
  EXPECT_EQ(g.fires[0], (std::vector<int64_t>{3, 6, 0, 1}));
  EXPECT_EQ(g.fires[1], (std::vector<int64_t>{2, 3, 0, 1}));
  EXPECT_EQ(g.fires[2], (std::vector<int64_t>{0, 2, 0, 0}));

  FiringCounter chunked(3, 4);
  const auto codes = constructed_codes();
  const auto member = constructed_membership();
  chunked.add(codes.narrow(0, 0, 4), member.narrow(0, 0, 4));
  chunked.add(codes.narrow(0, 4, 0), member.narrow(0, 4, 0));  // an empty chunk
  chunked.add(codes.narrow(0, 4, 2).to(torch::kFloat64), member.narrow(0, 4, 2));
  const GroupFiring c = chunked.result();
  EXPECT_EQ(c.tokens, g.tokens);
  EXPECT_EQ(c.fires, g.fires);

  FiringCounter none(2, 4);
  EXPECT_EQ(none.result().tokens, (std::vector<int64_t>{0, 0}));
  EXPECT_THROW(none.add(codes, member), Error);  // 3 groups of membership for 2
  EXPECT_THROW(whole.add(codes.narrow(1, 0, 3), member), Error);
  EXPECT_THROW(FiringCounter(0, 4), Error);
}

TEST(ShiftStats, FrequenciesDeltaAndOddsRatioFromConstructedActivations) {
  FiringCounter counter(3, 4);
  counter.add(constructed_codes(), constructed_membership());
  const ShiftStats s = shift_stats(counter.result(), 0, 1);
  ASSERT_EQ(s.p_base.size(), 4u);
  // Feature 0: base 3 of 6, skill 2 of 3.
  EXPECT_DOUBLE_EQ(s.p_base[0], 0.5);
  EXPECT_DOUBLE_EQ(s.p_skill[0], 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(s.delta_p[0], 2.0 / 3.0 - 0.5);
  EXPECT_DOUBLE_EQ(s.odds_ratio[0], (2.5 / 1.5) / (3.5 / 3.5));
  // Feature 1 fires everywhere: no shift, OR = (3.5 / 0.5) / (6.5 / 0.5).
  EXPECT_DOUBLE_EQ(s.p_base[1], 1.0);
  EXPECT_DOUBLE_EQ(s.delta_p[1], 0.0);
  EXPECT_DOUBLE_EQ(s.odds_ratio[1], 7.0 / 13.0);
  // Feature 2 never fires: p = 0 on both, OR = (0.5 / 3.5) / (0.5 / 6.5).
  EXPECT_DOUBLE_EQ(s.p_skill[2], 0.0);
  EXPECT_DOUBLE_EQ(s.odds_ratio[2], 6.5 / 3.5);
  // Feature 3: 1 of 6 / 1 of 3, however small the activation.
  EXPECT_DOUBLE_EQ(s.p_base[3], 1.0 / 6.0);
  EXPECT_DOUBLE_EQ(s.p_skill[3], 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(s.odds_ratio[3], (1.5 / 2.5) / (1.5 / 5.5));

  // The rule is strict on both thresholds; feature 2's OR > 1 is not enough without dp.
  CandidateRule rule;
  rule.min_delta_p = 0.1;
  rule.min_odds_ratio = 1.5;
  EXPECT_EQ(select_candidates(s, rule), (std::vector<int64_t>{0, 3}));
  rule.min_delta_p = 1.0 / 6.0;  // both features' dp is 1/6 (up to rounding): strict
  EXPECT_EQ(select_candidates(s, rule), (std::vector<int64_t>{}));
  rule.min_delta_p = 0.1;
  rule.min_odds_ratio = 1.9;  // between feature 0 (1.667) and feature 3 (2.2)
  EXPECT_EQ(select_candidates(s, rule), (std::vector<int64_t>{3}));

  // An empty skill group: NaN everywhere, no candidate.
  GroupFiring empty = counter.result();
  empty.tokens[1] = 0;
  for (auto& f : empty.fires[1]) f = 0;
  const ShiftStats e = shift_stats(empty, 0, 1);
  EXPECT_TRUE(std::isnan(e.p_skill[0]));
  EXPECT_TRUE(std::isnan(e.odds_ratio[0]));
  EXPECT_TRUE(select_candidates(e, CandidateRule{}).empty());
  EXPECT_THROW(shift_stats(empty, 0, 3), Error);
}

TEST(RelationAssociation, OddsRatioAgainstTheOtherRelationsAndTopRelations) {
  // Relations a, b, c with 10, 20, 10 positions; feature 0 fires 8 / 2 / 0 times,
  // feature 1 never, feature 2 equally often (5 / 10 / 5).
  GroupFiring g;
  g.tokens = {10, 20, 10};
  g.fires = {{8, 0, 5}, {2, 0, 10}, {0, 0, 5}};
  const auto a = relation_association(g, {"above", "left of", "near"});
  // Feature 0, relation a: 8 of 10 vs 2 of 30.
  EXPECT_DOUBLE_EQ(a.odds_ratio[0][0], (8.5 / 2.5) / (2.5 / 28.5));
  EXPECT_DOUBLE_EQ(a.odds_ratio[1][0], (2.5 / 18.5) / (8.5 / 12.5));
  EXPECT_DOUBLE_EQ(a.odds_ratio[2][0], (0.5 / 10.5) / (10.5 / 20.5));
  EXPECT_DOUBLE_EQ(a.odds_ratio[0][2], (5.5 / 5.5) / (15.5 / 15.5));

  const auto odds0 = fired_relation_odds(a, 0);
  EXPECT_EQ(odds0.size(), 2u);                                              // "near" never fired: not kept
  EXPECT_EQ(top_relations(odds0, 3), (std::vector<std::string>{"above"}));  // left of: OR < 1
  EXPECT_TRUE(fired_relation_odds(a, 1).empty());
  EXPECT_TRUE(top_relations(fired_relation_odds(a, 2), 3).empty());  // OR = 1 everywhere

  // Ties by name, cut at the maximum.
  const std::map<std::string, double> odds{{"b", 3.0}, {"a", 3.0}, {"c", 5.0}, {"d", 0.5}, {"e", NAN}};
  EXPECT_EQ(top_relations(odds, 5), (std::vector<std::string>{"c", "a", "b"}));
  EXPECT_EQ(top_relations(odds, 2), (std::vector<std::string>{"c", "a"}));
  EXPECT_THROW(relation_association(g, {"above", "left of"}), Error);
  EXPECT_THROW(relation_association(g, {"above", "above", "near"}), Error);
}

TEST(TopItemTracker, KeepsTheBestPerColumnAcrossBatchesDeterministically) {
  TopItemTracker t(2, 3);
  t.add(0, torch::tensor({{0.5, 0.0}, {2.0, 0.0}, {1.0, 0.0}}));
  t.add(3, torch::tensor({{1.0, 0.0}, {3.0, 0.0}, {0.0, 0.25}}));
  const auto& c0 = t.top(0);
  ASSERT_EQ(c0.size(), 3u);
  EXPECT_EQ(c0[0].item, 4);
  EXPECT_DOUBLE_EQ(c0[0].score, 3.0);
  EXPECT_EQ(c0[1].item, 1);
  EXPECT_EQ(c0[2].item, 2);  // ties at 1.0: the lower item (2) before 3, and 3 is cut
  const auto& c1 = t.top(1);
  ASSERT_EQ(c1.size(), 1u);  // zeros never count: the feature did not fire there
  EXPECT_EQ(c1[0].item, 5);
  EXPECT_THROW(t.add(6, torch::zeros({2, 3})), Error);
  EXPECT_THROW(t.top(2), Error);
  EXPECT_THROW(TopItemTracker(2, 0), Error);
}

TEST(SampleActivations, SplitsTokensAndPatchesAroundTheImageMarker) {
  const std::vector<int64_t> ids{1, 7, kImageTokenIndex, 8, 9};
  const std::vector<float> seq{0, 1, 10, 11, 12, 13, 2, 3};  // BOS, 7, 4 patches, 8, 9
  const auto a = split_sequence_activations(ids, 4, seq);
  EXPECT_EQ(a.token_acts, (std::vector<float>{0, 1, 2, 3}));
  EXPECT_EQ(a.patch_acts, (std::vector<float>{10, 11, 12, 13}));
  const auto text = split_sequence_activations({1, 5, 6}, 4, {0, 1, 2});
  EXPECT_EQ(text.token_acts, (std::vector<float>{0, 1, 2}));
  EXPECT_TRUE(text.patch_acts.empty());
  EXPECT_THROW(split_sequence_activations(ids, 4, {0, 1, 2}), Error);
  EXPECT_THROW(split_sequence_activations(ids, 3, seq), Error);
}

TEST(MergeTopSamples, RanksAcrossSetsAndDropsRepeatedSamples) {
  auto sample = [](const std::string& id, double max, float token) {
    TopSample s;
    s.sample_id = id;
    s.max_activation = max;
    s.acts.token_acts = {token};
    return s;
  };
  const std::vector<TopSample> vqa{sample("q1", 5, 1), sample("shared", 3, 2), sample("q2", 1, 3)};
  const std::vector<TopSample> vsr{sample("v1", 4, 4), sample("shared", 3, 5), sample("v2", 1, 6)};
  const auto rows = merge_top_samples(7, 11, {{"vqa", vqa}, {"vsr", vsr}});
  ASSERT_EQ(rows.size(), 5u);
  const std::vector<std::string> ids{"q1", "v1", "shared", "q2", "v2"};
  const std::vector<std::string> sets{"vqa", "vsr", "vqa", "vqa", "vsr"};
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].rank, static_cast<int32_t>(i));
    EXPECT_EQ(rows[i].layer, 7);
    EXPECT_EQ(rows[i].feature, 11);
    EXPECT_EQ(rows[i].sample_id, ids[i]);
    EXPECT_EQ(rows[i].dataset, sets[i]);
  }
  EXPECT_EQ(rows[2].token_acts, (std::vector<float>{2}));  // the first set's copy wins a tie
  EXPECT_TRUE(merge_top_samples(0, 0, {{"vqa", {}}, {"vsr", {}}}).empty());
}

TEST(LexicalDecision, FractionOfRunsAgainstTheThreshold) {
  const auto keep = lexical_decision(4, 8, 0.5);
  EXPECT_TRUE(keep.pass);
  EXPECT_DOUBLE_EQ(keep.fraction, 0.5);
  EXPECT_FALSE(lexical_decision(3, 8, 0.5).pass);
  const auto none = lexical_decision(0, 0, 0.0);
  EXPECT_FALSE(none.pass);  // no run: nothing shows it persists
  EXPECT_TRUE(std::isnan(none.fraction));
  EXPECT_THROW(lexical_decision(3, 2, 0.5), Error);
}

TEST(SkillConfig, PresetsFilesInlineSkillsAndErrors) {
  const std::string dir = test::scratch_dir("skills-config");
  save_skill_filter(dir + "/colour.json", SkillFilter("colour", {"red", "what color"}));
  const auto skills = parse_skills(nlohmann::json::parse(R"(["spatial", "ocr", ")" + dir +
                                                         R"(/colour.json", {"name": "count", "cues": ["how many"]}])"),
                                   "cfg.json");
  ASSERT_EQ(skills.size(), 4u);
  EXPECT_EQ(skills[0].name(), "spatial");
  EXPECT_EQ(skills[2].name(), "colour");
  EXPECT_EQ(skills[3].cues(), (std::vector<std::string>{"how many"}));
  const auto j = skills_to_json(skills);
  EXPECT_EQ(j[2]["cues"], nlohmann::json({"red", "what color"}));

  const std::vector<std::string> texts{"Is the cup left of the plate?", "What does the sign say?",
                                       "What color is the leftover cake?", "How many dogs are there?"};
  const auto m = skill_membership(skills, texts);
  EXPECT_EQ(m[0], (std::vector<uint8_t>{1, 0, 0, 0}));  // "leftover" is not "left"
  EXPECT_EQ(m[1], (std::vector<uint8_t>{0, 1, 0, 0}));
  EXPECT_EQ(m[2], (std::vector<uint8_t>{0, 0, 1, 0}));
  EXPECT_EQ(m[3], (std::vector<uint8_t>{0, 0, 0, 1}));

  auto error = [](const char* json) {
    return test::error_of([&] { parse_skills(nlohmann::json::parse(json), "cfg.json"); });
  };
  for (const char* bad : {R"(["spatial", "spatial"])", R"(["telepathy"])", R"([{"name": "Bad Name", "cues": ["x"]}])",
                          R"([{"name": "adapted", "cues": ["x"]}])", R"([{"name": "x_candidates", "cues": ["x"]}])",
                          R"([{"name": "x", "cues": []}])", R"([{"name": "x", "cues": ["x"], "extra": 1}])",
                          R"(["missing.json"])", R"([])", R"("spatial")", R"([3])"}) {
    const std::string e = error(bad);
    EXPECT_NE(e.find("cfg.json"), std::string::npos) << bad << ": " << e;
  }
  EXPECT_NE(error(R"(["missing.json"])").find("missing.json"), std::string::npos);
  EXPECT_NE(error(R"([{"name": "x", "cues": ["x"], "extra": 1}])").find("extra"), std::string::npos);
}
