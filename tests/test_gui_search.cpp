// The explorer's search box (ui/search.h): what each form of query parses to, how
// description and relation searches rank, on hand-made data and on a store read through
// the loader; and keyboard navigation (ui/navigation.h): the order J / K walk through a
// set, the "3 / 17" label, and the keys themselves through a headless ImGui context.
#include <gtest/gtest.h>
#include <imgui.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/test_gui_find_util.h"
#include "tests/test_util.h"
#include "ui/app_state.h"
#include "ui/navigation.h"
#include "ui/search.h"
#include "ui/store_loader.h"
#include "ui/views.h"

using namespace sightline;
using namespace sightline::ui;

namespace {

const std::vector<std::string> kRelations = {"above", "at the left side of", "left of", "near"};

// A table of layers 0..2 x features 0..4, in (layer, feature) order, shuffled rows
// when `shuffled` (RowIndex must not rely on the order).
FeatureTable small_table(bool shuffled = false) {
  FeatureTable t;
  t.num_layers = 3;
  for (int l = 0; l < 3; ++l)
    for (int f = 0; f < 5; ++f) {
      t.layer.push_back(static_cast<uint16_t>(l));
      t.feature.push_back(f);
      t.visual_energy.push_back(0.1f);
      t.decoder_cosine.push_back(0.5f);
      t.flags.push_back(0);
    }
  if (shuffled) {
    std::swap(t.layer[0], t.layer[14]);
    std::swap(t.feature[0], t.feature[14]);
    std::swap(t.layer[3], t.layer[7]);
    std::swap(t.feature[3], t.feature[7]);
  }
  return t;
}

FeatureDetail described(int layer, int feature, const std::string& text, double f1) {
  FeatureDetail d;
  d.ref = {layer, feature};
  d.has_description = true;
  d.description.ref = d.ref;
  d.description.text = text;
  d.description.f1 = f1;
  return d;
}

std::vector<std::pair<int, int>> refs_of(const std::vector<SearchHit>& hits, const FeatureTable& t) {
  std::vector<std::pair<int, int>> out;
  for (const SearchHit& h : hits) out.emplace_back(t.layer[h.row], t.feature[h.row]);
  return out;
}

}  // namespace

TEST(GuiSearch, ParsesFeatureLayerAndIndexForms) {
  for (const char* text : {"12:345", "L12:345", "l12 : 345", "  12:345  "}) {
    const SearchQuery q = parse_search(text, kRelations);
    EXPECT_EQ(q.kind, SearchKind::kFeature) << text;
    EXPECT_EQ(q.layer, 12) << text;
    EXPECT_EQ(q.feature, 345) << text;
  }
  SearchQuery q = parse_search("L7", kRelations);
  EXPECT_EQ(q.kind, SearchKind::kLayer);
  EXPECT_EQ(q.layer, 7);
  EXPECT_EQ(q.feature, -1);
  q = parse_search("345", kRelations);
  EXPECT_EQ(q.kind, SearchKind::kIndex);
  EXPECT_EQ(q.feature, 345);
  EXPECT_EQ(q.layer, -1);
  EXPECT_EQ(parse_search("", kRelations).kind, SearchKind::kAll);
  EXPECT_EQ(parse_search("   ", kRelations).kind, SearchKind::kAll);
  for (const char* bad : {"12:", "12:abc", "L3:-1", "12:1234567890"}) {
    q = parse_search(bad, kRelations);
    EXPECT_EQ(q.kind, SearchKind::kInvalid) << bad;
    EXPECT_NE(q.error.find("LAYER:INDEX"), std::string::npos) << q.error;
  }
}

