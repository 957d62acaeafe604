// The feature list's search box: parsing what the user typed and ranking the features
// that match. Pure logic (no ImGui), so the tests cover it.
//
// What the box accepts (surrounding spaces ignored; keywords case-insensitive):
//   ""                     every feature
//   "12:345", "L12:345"    one feature: layer 12, feature 345 (the list jumps to it)
//   "L12"                  every feature of layer 12
//   "345"                  feature 345 of every layer
//   "rel:left of"          relation search: the features whose VSR odds ratio for that
//   "relation:left of"     relation is highest (the topk stage's "vsr_or:<relation>"
//   "left of"              extras); a bare relation name works when it is one exactly
//   "desc:left cube"       description search, forced (also when the words name a relation)
//   "left cube"            description search: every word must occur in the feature's
//                          autointerp description (case-insensitive), ranked
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ui/snapshot.h"

namespace sightline::ui {

enum class SearchKind {
  kAll,       // empty box
  kFeature,   // layer:index
  kLayer,     // L12
  kIndex,     // 345
  kWords,     // description words
  kRelation,  // a VSR relation
  kInvalid,   // error says why
};

struct SearchQuery {
  SearchKind kind = SearchKind::kAll;
  int layer = -1;
  int feature = -1;
  std::vector<std::string> words;  // kWords: lower-case, each once, in typed order
  std::string relation;            // kRelation: the relation as the data names it
  std::string error;               // kInvalid: what is wrong, for the user
};

// Parses the box. `relations` are the relation names the data has (relation_names()):
// "rel:X" must name one of them (case-insensitive; a unique prefix is enough), and a
// bare text equal to one of them is a relation search. Words are split at characters
// that are not letters, digits, '-' or '\''.
SearchQuery parse_search(const std::string& text, const std::vector<std::string>& relations);

// The distinct relation names of every FeatureDetail's relations, sorted.
std::vector<std::string> relation_names(const RunResults& results);

// How well a description matches the words: 0 when a word does not occur in it; else the
// sum over words of 3 (a whole word of the description), 2 (the start of one: "left"
// in "leftmost") or 1 (inside one), plus 1 when the words occur in typed order as
// consecutive description words (a phrase). Case-insensitive.
double description_score(const std::string& description, const std::vector<std::string>& words);

// (layer, feature) -> row of a FeatureTable, by binary search over a sorted copy of the
// keys (the table itself need not be sorted). Built once per table.
class RowIndex {
 public:
  RowIndex() = default;
  explicit RowIndex(const FeatureTable& table);
  // The row, or -1.
  int64_t find(int layer, int feature) const;
  size_t size() const { return keys_.size(); }

 private:
  std::vector<std::pair<uint64_t, uint32_t>> keys_;  // ((layer << 32) | feature, row), sorted
};

struct SearchHit {
  uint32_t row = 0;    // FeatureTable row
  double score = 0;    // kWords: description_score; kRelation: the odds ratio; else 0
};

// The features matching `query`, best first:
//   kAll / kLayer / kIndex  table order
//   kFeature                the one row, or nothing
//   kWords                  described features with score > 0, by score, then higher
//                           autointerp F1, then (layer, feature)
//   kRelation               features with a finite odds ratio for the relation, by it
//                           (descending), then (layer, feature)
//   kInvalid                nothing
// `results` may be nullptr (no stage 3-5 data): kWords and kRelation then find nothing.
// Features the results name but the table lacks are left out.
std::vector<SearchHit> run_search(const SearchQuery& query, const FeatureTable& table, const RowIndex& index,
                                  const RunResults* results);

// A one-line summary of the query for the list header ("description: left, cube",
// "relation 'left of'", "feature L12 #345", ...).
std::string describe_query(const SearchQuery& query);

}  // namespace sightline::ui
