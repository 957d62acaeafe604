#include "core/tokenizer/bpe.h"

#include <limits>
#include <queue>
#include <utility>

namespace sightline::bpe {

bool ByteTable::insert(std::string key, uint32_t value) {
  if (index_.count(std::string_view(key))) return false;
  keys_.push_back(std::move(key));
  index_.emplace(std::string_view(keys_.back()), value);
  return true;
}

uint32_t ByteTable::find(std::string_view key) const {
  const auto it = index_.find(key);
  return it == index_.end() ? kAbsent : it->second;
}

namespace {
// Below this many bytes the quadratic scan beats the heap's bookkeeping (tiktoken makes
// the same switch, at 500).
constexpr size_t kHeapThreshold = 256;
}  // namespace

std::vector<size_t> merge(std::string_view piece, const ByteTable& ranks) {
  return piece.size() < kHeapThreshold ? merge_scan(piece, ranks) : merge_heap(piece, ranks);
}

std::vector<size_t> merge_scan(std::string_view piece, const ByteTable& ranks) {
  const size_t n = piece.size();
  if (n < 2) return {0, n};
  struct Part {
    size_t start;
    uint32_t rank;  // rank of this part joined with the next one
  };
  std::vector<Part> parts;
  parts.reserve(n + 1);
  for (size_t i = 0; i + 1 < n; ++i) parts.push_back({i, ranks.find(piece.substr(i, 2))});
  parts.push_back({n - 1, kAbsent});
  parts.push_back({n, kAbsent});

  // The rank of parts[i] joined with parts[i + 1] after parts[i + 1] absorbed parts[i + 2]
  // (called before the erase, as in tiktoken's _byte_pair_merge).
  const auto rank_after = [&](size_t i) -> uint32_t {
    if (i + 3 >= parts.size()) return kAbsent;
    return ranks.find(piece.substr(parts[i].start, parts[i + 3].start - parts[i].start));
  };
  for (;;) {
    uint32_t best = kAbsent;
    size_t at = 0;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      if (parts[i].rank < best) {
        best = parts[i].rank;
        at = i;
      }
    }
    if (best == kAbsent) break;
    if (at > 0) parts[at - 1].rank = rank_after(at - 1);
    parts[at].rank = rank_after(at);
    parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(at) + 1);
  }
  std::vector<size_t> bounds;
  bounds.reserve(parts.size());
  for (const Part& p : parts) bounds.push_back(p.start);
  return bounds;
}

std::vector<size_t> merge_heap(std::string_view piece, const ByteTable& ranks) {
  const size_t n = piece.size();
  if (n < 2) return {0, n};
  constexpr size_t kNone = std::numeric_limits<size_t>::max();
  // Node i is a part starting at byte i while alive; next[i] is the start of the part after
  // it (n at the end), prev[i] the start of the one before (kNone at the front).
  std::vector<size_t> next(n), prev(n);
  std::vector<uint32_t> version(n, 0);
  std::vector<char> alive(n, 1);
  for (size_t i = 0; i < n; ++i) {
    next[i] = i + 1;
    prev[i] = i == 0 ? kNone : i - 1;
  }
  const auto pair_rank = [&](size_t i) -> uint32_t {
    const size_t j = next[i];
    if (j >= n) return kAbsent;
    return ranks.find(piece.substr(i, next[j] - i));
  };
  struct Entry {
    uint32_t rank;
    size_t pos;
    uint32_t version;
  };
  // Min-heap on (rank, pos): lowest rank first, leftmost among equal ranks, as the scan.
  const auto later = [](const Entry& a, const Entry& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  std::priority_queue<Entry, std::vector<Entry>, decltype(later)> heap(later);
  for (size_t i = 0; i + 1 < n; ++i) {
    const uint32_t r = pair_rank(i);
    if (r != kAbsent) heap.push({r, i, 0});
  }
  while (!heap.empty()) {
    const Entry e = heap.top();
    heap.pop();
    // An entry is stale once either of its two parts changed since it was pushed.
    if (!alive[e.pos] || version[e.pos] != e.version) continue;
    const size_t i = e.pos;
    const size_t j = next[i];
    alive[j] = 0;
    next[i] = next[j];
    if (next[j] < n) prev[next[j]] = i;
    ++version[i];
    if (const uint32_t r = pair_rank(i); r != kAbsent) heap.push({r, i, version[i]});
    if (prev[i] != kNone) {
      const size_t p = prev[i];
      ++version[p];
      if (const uint32_t r = pair_rank(p); r != kAbsent) heap.push({r, p, version[p]});
    }
  }
  std::vector<size_t> bounds;
  for (size_t i = 0; i < n; i = next[i]) bounds.push_back(i);
  bounds.push_back(n);
  return bounds;
}

}  // namespace sightline::bpe
