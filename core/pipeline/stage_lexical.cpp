// Stage "lexical" (METHOD.md Stage 3 step 2, paper 4.3 "filtering lexical artifacts"):
// every candidate's top VQA samples (the topk stage's "vqa" rows) are re-run with the
// question replaced by each neutral prompt; a candidate persists when it still fires on
// at least min_fraction of those runs. A skill's features = its candidates that persist
// and are in the adapted set A (selection "adapted" of the diff stage).
//
// Options ("stages.lexical"), defaults in lexical_defaults():
//   neutral_prompts       []      the prompts; [] = the default list for the model's
//                                 tokenizer: world_neutral_prompts() for a world's word
//                                 tokenizer, default_neutral_prompts() otherwise
//   neutral_prompts_file  ""      a prompt file (one a line, core/data/prompts.h) instead
//   samples               10      top VQA samples re-run per feature
//   min_fraction          0.5     persists when fired runs / runs >= this
//   min_activation        0.0     a run fires when its max activation is strictly above
//   positions             "text"  positions a run's max is taken over: the prompt's (the
//                                 image positions before it do not see the question)
//   batch_size            8       sequences per VLM forward
//   chunk_rows            4096    rows encoded at once per layer
// Writes (store_keys.h): lexical_persistent, lexical_fraction and each skill's
// "selected" flag for the candidates; selections "<skill>".
#include <ATen/Parallel.h>

#include <map>
#include <set>

#include "core/common/error.h"
#include "core/data/prompts.h"
#include "core/io/json_util.h"
#include "core/jobs/job_runner.h"
#include "core/pipeline/context.h"
#include "core/pipeline/skill_stage_util.h"
#include "core/pipeline/stages.h"
#include "core/pipeline/store_keys.h"
#include "core/skills/lexical.h"
#include "core/store/store.h"
#include "core/tokenizer/word_tokenizer.h"
#include "core/world/corpus.h"

