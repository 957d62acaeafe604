#include "core/pipeline/options.h"

#include <fmt/format.h>

#include <utility>

#include "core/common/error.h"
#include "core/io/json_util.h"
#include "core/pipeline/stages.h"

namespace sightline {

namespace {

nlohmann::json source_json(const SourceOptions& s) {
  return {{"world", s.world},
          {"model", s.model},
          {"vision", s.vision},
          {"sae", s.sae},
          {"tokenizer", s.tokenizer},
          {"vqa_questions", s.vqa_questions},
          {"vqa_annotations", s.vqa_annotations},
          {"vsr", s.vsr},
          {"images", s.images}};
}

nlohmann::json data_json(const DataOptions& d) {
  return {{"train_items", d.train_items},
          {"heldout_items", d.heldout_items},
          {"eval_items", d.eval_items},
          {"vsr_items", d.vsr_items},
          {"seed", d.seed}};
}

}  // namespace

void check_known_keys(const nlohmann::json& j, const nlohmann::json& defaults, const std::string& where,
                      const std::string& field) {
  check(j.is_object(), "file '{}': field '{}' must be an object, got {}", where, field, json_detail::describe(j));
  for (const auto& item : j.items()) {
    if (defaults.contains(item.key())) continue;
    std::vector<std::string> known;
    for (const auto& d : defaults.items()) known.push_back(d.key());
    fail("file '{}': field '{}' has unknown key '{}' (known: {})", where, field, item.key(), fmt::join(known, ", "));
  }
}

const nlohmann::json& PipelineOptions::stage(const std::string& name) const {
  const auto it = stages.find(name);
  check(it != stages.end(), "pipeline options: no options for stage '{}'", name);
  return it->second;
}

PipelineOptions default_pipeline_options() {
  PipelineOptions o;
  for (const auto& s : stage_definitions()) o.stages[s.name] = s.defaults();
  return o;
}

nlohmann::json to_json(const PipelineOptions& o) {
  nlohmann::json stages = nlohmann::json::object();
  for (const auto& [name, j] : o.stages) stages[name] = j;
  return {{"device", o.device},       {"dtype", o.dtype},         {"layers", o.layers},
          {"source", source_json(o.source)}, {"data", data_json(o.data)}, {"stages", stages}};
}

nlohmann::json common_options_json(const PipelineOptions& o) {
  return {{"device", o.device},
          {"dtype", o.dtype},
          {"layers", o.layers},
          {"source", source_json(o.source)},
          {"data", data_json(o.data)}};
}

PipelineOptions pipeline_options_from_json(const nlohmann::json& j, const std::string& where) {
  PipelineOptions o = default_pipeline_options();
  const nlohmann::json defaults = to_json(o);
  check_known_keys(j, defaults, where, "(top level)");
  o.device = json_get_or<std::string>(j, "device", o.device, where);
  o.dtype = json_get_or<std::string>(j, "dtype", o.dtype, where);
  o.layers = json_get_or<std::vector<int>>(j, "layers", o.layers, where);
  for (int l : o.layers) check(l >= 0, "file '{}': field 'layers' holds a negative layer {}", where, l);
  if (j.contains("source")) {
    const auto& s = j["source"];
    const std::string w = where + "' field 'source";
    check_known_keys(s, defaults["source"], where, "source");
    auto& src = o.source;
    src.world = json_get_or<std::string>(s, "world", src.world, w);
    src.model = json_get_or<std::string>(s, "model", src.model, w);
    src.vision = json_get_or<std::string>(s, "vision", src.vision, w);
    src.sae = json_get_or<std::string>(s, "sae", src.sae, w);
    src.tokenizer = json_get_or<std::string>(s, "tokenizer", src.tokenizer, w);
    src.vqa_questions = json_get_or<std::string>(s, "vqa_questions", src.vqa_questions, w);
    src.vqa_annotations = json_get_or<std::string>(s, "vqa_annotations", src.vqa_annotations, w);
    src.vsr = json_get_or<std::string>(s, "vsr", src.vsr, w);
    src.images = json_get_or<std::string>(s, "images", src.images, w);
  }
  if (j.contains("data")) {
    const auto& d = j["data"];
    const std::string w = where + "' field 'data";
    check_known_keys(d, defaults["data"], where, "data");
    auto& data = o.data;
    data.train_items = json_get_or<int64_t>(d, "train_items", data.train_items, w);
    data.heldout_items = json_get_or<int64_t>(d, "heldout_items", data.heldout_items, w);
    data.eval_items = json_get_or<int64_t>(d, "eval_items", data.eval_items, w);
    data.vsr_items = json_get_or<int64_t>(d, "vsr_items", data.vsr_items, w);
    data.seed = json_get_or<uint64_t>(d, "seed", data.seed, w);
    const std::pair<const char*, int64_t> counts[] = {{"train_items", data.train_items},
                                                      {"heldout_items", data.heldout_items},
                                                      {"eval_items", data.eval_items},
                                                      {"vsr_items", data.vsr_items}};
    for (const auto& [key, value] : counts)
      check(value >= 0, "file '{}': field '{}' must be >= 0, got {}", w, key, value);
  }
  if (j.contains("stages")) {
    const auto& st = j["stages"];
    check_known_keys(st, defaults["stages"], where, "stages");
    for (const auto& item : st.items()) {
      const std::string w = where + "' field 'stages." + item.key();
      check_known_keys(item.value(), o.stages[item.key()], where, "stages." + item.key());
      // Nested objects (e.g. adapt.train) merge key by key, so a config may set one of them.
      nlohmann::json merged = o.stages[item.key()];
      merged.merge_patch(item.value());
      o.stages[item.key()] = merged;
    }
  }
  for (const auto& s : stage_definitions()) s.validate(o.stages[s.name], where + "' field 'stages." + s.name);
  return o;
}

PipelineOptions load_pipeline_options(const std::string& path) {
  return pipeline_options_from_json(read_json_file(path), path);
}

void save_pipeline_options(const PipelineOptions& options, const std::string& path) {
  write_json_file(path, to_json(options));
}

}  // namespace sightline
