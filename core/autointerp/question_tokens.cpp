#include "core/autointerp/question_tokens.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "core/common/constants.h"
#include "core/common/error.h"

namespace sightline {

namespace {

std::string token_trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// Index of the first occurrence of `needle` in `hay`, or npos.
size_t find_span(const std::vector<int64_t>& hay, const std::vector<int64_t>& needle) {
  if (needle.empty() || needle.size() > hay.size()) return std::string::npos;
  const auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end());
  return it == hay.end() ? std::string::npos : static_cast<size_t>(it - hay.begin());
}

// Where the question sits among `text_ids`: {start, length}, or {npos, 0}.
std::pair<size_t, size_t> question_span(const Tokenizer& tok, const std::vector<int64_t>& text_ids,
                                        const std::string& question) {
  const std::string q = token_trim(question);
  if (q.empty()) return {std::string::npos, 0};
  for (const std::string& variant : {q, " " + q}) {
    const auto ids = tok.encode(variant);
    const size_t at = find_span(text_ids, ids);
    if (at != std::string::npos) return {at, ids.size()};
  }
  return {std::string::npos, 0};
}

bool is_special(const Tokenizer& tok, int64_t id) {
  if (id == tok.bos_id() || id == tok.eos_id()) return true;
  return tok.special_id(tok.token_text(id)).has_value();
}

// Pieces of `ids` as differences of successive prefix decodes (spaces kept); a decoder
// whose prefixes are not prefixes of the longer decode falls back to token_text.
std::vector<std::string> pieces_of(const Tokenizer& tok, const std::vector<int64_t>& ids) {
  std::vector<std::string> out;
  std::string prev;
  std::vector<int64_t> prefix;
  for (int64_t id : ids) {
    prefix.push_back(id);
    std::string cur = tok.decode(prefix);
    if (cur.size() >= prev.size() && cur.compare(0, prev.size(), prev) == 0) {
      out.push_back(cur.substr(prev.size()));
    } else {
      out.push_back((out.empty() ? "" : " ") + tok.token_text(id));
    }
    prev = std::move(cur);
  }
  return out;
}

}  // namespace

QuestionTokens question_tokens(const Tokenizer& tok, const std::vector<int64_t>& ids,
                               const std::vector<float>& acts, const std::string& question, int64_t image_tokens,
                               const std::string& what) {
  try {
    const size_t n = ids.size();
    const auto placeholder = std::find(ids.begin(), ids.end(), kImageTokenIndex);
    const bool has_image = placeholder != ids.end();
    const size_t p = has_image ? static_cast<size_t>(placeholder - ids.begin()) : n;
    std::vector<int64_t> text_ids;
    for (size_t i = 0; i < n; ++i)
      if (i != p) text_ids.push_back(ids[i]);
    const auto [start, length] = question_span(tok, text_ids, question);

    // The activation of each text id, per layout.
    std::vector<float> text_acts;
    bool question_only = false;
    const size_t image_positions = static_cast<size_t>(std::max<int64_t>(0, image_tokens));
    if (acts.size() == n) {
      for (size_t i = 0; i < n; ++i)
        if (i != p) text_acts.push_back(acts[i]);
    } else if (has_image && acts.size() == n - 1 + image_positions) {
      for (size_t i = 0; i < n; ++i) {
        if (i < p) text_acts.push_back(acts[i]);
        if (i > p) text_acts.push_back(acts[i - 1 + image_positions]);
      }
    } else if (has_image && acts.size() == n - 1) {
      for (size_t i = 0; i < n; ++i) {
        if (i < p) text_acts.push_back(acts[i]);
        if (i > p) text_acts.push_back(acts[i - 1]);
      }
    } else if (start != std::string::npos && acts.size() == length) {
      question_only = true;
    } else {
      fail("{}: {} token activations fit no layout of its prompt ({} ids{}, {} question tokens)", what, acts.size(), n,
           has_image ? ", " + std::to_string(n - 1 + image_positions) + " model positions" : std::string(),
           start == std::string::npos ? std::string("?") : std::to_string(length));
    }

    QuestionTokens out;
    std::vector<int64_t> chosen;
    if (question_only) {
      chosen.assign(text_ids.begin() + static_cast<std::ptrdiff_t>(start),
                    text_ids.begin() + static_cast<std::ptrdiff_t>(start + length));
      out.activations = acts;
      out.question_span = true;
    } else if (start != std::string::npos) {
      chosen.assign(text_ids.begin() + static_cast<std::ptrdiff_t>(start),
                    text_ids.begin() + static_cast<std::ptrdiff_t>(start + length));
      out.activations.assign(text_acts.begin() + static_cast<std::ptrdiff_t>(start),
                             text_acts.begin() + static_cast<std::ptrdiff_t>(start + length));
      out.question_span = true;
    } else {
      for (size_t i = 0; i < text_ids.size(); ++i) {
        if (is_special(tok, text_ids[i])) continue;
        chosen.push_back(text_ids[i]);
        out.activations.push_back(text_acts[i]);
      }
    }
    out.pieces = pieces_of(tok, chosen);
    return out;
  } catch (const Cancelled&) {
    throw;
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.rfind(what, 0) == 0) throw;
    fail("{}: {}", what, msg);
  }
}

}  // namespace sightline
