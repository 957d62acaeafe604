#include "ui/find_data.h"

#include <algorithm>
#include <set>

namespace sightline::ui {

int64_t ShiftTable::find(int layer_index, int feature_index) const {
  size_t lo = 0, hi = layer.size();
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    const bool before = layer[mid] != layer_index ? layer[mid] < layer_index : feature[mid] < feature_index;
    if (before)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < layer.size() && layer[lo] == layer_index && feature[lo] == feature_index) return static_cast<int64_t>(lo);
  return -1;
}

std::vector<std::string> BookmarkLists::names() const {
  std::set<std::string> unique;
  for (const Bookmark& b : all) unique.insert(b.name);
  return {unique.begin(), unique.end()};
}

std::vector<Bookmark> BookmarkLists::list(const std::string& name) const {
  std::vector<Bookmark> out;
  for (const Bookmark& b : all)
    if (b.name == name) out.push_back(b);
  return out;
}

const Bookmark* BookmarkLists::find(const std::string& name, int layer, int feature) const {
  for (const Bookmark& b : all)
    if (b.name == name && b.layer == layer && b.feature == feature) return &b;
  return nullptr;
}

}  // namespace sightline::ui