TEST(GuiSearch, ParsesRelationsAndDescriptionWords) {
  SearchQuery q = parse_search("rel:left of", kRelations);
  EXPECT_EQ(q.kind, SearchKind::kRelation);
  EXPECT_EQ(q.relation, "left of");
  q = parse_search("Relation:  LEFT   of ", kRelations);  // case and spaces do not matter
  EXPECT_EQ(q.kind, SearchKind::kRelation);
  EXPECT_EQ(q.relation, "left of");
  q = parse_search("rel:at the", kRelations);  // a unique prefix
  EXPECT_EQ(q.kind, SearchKind::kRelation);
  EXPECT_EQ(q.relation, "at the left side of");
  q = parse_search("Above", kRelations);  // a bare relation name
  EXPECT_EQ(q.kind, SearchKind::kRelation);
  EXPECT_EQ(q.relation, "above");
  q = parse_search("rel:a", kRelations);  // "above" and "at the left side of"
  EXPECT_EQ(q.kind, SearchKind::kInvalid);
  EXPECT_NE(q.error.find("ambiguous"), std::string::npos) << q.error;
  q = parse_search("rel:behind", kRelations);
  EXPECT_EQ(q.kind, SearchKind::kInvalid);
  EXPECT_NE(q.error.find("no relation 'behind'"), std::string::npos) << q.error;
  q = parse_search("rel:left of", {});
  EXPECT_EQ(q.kind, SearchKind::kInvalid);
  EXPECT_NE(q.error.find("topk"), std::string::npos) << q.error;
  EXPECT_EQ(parse_search("rel:", kRelations).kind, SearchKind::kInvalid);

  q = parse_search("Red  CUBE, left-most red", kRelations);
  EXPECT_EQ(q.kind, SearchKind::kWords);
  EXPECT_EQ(q.words, (std::vector<std::string>{"red", "cube", "left-most"}));
  q = parse_search("desc:above", kRelations);  // forced words, though "above" is a relation
  EXPECT_EQ(q.kind, SearchKind::kWords);
  EXPECT_EQ(q.words, (std::vector<std::string>{"above"}));
  EXPECT_EQ(parse_search("?!", kRelations).kind, SearchKind::kInvalid);
  EXPECT_EQ(parse_search("desc:", kRelations).kind, SearchKind::kInvalid);
}

TEST(GuiSearch, DescriptionScoreRewardsWholeWordsPrefixesAndPhrases) {
  EXPECT_EQ(description_score("Objects LEFT of the cube", {"left"}), 3);
  EXPECT_EQ(description_score("the leftmost shape", {"left"}), 2);
  EXPECT_EQ(description_score("a cleft in the rock", {"left"}), 1);
  EXPECT_EQ(description_score("objects left of the cube", {"left", "ball"}), 0) << "every word must occur";
  EXPECT_EQ(description_score("objects left of the cube", {"left", "of"}), 3 + 3 + 1) << "a phrase";
  EXPECT_EQ(description_score("objects of the left cube", {"left", "of"}), 3 + 3) << "not in order: no phrase";
  EXPECT_EQ(description_score("anything", {}), 0);
}

TEST(GuiSearch, RowIndexFindsRowsOfAnUnsortedTable) {
  const FeatureTable t = small_table(true);
  const RowIndex index(t);
  ASSERT_EQ(index.size(), t.size());
  for (size_t row = 0; row < t.size(); ++row) EXPECT_EQ(index.find(t.layer[row], t.feature[row]), static_cast<int64_t>(row));
  EXPECT_EQ(index.find(3, 0), -1);
  EXPECT_EQ(index.find(0, 5), -1);
  EXPECT_EQ(index.find(-1, 0), -1);
}

TEST(GuiSearch, RunSearchRanksDescriptionsThenF1ThenFeature) {
  const FeatureTable t = small_table(true);
  const RowIndex index(t);
  RunResults results;
  for (const FeatureDetail& d : {described(0, 1, "objects left of the cube", 0.5),
                                 described(1, 2, "left of the cube", 0.9),
                                 described(2, 3, "the leftmost cube", 0.99),
                                 described(2, 0, "left side objects", std::nan("")),
                                 described(0, 4, "left", 0.5),
                                 described(1, 4, "a cube on the right", 0.8),
                                 described(9, 9, "left of the cube, not in the table", 1.0)})
    results.features[d.ref] = d;
  // "left": whole word (3) beats prefix (2); ties by F1 (NaN last), then (layer, feature).
  auto hits = run_search(parse_search("left", kRelations), t, index, &results);
  EXPECT_EQ(refs_of(hits, t), (std::vector<std::pair<int, int>>{{1, 2}, {0, 1}, {0, 4}, {2, 0}, {2, 3}}));
  EXPECT_EQ(hits.front().score, 3);
  EXPECT_EQ(hits.back().score, 2);
  // Two words, both required; the phrase "the cube" adds one.
  hits = run_search(parse_search("the CUBE", kRelations), t, index, &results);
  EXPECT_EQ(refs_of(hits, t), (std::vector<std::pair<int, int>>{{1, 2}, {0, 1}, {2, 3}, {1, 4}}));
  EXPECT_EQ(hits[0].score, 7);
  EXPECT_EQ(hits[2].score, 6);
  // Words that spell a relation search the relation; desc: searches the descriptions.
  EXPECT_EQ(parse_search("left OF", kRelations).kind, SearchKind::kRelation);
  hits = run_search(parse_search("desc:left OF", kRelations), t, index, &results);
  EXPECT_EQ(refs_of(hits, t), (std::vector<std::pair<int, int>>{{1, 2}, {0, 1}}));
  hits = run_search(parse_search("cube", kRelations), t, index, &results);
  EXPECT_EQ(hits.size(), 4u);
  EXPECT_TRUE(run_search(parse_search("ball", kRelations), t, index, &results).empty());
  EXPECT_TRUE(run_search(parse_search("left", kRelations), t, index, nullptr).empty()) << "no results: nothing";
}

