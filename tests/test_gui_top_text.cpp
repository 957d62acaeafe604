// The feature page's question words for top samples the autointerp stage did not describe
// (ui/top_text.h): resolved on the store-load task from the run's own data, the same way
// the autointerp stage shows them to the chat model; and, when the run's data cannot be
// read, the numbered positions stay with the reason why.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cctype>
#include <memory>
#include <string>
#include <unordered_map>

#include "core/common/progress.h"
#include "core/pipeline/context.h"
#include "core/pipeline/options.h"
#include "tests/test_gui_display.h"
#include "tests/test_gui_find_util.h"
#include "tests/test_util.h"
#include "ui/store_loader.h"
#include "ui/task_list.h"
#include "ui/top_text.h"

using namespace sightline;
using namespace sightline::ui;

namespace {

// Whether `piece` is a number (what the page's fallback shows), spaces aside.
bool top_text_is_number(const std::string& piece) {
  bool digit = false;
  for (char c : piece) {
    if (std::isdigit(static_cast<unsigned char>(c)))
      digit = true;
    else if (c != ' ')
      return false;
  }
  return digit;
}

std::string top_text_trim(const std::string& s) {
  const size_t a = s.find_first_not_of(' '), b = s.find_last_not_of(' ');
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

}  // namespace

// A micro-world run through topk (no autointerp endpoint): the store load publishes the
// results, then again with every top sample's question words; each sample's words are its
// dataset question tokenised by the world's tokenizer, one activation per word.
TEST(GuiTopText, MicroWorldTopSamplesGetTheirQuestionWords) {
  const std::string world = test::gui_micro_world();
  if (world.empty()) GTEST_SKIP() << "no built micro world or sightline binary: skipping";
  const std::string dir = test::scratch_dir("gui-top-text");
  const std::string db = test::run_micro_world_stages(world, dir, "topk");
  ASSERT_FALSE(db.empty());

  auto snapshot = std::make_shared<Snapshot>();
  TaskList tasks;
  start_store_load(tasks, snapshot, db);
  tasks.join_all();
  ASSERT_EQ(snapshot->results.status().state, DataState::kReady) << snapshot->results.status().message;
  const auto results = snapshot->results.data();
  ASSERT_TRUE(has_top_tokens(*results)) << "the micro run stored no top activations";
  EXPECT_FALSE(results->top_text_pending);
  EXPECT_EQ(results->top_text_error, "");

  // The reference: the run's own prompt items and the world's tokenizer.
  const StoreData data = read_store(db);
  PipelineContext ctx(pipeline_options_from_json(nlohmann::json::parse(data.run_options_json), "run options"));
  const Tokenizer& tokenizer = ctx.tokenizer();
  std::unordered_map<std::string, const PromptItem*> items;
  for (DataSplit split : {DataSplit::kEval, DataSplit::kVsr}) {
    const PromptDataset& d = ctx.dataset(split);
    for (int64_t i = 0; i < d.size(); ++i) items.emplace(d.item(i).sample_id, &d.item(i));
  }

  size_t checked = 0;
  for (const auto& [ref, detail] : results->features) {
    ASSERT_EQ(detail.top_text.size(), detail.top.size()) << "L" << ref.layer << " F" << ref.feature;
    for (size_t i = 0; i < detail.top.size(); ++i) {
      const TopActivation& top = detail.top[i];
      const TokenExample& text = detail.top_text[i];
      SCOPED_TRACE(top.sample_id);
      EXPECT_EQ(text.sample_id, top.sample_id);
      ASSERT_EQ(text.error, "");
      ASSERT_FALSE(text.tokens.empty());
      ASSERT_EQ(text.activations.size(), text.tokens.size());
      const auto it = items.find(top.sample_id);
      ASSERT_NE(it, items.end());
      const std::string& question = it->second->text;
      // The question tokenised by the world's tokenizer: as many words, the same text.
      const std::vector<int64_t> ids = tokenizer.encode(question);
      EXPECT_EQ(text.tokens.size(), ids.size()) << question;
      std::string joined;
      for (const std::string& piece : text.tokens) joined += piece;
      EXPECT_EQ(top_text_trim(joined), top_text_trim(tokenizer.decode(ids)));
      size_t numbers = 0;
      for (const std::string& piece : text.tokens) numbers += top_text_is_number(piece);
      EXPECT_LT(numbers, text.tokens.size()) << "words, not positions";
      ++checked;
    }
  }
  EXPECT_GT(checked, 0u);
}

// A store whose run names no world or model (the GuiStoreSpec one: options "{}"): the
// words cannot be resolved; the results say why and no sample gets words.
TEST(GuiTopText, WithoutTheRunsDataTheReasonIsKept) {
  const std::string db = test::scratch_dir("gui-top-text-none") + "/project.db";
  test::write_find_extras(db, test::write_gui_store(db));
  auto snapshot = std::make_shared<Snapshot>();
  TaskList tasks;
  start_store_load(tasks, snapshot, db);
  tasks.join_all();
  ASSERT_EQ(snapshot->results.status().state, DataState::kReady);
  const auto results = snapshot->results.data();
  ASSERT_TRUE(has_top_tokens(*results));
  EXPECT_FALSE(results->top_text_pending);
  EXPECT_NE(results->top_text_error, "");
  for (const auto& [ref, detail] : results->features) EXPECT_TRUE(detail.top_text.empty());

  // A world directory that does not exist: named in the reason.
  RunResults copy = *results;
  Progress progress;
  resolve_top_texts(copy, "{}", test::scratch_dir("gui-top-text-none-world") + "/no-world", "file 'x.db': run 'gui-test'",
                    progress);
  EXPECT_NE(copy.top_text_error.find("no-world"), std::string::npos) << copy.top_text_error;
  EXPECT_NE(copy.top_text_error.find("x.db"), std::string::npos) << copy.top_text_error;
}
