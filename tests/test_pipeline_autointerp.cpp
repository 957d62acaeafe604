// core/pipeline/stage_autointerp.cpp on the micro world (env SIGHTLINE_MICRO_WORLD): a
// stand-in "lexical" stage writes the skill selections and top activations, the stage talks
// to the stub chat server of tests/stub_chat_server.h, and the results land in the store
// and in the JSON file its result names.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/autointerp/chat_client.h"
#include "core/common/error.h"
#include "core/io/json_util.h"
#include "core/jobs/job_runner.h"
#include "core/pipeline/context.h"
#include "core/pipeline/options.h"
#include "core/pipeline/stages.h"
#include "core/pipeline/store_keys.h"
#include "core/store/store.h"
#include "tests/stub_chat_server.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace sightline;

namespace {

PipelineOptions autointerp_options(const nlohmann::json& stage) {
  nlohmann::json j = nlohmann::json::parse(R"({"data": {"train_items": 10, "heldout_items": 10, "eval_items": 40}})");
  j["source"]["world"] = test::micro_world_dir();
  PipelineOptions o = pipeline_options_from_json(j, "test config");
  nlohmann::json s = autointerp_stage_definition().defaults();
  if (!stage.is_null()) s.merge_patch(stage);
  autointerp_stage_definition().validate(s, "test stages.autointerp");
  o.stages["autointerp"] = s;
  return o;
}

// Runs a stand-in topk stage (`write` fills the store) and then the autointerp stage.
struct StageRun {
  std::string dir;
  std::unique_ptr<Store> store;
  int64_t run = 0;
  RunSnapshot snapshot;
};

StageRun run_autointerp(PipelineContext& ctx, const std::string& dir, const std::function<void(Store&, int64_t)>& write) {
  StageRun r;
  r.dir = dir;
  r.store = std::make_unique<Store>(Store::open(dir + "/run.db"));
  r.run = r.store->create_run(RunRecord{});
  ctx.set_run_dir(dir + "/run-1");
  Stage topk;
  topk.name = "lexical";  // stands in for shift + topk + lexical
  topk.options_hash = "stand-in";
  topk.run = [&write](StageContext& sc) { sc.commit([&](Store& s) { write(s, sc.run_id()); }); };
  JobRunner runner(*r.store, r.run, {topk, autointerp_stage_definition().make(ctx)});
  r.snapshot = runner.run();
  return r;
}

std::string user_content_text(const test::StubRequest& req) {
  const auto content = nlohmann::json::parse(req.body)["messages"][1]["content"];
  if (content.is_string()) return content.get<std::string>();
  std::string out;
  for (const auto& p : content)
    if (p["type"] == "text") out += p["text"].get<std::string>();
  return out;
}

}  // namespace

TEST(PipelineAutointerp, OptionsRefuseHttpsAndUnknownVariants) {
  const auto def = autointerp_stage_definition();
  EXPECT_EQ(def.deps, (std::vector<std::string>{"lexical"}));
  auto with = [&](const nlohmann::json& patch) {
    nlohmann::json j = def.defaults();
    if (!patch.is_null()) j.merge_patch(patch);  // {} here is null, which would replace everything
    return j;
  };
  def.validate(with({}), "cfg");  // the defaults are valid (no endpoint: skipped)
  const std::string https =
      test::error_of([&] { def.validate(with({{"endpoint", "https://api.openai.com/v1"}}), "cfg"); });
  EXPECT_NE(https.find("file 'cfg': field 'endpoint'"), std::string::npos) << https;
  EXPECT_NE(https.find("TLS is not built in"), std::string::npos) << https;
  EXPECT_NE(test::error_of([&] { def.validate(with({{"variant", "fancy"}}), "cfg"); }).find("'variant'"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { def.validate(with({{"n_holdout", 0}}), "cfg"); }).find("'n_holdout'"),
            std::string::npos);
}

