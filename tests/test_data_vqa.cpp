#include <gtest/gtest.h>

#include <fstream>

#include "core/common/error.h"
#include "core/data/vqa.h"
#include "core/data/vqa_eval.h"
#include "tests/test_util.h"

namespace sightline {
namespace {

std::string write_text(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::vector<std::string> ten(const std::vector<std::pair<std::string, int>>& counts) {
  std::vector<std::string> out;
  for (const auto& [answer, n] : counts)
    for (int i = 0; i < n; ++i) out.push_back(answer);
  return out;
}

// A questions + annotations pair in the real layout (as in v2_OpenEnded_mscoco_val2014).
const char* kQuestions = R"({"info": {"description": "This is v2.0 of the VQA dataset."},
 "task_type": "Open-Ended", "data_type": "mscoco", "data_subtype": "val2014", "license": {},
 "questions": [{"image_id": 262148, "question": "Where is he looking?", "question_id": 262148000},
               {"image_id": 262148, "question": "How many people?", "question_id": 262148001}]})";

const char* kAnnotations = R"({"info": {}, "license": {}, "data_type": "mscoco", "data_subtype": "val2014",
 "annotations": [
  {"question_id": 262148001, "image_id": 262148, "question_type": "how many", "answer_type": "number",
   "multiple_choice_answer": "2", "answers": [
     {"answer": "2", "answer_confidence": "yes", "answer_id": 1}, {"answer": "2", "answer_confidence": "yes", "answer_id": 2},
     {"answer": "3", "answer_confidence": "maybe", "answer_id": 3}, {"answer": "2", "answer_confidence": "yes", "answer_id": 4},
     {"answer": "2", "answer_confidence": "yes", "answer_id": 5}, {"answer": "2", "answer_confidence": "yes", "answer_id": 6},
     {"answer": "2", "answer_confidence": "yes", "answer_id": 7}, {"answer": "2", "answer_confidence": "yes", "answer_id": 8},
     {"answer": "2", "answer_confidence": "yes", "answer_id": 9}, {"answer": "2", "answer_confidence": "yes", "answer_id": 10}]},
  {"question_id": 262148000, "image_id": 262148, "question_type": "none of the above", "answer_type": "other",
   "multiple_choice_answer": "down", "answers": [{"answer": "down", "answer_confidence": "yes", "answer_id": 1}]}]})";

TEST(DataVqa, ReadsAndJoinsOnQuestionId) {
  const std::string dir = test::scratch_dir("vqa-read");
  const std::string q = write_text(dir, "q.json", kQuestions);
  const std::string a = write_text(dir, "a.json", kAnnotations);
  VqaFileInfo info;
  const auto items = read_vqa(q, a, &info);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(info.data_subtype, "val2014");
  EXPECT_EQ(items[0].question_id, 262148000);
  EXPECT_EQ(items[0].multiple_choice_answer, "down");
  EXPECT_EQ(items[0].image_file, "COCO_val2014_000000262148.jpg");
  EXPECT_EQ(items[1].question, "How many people?");
  EXPECT_EQ(items[1].answer_type, "number");
  EXPECT_EQ(items[1].question_type, "how many");
  ASSERT_EQ(items[1].answers.size(), 10u);
  EXPECT_EQ(items[1].answers[2].answer, "3");
  EXPECT_EQ(items[1].answers[2].answer_confidence, "maybe");
  EXPECT_EQ(items[1].answers[9].answer_id, 10);

  const auto only_questions = read_vqa_questions(q);
  ASSERT_EQ(only_questions.size(), 2u);
  EXPECT_TRUE(only_questions[0].answers.empty());
}

TEST(DataVqa, MissingAnnotationNamesFileAndQuestion) {
  const std::string dir = test::scratch_dir("vqa-missing");
  const std::string q = write_text(dir, "q.json", kQuestions);
  std::string annotations = kAnnotations;
  annotations.replace(annotations.find("262148000"), 9, "262148999");
  const std::string a = write_text(dir, "a.json", annotations);
  try {
    read_vqa(q, a);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(a), std::string::npos) << msg;
    EXPECT_NE(msg.find("262148000"), std::string::npos) << msg;
  }
}

TEST(DataVqa, BadFieldsAreNamed) {
  const std::string dir = test::scratch_dir("vqa-bad");
  std::string questions = kQuestions;
  questions.replace(questions.find("\"question\": \"How"), 11, "\"questio\":");
  const std::string q = write_text(dir, "q.json", questions);
  try {
    read_vqa_questions(q);
    ADD_FAILURE();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("questions[1]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'question'"), std::string::npos) << msg;
  }
  const std::string dup = write_text(
      dir, "dup.json",
      R"({"questions": [{"image_id": 1, "question": "a", "question_id": 5}, {"image_id": 1, "question": "b", "question_id": 5}]})");
  EXPECT_THROW(read_vqa_questions(dup), Error);
  const std::string no_list = write_text(dir, "nolist.json", R"({"questions": 3})");
  EXPECT_THROW(read_vqa_questions(no_list), Error);
}

