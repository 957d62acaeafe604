#include "ui/find_loader.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <mutex>
#include <set>
#include <utility>

#include "core/common/error.h"
#include "core/io/json_util.h"
#include "core/pipeline/store_keys.h"
#include "core/store/store.h"

namespace fs = std::filesystem;

namespace sightline::ui {

namespace {

// The store keeps flags as 0/1 REALs (NaN = not computed).
bool find_flag_set(float value) { return std::isfinite(value) && value >= 0.5f; }

// A JSON number, or NaN for null (nlohmann writes NaN as null).
float find_json_float(const nlohmann::json& v, const std::string& path, const std::string& field) {
  if (v.is_null()) return std::nanf("");
  check(v.is_number(), "file '{}': field '{}' must be a number or null, got {}", path, field,
        json_detail::describe(v));
  return v.get<float>();
}

// One bookmark edit at a time in this process: each opens the store's writer lock.
std::mutex& bookmark_edit_mutex() {
  static std::mutex m;
  return m;
}

uint64_t start_bookmark_task(TaskList& tasks, std::shared_ptr<Snapshot> snapshot, const std::string& name,
                             std::function<BookmarkLists()> edit) {
  return tasks.start(name, [snapshot, edit = std::move(edit)](Progress& progress) {
    progress.begin("writing bookmarks", 0);
    // Rethrown errors are logged by the TaskList; the published lists stay as they were.
    snapshot->bookmarks.publish(std::make_shared<const BookmarkLists>(edit()));
  });
}

}  // namespace

ShiftTable read_shift_table(Store& store, const RunRecord& run) {
  const std::string skill = store_keys::kSpatialSkill;
  const std::vector<std::string> keys = {store_keys::kPBase,
                                         store_keys::skill_metric_key(skill, "p_skill"),
                                         store_keys::skill_metric_key(skill, "delta_p"),
                                         store_keys::skill_metric_key(skill, "odds_ratio"),
                                         "adapted",
                                         store_keys::skill_metric_key(skill, "selected")};
  // Other skills' shift statistics: extras "<skill>_p_skill", "<skill>_delta_p", "<skill>_odds_ratio".
  std::vector<std::string> other_keys;
  for (const std::string& key : store.feature_metric_keys(run.id))
    for (const char* suffix : {"_p_skill", "_delta_p", "_odds_ratio"}) {
      const std::string s = suffix;
      if (key.size() > s.size() && key.compare(key.size() - s.size(), s.size(), s) == 0) other_keys.push_back(key);
    }
  std::vector<std::string> all_keys = keys;
  all_keys.insert(all_keys.end(), other_keys.begin(), other_keys.end());
  const FeatureColumns cols = store.feature_columns(run.id, all_keys);
  const auto& p_base = cols.metric.at(keys[0]);
  const auto& p_skill = cols.metric.at(keys[1]);
  const auto& delta_p = cols.metric.at(keys[2]);
  const auto& odds = cols.metric.at(keys[3]);
  const auto& adapted = cols.metric.at(keys[4]);
  const auto& selected = cols.metric.at(keys[5]);
  std::set<FeatureRef> candidates, spatial;
  for (const FeatureRef& f : store.selection(run.id, store_keys::candidates_selection(skill))) candidates.insert(f);
  for (const FeatureRef& f : store.selection(run.id, store_keys::kSpatialSelection)) spatial.insert(f);

  ShiftTable t;
  t.skill = skill;
  t.source = store.path();
  for (size_t i = 0; i < cols.size(); ++i) {
    if (!std::isfinite(p_base[i])) continue;  // shift did not reach this feature
    const int32_t layer = cols.layer[i];
    check(layer >= 0 && layer <= std::numeric_limits<uint16_t>::max(),
          "file '{}': table 'features': run {} layer {} is outside 0..65535", store.path(), run.id, layer);
    const FeatureRef ref{layer, cols.feature[i]};
    uint8_t flags = 0;
    if (find_flag_set(adapted[i])) flags |= kFlagAdapted;
    if (candidates.count(ref)) flags |= kFlagSpatialCandidate;
    if (find_flag_set(selected[i]) || spatial.count(ref)) flags |= kFlagSpatialFeature;
    t.layer.push_back(static_cast<uint16_t>(layer));
    t.feature.push_back(ref.feature);
    t.p_base.push_back(p_base[i]);
    t.p_skill.push_back(p_skill[i]);
    t.delta_p.push_back(delta_p[i]);
    t.odds_ratio.push_back(odds[i]);
    t.flags.push_back(flags);
    for (const std::string& key : other_keys) t.other_skills[key].push_back(cols.metric.at(key)[i]);
    t.num_layers = std::max(t.num_layers, layer + 1);
  }
  return t;
}

std::vector<FeatureDescription> parse_autointerp_results(const nlohmann::json& j, const std::string& path) {
  check(j.is_object(), "file '{}': expected a JSON object with field 'features', got {}", path,
        json_detail::describe(j));
  const auto features = j.find("features");
  check(features != j.end() && features->is_array(), "file '{}': field 'features' missing or not an array", path);
  std::vector<FeatureDescription> out;
  for (size_t i = 0; i < features->size(); ++i) {
    const nlohmann::json& f = (*features)[i];
    const std::string entry = fmt::format("features[{}]", i);
    check(f.is_object(), "file '{}': field '{}' must be an object, got {}", path, entry, json_detail::describe(f));
    const std::string where = path + "', entry '" + entry;
    FeatureDescription d;
    d.ref.layer = json_get<int32_t>(f, "layer", where);
    d.ref.feature = json_get<int32_t>(f, "feature", where);
    d.text = json_get_or<std::string>(f, "description", "", where);
    d.error = json_get_or<std::string>(f, "error", "", where);
    if (f.contains("f1") && !f.at("f1").is_null()) d.f1 = json_get<double>(f, "f1", where);
    if (f.contains("examples")) {
      const nlohmann::json& examples = f.at("examples");
      check(examples.is_array(), "file '{}': field '{}.examples' must be an array, got {}", path, entry,
            json_detail::describe(examples));
      for (size_t k = 0; k < examples.size(); ++k) {
        const nlohmann::json& e = examples[k];
        const std::string ex_entry = fmt::format("{}.examples[{}]", entry, k);
        const std::string ex_where = path + "', entry '" + ex_entry;
        TokenExample ex;
        ex.sample_id = json_get<std::string>(e, "sample_id", ex_where);
        ex.dataset = json_get_or<std::string>(e, "dataset", "", ex_where);
        ex.tokens = json_get_or<std::vector<std::string>>(e, "tokens", {}, ex_where);
        if (e.contains("activations")) {
          const nlohmann::json& acts = e.at("activations");
          check(acts.is_array(), "file '{}': field '{}.activations' must be an array, got {}", path, ex_entry,
                json_detail::describe(acts));
          for (size_t t = 0; t < acts.size(); ++t)
            ex.activations.push_back(find_json_float(acts[t], path, fmt::format("{}.activations[{}]", ex_entry, t)));
        }
        check(ex.activations.size() == ex.tokens.size(),
              "file '{}': field '{}': {} tokens but {} activations", path, ex_entry, ex.tokens.size(),
              ex.activations.size());
        d.examples.push_back(std::move(ex));
      }
    }
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<FeatureDescription> read_autointerp_descriptions(Store& store, const RunRecord& run) {
  const std::optional<StageRecord> stage = store.stage(run.id, "autointerp");
  if (!stage || stage->status != StageStatus::kDone) return {};
  nlohmann::json summary;
  try {
    summary = nlohmann::json::parse(stage->result_json);
  } catch (const nlohmann::json::exception& e) {
    fail("file '{}': table 'stages': stage 'autointerp' field 'result_json' is not JSON: {}", store.path(), e.what());
  }
  if (!summary.is_object() || !summary.contains(store_keys::kAutointerpResultsFile)) return {};  // skipped
  const auto& field = summary.at(store_keys::kAutointerpResultsFile);
  check(field.is_string(), "file '{}': table 'stages': stage 'autointerp' field 'result_json.{}' must be a string",
        store.path(), store_keys::kAutointerpResultsFile);
  fs::path file = field.get<std::string>();
  if (file.is_relative()) file = fs::absolute(store.path()).parent_path() / file;
  return parse_autointerp_results(read_json_file(file.string()), file.string());
}

void attach_descriptions(RunResults& results, std::vector<FeatureDescription> descriptions) {
  for (FeatureDescription& d : descriptions) {
    FeatureDetail& detail = results.features[d.ref];
    detail.ref = d.ref;
    detail.has_description = true;
    detail.description = std::move(d);
  }
}

BookmarkLists read_bookmark_lists(Store& store) {
  BookmarkLists lists;
  lists.path = store.path();
  lists.all = store.bookmarks();
  return lists;
}

BookmarkLists add_bookmark_to_store(const std::string& path, const Bookmark& bookmark) {
  check(!bookmark.name.empty(), "file '{}': table 'bookmarks': the list name is empty", path);
  std::lock_guard<std::mutex> lock(bookmark_edit_mutex());
  Store store = Store::open(path, Store::Mode::kReadWrite);
  store.add_bookmark(bookmark);
  return read_bookmark_lists(store);
}

BookmarkLists delete_bookmark_from_store(const std::string& path, int64_t id) {
  std::lock_guard<std::mutex> lock(bookmark_edit_mutex());
  Store store = Store::open(path, Store::Mode::kReadWrite);
  store.delete_bookmark(id);
  return read_bookmark_lists(store);
}

uint64_t start_bookmark_add(TaskList& tasks, std::shared_ptr<Snapshot> snapshot, const std::string& path,
                            const Bookmark& bookmark) {
  spdlog::info("bookmarks: adding L{} #{} to list '{}'", bookmark.layer, bookmark.feature, bookmark.name);
  return start_bookmark_task(tasks, std::move(snapshot), "add bookmark",
                             [path, bookmark] { return add_bookmark_to_store(path, bookmark); });
}

uint64_t start_bookmark_delete(TaskList& tasks, std::shared_ptr<Snapshot> snapshot, const std::string& path,
                               int64_t id) {
  return start_bookmark_task(tasks, std::move(snapshot), "delete bookmark",
                             [path, id] { return delete_bookmark_from_store(path, id); });
}

}  // namespace sightline::ui
