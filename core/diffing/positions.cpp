#include "core/diffing/positions.h"

#include <algorithm>

#include <torch/types.h>

#include "core/common/error.h"
#include "core/model/hooks.h"

namespace sightline {

std::string to_string(Positions positions) {
  switch (positions) {
    case Positions::kText: return "text";
    case Positions::kImage: return "image";
    case Positions::kAll: return "all";
  }
  return "?";
}

Positions parse_positions(const std::string& name, const std::string& where, const std::string& field) {
  if (name == "text") return Positions::kText;
  if (name == "image") return Positions::kImage;
  if (name == "all") return Positions::kAll;
  fail("file '{}': field '{}' must be one of text, image, all; got '{}'", where, field, name);
}

at::Tensor position_mask(const at::Tensor& token_types, Positions positions) {
  switch (positions) {
    case Positions::kText: return token_types.eq(static_cast<int8_t>(kTokenText));
    case Positions::kImage: return token_types.eq(static_cast<int8_t>(kTokenImage));
    case Positions::kAll:
      return token_types.eq(static_cast<int8_t>(kTokenText)) | token_types.eq(static_cast<int8_t>(kTokenImage));
  }
  fail("position_mask: unknown position set {}", static_cast<int>(positions));
}

std::string to_string(Regime regime) {
  switch (regime) {
    case Regime::kFull: return "full";
    case Regime::kImage: return "image";
    case Regime::kText: return "text";
    case Regime::kRandom: return "random";
  }
  return "?";
}

Regime parse_regime(const std::string& name, const std::string& where, const std::string& field) {
  for (Regime r : all_regimes())
    if (to_string(r) == name) return r;
  fail("file '{}': field '{}' must be one of full, image, text, random; got '{}'", where, field, name);
}

const std::vector<Regime>& all_regimes() {
  static const std::vector<Regime> regimes{Regime::kFull, Regime::kImage, Regime::kText, Regime::kRandom};
  return regimes;
}

Positions regime_positions(Regime regime) {
  switch (regime) {
    case Regime::kImage: return Positions::kImage;
    case Regime::kText: return Positions::kText;
    case Regime::kFull:
    case Regime::kRandom: return Positions::kAll;
  }
  return Positions::kAll;
}

bool regime_warm_start(Regime regime) { return regime != Regime::kRandom; }

std::vector<std::string> ordered_regimes(const std::set<std::string>& present) {
  std::vector<std::string> out;
  for (Regime r : all_regimes())
    if (present.count(to_string(r))) out.push_back(to_string(r));
  for (const auto& r : present)
    if (std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
  return out;
}

}  // namespace sightline
