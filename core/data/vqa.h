// VQAv2 questions and annotations (FORMATS.md "VQAv2"):
//   questions file   {info, task_type, data_type, data_subtype, license,
//                     questions: [{image_id, question, question_id}]}
//   annotations file {info, license, data_type, data_subtype,
//                     annotations: [{question_id, image_id, question_type, answer_type,
//                                    multiple_choice_answer,
//                                    answers: [{answer, answer_confidence, answer_id} x 10]}]}
// The two are joined on question_id.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sightline {

struct VqaAnswer {
  std::string answer;
  std::string answer_confidence = "yes";  // "yes", "maybe" or "no"
  int64_t answer_id = 0;                  // 1..10
};

struct VqaItem {
  int64_t question_id = 0;
  int64_t image_id = 0;
  std::string question;
  std::string image_file;  // from vqa_image_file(data_type, data_subtype, image_id)
  // From the annotations file; empty when only a questions file was read.
  std::string question_type;  // "what color is the", "how many", "is the", ...
  std::string answer_type;    // "yes/no", "number" or "other"
  std::string multiple_choice_answer;
  std::vector<VqaAnswer> answers;
};

// Top-level descriptive fields of both files.
struct VqaFileInfo {
  std::string task_type = "Open-Ended";
  std::string data_type = "mscoco";     // the shapes world writes "shapes"
  std::string data_subtype = "val2014";  // "train2014", "val2014"; the world writes "shapes"
  std::string description = "";          // info.description
};

// The image file a question refers to: "COCO_{subtype}_{id:012d}.jpg" for data_type
// "mscoco" (COCO 2014 naming), "abstract_v002_{subtype}_{id:012d}.png" for the abstract
// scenes, and "COCO_{subtype}_{id:012d}.png" for any other data_type (the shapes world
// writes PNG files named COCO_shapes_{id:012d}.png).
std::string vqa_image_file(const std::string& data_type, const std::string& data_subtype, int64_t image_id);

// Reads a questions file alone (e.g. test-dev, which has no annotations): the items have
// no answers. `info`, when given, receives the file's top-level fields. Throws Error
// naming the file, the question index and the field at fault; duplicate question ids are
// an error.
std::vector<VqaItem> read_vqa_questions(const std::string& questions_path, VqaFileInfo* info = nullptr);

// Reads both files and joins them on question_id, in the questions file's order. Throws
// Error naming the annotations file and the question_id when a question has no
// annotation or the two files disagree on its image_id.
std::vector<VqaItem> read_vqa(const std::string& questions_path, const std::string& annotations_path,
                              VqaFileInfo* info = nullptr);

// Writes the questions file of `items` (compact JSON, atomically). Throws Error naming
// the file.
void write_vqa_questions(const std::string& path, const std::vector<VqaItem>& items, const VqaFileInfo& info);

// Writes the annotations file of `items`. Throws Error naming the file and the
// question_id of an item without answers.
void write_vqa_annotations(const std::string& path, const std::vector<VqaItem>& items, const VqaFileInfo& info);

}  // namespace sightline