namespace sightline {

namespace {

nlohmann::json lexical_defaults() {
  return {{"neutral_prompts", nlohmann::json::array()},
          {"neutral_prompts_file", ""},
          {"samples", 10},
          {"min_fraction", 0.5},
          {"min_activation", 0.0},
          {"positions", "text"},
          {"batch_size", 8},
          {"chunk_rows", 4096}};
}

struct LexicalStageOptions {
  std::vector<std::string> prompts;  // empty = the tokenizer's default list
  std::string prompts_file;
  int64_t samples = 10;
  LexicalOptions lexical;
};

LexicalStageOptions parse_lexical(const nlohmann::json& j, const std::string& where) {
  LexicalStageOptions o;
  o.prompts = json_get<std::vector<std::string>>(j, "neutral_prompts", where);
  o.prompts_file = json_get<std::string>(j, "neutral_prompts_file", where);
  o.samples = json_get<int64_t>(j, "samples", where);
  o.lexical.min_fraction = json_get<double>(j, "min_fraction", where);
  o.lexical.min_activation = json_get<double>(j, "min_activation", where);
  o.lexical.positions = parse_positions(json_get<std::string>(j, "positions", where), where, "positions");
  o.lexical.stream = parse_stream_options(j, where);
  check(o.prompts.empty() || o.prompts_file.empty(),
        "file '{}': fields 'neutral_prompts' and 'neutral_prompts_file' are both set: give one", where);
  for (size_t i = 0; i < o.prompts.size(); ++i)
    check(o.prompts[i].find_first_not_of(" \t\r\n") != std::string::npos,
          "file '{}': field 'neutral_prompts[{}]' is blank", where, i);
  check(o.samples >= 1, "file '{}': field 'samples' must be >= 1, got {}", where, o.samples);
  check(o.lexical.min_fraction >= 0 && o.lexical.min_fraction <= 1,
        "file '{}': field 'min_fraction' must be in [0, 1], got {}", where, o.lexical.min_fraction);
  return o;
}

// The prompt texts the options name, or {} for "the tokenizer's default list".
std::vector<std::string> configured_prompts(const LexicalStageOptions& o) {
  if (!o.prompts_file.empty()) return read_prompt_file(o.prompts_file);
  return o.prompts;
}

std::vector<std::string> resolved_prompts(PipelineContext& ctx, const LexicalStageOptions& o) {
  auto texts = configured_prompts(o);
  if (texts.empty())
    texts = dynamic_cast<const WordTokenizer*>(&ctx.tokenizer()) ? world_neutral_prompts() : default_neutral_prompts();
  return texts;
}

void run_lexical(PipelineContext& ctx, StageContext& sc) {
  at::init_num_threads();  // this worker thread takes the process's torch thread count
  const LexicalStageOptions o = parse_lexical(ctx.options().stage("lexical"), "stages.lexical");
  const auto skills = run_skills(ctx);
  Store& store = sc.store();
  const auto candidates = candidate_union(store, sc.run_id(), skills);
  const auto adapted_list = store.selection(sc.run_id(), store_keys::kAdaptedSelection);
  const std::set<FeatureRef> adapted(adapted_list.begin(), adapted_list.end());

  std::map<FeatureRef, LexicalResult> results;
  int64_t prompt_count = 0;
  if (!candidates.empty()) {
    sc.progress().begin("load model, SAEs and data", 0);
    const VisionLanguageModel& model = ctx.model();
    const PromptDataset& eval = ctx.dataset(DataSplit::kEval);
    const std::vector<Sae> saes = load_diff_saes(ctx, sc, "lexical");
    const std::vector<LayerFeatures> layers = layer_features(ctx.layers(), saes, candidates);
    std::map<std::string, int64_t> item_of;
    for (int64_t i = 0; i < eval.size(); ++i) item_of.emplace(eval.item(i).sample_id, i);
    std::vector<std::vector<std::vector<int64_t>>> samples(layers.size());
    for (size_t l = 0; l < layers.size(); ++l) {
      samples[l].resize(layers[l].features.size());
      for (size_t c = 0; c < layers[l].features.size(); ++c) {
        const auto tops =
            store.top_activations(sc.run_id(), layers[l].layer, static_cast<int32_t>(layers[l].features[c]), false);
        for (const auto& t : tops) {
          if (t.dataset != store_keys::kTopVqa) continue;
          if (static_cast<int64_t>(samples[l][c].size()) >= o.samples) break;
          const auto it = item_of.find(t.sample_id);
          check(it != item_of.end(), "stage lexical: top sample '{}' of L{}/F{} is not in the evaluation split ({})",
                t.sample_id, layers[l].layer, layers[l].features[c], eval.name());
          samples[l][c].push_back(it->second);
        }
      }
    }
    std::vector<NeutralPrompt> prompts;
    for (const auto& text : resolved_prompts(ctx, o)) prompts.push_back({text, ctx.question_prompt(text, true)});
    prompt_count = static_cast<int64_t>(prompts.size());
    const auto lex = lexical_filter(model, layers, eval, samples, prompts, o.lexical, sc.progress());
    for (size_t l = 0; l < layers.size(); ++l)
      for (size_t c = 0; c < layers[l].features.size(); ++c)
        results[{layers[l].layer, static_cast<int32_t>(layers[l].features[c])}] = lex[l][c];
  }

  sc.progress().begin("select skill features", 0);
  std::vector<FeatureValue> persistent, fraction;
  for (const auto& [ref, r] : results) {
    persistent.push_back({ref.layer, ref.feature, r.pass ? 1.0 : 0.0});
    fraction.push_back({ref.layer, ref.feature, r.fraction});
  }
  std::vector<std::vector<FeatureRef>> selected(skills.size());
  std::vector<std::vector<FeatureValue>> flags(skills.size());
  nlohmann::json skills_json = nlohmann::json::array();
  for (size_t s = 0; s < skills.size(); ++s) {
    int64_t cand = 0, passed = 0;
    for (const auto& ref : store.selection(sc.run_id(), store_keys::candidates_selection(skills[s].name()))) {
      ++cand;
      const auto it = results.find(ref);
      const bool pass = it != results.end() && it->second.pass;
      passed += pass ? 1 : 0;
      const bool chosen = pass && adapted.count(ref) > 0;
      if (chosen) selected[s].push_back(ref);
      flags[s].push_back({ref.layer, ref.feature, chosen ? 1.0 : 0.0});
    }
    skills_json.push_back(
        {{"name", skills[s].name()}, {"candidates", cand}, {"lexical_pass", passed}, {"selected", selected[s].size()}});
  }
  const nlohmann::json result{{"features", results.size()},
                              {"neutral_prompts", prompt_count},
                              {"min_fraction", o.lexical.min_fraction},
                              {"adapted", adapted.size()},
                              {"skills", skills_json}};
  sc.progress().begin("write results", 0);
  sc.commit(
      [&](Store& st) {
        st.set_feature_metric(sc.run_id(), store_keys::kLexicalPersistent, persistent);
        st.set_feature_metric(sc.run_id(), store_keys::kLexicalFraction, fraction);
        for (size_t s = 0; s < skills.size(); ++s) {
          st.set_feature_metric(sc.run_id(), store_keys::skill_metric_key(skills[s].name(), "selected"), flags[s]);
          st.put_selection(sc.run_id(), skills[s].name(), selected[s]);
        }
      },
      result.dump());
}

}  // namespace

StageDefinition lexical_stage_definition() {
  StageDefinition d;
  d.name = "lexical";
  d.description = "lexical filter with neutral prompts; skill features = persistent candidates in A";
  d.deps = {"diff", "shift", "topk"};
  d.defaults = lexical_defaults;
  d.validate = [](const nlohmann::json& j, const std::string& where) { parse_lexical(j, where); };
  d.make = [](PipelineContext& ctx) {
    Stage s;
    s.name = "lexical";
    s.deps = {"diff", "shift", "topk"};
    const LexicalStageOptions o = parse_lexical(ctx.options().stage("lexical"), "stages.lexical");
    nlohmann::json key = common_options_json(ctx.options());
    key["stage"] = ctx.options().stage("lexical");
    // A prompt file's content, not its path, decides the results.
    key["prompts"] = configured_prompts(o);
    s.options_hash = hash_options(key.dump());
    s.run = [&ctx](StageContext& sc) { run_lexical(ctx, sc); };
    const auto skills = run_skills(ctx);
    s.reset = [skills](Store& store, int64_t run) {
      store.clear_feature_metric(run, store_keys::kLexicalPersistent);
      store.clear_feature_metric(run, store_keys::kLexicalFraction);
      for (const auto& skill : skills) {
        store.clear_feature_metric(run, store_keys::skill_metric_key(skill.name(), "selected"));
        store.delete_selection(run, skill.name());
      }
    };
    return s;
  };
  return d;
}

}  // namespace sightline
