#include "core/autointerp/autointerp.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "core/common/error.h"

namespace sightline {

namespace {

// Prompt texts: appendix A.8 of the paper, with the input format spelled out (the
// paper gives no format for the marked text; the model must be told how to read it).
constexpr const char* kSystemA =
    "You are analyzing individual neurons using their top-activating samples ({}).";
constexpr const char* kTaskA =
    "Task: Produce one short, lower-case sentence completing: \"this neuron activates for ...\".\n"
    "Guidelines: Base it on consistent patterns supported by {}; be specific; no hedging.\n";
constexpr const char* kFormatA =
    "Each sample is a question or statement. Tokens where the neuron fires are marked <<like this>>; the line "
    "after each text lists them with their activation scaled 0-10 (10 = the strongest activation across these "
    "samples).\n";
constexpr const char* kReturnA = "Return: { \"description\": \"one concise sentence\" }";
constexpr const char* kSystemB = "You are validating a neuron description against short examples ({}).";
constexpr const char* kTaskB = "Task: For each sample, output 1 if it reasonably matches the description; else 0.\n";
constexpr const char* kReturnB = "Return: {{ \"classifications\": [0/1, ...] }} with exactly {} entries, in sample order.";

std::string excerpt(const std::string& text, size_t n = 160) {
  std::string out = text.substr(0, n);
  for (char& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  if (text.size() > n) out += "...";
  return out;
}

// splitmix64: a fixed, platform-independent stream (std::shuffle's is not).
uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Fisher-Yates permutation of [0, n) from stream `seed`.
std::vector<size_t> permutation(size_t n, uint64_t seed) {
  std::vector<size_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = i;
  uint64_t state = seed;
  for (size_t i = n; i > 1; --i) {
    const size_t j = static_cast<size_t>(splitmix64(state) % i);
    std::swap(p[i - 1], p[j]);
  }
  return p;
}

// Up to `count` samples of `pool` in seeded order whose ids are not in `used` (ids taken
// are added to it).
std::vector<InterpExample> draw(const std::vector<InterpExample>& pool, int64_t count, uint64_t seed,
                                std::set<std::string>& used) {
  std::vector<InterpExample> out;
  for (size_t i : permutation(pool.size(), seed)) {
    if (static_cast<int64_t>(out.size()) >= count) break;
    if (!used.insert(pool[i].sample_id).second) continue;
    out.push_back(pool[i]);
  }
  return out;
}

// Splits a leading run of whitespace from a piece: " left" -> {" ", "left"}.
std::pair<std::string, std::string> split_space(const std::string& piece) {
  size_t k = 0;
  while (k < piece.size() && std::isspace(static_cast<unsigned char>(piece[k]))) ++k;
  return {piece.substr(0, k), piece.substr(k)};
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// The JSON object in a reply: from the first '{' to the last '}'.
nlohmann::json reply_object(const std::string& reply, const char* prompt) {
  const size_t open = reply.find('{');
  const size_t close = reply.rfind('}');
  if (open == std::string::npos || close == std::string::npos || close < open)
    fail("reply to prompt {} holds no JSON object: '{}'", prompt, excerpt(reply));
  const auto j = nlohmann::json::parse(reply.substr(open, close - open + 1), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    fail("reply to prompt {} is not valid JSON: '{}'", prompt, excerpt(reply));
  return j;
}

std::string sample_header(size_t k, const InterpExample& e) {
  return e.dataset.empty() ? fmt::format("Sample {}:\n", k + 1) : fmt::format("Sample {} ({}):\n", k + 1, e.dataset);
}

}  // namespace

std::string to_string(InterpVariant variant) { return variant == InterpVariant::kRaw ? "raw" : "overlay"; }

InterpVariant parse_interp_variant(const std::string& text, const std::string& where, const std::string& field) {
  if (text == "raw") return InterpVariant::kRaw;
  if (text == "overlay") return InterpVariant::kOverlay;
  fail("file '{}': field '{}' must be \"raw\" or \"overlay\", got \"{}\"", where, field, text);
}

std::string InterpExample::text() const {
  std::string out;
  for (const auto& t : tokens) out += t;
  return out;
}

std::string mark_activations(const InterpExample& example, float max_activation) {
  check(example.tokens.size() == example.activations.size(),
        "sample '{}': {} tokens but {} activations", example.sample_id, example.tokens.size(),
        example.activations.size());
  std::string text, listed;
  for (size_t i = 0; i < example.tokens.size(); ++i) {
    const float a = example.activations[i];
    const long scaled = max_activation > 0 && std::isfinite(a) ? std::lround(10.0 * a / max_activation) : 0;
    const auto [space, word] = split_space(example.tokens[i]);
    if (scaled >= 1 && !word.empty()) {
      text += space + "<<" + word + ">>";
      listed += (listed.empty() ? "" : ", ") + word + " " + std::to_string(std::min(scaled, 10L));
    } else {
      text += example.tokens[i];
    }
  }
  return trim(text) + "\nactivations: " + (listed.empty() ? "none" : listed);
}

std::vector<ChatMessage> description_messages(const std::vector<InterpExample>& examples, InterpVariant variant) {
  const bool overlay = variant == InterpVariant::kOverlay;
  float max_act = 0;
  for (const auto& e : examples)
    for (float a : e.activations)
      if (std::isfinite(a)) max_act = std::max(max_act, a);
  ChatMessage user;
  user.role = "user";
  std::string head = fmt::format(kTaskA, overlay ? "the heat maps and the text" : "the text");
  head += kFormatA;
  if (overlay) head += "Each sample's image (a heat map over the picture the question is about) follows its text.\n";
  user.parts.push_back(ChatPart::of_text(head + "\n"));
  for (size_t k = 0; k < examples.size(); ++k) {
    user.parts.push_back(ChatPart::of_text(sample_header(k, examples[k]) + mark_activations(examples[k], max_act) + "\n\n"));
    if (overlay && !examples[k].image_png.empty()) user.parts.push_back(ChatPart::of_png(examples[k].image_png));
  }
  user.parts.push_back(ChatPart::of_text(kReturnA));
  return {ChatMessage::of_text("system", fmt::format(kSystemA, overlay ? "text with per-token activations, plus "
                                                                         "attention heat maps"
                                                                       : "text with per-token activations")),
          std::move(user)};
}

std::vector<ChatMessage> validation_messages(const std::string& description, const std::vector<InterpExample>& samples,
                                             InterpVariant variant) {
  bool images = variant == InterpVariant::kOverlay && !samples.empty();
  for (const auto& s : samples) images = images && !s.image_png.empty();
  ChatMessage user;
  user.role = "user";
  user.parts.push_back(ChatPart::of_text(fmt::format("Description: \"{}\"\n", description) + kTaskB +
                                         (images ? "Each sample's image (a heat map) follows its text.\n" : "") +
                                         "\n"));
  for (size_t k = 0; k < samples.size(); ++k) {
    user.parts.push_back(ChatPart::of_text(sample_header(k, samples[k]) + trim(samples[k].text()) + "\n\n"));
    if (images) user.parts.push_back(ChatPart::of_png(samples[k].image_png));
  }
  user.parts.push_back(ChatPart::of_text(fmt::format(kReturnB, samples.size())));
  return {ChatMessage::of_text("system", fmt::format(kSystemB, images ? "text plus heat maps" : "text")),
          std::move(user)};
}

std::string parse_description_reply(const std::string& reply) {
  const auto j = reply_object(reply, "A");
  if (!j.contains("description")) fail("reply to prompt A has no field 'description': '{}'", excerpt(reply));
  if (!j["description"].is_string()) fail("reply to prompt A: field 'description' is not a string");
  const std::string d = trim(j["description"].get<std::string>());
  check(!d.empty(), "reply to prompt A: field 'description' is empty");
  return d;
}

std::vector<int> parse_classification_reply(const std::string& reply, size_t n) {
  const auto j = reply_object(reply, "B");
  if (!j.contains("classifications"))
    fail("reply to prompt B has no field 'classifications': '{}'", excerpt(reply));
  const auto& c = j["classifications"];
  if (!c.is_array()) fail("reply to prompt B: field 'classifications' is not an array");
  if (c.size() != n) fail("reply to prompt B: field 'classifications' has {} entries for {} samples", c.size(), n);
  std::vector<int> out;
  for (size_t i = 0; i < c.size(); ++i) {
    const auto& v = c[i];
    if (v.is_boolean()) {
      out.push_back(v.get<bool>() ? 1 : 0);
    } else if (v.is_number() && (v.get<double>() == 0.0 || v.get<double>() == 1.0)) {
      out.push_back(v.get<double>() == 1.0 ? 1 : 0);
    } else {
      fail("reply to prompt B: field 'classifications' entry {} is {}, not 0 or 1", i, v.dump());
    }
  }
  return out;
}

InterpSelection select_interp_examples(const FeatureExamples& examples, const InterpOptions& options) {
  InterpSelection s;
  std::set<std::string> used;
  for (const auto& e : examples.top) {
    if (static_cast<int64_t>(s.description.size()) >= options.n_examples) break;
    if (used.insert(e.sample_id).second) s.description.push_back(e);
  }
  // Three independent streams of the seed: positives, negatives, order.
  const auto pos = draw(examples.heldout_positives, options.n_holdout, options.seed * 3 + 0, used);
  const auto neg = draw(examples.random_negatives, options.n_holdout, options.seed * 3 + 1, used);
  std::vector<std::pair<const InterpExample*, bool>> all;
  for (const auto& e : pos) all.emplace_back(&e, true);
  for (const auto& e : neg) all.emplace_back(&e, false);
  for (size_t i : permutation(all.size(), options.seed * 3 + 2)) {
    s.validation.push_back(*all[i].first);
    s.positive.push_back(all[i].second);
  }
  return s;
}

InterpResult interpret_feature(const ChatClient& client, const FeatureExamples& examples,
                               const InterpOptions& options, const std::function<bool()>& cancelled) {
  InterpResult r;
  const InterpSelection sel = select_interp_examples(examples, options);
  r.examples = sel.description;
  for (size_t i = 0; i < sel.validation.size(); ++i)
    r.validation.push_back({sel.validation[i].sample_id, static_cast<bool>(sel.positive[i]), -1});
  if (sel.description.empty()) {
    r.error = "no top-activating samples to describe";
    return r;
  }
  // Prompt A. Cancelled passes through; every other failure becomes the feature's error.
  try {
    r.description = parse_description_reply(client.complete(description_messages(sel.description, options.variant), cancelled));
  } catch (const Cancelled&) {
    throw;
  } catch (const std::exception& e) {
    r.error = std::string("prompt A: ") + e.what();
    return r;
  }
  const int64_t positives = std::count(sel.positive.begin(), sel.positive.end(), true);
  if (positives == 0) {
    r.error = fmt::format("prompt B: no held-out positives (the feature has {} distinct top samples, {} used by prompt A)",
                          sel.description.size() + examples.heldout_positives.size(), sel.description.size());
    return r;
  }
  // Prompt B in rounds of contiguous slices of the shuffled validation set.
  const size_t m = sel.validation.size();
  const size_t rounds = static_cast<size_t>(std::max<int64_t>(1, options.rounds));
  for (size_t k = 0; k < rounds; ++k) {
    const size_t begin = k * m / rounds, end = (k + 1) * m / rounds;
    if (begin == end) continue;
    const std::vector<InterpExample> batch(sel.validation.begin() + static_cast<std::ptrdiff_t>(begin),
                                           sel.validation.begin() + static_cast<std::ptrdiff_t>(end));
    try {
      const auto answers = parse_classification_reply(
          client.complete(validation_messages(r.description, batch, options.variant), cancelled), batch.size());
      for (size_t i = 0; i < answers.size(); ++i) r.validation[begin + i].predicted = answers[i];
    } catch (const Cancelled&) {
      throw;
    } catch (const std::exception& e) {
      r.error = fmt::format("prompt B round {}: {}", k + 1, e.what());
      return r;
    }
  }
  for (const auto& v : r.validation) {
    if (v.positive) (v.predicted == 1 ? r.true_positives : r.false_negatives)++;
    else (v.predicted == 1 ? r.false_positives : r.true_negatives)++;
  }
  const double tp = static_cast<double>(r.true_positives);
  r.precision = r.true_positives + r.false_positives > 0 ? tp / static_cast<double>(r.true_positives + r.false_positives) : 0.0;
  r.recall = tp / static_cast<double>(r.true_positives + r.false_negatives);
  r.f1 = r.precision + r.recall > 0 ? 2 * r.precision * r.recall / (r.precision + r.recall) : 0.0;
  return r;
}

nlohmann::json to_json(const InterpResult& r) {
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  float max_act = 0;
  for (const auto& e : r.examples)
    for (float a : e.activations)
      if (std::isfinite(a)) max_act = std::max(max_act, a);
  nlohmann::json examples = nlohmann::json::array();
  for (const auto& e : r.examples) {
    std::string marked;
    try {
      marked = mark_activations(e, max_act);
    } catch (const Error&) {
      marked = "";  // a length mismatch was reported as the feature's error already
    }
    examples.push_back({{"sample_id", e.sample_id},
                        {"dataset", e.dataset},
                        {"text", e.text()},
                        {"marked", marked},
                        {"tokens", e.tokens},
                        {"activations", e.activations},
                        {"has_image", !e.image_png.empty()}});
  }
  nlohmann::json validation = nlohmann::json::array();
  for (const auto& v : r.validation)
    validation.push_back({{"sample_id", v.sample_id}, {"positive", v.positive}, {"predicted", v.predicted}});
  return {{"description", r.description},
          {"f1", num(r.f1)},
          {"precision", num(r.precision)},
          {"recall", num(r.recall)},
          {"counts", {{"tp", r.true_positives}, {"fp", r.false_positives}, {"fn", r.false_negatives},
                      {"tn", r.true_negatives}}},
          {"examples", std::move(examples)},
          {"validation", std::move(validation)},
          {"error", r.error}};
}

}  // namespace sightline
