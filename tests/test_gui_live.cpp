// The live views' logic without ImGui (ui/live_views, core/pipeline/live_session): attention maps
// and colormap ranges from a live result, toggles as interventions, the --ablate and
// overlay flags; on the micro world: asynchronous loading and its failures as one line,
// the live attention against a direct engine forward, toggled ablations that must
// change P(yes) (exactly as the engine says), the re-evaluation per relation with
// cancel, and image files that fail or open.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/image/image.h"
#include "tests/test_gui_live_util.h"
#include "tests/test_util.h"
#include "ui/app.h"
#include "ui/live_views.h"

using namespace sightline;
using namespace sightline::ui;
using testing::HasSubstr;

namespace {

// A result holding attention [2 layers, 2 heads, 3 rows, 4 patches] = l*100 + h*10 + r + p/10.
LiveResult live_test_result() {
  LiveResult r;
  r.attention.layers = 2;
  r.attention.heads = 2;
  r.attention.queries = 3;
  r.attention.patches = 4;
  r.attention.values.assign(2 * 2 * 3 * 4, 0.0f);
  for (int l = 0; l < 2; ++l)
    for (int h = 0; h < 2; ++h)
      for (int q = 0; q < 3; ++q)
        for (int p = 0; p < 4; ++p)
          r.attention.values[static_cast<size_t>(((l * 2 + h) * 3 + q) * 4 + p)] =
              static_cast<float>(l * 100 + h * 10 + q + 0.1 * p);
  r.attention_first = 5;
  return r;
}

// Runs update() until the live views are idle.
void live_settle(LiveViews& live, TaskList& tasks, double seconds = 180) {
  ASSERT_TRUE(test::live_wait([&] { live.update(tasks); }, [&] { return !live.busy(); }, seconds))
      << "the live views stayed busy: " << live.status().message;
}

}  // namespace

TEST(GuiLive, AttentionMapsReadTheChosenRows) {
  const LiveResult r = live_test_result();
  const AttentionMap last = attention_map(r, 2, 1, 0, AttentionRows::kLast);
  ASSERT_EQ(last.grid, 2);
  ASSERT_EQ(last.values.size(), 4u);
  EXPECT_FLOAT_EQ(last.values[0], 102.0f);
  EXPECT_FLOAT_EQ(last.values[3], 102.3f);
  EXPECT_EQ(last.argmax, 3);
  EXPECT_FLOAT_EQ(last.min, 102.0f);
  EXPECT_FLOAT_EQ(last.max, 102.3f);
  EXPECT_NEAR(last.image_mass, 4 * 102.0 + 0.6, 1e-4);
  const AttentionMap token = attention_map(r, 2, 0, 1, AttentionRows::kToken, 0);
  EXPECT_FLOAT_EQ(token.values[2], 10.2f);
  const AttentionMap clamped = attention_map(r, 2, 0, 1, AttentionRows::kToken, 99);
  EXPECT_FLOAT_EQ(clamped.values[0], 12.0f);
  const AttentionMap mean = attention_map(r, 2, 0, 0, AttentionRows::kMeanText);
  EXPECT_NEAR(mean.values[1], 1.1, 1e-5);  // rows 0, 1, 2 -> mean 1, plus 0.1
  // Nothing to draw: a head out of range, a grid that does not fit, no attention.
  EXPECT_EQ(attention_map(r, 2, 2, 0, AttentionRows::kLast).grid, 0);
  EXPECT_EQ(attention_map(r, 2, 0, 2, AttentionRows::kLast).grid, 0);
  EXPECT_EQ(attention_map(r, 3, 0, 0, AttentionRows::kLast).grid, 0);
  EXPECT_EQ(attention_map(LiveResult{}, 2, 0, 0, AttentionRows::kLast).grid, 0);
  // Nor when the values do not fill the shape they claim.
  LiveResult short_values = r;
  short_values.attention.values.pop_back();
  EXPECT_EQ(attention_map(short_values, 2, 0, 0, AttentionRows::kLast).grid, 0);
}

TEST(GuiLive, OverlayRangesFollowTheScale) {
  AttentionMap m;
  m.min = 0.1f;
  m.max = 0.4f;
  EXPECT_EQ(overlay_range(m, OverlayScale::kPerMap, 0.9f), std::make_pair(0.1f, 0.4f));
  EXPECT_EQ(overlay_range(m, OverlayScale::kShared, 0.9f), std::make_pair(0.0f, 0.9f));
  EXPECT_EQ(overlay_range(m, OverlayScale::kUnit, 0.9f), std::make_pair(0.0f, 1.0f));
  m.max = m.min;  // a flat map still gets a non-empty range
  const auto flat = overlay_range(m, OverlayScale::kPerMap, 0.0f);
  EXPECT_GT(flat.second, flat.first);
  const auto none = overlay_range(m, OverlayScale::kShared, 0.0f);
  EXPECT_GT(none.second, none.first);
}

