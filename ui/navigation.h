// Keyboard navigation through the current set of features (J / K, or the feature page's
// arrows): the set is the list the user last looked at - the feature list's rows (a box
// selection, search results or a category) or a bookmark list. Pure logic.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sightline::ui {

// The features J / K step through, as FeatureTable rows in the order shown.
struct NavSet {
  std::string name;            // "search: left", "bookmarks 'starred'", ... (shown on the page)
  std::vector<uint32_t> rows;
  uint64_t version = 0;        // bumped by set()
  void set(std::string set_name, std::vector<uint32_t> set_rows);
};

// The row `delta` places after `selected` in `rows` (delta < 0: before), stopping at the
// ends (no wrap-around). When `selected` is not in `rows`: the first row for delta > 0,
// the last for delta < 0. -1 when `rows` is empty; `selected` when delta is 0.
int64_t step_selection(const std::vector<uint32_t>& rows, int64_t selected, int delta);

// Where `selected` is in `rows`, 1-based, as "3 / 17"; "- / 17" when it is not in them;
// "" when `rows` is empty.
std::string position_label(const std::vector<uint32_t>& rows, int64_t selected);

}  // namespace sightline::ui
