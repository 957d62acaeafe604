#include "core/skills/firing.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "core/common/error.h"

namespace sightline {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// "[a, b]" for messages (fmt cannot format an IntArrayRef itself).
std::string dims(const at::Tensor& t) {
  std::vector<int64_t> sizes(t.sizes().begin(), t.sizes().end());
  return fmt::format("[{}]", fmt::join(sizes, ", "));
}
}  // namespace

FiringCounter::FiringCounter(int64_t groups, int64_t features) : groups_(groups), features_(features) {
  check(groups > 0, "firing counter: groups must be positive, got {}", groups);
  check(features > 0, "firing counter: features must be positive, got {}", features);
}

void FiringCounter::add(const at::Tensor& codes, const at::Tensor& membership) {
  check(codes.dim() == 2 && codes.size(1) == features_, "firing counter: codes must be [rows, {}], got {}", features_,
        dims(codes));
  check(membership.dim() == 2 && membership.size(0) == codes.size(0) && membership.size(1) == groups_,
        "firing counter: membership must be [{}, {}], got {}", codes.size(0), groups_, dims(membership));
  if (!tokens_.defined()) {
    const auto f64 = at::TensorOptions().dtype(at::kDouble).device(codes.device());
    tokens_ = at::zeros({groups_}, f64);
    fires_ = at::zeros({groups_, features_}, f64);
  }
  if (codes.size(0) == 0) return;
  const auto m = membership.to(fires_.device(), at::kDouble);           // [rows, G]
  const auto active = codes.to(fires_.device()).gt(0).to(at::kDouble);  // [rows, F]
  tokens_ += m.sum(0);
  fires_ += m.t().matmul(active);
}

GroupFiring FiringCounter::result() const {
  GroupFiring out;
  out.tokens.assign(static_cast<size_t>(groups_), 0);
  out.fires.assign(static_cast<size_t>(groups_), std::vector<int64_t>(static_cast<size_t>(features_), 0));
  if (!tokens_.defined()) return out;
  const auto t = tokens_.cpu().round().to(at::kLong).contiguous();
  const auto f = fires_.cpu().round().to(at::kLong).contiguous();
  for (int64_t g = 0; g < groups_; ++g) {
    out.tokens[static_cast<size_t>(g)] = t.data_ptr<int64_t>()[g];
    const int64_t* row = f.data_ptr<int64_t>() + g * features_;
    out.fires[static_cast<size_t>(g)].assign(row, row + features_);
  }
  return out;
}

double firing_frequency(int64_t fires, int64_t tokens) {
  return tokens > 0 ? static_cast<double>(fires) / static_cast<double>(tokens) : kNaN;
}

double odds_ratio(int64_t fires_a, int64_t tokens_a, int64_t fires_b, int64_t tokens_b) {
  check(fires_a >= 0 && fires_a <= tokens_a, "odds ratio: {} fires of {} positions", fires_a, tokens_a);
  check(fires_b >= 0 && fires_b <= tokens_b, "odds ratio: {} fires of {} positions", fires_b, tokens_b);
  if (tokens_a == 0 || tokens_b == 0) return kNaN;
  const double a = static_cast<double>(fires_a) + 0.5, c = static_cast<double>(tokens_a - fires_a) + 0.5;
  const double b = static_cast<double>(fires_b) + 0.5, d = static_cast<double>(tokens_b - fires_b) + 0.5;
  return (a / c) / (b / d);
}

ShiftStats shift_stats(const GroupFiring& firing, size_t base, size_t skill) {
  const size_t groups = firing.tokens.size();
  check(base < groups && skill < groups, "shift statistics: groups {} and {} of {}", base, skill, groups);
  const auto& fb = firing.fires[base];
  const auto& fs = firing.fires[skill];
  check(fb.size() == fs.size(), "shift statistics: groups hold {} and {} features", fb.size(), fs.size());
  const int64_t nb = firing.tokens[base], ns = firing.tokens[skill];
  ShiftStats s;
  const size_t F = fb.size();
  s.p_base.resize(F);
  s.p_skill.resize(F);
  s.delta_p.resize(F);
  s.odds_ratio.resize(F);
  for (size_t f = 0; f < F; ++f) {
    s.p_base[f] = firing_frequency(fb[f], nb);
    s.p_skill[f] = firing_frequency(fs[f], ns);
    s.delta_p[f] = s.p_skill[f] - s.p_base[f];
    s.odds_ratio[f] = odds_ratio(fs[f], ns, fb[f], nb);
  }
  return s;
}

std::vector<int64_t> select_candidates(const ShiftStats& stats, const CandidateRule& rule) {
  check(stats.delta_p.size() == stats.odds_ratio.size(), "candidates: {} delta_p values but {} odds ratios",
        stats.delta_p.size(), stats.odds_ratio.size());
  std::vector<int64_t> out;
  for (size_t f = 0; f < stats.delta_p.size(); ++f)
    if (stats.delta_p[f] > rule.min_delta_p && stats.odds_ratio[f] > rule.min_odds_ratio)
      out.push_back(static_cast<int64_t>(f));
  return out;
}

RelationAssociation relation_association(const GroupFiring& firing, const std::vector<std::string>& relations) {
  check(firing.tokens.size() == relations.size(), "relation association: {} groups of counts for {} relations",
        firing.tokens.size(), relations.size());
  check(std::set<std::string>(relations.begin(), relations.end()).size() == relations.size(),
        "relation association: a relation is listed twice");
  RelationAssociation a;
  a.relations = relations;
  a.fires = firing.fires;
  const size_t R = relations.size();
  const size_t F = static_cast<size_t>(firing.features());
  int64_t all_tokens = 0;
  std::vector<int64_t> all_fires(F, 0);
  for (size_t r = 0; r < R; ++r) {
    all_tokens += firing.tokens[r];
    for (size_t f = 0; f < F; ++f) all_fires[f] += firing.fires[r][f];
  }
  a.odds_ratio.assign(R, std::vector<double>(F, kNaN));
  for (size_t r = 0; r < R; ++r) {
    const int64_t n = firing.tokens[r];
    for (size_t f = 0; f < F; ++f) {
      const int64_t x = firing.fires[r][f];
      a.odds_ratio[r][f] = odds_ratio(x, n, all_fires[f] - x, all_tokens - n);
    }
  }
  return a;
}

std::map<std::string, double> fired_relation_odds(const RelationAssociation& association, int64_t feature) {
  std::map<std::string, double> out;
  for (size_t r = 0; r < association.relations.size(); ++r) {
    check(feature >= 0 && feature < static_cast<int64_t>(association.fires[r].size()),
          "relation association: feature {} out of range", feature);
    const auto f = static_cast<size_t>(feature);
    if (association.fires[r][f] > 0) out[association.relations[r]] = association.odds_ratio[r][f];
  }
  return out;
}

std::vector<std::string> top_relations(const std::map<std::string, double>& relation_odds, size_t max_relations) {
  std::vector<std::pair<std::string, double>> kept;
  for (const auto& [relation, value] : relation_odds)
    if (value > 1.0) kept.emplace_back(relation, value);  // NaN compares false: dropped
  std::stable_sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<std::string> out;
  for (size_t i = 0; i < kept.size() && i < max_relations; ++i) out.push_back(kept[i].first);
  return out;
}

}  // namespace sightline