TEST(GuiSearch, RunSearchFindsRowsLayersAndIndices) {
  const FeatureTable t = small_table(true);
  const RowIndex index(t);
  auto hits = run_search(parse_search("2:3", kRelations), t, index, nullptr);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(t.layer[hits[0].row], 2);
  EXPECT_EQ(t.feature[hits[0].row], 3);
  EXPECT_TRUE(run_search(parse_search("2:7", kRelations), t, index, nullptr).empty());
  hits = run_search(parse_search("L1", kRelations), t, index, nullptr);
  EXPECT_EQ(hits.size(), 5u);
  for (const SearchHit& h : hits) EXPECT_EQ(t.layer[h.row], 1);
  hits = run_search(parse_search("4", kRelations), t, index, nullptr);
  EXPECT_EQ(refs_of(hits, t).size(), 3u);
  for (const SearchHit& h : hits) EXPECT_EQ(t.feature[h.row], 4);
  EXPECT_EQ(run_search(parse_search("", kRelations), t, index, nullptr).size(), t.size());
  EXPECT_TRUE(run_search(parse_search("1:x", kRelations), t, index, nullptr).empty());
}

TEST(GuiSearch, StoreDescriptionsAndRelationsRankAsTheDataSays) {
  const std::string db = test::scratch_dir("gui-search") + "/project.db";
  test::write_find_extras(db, test::write_gui_store(db));
  const StoreData data = read_store(db);
  ASSERT_TRUE(data.descriptions_error.empty()) << data.descriptions_error;
  const RowIndex index(data.features);
  const std::vector<std::string> relations = relation_names(data.results);
  EXPECT_EQ(relations, (std::vector<std::string>{"above", "left of", "near"}));

  // "left": whole words (3 features) by F1, then the prefix in "leftmost".
  auto hits = run_search(parse_search("left", relations), data.features, index, &data.results);
  EXPECT_EQ(refs_of(hits, data.features), (std::vector<std::pair<int, int>>{{3, 20}, {3, 40}, {7, 40}, {7, 0}}));
  hits = run_search(parse_search("LEFT red cube", relations), data.features, index, &data.results);
  EXPECT_EQ(refs_of(hits, data.features), (std::vector<std::pair<int, int>>{{3, 40}}));

  // "rel:left of": every feature with a vsr_or:left of extra, by it (2 + 0.01 i), ties by layer.
  hits = run_search(parse_search("rel:left of", relations), data.features, index, &data.results);
  const std::vector<std::pair<int, int>> expected = {{3, 80}, {7, 80}, {3, 60}, {7, 60}, {3, 40}, {7, 40}, {3, 20},
                                                     {7, 20}, {3, 15}, {3, 10}, {7, 10}, {3, 0},  {7, 0}};
  EXPECT_EQ(refs_of(hits, data.features), expected);
  EXPECT_NEAR(hits.front().score, test::GuiStoreSpec::relation_or(1, 3, 80), 1e-9);
  // "above" (a bare relation name): 4 + layer + 0.01 i puts layer 7 first.
  hits = run_search(parse_search("above", relations), data.features, index, &data.results);
  ASSERT_EQ(hits.size(), expected.size());
  EXPECT_EQ(data.features.layer[hits[0].row], 7);
  EXPECT_EQ(data.features.feature[hits[0].row], 80);
  for (size_t i = 1; i < hits.size(); ++i) EXPECT_GE(hits[i - 1].score, hits[i].score);
}

