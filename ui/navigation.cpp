#include "ui/navigation.h"

#include <algorithm>
#include <utility>

namespace sightline::ui {

namespace {

// The position of `selected` in `rows`, or -1.
int64_t nav_position(const std::vector<uint32_t>& rows, int64_t selected) {
  if (selected < 0) return -1;
  const auto it = std::find(rows.begin(), rows.end(), static_cast<uint32_t>(selected));
  return it == rows.end() ? -1 : static_cast<int64_t>(it - rows.begin());
}

}  // namespace

void NavSet::set(std::string set_name, std::vector<uint32_t> set_rows) {
  name = std::move(set_name);
  rows = std::move(set_rows);
  ++version;
}

int64_t step_selection(const std::vector<uint32_t>& rows, int64_t selected, int delta) {
  if (rows.empty()) return -1;
  if (delta == 0) return selected;
  const int64_t at = nav_position(rows, selected);
  const int64_t last = static_cast<int64_t>(rows.size()) - 1;
  if (at < 0) return delta > 0 ? rows.front() : rows.back();
  return rows[static_cast<size_t>(std::clamp<int64_t>(at + delta, 0, last))];
}

std::string position_label(const std::vector<uint32_t>& rows, int64_t selected) {
  if (rows.empty()) return "";
  const int64_t at = nav_position(rows, selected);
  return (at < 0 ? std::string("-") : std::to_string(at + 1)) + " / " + std::to_string(rows.size());
}

}  // namespace sightline::ui
