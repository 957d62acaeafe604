// What the explorer reads for finding things and Fig. 9 (ui/find_loader.h): the shift
// statistics of every feature, the autointerp descriptions with their token examples, the
// Fig. 9 histograms of those statistics, and the bookmark round trip through the store on
// the UI's own code path (a TaskList task that publishes into the Snapshot).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <imgui.h>

#include "core/common/error.h"
#include "tests/test_gui_find_util.h"
#include "tests/test_util.h"
#include "ui/app_state.h"
#include "ui/find_loader.h"
#include "ui/firing_histogram.h"
#include "ui/store_loader.h"
#include "ui/plot/plot.h"
#include "ui/task_list.h"
#include "ui/views.h"

using namespace sightline;
using namespace sightline::ui;
using S = test::GuiStoreSpec;
using F = test::FindSpec;

namespace {

struct FindStore {
  std::string db;
  int64_t run = 0;
};

FindStore make_find_store(const std::string& tag) {
  FindStore s;
  s.db = test::scratch_dir(tag) + "/project.db";
  s.run = test::write_gui_store(s.db);
  test::write_find_extras(s.db, s.run);
  return s;
}

}  // namespace

TEST(GuiFind, ShiftTableHoldsEveryFeaturesStatisticsAndFlags) {
  const FindStore s = make_find_store("gui-find-shift");
  const StoreData data = read_store(s.db);
  const ShiftTable& t = data.shift;
  ASSERT_EQ(t.size(), 200u) << "every feature the shift stage reached";
  EXPECT_EQ(t.num_layers, 8);
  EXPECT_EQ(t.skill, "spatial");
  test::expect_each_gui_store_feature(t, [&](size_t row, int layer, int i) {
    EXPECT_FLOAT_EQ(t.p_base[row], static_cast<float>(F::p_base(layer, i)));
    EXPECT_FLOAT_EQ(t.p_skill[row], static_cast<float>(F::p_skill(layer, i)));
    EXPECT_FLOAT_EQ(t.delta_p[row], static_cast<float>(F::p_skill(layer, i) - F::p_base(layer, i)));
    EXPECT_EQ((t.flags[row] & kFlagAdapted) != 0, S::adapted(i));
    EXPECT_EQ((t.flags[row] & kFlagSpatialCandidate) != 0, S::candidate(i));
    EXPECT_EQ((t.flags[row] & kFlagSpatialFeature) != 0, S::spatial(i));
    EXPECT_EQ(t.find(layer, i), static_cast<int64_t>(row));
    // The other skill's statistics ride along (NaN where the stage wrote none).
    const float ocr = t.other_skills.at("ocr_odds_ratio")[row];
    if (F::has_ocr(layer, i))
      EXPECT_FLOAT_EQ(ocr, static_cast<float>(F::ocr_odds_ratio(i)));
    else
      EXPECT_TRUE(std::isnan(ocr));
  });
  EXPECT_EQ(t.find(7, 100), -1) << "E_v only: the shift stage did not reach it";
  EXPECT_EQ(t.find(4, 0), -1);
  EXPECT_EQ(t.other_skills.size(), 1u);
}

