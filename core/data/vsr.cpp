#include "core/data/vsr.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/common/error.h"
#include "core/io/json_util.h"

namespace sightline {

namespace {

using json = nlohmann::json;

std::vector<int64_t> ids_from_array(const json& array, const std::string& where, const std::string& field) {
  std::vector<int64_t> ids;
  ids.reserve(array.size());
  for (size_t i = 0; i < array.size(); ++i) {
    const json& v = array[i];
    if (!v.is_number_integer())
      fail("file '{}': field '{}' element {} must be an integer, got {}", where, field, i,
           json_detail::describe(v));
    ids.push_back(v.get<int64_t>());
  }
  return ids;
}

std::vector<int64_t> read_ids(const json& item, const char* field, const std::string& where) {
  const auto it = item.find(field);
  if (it == item.end() || it->is_null()) return {};
  if (it->is_string()) return parse_validator_ids(it->get<std::string>(), where, field);
  if (it->is_array()) return ids_from_array(*it, where, field);
  fail("file '{}': field '{}' must be a list of ids or a string such as \"[2, 10]\", got {}", where, field,
       json_detail::describe(*it));
}

// Python json.dumps writes 1.0 for a float that is integral; fmt writes 1.
std::string python_float(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string ids_text(const std::vector<int64_t>& ids) { return fmt::format("[{}]", fmt::join(ids, ", ")); }

std::string quoted(const std::string& s) {
  // ensure_ascii = true, as Python's json.dumps default.
  return json(s).dump(-1, ' ', true, json::error_handler_t::replace);
}

std::string vsr_trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

std::vector<int64_t> parse_validator_ids(const std::string& text, const std::string& where,
                                         const std::string& field) {
  json parsed;
  try {
    parsed = json::parse(text);
  } catch (const json::exception&) {  // syntax errors and out-of-range numbers (1e999)
    fail("file '{}': field '{}' is \"{}\", not a list of ids such as \"[2, 10]\"", where, field, text);
  }
  if (!parsed.is_array())
    fail("file '{}': field '{}' is \"{}\", not a list of ids such as \"[2, 10]\"", where, field, text);
  return ids_from_array(parsed, where, field);
}

std::vector<VsrItem> read_vsr_jsonl(const std::string& path) {
  std::vector<VsrItem> items;
  for_each_jsonl(path, [&](int64_t line, const json& j) {
    const std::string where = fmt::format("{}:{}", path, line);
    if (!j.is_object()) fail("file '{}': line is {}, not a JSON object", where, json_detail::describe(j));
    VsrItem item;
    item.line = line;
    item.image = json_get<std::string>(j, "image", where);
    item.image_link = json_get_or<std::string>(j, "image_link", "", where);
    item.caption = json_get<std::string>(j, "caption", where);
    item.label = json_get<int>(j, "label", where);
    if (item.label != 0 && item.label != 1) fail("file '{}': field 'label' is {}, expected 0 or 1", where, item.label);
    item.relation = json_get<std::string>(j, "relation", where);
    item.subj = json_get_or<std::string>(j, "subj", "", where);
    item.obj = json_get_or<std::string>(j, "obj", "", where);
    item.annotator_id = json_get_or<int64_t>(j, "annotator_id", 0, where);
    item.vote_true_validator_ids = read_ids(j, "vote_true_validator_id", where);
    item.vote_false_validator_ids = read_ids(j, "vote_false_validator_id", where);
    const auto rf = j.find("reference_frame");
    item.has_reference_frame = rf != j.end();
    if (item.has_reference_frame && !rf->is_null()) {
      if (!rf->is_number())
        fail("file '{}': field 'reference_frame' must be null or a number, got {}", where,
             json_detail::describe(*rf));
      item.reference_frame = rf->get<double>();
    }
    items.push_back(std::move(item));
  });
  return items;
}

std::string vsr_item_to_line(const VsrItem& item) {
  std::string line = "{";
  line += "\"image\": " + quoted(item.image);
  line += ", \"image_link\": " + quoted(item.image_link);
  line += ", \"caption\": " + quoted(item.caption);
  line += fmt::format(", \"label\": {}", item.label);
  line += ", \"relation\": " + quoted(item.relation);
  if (!item.subj.empty() && !item.obj.empty()) {
    line += ", \"subj\": " + quoted(item.subj);
    line += ", \"obj\": " + quoted(item.obj);
  }
  line += fmt::format(", \"annotator_id\": {}", item.annotator_id);
  line += ", \"vote_true_validator_id\": " + quoted(ids_text(item.vote_true_validator_ids));
  line += ", \"vote_false_validator_id\": " + quoted(ids_text(item.vote_false_validator_ids));
  if (item.has_reference_frame)
    line += ", \"reference_frame\": " + (item.reference_frame ? python_float(*item.reference_frame) : "null");
  line += "}";
  return line;
}

void write_vsr_jsonl(const std::string& path, const std::vector<VsrItem>& items) {
  std::string text;
  text.reserve(items.size() * 320);
  for (const VsrItem& item : items) {
    text += vsr_item_to_line(item);
    text += '\n';
  }
  AtomicWriter out(path);
  out.write(text);
  out.commit();
}

std::string VsrRelationCategories::category_of(const std::string& relation) const {
  const auto it = categories_of.find(relation);
  return it == categories_of.end() || it->second.empty() ? "" : it->second.front();
}

VsrRelationCategories read_vsr_relation_categories(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("file '{}': cannot open for reading: {}", path, std::strerror(errno));
  VsrRelationCategories result;
  std::string line;
  int64_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (vsr_trim(line).empty()) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos)
      fail("file '{}': line {}: expected \"Category: relation, relation, ...\"", path, line_number);
    const std::string category = vsr_trim(line.substr(0, colon));
    if (category.empty()) fail("file '{}': line {}: empty category name", path, line_number);
    if (result.relations.count(category))
      fail("file '{}': line {}: category '{}' listed twice", path, line_number, category);
    result.categories.push_back(category);
    std::vector<std::string>& members = result.relations[category];
    const std::string rest = line.substr(colon + 1);
    size_t start = 0;
    while (start <= rest.size()) {
      size_t comma = rest.find(',', start);
      if (comma == std::string::npos) comma = rest.size();
      const std::string relation = vsr_trim(rest.substr(start, comma - start));
      if (!relation.empty()) {
        members.push_back(relation);
        std::vector<std::string>& cats = result.categories_of[relation];
        if (std::find(cats.begin(), cats.end(), category) == cats.end()) cats.push_back(category);
      }
      start = comma + 1;
    }
  }
  if (in.bad()) fail("file '{}': read error after line {}", path, line_number);
  if (result.categories.empty()) fail("file '{}': no categories", path);
  return result;
}

}  // namespace sightline