TEST(GuiLive, TogglesBecomeProjectionsAndZeroedHeads) {
  const InterventionSet set = toggled_interventions({{3, 40}, {1, 2}}, {{1, 0}, {0, 1}});
  ASSERT_EQ(set.ablate_features.size(), 2u);
  EXPECT_EQ(set.ablate_features[0], (SaeFeature{1, 2}));
  EXPECT_EQ(set.ablate_features[1], (SaeFeature{3, 40}));
  ASSERT_EQ(set.ablate_heads.size(), 2u);
  EXPECT_EQ(set.ablate_heads[0].layer, 0);
  EXPECT_EQ(set.ablate_heads[0].head, 1);
  EXPECT_EQ(set.ablate_heads[1].mode, HeadAblationMode::kZero);
  EXPECT_TRUE(set.steer.empty());
  EXPECT_TRUE(toggled_interventions({}, {}).empty());
}

TEST(GuiLive, AblateAndOverlayFlagsAreParsedAndChecked) {
  const AblateToggles t = parse_ablate("3:40,h1:0,7:60");
  ASSERT_EQ(t.features.size(), 2u);
  EXPECT_EQ(t.features[0], (std::pair<int, int64_t>{3, 40}));
  EXPECT_EQ(t.features[1], (std::pair<int, int64_t>{7, 60}));
  ASSERT_EQ(t.heads.size(), 1u);
  EXPECT_EQ(t.heads[0], (std::pair<int, int>{1, 0}));
  EXPECT_TRUE(parse_ablate("").features.empty());
  EXPECT_THAT(test::error_of([] { parse_ablate("3:40,x1:0"); }), HasSubstr("--ablate '3:40,x1:0': item 'x1:0'"));
  EXPECT_THAT(test::error_of([] { parse_ablate("3:40,"); }), HasSubstr("item ''"));
  GuiOptions o;
  o.view = "overlays";
  validate(o);
  o.head = "1-0";
  EXPECT_THAT(test::error_of([&] { validate(o); }), HasSubstr("--head '1-0'"));
  o.head = "1:0";
  o.alpha = 1.5;
  EXPECT_THAT(test::error_of([&] { validate(o); }), HasSubstr("--alpha 1.5"));
  o.alpha = 1;
  o.view = "overlay";
  EXPECT_THAT(test::error_of([&] { validate(o); }), HasSubstr("overlays, ablation"));
}

TEST(GuiLive, WithoutAWorldTheViewsSaySoInOneLine) {
  TaskList tasks;
  LiveViews live(LiveSources{});
  EXPECT_FALSE(live.busy());
  live.start(tasks);
  live.update(tasks);
  EXPECT_EQ(live.status().state, DataState::kMissing);
  EXPECT_THAT(live.status().message, HasSubstr("no world: start the explorer with --world DIR"));
  EXPECT_FALSE(live.busy());
  EXPECT_TRUE(tasks.tasks().empty()) << "nothing to load: no task";
}

TEST(GuiLive, AMissingWorldFailsTheLoadingTaskWithItsName) {
  TaskList tasks;
  LiveSources sources;
  sources.world_dir = test::scratch_dir("no-world") + "/absent";
  LiveViews live(sources);
  live.start(tasks);
  EXPECT_TRUE(live.status().state == DataState::kComputing || live.status().state == DataState::kFailed);
  tasks.join_all();
  live.update(tasks);
  EXPECT_EQ(live.status().state, DataState::kFailed);
  EXPECT_THAT(live.status().message, HasSubstr("world '" + sources.world_dir + "': no such directory"));
  EXPECT_EQ(live.status().message.find('\n'), std::string::npos);
  EXPECT_FALSE(live.busy());
  ASSERT_EQ(tasks.tasks().size(), 1u);
  EXPECT_EQ(tasks.tasks()[0].state, TaskState::kFailed);
  // A world without a model: the manifest is missing.
  TaskList tasks2;
  LiveSources empty;
  empty.world_dir = test::scratch_dir("empty-world");
  LiveViews live2(empty);
  live2.start(tasks2);
  tasks2.join_all();
  live2.update(tasks2);
  EXPECT_EQ(live2.status().state, DataState::kFailed);
  EXPECT_THAT(live2.status().message, HasSubstr("manifest.json not found"));
}