TEST(GuiFind, DescriptionsAndTokenExamplesComeFromTheAutointerpFile) {
  const FindStore s = make_find_store("gui-find-desc");
  const StoreData data = read_store(s.db);
  ASSERT_TRUE(data.descriptions_error.empty()) << data.descriptions_error;
  for (const auto& d : F::described()) {
    SCOPED_TRACE("L" + std::to_string(d.layer) + " #" + std::to_string(d.feature));
    const FeatureDetail* detail = data.results.find(d.layer, d.feature);
    ASSERT_NE(detail, nullptr);
    ASSERT_TRUE(detail->has_description);
    EXPECT_EQ(detail->description.text, d.text);
    if (std::isfinite(d.f1))
      EXPECT_DOUBLE_EQ(detail->description.f1, d.f1);
    else
      EXPECT_TRUE(std::isnan(detail->description.f1));
    EXPECT_EQ(detail->description.error.empty(), std::string(d.text).size() > 0);
  }
  const FeatureDetail* d = data.results.find(3, 40);
  ASSERT_EQ(d->description.examples.size(), 3u);
  for (int k = 0; k < 3; ++k) {
    const TokenExample& e = d->description.examples[k];
    EXPECT_EQ(e.sample_id, "sample-" + std::to_string(k));
    EXPECT_EQ(e.tokens, F::tokens(k));
    EXPECT_EQ(e.activations, F::activations(k));
    // The top sample's stored token activations: BOS, then the question's.
    ASSERT_EQ(d->top[k].token_acts.size(), F::tokens(k).size() + 1);
    EXPECT_EQ(d->top[k].token_acts[0], 0.0f);
    for (size_t j = 0; j < F::activations(k).size(); ++j) EXPECT_EQ(d->top[k].token_acts[j + 1], F::activations(k)[j]);
  }
  EXPECT_FALSE(data.results.find(3, 5)->description.error.empty());
  // A described feature outside the stage 3-5 rows still gets its detail.
  EXPECT_NE(data.results.find(3, 5), nullptr);
}

TEST(GuiFind, ABrokenOrMissingDescriptionsFileCostsOnlyTheDescriptions) {
  const FindStore s = make_find_store("gui-find-broken");
  const std::string file = (std::filesystem::path(s.db).parent_path() / "run-1/autointerp/results.json").string();
  test::write_bytes(file, R"({"features": [{"layer": 3, "feature": "forty"}]})");
  StoreData data = read_store(s.db);
  EXPECT_NE(data.descriptions_error.find(file), std::string::npos) << data.descriptions_error;
  EXPECT_NE(data.descriptions_error.find("feature"), std::string::npos) << data.descriptions_error;
  EXPECT_EQ(data.features.size(), 200u);
  ASSERT_NE(data.results.find(3, 40), nullptr);
  EXPECT_FALSE(data.results.find(3, 40)->has_description);

  test::write_bytes(file, R"({"features": [{"layer": 3, "feature": 40, "examples": [{"sample_id": "a",
                             "tokens": ["x", "y"], "activations": [1.0]}]}]})");
  data = read_store(s.db);
  EXPECT_NE(data.descriptions_error.find("2 tokens but 1 activations"), std::string::npos) << data.descriptions_error;

  std::filesystem::remove(file);
  data = read_store(s.db);
  EXPECT_NE(data.descriptions_error.find(file), std::string::npos) << data.descriptions_error;
  EXPECT_FALSE(data.results.features.empty());

  // Skipped (no endpoint): no results_file field, no descriptions, no error.
  {
    Store store = Store::open(s.db);
    StageRecord stage = *store.stage(s.run, "autointerp");
    stage.result_json = R"({"skipped": "no endpoint configured"})";
    store.put_stage(stage);
  }
  data = read_store(s.db);
  EXPECT_TRUE(data.descriptions_error.empty()) << data.descriptions_error;
}

