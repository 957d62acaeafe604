// VSR (Visual Spatial Reasoning, Liu et al. 2023) annotations: one JSON object a line.
// FORMATS.md "VSR": the random split carries image, image_link, caption, label, relation,
// annotator_id, vote_true_validator_id, vote_false_validator_id, reference_frame; the
// zero-shot split adds subj and obj and has no reference_frame. Validator ids are strings
// such as "[2, 10, 1]" in the split files and real lists in the raw file; both are read.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sightline {

struct VsrItem {
  std::string image;       // image file name, e.g. "000000239417.jpg"
  std::string image_link;  // URL, "" for the shapes world
  std::string caption;     // "The bench is at the right side of the train."
  int label = 0;           // 1 = the caption is true of the image, 0 = false
  std::string relation;    // "at the right side of"
  std::string subj, obj;   // zero-shot split (and the shapes world); "" when absent
  int64_t annotator_id = 0;
  std::vector<int64_t> vote_true_validator_ids;
  std::vector<int64_t> vote_false_validator_ids;
  // The file's reference_frame: absent (zero-shot split), null, or a number.
  bool has_reference_frame = false;
  std::optional<double> reference_frame;
  int64_t line = 0;  // 1-based line in the file it was read from; 0 when built in memory
};

// Parses a validator-id field value given as JSON text: "[]", "[2, 10, 1]". Throws Error
// naming `where` (file and line) and `field` when it is not a list of integers.
std::vector<int64_t> parse_validator_ids(const std::string& text, const std::string& where,
                                         const std::string& field);

// Reads a VSR jsonl file (random, zero-shot or the raw all-validated file). Throws Error
// naming the file, the line and the field at fault; label must be 0 or 1.
std::vector<VsrItem> read_vsr_jsonl(const std::string& path);

// One item as a line in the real files' field order and Python json.dumps spacing
// (", " and ": "), no newline: subj/obj are written when both are non-empty,
// reference_frame when has_reference_frame (null or a number such as 1.0); validator ids
// are written as strings "[2, 10]" as in the split files.
std::string vsr_item_to_line(const VsrItem& item);

// Writes items one a line (atomically: a temporary file, then rename). Throws Error
// naming the file.
void write_vsr_jsonl(const std::string& path, const std::vector<VsrItem>& items);

// VSR's relation meta-categories (rel_meta_category_dict.txt): lines
// "Category: rel, rel, ...". A relation may be listed in several categories ("among" is
// in Topological and Unallocated); some relations in the data are in none ("congruent").
struct VsrRelationCategories {
  std::vector<std::string> categories;                             // in file order
  std::map<std::string, std::vector<std::string>> relations;       // category -> relations, file order
  std::map<std::string, std::vector<std::string>> categories_of;   // relation -> its categories

  // The first category listing `relation`, or "" when none does.
  std::string category_of(const std::string& relation) const;
};

// Reads rel_meta_category_dict.txt. Entries are trimmed; blank lines are skipped. Throws
// Error naming the file and line for a line without "Category:" or an empty category.
VsrRelationCategories read_vsr_relation_categories(const std::string& path);

}  // namespace sightline