TEST(GuiLive, LiveAttentionAndAnswerAreTheEngines) {
  const std::string world = test::micro_world_dir();
  if (world.empty()) GTEST_SKIP() << "no micro world (SIGHTLINE_MICRO_WORLD): run through ctest";
  TaskList tasks;
  LiveSources sources;
  sources.world_dir = world;
  LiveViews live(sources);
  live.start(tasks);
  EXPECT_EQ(live.status().state, DataState::kComputing);
  EXPECT_EQ(live.status().message, "loading model...");
  EXPECT_TRUE(live.busy());
  live.show_statement(3);
  live_settle(live, tasks);
  ASSERT_EQ(live.status().state, DataState::kReady) << live.status().message;
  const auto session = live.session();
  ASSERT_GT(session->statements().size(), 10u);
  EXPECT_EQ(session->grid(), 8);
  EXPECT_EQ(session->num_layers(), 2);
  EXPECT_EQ(session->num_heads(), 2);
  EXPECT_TRUE(session->features().empty()) << "no store: nothing to toggle";
  EXPECT_GT(session->pool_size(), 0);

  test::MicroEngine engine(world);
  EXPECT_EQ(live.question(), engine.statement(3).text);
  EXPECT_EQ(live.prompt(), engine.statement(3).ids);
  ASSERT_EQ(live.prompt_tokens().size(), live.prompt().size());
  EXPECT_EQ(live.prompt_tokens()[static_cast<size_t>(live.image_marker())], "<image>");
  const auto r = live.result();
  ASSERT_TRUE(r) << live.query_error();
  ASSERT_TRUE(r->attention.defined());
  for (int layer = 0; layer < 2; ++layer)
    for (int head = 0; head < 2; ++head) {
      const AttentionMap m = attention_map(*r, session->grid(), layer, head, AttentionRows::kLast);
      const std::vector<float> direct = engine.last_row_attention(3, layer, head);
      ASSERT_EQ(m.values.size(), direct.size());
      for (size_t p = 0; p < direct.size(); ++p) EXPECT_NEAR(m.values[p], direct[p], 1e-5) << layer << " " << head << " " << p;
    }
  EXPECT_NEAR(r->baseline.p_yes, engine.p_yes(3, {}, {}), 1e-5);

  // A typed question is asked in the question format; an empty one is an error line.
  live.set_question("is the red circle left of the blue square?");
  live_settle(live, tasks);
  EXPECT_EQ(live.prompt(), engine.ctx->question_prompt("is the red circle left of the blue square?", true));
  ASSERT_TRUE(live.result());
  EXPECT_NE(live.result()->id, r->id);
  live.set_question("");
  live_settle(live, tasks);
  EXPECT_THAT(live.prompt_error(), HasSubstr("question: empty"));

  // Files: a missing one fails in its own line and keeps the image; a written one opens.
  live.set_question("is there a circle?");
  live.open_file("/nonexistent/shapes.png");
  live_settle(live, tasks);
  EXPECT_EQ(live.image_status().state, DataState::kFailed);
  EXPECT_THAT(live.image_status().message, HasSubstr("/nonexistent/shapes.png"));
  ASSERT_TRUE(live.image());
  EXPECT_EQ(live.image()->statement, 3);
  const auto shown = live.image();
  ImageU8 png;
  png.width = shown->width;
  png.height = shown->height;
  png.rgb = shown->rgb;
  const std::string path = test::scratch_dir("live-image") + "/scene.png";
  save_png(path, png);
  live.open_file(path);
  live_settle(live, tasks);
  ASSERT_EQ(live.image_status().state, DataState::kReady) << live.image_status().message;
  EXPECT_EQ(live.image()->label, path);
  EXPECT_EQ(live.image()->statement, -1);
  ASSERT_TRUE(live.result()) << live.query_error();
  EXPECT_TRUE(live.result()->attention.defined());
}

