// Byte-pair-encoding primitives shared by the Llama 3 tokenizer loaders: a byte-string
// table and tiktoken's merge loop (join the adjacent pair whose concatenation has the
// lowest rank, leftmost on ties, until no adjacent concatenation has a rank).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sightline::bpe {

// The value find() returns for an absent key.
inline constexpr uint32_t kAbsent = 0xFFFFFFFFu;

// Byte string -> 32-bit value (a token's rank or id). Keys are owned by the table and
// looked up by string_view without allocating. Not copyable or movable: the index
// points into the key storage.
class ByteTable {
 public:
  ByteTable() = default;
  ByteTable(const ByteTable&) = delete;
  ByteTable& operator=(const ByteTable&) = delete;

  // Adds key -> value; returns false (and changes nothing) when key is already present.
  bool insert(std::string key, uint32_t value);
  // The value of key, or kAbsent.
  uint32_t find(std::string_view key) const;
  size_t size() const { return index_.size(); }
  void reserve(size_t n) { index_.reserve(n); }

 private:
  std::deque<std::string> keys_;  // a deque never relocates its elements
  std::unordered_map<std::string_view, uint32_t> index_;
};

// Splits `piece` (non-empty) into its BPE parts under `ranks`; returns the part
// boundaries b[0] = 0 < b[1] < ... < b[n] = piece.size(). Picks merge_scan for short
// pieces and merge_heap for long ones (the two give identical results).
std::vector<size_t> merge(std::string_view piece, const ByteTable& ranks);

// The tiktoken reference loop: O(n^2) in the piece length, fastest for short pieces.
std::vector<size_t> merge_scan(std::string_view piece, const ByteTable& ranks);

// The same merge order with a priority queue over (rank, position): O(n log n), for long
// pieces such as a long run of letters or digits-free symbols.
std::vector<size_t> merge_heap(std::string_view piece, const ByteTable& ranks);

}  // namespace sightline::bpe
