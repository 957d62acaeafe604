// Stage 3 of METHOD.md (paper 4.3, Fig. 9): firing statistics of SAE features over
// groups of a dataset's items, and what is derived from them.
//   p_f(D)  = fires_f(D) / n(D): the fraction of counted positions of D with h_f > 0
//   dp_f    = p_f(D_skill) - p_f(D_base)
//   OR_f    = odds of firing in D_skill over odds of firing in D_base, with 0.5 added to
//             all four cells (Haldane-Anscombe), so a cell of zero gives a finite ratio
//   candidates: dp_f > min_delta_p and OR_f > min_odds_ratio
//   relation association (Table 1 "VSR OR"): per relation r, the odds ratio of firing on
//             the items of r versus the items of every other relation
// Counting runs on the SAE's device (FiringCounter); everything else is arithmetic on
// plain vectors.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sightline {

// Firing counts of one layer's features per group of items.
struct GroupFiring {
  std::vector<int64_t> tokens;              // [G] positions counted for group g
  std::vector<std::vector<int64_t>> fires;  // [G][F] of them with h_f > 0
  int64_t groups() const { return static_cast<int64_t>(tokens.size()); }
  int64_t features() const { return fires.empty() ? 0 : static_cast<int64_t>(fires[0].size()); }
};

// Accumulates GroupFiring from chunks of activations. Sums are float64 on the device of
// the first chunk (exact counts up to 2^53), one [rows, G]^T x [rows, F] product a chunk.
class FiringCounter {
 public:
  // Throws when groups or features is not positive.
  FiringCounter(int64_t groups, int64_t features);
  // codes [rows, F] activations h >= 0 (any float dtype); membership [rows, G] bool (or
  // 0/1): whether a row counts for group g. A row may count for several groups or none.
  // Throws on mismatched shapes.
  void add(const at::Tensor& codes, const at::Tensor& membership);
  GroupFiring result() const;

 private:
  int64_t groups_, features_;
  at::Tensor tokens_;  // [G] float64
  at::Tensor fires_;   // [G, F] float64
};

// fires / tokens; NaN when tokens is 0.
double firing_frequency(int64_t fires, int64_t tokens);

// ((a + 0.5) / (n_a - a + 0.5)) / ((b + 0.5) / (n_b - b + 0.5)) for a of n_a positions
// firing in one group and b of n_b in the other. NaN when either group has no position.
// Throws when a count is negative or exceeds its total.
double odds_ratio(int64_t fires_a, int64_t tokens_a, int64_t fires_b, int64_t tokens_b);

// Per-feature shift statistics of a skill split against the base split.
struct ShiftStats {
  std::vector<double> p_base, p_skill, delta_p, odds_ratio;  // [F]
};

// From groups `base` and `skill` of `firing` (D_skill is normally a subset of D_base, as
// in the paper; the formulas do not assume it). Throws for a group out of range.
ShiftStats shift_stats(const GroupFiring& firing, size_t base, size_t skill);

struct CandidateRule {
  double min_delta_p = 1e-3;    // dp_f must be strictly above
  double min_odds_ratio = 1.5;  // OR_f must be strictly above
};

// Features with dp_f > min_delta_p and OR_f > min_odds_ratio, ascending (NaN never passes).
std::vector<int64_t> select_candidates(const ShiftStats& stats, const CandidateRule& rule);

// Relation association over a firing count whose groups are relations, in order.
struct RelationAssociation {
  std::vector<std::string> relations;           // [R]
  std::vector<std::vector<int64_t>> fires;      // [R][F] copied from the counts
  std::vector<std::vector<double>> odds_ratio;  // [R][F] relation r vs all other relations
};

// Throws when the group count differs from the relation count or a relation repeats.
RelationAssociation relation_association(const GroupFiring& firing, const std::vector<std::string>& relations);

// One feature's relation -> OR over the relations it fired on at least once (the only
// relations the store keeps, so the report and the stage agree).
std::map<std::string, double> fired_relation_odds(const RelationAssociation& association, int64_t feature);

// The relations a feature fires on most: those of `relation_odds` with OR > 1, by OR
// descending (ties by name), at most `max_relations`.
std::vector<std::string> top_relations(const std::map<std::string, double>& relation_odds, size_t max_relations);

}  // namespace sightline
