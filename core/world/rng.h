// The shapes world's own random numbers: splitmix64 to seed, xoshiro256** to draw, and
// integer-exact uniform helpers, so a seed gives the same scenes on every platform and
// standard library (std::uniform_*_distribution is implementation-defined).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <utility>
#include <vector>

namespace sightline {

// splitmix64 step (Steele, Lea, Flood 2014): advances `state` and returns a mixed value.
uint64_t splitmix64(uint64_t& state);

// A seed for a sub-stream: mixes `seed` with each of `parts` (split id, scene index, ...).
uint64_t derive_seed(uint64_t seed, std::initializer_list<uint64_t> parts);

class Rng {
 public:
  explicit Rng(uint64_t seed);

  // xoshiro256** (Blackman, Vigna 2018).
  uint64_t next_u64();
  // Uniform in [0, 1): the top 53 bits / 2^53.
  double uniform();
  // Uniform in [lo, hi).
  double uniform(double lo, double hi);
  // Uniform integer in [lo, hi] (inclusive), unbiased (Lemire's multiply-and-reject).
  int64_t uniform_int(int64_t lo, int64_t hi);
  // Uniform index in [0, n); n must be > 0.
  size_t index(size_t n);
  // True with probability p.
  bool bernoulli(double p);

  // Fisher-Yates shuffle with index().
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[index(i)]);
  }
  // A uniformly chosen element; v must not be empty.
  template <typename T>
  const T& pick(const std::vector<T>& v) {
    return v[index(v.size())];
  }

 private:
  uint64_t s_[4];
};

}  // namespace sightline