TEST(GuiFind, Fig9HistogramsCountTheStoresFiringFrequencies) {
  const FindStore s = make_find_store("gui-find-fig9");
  const ShiftTable t = read_store(s.db).shift;
  for (FiringSet set : {FiringSet::kAll, FiringSet::kAdapted, FiringSet::kCandidates, FiringSet::kSpatial})
    for (int layer : {-1, 3, 7}) {
      SCOPED_TRACE(std::string(firing_set_name(set)) + ", layer " + std::to_string(layer));
      const FiringHistograms h = firing_histograms(t, set, layer, 0.25);
      // The range: from the smallest p of the whole table (10^-3.85: D_spatial, layer 7,
      // i % 25 == 24, not adapted) floored to a quarter decade, to 1.
      EXPECT_DOUBLE_EQ(h.lo, -4.0);
      ASSERT_EQ(h.bins, 16);
      std::vector<int64_t> base(16, 0), skill(16, 0);
      int64_t n = 0, base_zero = 0;
      for (int l : S::kLayers)
        for (int i = 0; i < S::kPerLayer; ++i) {
          if (layer >= 0 && l != layer) continue;
          const bool in = set == FiringSet::kAll || (set == FiringSet::kAdapted && S::adapted(i)) ||
                          (set == FiringSet::kCandidates && S::candidate(i)) || (set == FiringSet::kSpatial && S::spatial(i));
          if (!in) continue;
          ++n;
          const double pb = F::p_base(l, i), ps = F::p_skill(l, i);
          if (pb > 0)
            ++base[static_cast<size_t>(std::floor((std::log10(static_cast<double>(static_cast<float>(pb))) + 4.0) / 0.25))];
          else
            ++base_zero;
          ++skill[std::min<size_t>(
              15, static_cast<size_t>(std::floor((std::log10(static_cast<double>(static_cast<float>(ps))) + 4.0) / 0.25)))];
        }
      EXPECT_EQ(h.features, n);
      EXPECT_EQ(h.base_zero, base_zero);
      EXPECT_EQ(h.skill_zero, 0);
      EXPECT_EQ(h.base, base);
      EXPECT_EQ(h.skill, skill);
    }
  // The spatial shift: adapted features fire more on D_spatial, so their mean moves right.
  const FiringHistograms adapted = firing_histograms(t, FiringSet::kAdapted, -1);
  EXPECT_NEAR(adapted.skill_mean_log - adapted.base_mean_log, 0.8, 0.1);
  const FiringHistograms all = firing_histograms(t, FiringSet::kAll, -1);
  EXPECT_LT(all.skill_mean_log - all.base_mean_log, 0);
  EXPECT_EQ(all.base_zero, 2) << "feature 99 of both layers never fired on D_base";
}

TEST(GuiFind, BookmarksRoundTripThroughTheStoreOnTasks) {
  const FindStore s = make_find_store("gui-find-bookmarks");
  auto snapshot = std::make_shared<Snapshot>();
  TaskList tasks;
  start_store_load(tasks, snapshot, s.db);
  tasks.join_all();
  ASSERT_EQ(snapshot->bookmarks.status().state, DataState::kReady);
  EXPECT_TRUE(snapshot->bookmarks.data()->all.empty());
  EXPECT_EQ(snapshot->bookmarks.data()->path, s.db);

  Bookmark a;
  a.name = "starred";
  a.layer = 3;
  a.feature = 40;
  a.note = "left of, strongest";
  Bookmark b = a;
  b.name = "left-of";
  b.feature = 60;
  b.note = "";
  Bookmark c = a;
  c.feature = 20;
  c.note = "";
  for (const Bookmark& x : {a, b, c}) {
    start_bookmark_add(tasks, snapshot, s.db, x);
    tasks.join_all();  // one after another: the store orders them by creation
  }
  auto lists = snapshot->bookmarks.data();
  EXPECT_EQ(lists->names(), (std::vector<std::string>{"left-of", "starred"}));
  ASSERT_EQ(lists->list("starred").size(), 2u);
  EXPECT_EQ(lists->list("starred")[0].feature, 40);
  EXPECT_EQ(lists->list("starred")[0].note, "left of, strongest");
  EXPECT_EQ(lists->list("starred")[1].feature, 20);
  ASSERT_NE(lists->find("left-of", 3, 60), nullptr);
  EXPECT_EQ(lists->find("left-of", 3, 40), nullptr);

  // What the store holds, read by a fresh reader and by a fresh load.
  {
    Store reader = Store::open(s.db, Store::Mode::kReadOnly);
    const auto stored = reader.bookmarks("starred");
    ASSERT_EQ(stored.size(), 2u);
    EXPECT_EQ(stored[0].note, "left of, strongest");
  }
  auto reloaded = std::make_shared<Snapshot>();
  start_store_load(tasks, reloaded, s.db);
  tasks.join_all();
  EXPECT_EQ(reloaded->bookmarks.data()->all.size(), 3u);

  // Adding again updates the note; deleting removes exactly that bookmark.
  a.note = "updated";
  start_bookmark_add(tasks, snapshot, s.db, a);
  tasks.join_all();
  EXPECT_EQ(snapshot->bookmarks.data()->find("starred", 3, 40)->note, "updated");
  EXPECT_EQ(snapshot->bookmarks.data()->all.size(), 3u);
  start_bookmark_delete(tasks, snapshot, s.db, snapshot->bookmarks.data()->find("starred", 3, 40)->id);
  tasks.join_all();
  lists = snapshot->bookmarks.data();
  EXPECT_EQ(lists->find("starred", 3, 40), nullptr);
  EXPECT_EQ(lists->all.size(), 2u);
  for (const auto& t : tasks.tasks()) EXPECT_EQ(t.state, TaskState::kDone) << t.name << ": " << t.error;

  // A pipeline holding the writer lock: the edit fails on its task, names the file, and
  // the published lists stay as they were.
  {
    Store writer = Store::open(s.db);
    tasks.clear_finished();
    const uint64_t version = snapshot->bookmarks.version();
    start_bookmark_add(tasks, snapshot, s.db, c);
    tasks.join_all();
    const auto views = tasks.tasks();
    ASSERT_EQ(views.size(), 1u);
    EXPECT_EQ(views[0].state, TaskState::kFailed);
    EXPECT_NE(views[0].error.find(s.db), std::string::npos) << views[0].error;
    EXPECT_EQ(snapshot->bookmarks.version(), version);
    EXPECT_EQ(snapshot->bookmarks.data()->all.size(), 2u);
  }
  EXPECT_NE(test::error_of([&] { add_bookmark_to_store(s.db, Bookmark{}); }).find("list name is empty"),
            std::string::npos);
}