TEST(DataVqa, WriteReadRoundTrip) {
  const std::string dir = test::scratch_dir("vqa-rt");
  VqaFileInfo info;
  info.data_type = "shapes";
  info.data_subtype = "shapes";
  VqaItem item;
  item.question_id = 7000;
  item.image_id = 7;
  item.question = "what color is the circle?";
  item.question_type = "what color is the";
  item.answer_type = "other";
  item.multiple_choice_answer = "red";
  for (int k = 1; k <= 10; ++k) item.answers.push_back({"red", "yes", k});
  write_vqa_questions(dir + "/q.json", {item}, info);
  write_vqa_annotations(dir + "/a.json", {item}, info);
  VqaFileInfo read_info;
  const auto items = read_vqa(dir + "/q.json", dir + "/a.json", &read_info);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(read_info.data_type, "shapes");
  EXPECT_EQ(items[0].image_file, "COCO_shapes_000000000007.png");
  EXPECT_EQ(items[0].question, item.question);
  EXPECT_EQ(items[0].answers.size(), 10u);
  EXPECT_EQ(items[0].answers[4].answer_id, 5);

  VqaItem bare = item;
  bare.answers.clear();
  EXPECT_THROW(write_vqa_annotations(dir + "/b.json", {bare}, info), Error);
}

TEST(DataVqaEval, OfficialAccuracyRule) {
  // 3 matching answers of 10: leave-one-out gives (3 * 2/3 + 7 * 1) / 10 = 0.9.
  EXPECT_NEAR(vqa_accuracy("2", ten({{"2", 3}, {"3", 7}})), 0.9, 1e-12);
  EXPECT_NEAR(vqa_accuracy("2", ten({{"2", 4}, {"3", 6}})), 1.0, 1e-12);
  EXPECT_NEAR(vqa_accuracy("2", ten({{"2", 10}})), 1.0, 1e-12);
  // One match: (1 * 0 + 9 * 1/3) / 10 = 0.3; two: (2 * 1/3 + 8 * 2/3) / 10 = 0.6.
  EXPECT_NEAR(vqa_accuracy("2", ten({{"2", 1}, {"3", 9}})), 0.3, 1e-12);
  EXPECT_NEAR(vqa_accuracy("2", ten({{"2", 2}, {"3", 8}})), 0.6, 1e-12);
  EXPECT_DOUBLE_EQ(vqa_accuracy("4", ten({{"2", 10}})), 0.0);
  EXPECT_DOUBLE_EQ(vqa_accuracy("x", {}), 0.0);
}

TEST(DataVqaEval, NormalisesPredictions) {
  EXPECT_DOUBLE_EQ(vqa_accuracy("Two", ten({{"2", 10}})), 1.0);
  EXPECT_DOUBLE_EQ(vqa_accuracy(" Yes.\n", ten({{"yes", 10}})), 1.0);
  EXPECT_DOUBLE_EQ(vqa_accuracy("the Red", ten({{"red", 10}})), 1.0);
  EXPECT_DOUBLE_EQ(vqa_accuracy("dont", ten({{"don't", 10}})), 1.0);
  // The official code leaves identical ground truth untouched: "two" does not become "2".
  EXPECT_DOUBLE_EQ(vqa_accuracy("2", ten({{"two", 10}})), 0.0);
  EXPECT_DOUBLE_EQ(vqa_accuracy("2", ten({{"two", 10}}), true), 1.0);
  // Mixed ground truth (9 of 10 agree) takes the punctuation step; each leave-one-out keeps >= 8 votes.
  EXPECT_NEAR(vqa_accuracy("yes", ten({{"yes", 9}, {"no", 1}})), 1.0, 1e-12);
}

TEST(DataVqaEval, ProcessPunctuationAndDigitArticle) {
  EXPECT_EQ(vqa_process_punctuation("yes."), "yes");
  EXPECT_EQ(vqa_process_punctuation("3.5"), "3.5");
  EXPECT_EQ(vqa_process_punctuation("left-right"), "left right");
  EXPECT_EQ(vqa_process_punctuation("a - b"), "a  b");                 // '-' touches a space: deleted
  EXPECT_EQ(vqa_process_punctuation("1,000 (approx)"), "1000 approx");  // digit,comma,digit: all deleted
  EXPECT_EQ(vqa_process_punctuation("what?!"), "what  ");
  EXPECT_EQ(vqa_process_digit_article("The TWO  Dogs"), "2 dogs");
  EXPECT_EQ(vqa_process_digit_article("an apple a day"), "apple day");
  EXPECT_EQ(vqa_process_digit_article("none"), "0");
  EXPECT_EQ(vqa_process_digit_article("isnt it"), "isn't it");
  EXPECT_EQ(vqa_normalize_answer("\tTen.  "), "10");
}

}  // namespace
}  // namespace sightline
