// libFuzzer target: the VSR jsonl reader (read_vsr_jsonl), the validator-id field parser,
// the relation-category reader on the same bytes, and a write-read round trip of what the
// jsonl reader accepted.
#include "core/common/error.h"
#include "core/data/vsr.h"
#include "tests/fuzz/fuzz_util.h"

using namespace sightline;

namespace {

bool same_item(const VsrItem& a, const VsrItem& b) {
  return a.image == b.image && a.image_link == b.image_link && a.caption == b.caption && a.label == b.label &&
         a.relation == b.relation && a.annotator_id == b.annotator_id &&
         a.vote_true_validator_ids == b.vote_true_validator_ids &&
         a.vote_false_validator_ids == b.vote_false_validator_ids &&
         a.has_reference_frame == b.has_reference_frame && a.reference_frame == b.reference_frame;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::scratch_path("input.jsonl");
  fuzz::write_input(path, data, size);
  try {
    const std::vector<VsrItem> items = read_vsr_jsonl(path);
    const std::string copy = fuzz::scratch_path("copy.jsonl");
    write_vsr_jsonl(copy, items);
    const std::vector<VsrItem> again = read_vsr_jsonl(copy);
    if (again.size() != items.size()) fuzz::finding("round trip changed the item count");
    for (size_t i = 0; i < items.size(); ++i) {
      // subj/obj are written only as a pair; the rest must survive unchanged.
      if (!same_item(items[i], again[i])) fuzz::finding("round trip changed item " + std::to_string(i));
    }
  } catch (const Error&) {
  }
  try {
    parse_validator_ids(std::string(fuzz::as_text(data, size)), "fuzz input", "vote_true_validator_id");
  } catch (const Error&) {
  }
  try {
    const VsrRelationCategories categories = read_vsr_relation_categories(path);
    for (const auto& [relation, of] : categories.categories_of)
      if (of.empty() || categories.category_of(relation) != of.front())
        fuzz::finding("relation '" + relation + "' has inconsistent categories");
  } catch (const Error&) {
  }
  return 0;
}
