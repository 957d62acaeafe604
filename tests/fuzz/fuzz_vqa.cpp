// libFuzzer target: the VQAv2 readers. The input is a questions file, optionally followed
// by kSeparator and an annotations file; the questions alone go to read_vqa_questions and
// the pair to read_vqa (the join on question_id). Accepted data is written back and
// read again, which must give the same items.
#include <cstring>

#include "core/common/error.h"
#include "core/data/vqa.h"
#include "tests/fuzz/fuzz_util.h"

using namespace sightline;

namespace {

constexpr char kSeparator[] = "\n@@annotations@@\n";

bool same_items(const std::vector<VqaItem>& a, const std::vector<VqaItem>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const VqaItem &x = a[i], &y = b[i];
    if (x.question_id != y.question_id || x.image_id != y.image_id || x.question != y.question ||
        x.image_file != y.image_file || x.question_type != y.question_type || x.answer_type != y.answer_type ||
        x.multiple_choice_answer != y.multiple_choice_answer || x.answers.size() != y.answers.size())
      return false;
    for (size_t k = 0; k < x.answers.size(); ++k)
      if (x.answers[k].answer != y.answers[k].answer ||
          x.answers[k].answer_confidence != y.answers[k].answer_confidence ||
          x.answers[k].answer_id != y.answers[k].answer_id)
        return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  const size_t cut = text.find(kSeparator);
  const std::string questions = fuzz::scratch_path("questions.json");
  const std::string annotations = fuzz::scratch_path("annotations.json");
  const std::string_view q = cut == std::string_view::npos ? text : text.substr(0, cut);
  fuzz::write_input(questions, reinterpret_cast<const uint8_t*>(q.data()), q.size());
  try {
    VqaFileInfo info;
    const std::vector<VqaItem> items = read_vqa_questions(questions, &info);
    const std::string copy = fuzz::scratch_path("questions-copy.json");
    write_vqa_questions(copy, items, info);
    if (!same_items(read_vqa_questions(copy), items)) fuzz::finding("questions round trip changed the items");
  } catch (const Error&) {
  }
  if (cut == std::string_view::npos) return 0;
  const std::string_view a = text.substr(cut + std::strlen(kSeparator));
  fuzz::write_input(annotations, reinterpret_cast<const uint8_t*>(a.data()), a.size());
  try {
    VqaFileInfo info;
    const std::vector<VqaItem> items = read_vqa(questions, annotations, &info);
    const std::string qcopy = fuzz::scratch_path("questions-copy.json");
    const std::string acopy = fuzz::scratch_path("annotations-copy.json");
    write_vqa_questions(qcopy, items, info);
    write_vqa_annotations(acopy, items, info);
    if (!same_items(read_vqa(qcopy, acopy), items)) fuzz::finding("questions + annotations round trip changed the items");
  } catch (const Error&) {
  }
  return 0;
}