TEST(GuiLive, ToggledAblationsChangePYesExactlyAsTheEngineSays) {
  const std::string world = test::micro_world_dir();
  if (world.empty()) GTEST_SKIP() << "no micro world (SIGHTLINE_MICRO_WORLD): run through ctest";
  test::MicroEngine engine(world);
  const int64_t item = 0;
  const int feature = static_cast<int>(engine.strongest_text_feature(item, 1));
  const std::string db = test::scratch_dir("live-store") + "/project.db";
  test::write_live_store(db, world, feature);

  TaskList tasks;
  LiveSources sources;
  sources.world_dir = world;
  sources.db_path = db;
  LiveViews live(sources);
  live.start(tasks);
  live.show_statement(item);
  live_settle(live, tasks);
  ASSERT_EQ(live.status().state, DataState::kReady) << live.status().message;
  const auto session = live.session();
  ASSERT_EQ(session->features().size(), 1u);
  EXPECT_EQ(session->features()[0], (SaeFeature{1, feature}));
  ASSERT_EQ(session->top_heads().size(), 4u);
  EXPECT_EQ(session->top_heads()[0].layer, 1);
  EXPECT_EQ(session->top_heads()[0].head, 1);
  EXPECT_NEAR(session->top_heads()[1].mean_abs_score, 0.5, 1e-12);
  EXPECT_THAT(session->description(), HasSubstr("run 'live-test'"));

  const auto base = live.result();
  ASSERT_TRUE(base) << live.query_error();
  const double p0 = engine.p_yes(item, {}, {});
  EXPECT_NEAR(base->baseline.p_yes, p0, 1e-5);
  EXPECT_NEAR(base->intervened.p_yes, base->baseline.p_yes, 1e-9) << "nothing toggled";

  InterventionResources resources;
  resources.saes[1] = &engine.ctx->base_sae(1);
  // Zeroing both heads of layer 1 removes its attention output: P(yes) must move.
  live.set_head(1, 0, true);
  live.set_head(1, 1, true);
  live_settle(live, tasks);
  const auto heads = live.result();
  ASSERT_TRUE(heads && heads->id != base->id);
  const double p_heads = engine.p_yes(item, live.interventions(), resources);
  EXPECT_GT(std::abs(p_heads - p0), 1e-4);
  EXPECT_NEAR(heads->intervened.p_yes, p_heads, 1e-5);
  EXPECT_NEAR(heads->baseline.p_yes, p0, 1e-5);
  // The feature alone: its direction projected out of the text positions.
  live.set_head(1, 0, false);
  live.set_head(1, 1, false);
  live.set_feature({1, feature}, true);
  live_settle(live, tasks);
  const double p_feature = engine.p_yes(item, live.interventions(), resources);
  EXPECT_GT(std::abs(p_feature - p0), 1e-6) << "the feature fires on this prompt, so projecting it out moves P(yes)";
  EXPECT_NEAR(live.result()->intervened.p_yes, p_feature, 1e-5);
  // Untoggled: the two variants agree again.
  live.set_feature({1, feature}, false);
  live_settle(live, tasks);
  EXPECT_NEAR(live.result()->intervened.p_yes, live.result()->baseline.p_yes, 1e-9);

  // Re-evaluation under the head toggles: every relation, all VSR, the control.
  live.set_head(1, 0, true);
  live.set_head(1, 1, true);
  live.start_reeval();
  EXPECT_TRUE(live.reeval_running());
  live_settle(live, tasks);
  ASSERT_TRUE(live.reeval_result()) << live.reeval_message();
  EXPECT_EQ(live.reeval_interventions().ablate_heads.size(), 2u);
  const auto rows = session->relation_accuracy(*live.reeval_result(), live.reeval_items());
  ASSERT_GE(rows.size(), 3u);
  int64_t per_relation = 0, all_vsr = 0, control = 0;
  for (const auto& row : rows) {
    EXPECT_GE(row.delta.baseline.accuracy, 0.0);
    EXPECT_LE(row.delta.intervened.accuracy, 100.0);
    if (row.total)
      all_vsr = row.delta.baseline.n;
    else if (row.control)
      control = row.delta.baseline.n;
    else
      per_relation += row.delta.baseline.n;
  }
  EXPECT_EQ(per_relation, all_vsr);
  EXPECT_GT(control, 0);
  EXPECT_EQ(all_vsr + control, session->pool_size());
  EXPECT_TRUE(rows.back().control);
  EXPECT_NE(live.reeval_result()->delta.d_p_correct, 0.0) << "zeroed heads change P(correct) somewhere";

  // Cancel: a re-evaluation cancelled before it starts leaves no result behind.
  session->service().pause();
  const auto previous = live.reeval_result();
  live.start_reeval();
  live.cancel_reeval();
  session->service().resume();
  live_settle(live, tasks);
  EXPECT_FALSE(live.reeval_running());
  EXPECT_EQ(live.reeval_message(), "cancelled");
  EXPECT_EQ(live.reeval_result(), previous);
}
