#include "core/data/vqa.h"

#include <fmt/format.h>

#include <unordered_map>

#include "core/common/error.h"
#include "core/io/json_util.h"

namespace sightline {

namespace {

using json = nlohmann::json;

const json& get_array(const json& doc, const char* key, const std::string& path) {
  json_detail::require_object(doc, key, path);
  const auto it = doc.find(key);
  if (it == doc.end()) fail("file '{}': field '{}' missing", path, key);
  if (!it->is_array())
    fail("file '{}': field '{}' must be an array, got {}", path, key, json_detail::describe(*it));
  return *it;
}

json info_json(const VqaFileInfo& info) {
  return json{{"description", info.description}, {"version", "2.0"}, {"year", 2017}};
}

json license_json() { return json{{"name", "Creative Commons Attribution 4.0 License"}, {"url", ""}}; }

}  // namespace

std::string vqa_image_file(const std::string& data_type, const std::string& data_subtype, int64_t image_id) {
  if (data_type == "mscoco") return fmt::format("COCO_{}_{:012d}.jpg", data_subtype, image_id);
  if (data_type == "abstract_v002") return fmt::format("abstract_v002_{}_{:012d}.png", data_subtype, image_id);
  return fmt::format("COCO_{}_{:012d}.png", data_subtype, image_id);
}

std::vector<VqaItem> read_vqa_questions(const std::string& questions_path, VqaFileInfo* info) {
  const json doc = read_json_file(questions_path);
  VqaFileInfo file_info;
  file_info.task_type = json_get_or<std::string>(doc, "task_type", "", questions_path);
  file_info.data_type = json_get_or<std::string>(doc, "data_type", "mscoco", questions_path);
  file_info.data_subtype = json_get_or<std::string>(doc, "data_subtype", "", questions_path);
  const auto it_info = doc.find("info");
  if (it_info != doc.end() && it_info->is_object())
    file_info.description = json_get_or<std::string>(*it_info, "description", "", questions_path);

  const json& questions = get_array(doc, "questions", questions_path);
  std::vector<VqaItem> items;
  items.reserve(questions.size());
  std::unordered_map<int64_t, size_t> seen;
  for (size_t i = 0; i < questions.size(); ++i) {
    const std::string where = fmt::format("{}: questions[{}]", questions_path, i);
    const json& q = questions[i];
    VqaItem item;
    item.question_id = json_get<int64_t>(q, "question_id", where);
    item.image_id = json_get<int64_t>(q, "image_id", where);
    item.question = json_get<std::string>(q, "question", where);
    item.image_file = vqa_image_file(file_info.data_type, file_info.data_subtype, item.image_id);
    const auto [pos, inserted] = seen.emplace(item.question_id, i);
    if (!inserted)
      fail("file '{}': question_id {} appears twice (questions[{}] and questions[{}])", questions_path,
           item.question_id, pos->second, i);
    items.push_back(std::move(item));
  }
  if (info) *info = file_info;
  return items;
}

std::vector<VqaItem> read_vqa(const std::string& questions_path, const std::string& annotations_path,
                              VqaFileInfo* info) {
  std::vector<VqaItem> items = read_vqa_questions(questions_path, info);
  const json doc = read_json_file(annotations_path);
  const json& annotations = get_array(doc, "annotations", annotations_path);

  std::unordered_map<int64_t, size_t> by_question;
  by_question.reserve(annotations.size());
  for (size_t i = 0; i < annotations.size(); ++i) {
    const std::string where = fmt::format("{}: annotations[{}]", annotations_path, i);
    const int64_t qid = json_get<int64_t>(annotations[i], "question_id", where);
    const auto [pos, inserted] = by_question.emplace(qid, i);
    if (!inserted)
      fail("file '{}': question_id {} is annotated twice (annotations[{}] and annotations[{}])",
           annotations_path, qid, pos->second, i);
  }

  for (VqaItem& item : items) {
    const auto found = by_question.find(item.question_id);
    if (found == by_question.end())
      fail("file '{}': no annotation for question_id {} (image_id {}) of '{}'", annotations_path,
           item.question_id, item.image_id, questions_path);
    const json& a = annotations[found->second];
    const std::string where = fmt::format("{}: annotations[{}] (question_id {})", annotations_path,
                                          found->second, item.question_id);
    const int64_t image_id = json_get<int64_t>(a, "image_id", where);
    if (image_id != item.image_id)
      fail("file '{}': question_id {} has image_id {} but '{}' says {}", annotations_path, item.question_id,
           image_id, questions_path, item.image_id);
    item.question_type = json_get_or<std::string>(a, "question_type", "", where);
    item.answer_type = json_get<std::string>(a, "answer_type", where);
    item.multiple_choice_answer = json_get<std::string>(a, "multiple_choice_answer", where);
    const json& answers = get_array(a, "answers", where);
    item.answers.reserve(answers.size());
    for (size_t k = 0; k < answers.size(); ++k) {
      const std::string where_k = fmt::format("{}: answers[{}]", where, k);
      VqaAnswer answer;
      answer.answer = json_get<std::string>(answers[k], "answer", where_k);
      answer.answer_confidence = json_get_or<std::string>(answers[k], "answer_confidence", "yes", where_k);
      answer.answer_id = json_get_or<int64_t>(answers[k], "answer_id", static_cast<int64_t>(k + 1), where_k);
      item.answers.push_back(std::move(answer));
    }
  }
  return items;
}

void write_vqa_questions(const std::string& path, const std::vector<VqaItem>& items, const VqaFileInfo& info) {
  json questions = json::array();
  for (const VqaItem& item : items)
    questions.push_back(
        json{{"image_id", item.image_id}, {"question", item.question}, {"question_id", item.question_id}});
  const json doc{{"info", info_json(info)},           {"task_type", info.task_type},
                 {"data_type", info.data_type},       {"data_subtype", info.data_subtype},
                 {"license", license_json()},         {"questions", std::move(questions)}};
  write_json_file(path, doc, -1);
}

void write_vqa_annotations(const std::string& path, const std::vector<VqaItem>& items, const VqaFileInfo& info) {
  json annotations = json::array();
  for (const VqaItem& item : items) {
    if (item.answers.empty())
      fail("file '{}': question_id {} has no answers to write", path, item.question_id);
    json answers = json::array();
    for (const VqaAnswer& a : item.answers)
      answers.push_back(
          json{{"answer", a.answer}, {"answer_confidence", a.answer_confidence}, {"answer_id", a.answer_id}});
    annotations.push_back(json{{"question_type", item.question_type},
                               {"multiple_choice_answer", item.multiple_choice_answer},
                               {"answers", std::move(answers)},
                               {"image_id", item.image_id},
                               {"answer_type", item.answer_type},
                               {"question_id", item.question_id}});
  }
  const json doc{{"info", info_json(info)},     {"license", license_json()},
                 {"data_type", info.data_type}, {"data_subtype", info.data_subtype},
                 {"annotations", std::move(annotations)}};
  write_json_file(path, doc, -1);
}

}  // namespace sightline
