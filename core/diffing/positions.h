// Which token positions a statistic or a training loss uses (METHOD.md Stage 1 regimes,
// Stage 2 "positions = text | image | all"). BOS and padding are never included: BOS
// activations are huge outliers (FORMATS.md, LLaMA-Scope) and padding is not data.
#pragma once

#include <ATen/core/Tensor.h>

#include <set>
#include <string>
#include <vector>

namespace sightline {

enum class Positions { kText, kImage, kAll };

// "text", "image", "all".
std::string to_string(Positions positions);
// Parses the names above; throws "file '<where>': field '<field>' ..." for anything else.
Positions parse_positions(const std::string& name, const std::string& where, const std::string& field);

// token_types (any shape, int8 TokenType) -> bool mask of the same shape: kTokenText for
// kText, kTokenImage for kImage, either for kAll.
at::Tensor position_mask(const at::Tensor& token_types, Positions positions);

// SAE adaptation regimes (paper 4.1): which positions train the SAE and how it starts.
//   full    all positions, warm start from the base SAE
//   image   image positions only, warm start
//   text    text positions only, warm start
//   random  all positions, random initialisation (the control)
enum class Regime { kFull, kImage, kText, kRandom };

// "full", "image", "text", "random".
std::string to_string(Regime regime);
// Parses the names above; throws "file '<where>': field '<field>' ..." for anything else.
Regime parse_regime(const std::string& name, const std::string& where, const std::string& field);
// The four regimes in the paper's order.
const std::vector<Regime>& all_regimes();
// Regime names in the paper's order (full, image, text, random), then any others sorted.
std::vector<std::string> ordered_regimes(const std::set<std::string>& present);
// The positions a regime trains and is evaluated on.
Positions regime_positions(Regime regime);
// Whether the regime starts from the base SAE (all but random).
bool regime_warm_start(Regime regime);

}  // namespace sightline