TEST(PipelineAutointerp, WithoutEndpointTheStageIsSkipped) {
  if (test::micro_world_dir().empty()) GTEST_SKIP() << "SIGHTLINE_MICRO_WORLD is not set to a built micro world";
  PipelineContext ctx(autointerp_options({}));
  bool wrote = false;
  const StageRun r = run_autointerp(ctx, test::scratch_dir("autointerp-skip"), [&](Store&, int64_t) { wrote = true; });
  ASSERT_TRUE(r.snapshot.ok());
  EXPECT_TRUE(wrote);
  const auto result = nlohmann::json::parse(r.store->stage(r.run, "autointerp")->result_json);
  EXPECT_NE(result["skipped"].get<std::string>().find("no endpoint configured"), std::string::npos) << result;
  EXPECT_TRUE(r.store->feature_metric_keys(r.run).empty());
}

TEST(PipelineAutointerp, DescribesSkillFeaturesIntoStoreAndJson) {
  if (test::micro_world_dir().empty()) GTEST_SKIP() << "SIGHTLINE_MICRO_WORLD is not set to a built micro world";
  test::StubChatServer server([](const test::StubRequest& req) {
    test::StubReply r;
    const std::string system = nlohmann::json::parse(req.body)["messages"][0]["content"];
    if (system.find("analyzing individual neurons") != std::string::npos) {
      r.body = test::chat_completion_body(R"({"description": "this neuron activates for shapes."})");
    } else {
      // Everything matches: TP = the positives, FP = the negatives.
      const std::string user = user_content_text(req);
      nlohmann::json cls = nlohmann::json::array();
      for (size_t pos = user.find("\nSample "); pos != std::string::npos; pos = user.find("\nSample ", pos + 1))
        cls.push_back(1);
      r.body = test::chat_completion_body(nlohmann::json{{"classifications", cls}}.dump());
    }
    return r;
  });
  PipelineContext ctx(autointerp_options({{"endpoint", server.base_url()},
                                          {"model", "stub"},
                                          {"api_key_env", ""},
                                          {"variant", "overlay"},
                                          {"n_examples", 3},
                                          {"n_holdout", 2},
                                          {"timeout_s", 5.0}}));
  const int32_t layer = ctx.layers().front();
  const PromptDataset& eval = ctx.dataset(DataSplit::kEval);
  ASSERT_GE(eval.size(), 20);
  const int64_t image_tokens = ctx.model().image_tokens();
  const Tokenizer& tok = ctx.tokenizer();

  // Where a question's second token sits in its prompt (the prompt wraps the question in
  // template words, which prompt A leaves out).
  const auto hot_index = [&](const PromptItem& it) {
    const auto q = tok.encode(it.text);
    const auto at = std::search(it.ids.begin(), it.ids.end(), q.begin(), q.end());
    EXPECT_TRUE(q.size() >= 2 && at != it.ids.end()) << it.text;
    return static_cast<size_t>(at - it.ids.begin()) + 1;
  };
  // Feature 3 (spatial): items 0-7, one activation per prompt id, hot on the question's
  // second token; patch activations on the grid, hot in the top-left patch. Feature 5
  // (spatial and ocr): activations of a length no prompt has. Feature 9 (ocr): nothing.
  const auto write = [&](Store& store, int64_t run) {
    store.put_selection(run, "spatial", {{layer, 3}, {layer, 5}});
    store.put_selection(run, "ocr", {{layer, 5}, {layer, 9}});
    std::vector<TopActivation> tops;
    for (int32_t i = 0; i < 8; ++i) {
      const PromptItem& it = eval.item(i);
      TopActivation t;
      t.layer = layer;
      t.feature = 3;
      t.rank = i;
      t.sample_id = it.sample_id;
      t.dataset = "vqa";
      t.max_activation = 3.0 - 0.1 * i;
      t.token_acts.assign(it.ids.size(), 0.0f);
      t.token_acts[hot_index(it)] = static_cast<float>(t.max_activation);
      t.patch_acts.assign(static_cast<size_t>(image_tokens), 0.0f);
      t.patch_acts[0] = 1.0f;
      tops.push_back(t);
      t.feature = 5;
      t.token_acts = {1.0f, 2.0f};
      tops.push_back(t);
    }
    store.put_top_activations(run, tops);
  };
  const StageRun r = run_autointerp(ctx, test::scratch_dir("autointerp-stub"), write);
  ASSERT_TRUE(r.snapshot.ok()) << r.snapshot.find("autointerp")->error;

  // Metrics: feature 3 validated (2 positives, 2 negatives, all said 1), the others not.
  const auto f3 = r.store->feature(r.run, layer, 3);
  ASSERT_TRUE(f3.has_value());
  EXPECT_DOUBLE_EQ(*f3->get(store_keys::kAutointerpPrecision), 0.5);
  EXPECT_DOUBLE_EQ(*f3->get(store_keys::kAutointerpRecall), 1.0);
  EXPECT_DOUBLE_EQ(*f3->get(store_keys::kAutointerpF1), 2.0 / 3.0);
  const auto f5 = r.store->feature(r.run, layer, 5);
  EXPECT_FALSE(f5 && f5->get(store_keys::kAutointerpF1).has_value());

  // The JSON file the stage result names, relative to the store's folder.
  const auto result = nlohmann::json::parse(r.store->stage(r.run, "autointerp")->result_json);
  EXPECT_EQ(result["features"], 3);
  EXPECT_EQ(result["validated"], 1);
  EXPECT_EQ(result["errors"], 2);
  const fs::path file = fs::path(r.dir) / result[store_keys::kAutointerpResultsFile].get<std::string>();
  const auto json = read_json_file(file.string());
  EXPECT_EQ(json["variant"], "overlay");
  ASSERT_EQ(json["features"].size(), 3u);
  const auto& j3 = json["features"][0];
  EXPECT_EQ(j3["feature"], 3);
  EXPECT_EQ(j3["selections"], nlohmann::json({"spatial"}));
  EXPECT_EQ(j3["description"], "this neuron activates for shapes.");
  EXPECT_EQ(j3["error"], "");
  ASSERT_EQ(j3["examples"].size(), 3u);
  EXPECT_EQ(j3["examples"][0]["sample_id"], eval.item(0).sample_id);
  EXPECT_EQ(j3["examples"][0]["text"].get<std::string>(), eval.item(0).text);
  // Only the question is shown, its second token marked at 10.
  const std::string hot = tok.token_text(eval.item(0).ids[hot_index(eval.item(0))]);
  const std::string marked = j3["examples"][0]["marked"];
  EXPECT_NE(marked.find("<<" + hot + ">>"), std::string::npos) << marked << " / " << hot;
  EXPECT_NE(marked.find("\nactivations: " + hot + " 10"), std::string::npos) << marked;
  EXPECT_EQ(marked.find("answer"), std::string::npos) << marked;
  EXPECT_EQ(j3["validation"].size(), 4u);
  // OVERLAY: a heat-map PNG beside the JSON per example, sent as a data URL.
  ASSERT_EQ(j3["images"].size(), 3u);
  const std::string png = test::read_bytes((file.parent_path() / j3["images"][0].get<std::string>()).string());
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);  // feature 3: prompt A + two rounds; 5 and 9 never reach the endpoint
  EXPECT_NE(requests[0].body.find("data:image/png;base64," + base64_encode(png)), std::string::npos);
  EXPECT_NE(user_content_text(requests[0]).find(j3["examples"][2]["marked"].get<std::string>()), std::string::npos);

  const auto& j5 = json["features"][1];
  EXPECT_EQ(j5["selections"], nlohmann::json({"spatial", "ocr"}));
  EXPECT_NE(j5["error"].get<std::string>().find("2 token activations fit no layout"), std::string::npos) << j5["error"];
  const auto& j9 = json["features"][2];
  EXPECT_NE(j9["error"].get<std::string>().find("no top activations"), std::string::npos) << j9["error"];
}