TEST(GuiNavigation, StepsThroughTheSetInItsOrderAndStopsAtTheEnds) {
  const std::vector<uint32_t> rows = {40, 7, 19, 3};  // a ranked search: not ascending
  EXPECT_EQ(step_selection(rows, 40, 1), 7);
  EXPECT_EQ(step_selection(rows, 7, 1), 19);
  EXPECT_EQ(step_selection(rows, 19, 1), 3);
  EXPECT_EQ(step_selection(rows, 3, 1), 3) << "no wrap-around at the end";
  EXPECT_EQ(step_selection(rows, 3, -1), 19);
  EXPECT_EQ(step_selection(rows, 40, -1), 40) << "no wrap-around at the start";
  EXPECT_EQ(step_selection(rows, 40, 2), 19);
  EXPECT_EQ(step_selection(rows, 40, 10), 3);
  EXPECT_EQ(step_selection(rows, 99, 1), 40) << "not in the set: next = its first";
  EXPECT_EQ(step_selection(rows, -1, -1), 3) << "nothing selected: previous = its last";
  EXPECT_EQ(step_selection(rows, 7, 0), 7);
  EXPECT_EQ(step_selection({}, 7, 1), -1);

  EXPECT_EQ(position_label(rows, 19), "3 / 4");
  EXPECT_EQ(position_label(rows, 40), "1 / 4");
  EXPECT_EQ(position_label(rows, 5), "- / 4");
  EXPECT_EQ(position_label({}, 5), "");
  NavSet nav;
  nav.set("search: left", rows);
  EXPECT_EQ(nav.version, 1u);
  EXPECT_EQ(nav.name, "search: left");
  nav.set("bookmarks 'starred'", {1, 2});
  EXPECT_EQ(nav.version, 2u);
  EXPECT_EQ(nav.rows, (std::vector<uint32_t>{1, 2}));
}

TEST(GuiNavigation, JAndKMoveTheSelectionUnlessATextFieldHasTheKeyboard) {
  ImGuiContext* context = ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;
  io.DisplaySize = ImVec2(400, 300);
  io.DeltaTime = 1.0f / 60;
  unsigned char* pixels = nullptr;
  int w = 0, h = 0;
  io.Fonts->GetTexDataAsRGBA32(&pixels, &w, &h);
  AppState state;
  state.find.nav.set("test", {10, 4, 8});
  state.select(4);
  // One frame with `key` held (the previous frame had it up), and maybe a focused text box.
  auto frame = [&](int key, bool text_box, bool focus) {
    for (bool& down : io.KeysDown) down = false;
    if (key) io.KeysDown[key] = true;
    ImGui::NewFrame();
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(ImVec2(400, 300));
    ImGui::Begin("nav");
    handle_navigation_keys(state);
    if (text_box) {
      static char buffer[16] = "";
      if (focus) ImGui::SetKeyboardFocusHere();
      ImGui::InputText("##box", buffer, sizeof(buffer));
    }
    ImGui::End();
    ImGui::Render();
  };
  frame(0, false, false);
  frame('J', false, false);
  EXPECT_EQ(state.selected, 8);
  frame(0, false, false);
  frame('J', false, false);
  EXPECT_EQ(state.selected, 8) << "the last of the set stays";
  frame(0, false, false);
  frame('K', false, false);
  EXPECT_EQ(state.selected, 4);
  frame(0, false, false);
  frame('K', false, false);
  EXPECT_EQ(state.selected, 10);
  // A focused text box takes the keys: typing "j" into it must not navigate.
  frame(0, true, true);   // asks for the focus
  frame(0, true, false);  // the box activates
  frame(0, true, false);  // ImGui now reports that it wants the keyboard
  ASSERT_TRUE(io.WantTextInput);
  frame('J', true, false);
  EXPECT_EQ(state.selected, 10);
  ImGui::DestroyContext(context);
}
