#include "core/world/rng.h"

namespace sightline {

namespace {

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t derive_seed(uint64_t seed, std::initializer_list<uint64_t> parts) {
  uint64_t state = seed;
  uint64_t h = splitmix64(state);
  for (const uint64_t p : parts) {
    state = h ^ (p * 0xD1B54A32D192ED03ULL);
    h = splitmix64(state);
  }
  return h;
}

Rng::Rng(uint64_t seed) {
  uint64_t state = seed;
  for (uint64_t& s : s_) s = splitmix64(state);
}

uint64_t Rng::next_u64() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

double Rng::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

size_t Rng::index(size_t n) {
  // Lemire (2019), "Fast random integer generation in an interval": reject the low
  // products that would over-represent some values.
  const uint64_t range = static_cast<uint64_t>(n);
  uint64_t x = next_u64();
  unsigned __int128 m = static_cast<unsigned __int128>(x) * range;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < range) {
    const uint64_t threshold = (0 - range) % range;
    while (low < threshold) {
      x = next_u64();
      m = static_cast<unsigned __int128>(x) * range;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<size_t>(m >> 64);
}

int64_t Rng::uniform_int(int64_t lo, int64_t hi) {
  if (hi <= lo) return lo;
  return lo + static_cast<int64_t>(index(static_cast<size_t>(hi - lo) + 1));
}

bool Rng::bernoulli(double p) { return uniform() < p; }

}  // namespace sightline