// The Fig. 9 view's CSV export (its plot's context menu, here requested directly) writes
// the histograms' counts per bin, drawn through a headless ImGui context.
TEST(GuiFind, Fig9ExportsTheHistogramsAsCsv) {
  const FindStore s = make_find_store("gui-find-csv");
  const std::string out = test::scratch_dir("gui-find-csv-out");
  AppState state;
  publish_store_data(*state.snapshot, read_store(s.db));
  ImGuiContext* context = ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;
  io.DisplaySize = ImVec2(900, 700);
  io.DeltaTime = 1.0f / 60;
  unsigned char* pixels = nullptr;
  int w = 0, h = 0;
  io.Fonts->GetTexDataAsRGBA32(&pixels, &w, &h);
  plot::set_export_dir(out);
  auto frame = [&] {
    ImGui::NewFrame();
    plot::new_frame();
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(ImVec2(900, 700));
    ImGui::Begin("fig9", nullptr, ImGuiWindowFlags_NoDecoration);
    draw_firing_view(state);
    ImGui::End();
    ImGui::Render();
  };
  frame();
  plot::request_export("fig9_histograms", false, true);
  plot::request_export("fig9_candidates", false, true);
  frame();
  ImGui::DestroyContext(context);

  const FiringHistograms expected = firing_histograms(read_store(s.db).shift, FiringSet::kAdapted, -1);
  std::ifstream csv(out + "/fig9_histograms.csv");
  ASSERT_TRUE(csv.good());
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "series,x,y");
  std::map<std::string, std::vector<double>> counts;
  while (std::getline(csv, line)) {
    const size_t last = line.rfind(',');
    const size_t middle = line.rfind(',', last - 1);
    counts[line.substr(0, middle)].push_back(std::stod(line.substr(last + 1)));
  }
  ASSERT_EQ(counts.size(), 2u);
  std::vector<double> base(expected.base.begin(), expected.base.end()), skill(expected.skill.begin(), expected.skill.end());
  for (const auto& [series, values] : counts) EXPECT_EQ(values, series.find("D_base") != std::string::npos ? base : skill) << series;
  // The candidates' scatter: one row per spatial candidate (12) and the diagonal's two points.
  int64_t rows = 0;
  std::ifstream scatter(out + "/fig9_candidates.csv");
  for (std::string l; std::getline(scatter, l);) ++rows;
  EXPECT_EQ(rows, 1 + 12 + 2);
}
