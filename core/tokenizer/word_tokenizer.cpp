#include "core/tokenizer/word_tokenizer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/common/error.h"
#include "core/common/word_split.h"

namespace sightline {

namespace {

using json = nlohmann::json;

// Punctuation that attaches to the previous token when decoding.
bool attaches_left(const std::string& token) {
  return token.size() == 1 && (token[0] == '.' || token[0] == ',' || token[0] == '?' || token[0] == ';' ||
                               token[0] == ':' || token[0] == '!');
}

// Why the splitter could never produce `word`, or "" when it could.
std::string unproducible_reason(const std::string& word) {
  if (word.empty()) return "is empty";
  for (const char c : word) {
    if (is_split_space(c)) return "contains whitespace";
    if (c >= 'A' && c <= 'Z') return "contains an upper-case letter (text is lower-cased)";
    if (is_split_punct(c) && word.size() != 1) return "mixes a punctuation character with other characters";
  }
  return "";
}

}  // namespace

const std::vector<std::string>& WordTokenizer::special_tokens() {
  static const std::vector<std::string> names = {"<pad>", "<bos>", "<eos>", "<unk>", "<image>"};
  return names;
}

WordTokenizer::WordTokenizer(const std::vector<std::string>& words) {
  tokens_ = special_tokens();
  tokens_.reserve(tokens_.size() + words.size());
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    const size_t index = i + static_cast<size_t>(kFirstWordId);
    if (std::find(special_tokens().begin(), special_tokens().end(), w) != special_tokens().end()) {
      fail("word vocabulary: tokens[{}] '{}' is a special token, not a word", index, w);
    }
    const std::string reason = unproducible_reason(w);
    if (!reason.empty()) fail("word vocabulary: tokens[{}] '{}' {}", index, w, reason);
    if (!word_ids_.emplace(w, static_cast<int64_t>(index)).second) {
      fail("word vocabulary: tokens[{}] '{}' appears twice", index, w);
    }
    tokens_.push_back(w);
  }
}

std::vector<std::string> WordTokenizer::split(const std::string& text) { return split_text_words(text); }

WordTokenizer WordTokenizer::build(const std::vector<std::string>& corpus, int min_count) {
  std::map<std::string, int64_t> counts;
  for (const std::string& text : corpus) {
    for (std::string& w : split(text)) ++counts[std::move(w)];
  }
  std::vector<std::pair<std::string, int64_t>> kept;
  for (auto& [word, count] : counts) {
    const auto& sp = special_tokens();
    if (count < min_count || std::find(sp.begin(), sp.end(), word) != sp.end()) continue;
    kept.emplace_back(word, count);
  }
  std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::vector<std::string> words;
  words.reserve(kept.size());
  for (auto& [word, count] : kept) words.push_back(word);
  return WordTokenizer(words);
}

void WordTokenizer::save(const std::string& path) const {
  const json doc = {{"kind", "word"}, {"tokens", tokens_}};
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail("vocab file '{}': cannot open for writing: {}", path, std::strerror(errno));
  out << doc.dump(1) << '\n';
  out.close();
  if (!out) fail("vocab file '{}': write failed", path);
}

WordTokenizer WordTokenizer::load(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail("vocab file '{}': no such file", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("vocab file '{}': cannot open: {}", path, std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  json doc;
  try {
    doc = json::parse(buffer.str());
  } catch (const json::parse_error& e) {
    fail("vocab file '{}': invalid JSON at byte {}: {}", path, e.byte, e.what());
  } catch (const json::exception& e) {  // out_of_range 406: a number such as 1e999
    fail("vocab file '{}': invalid JSON value: {}", path, e.what());
  }
  if (!doc.is_object()) fail("vocab file '{}': top level is not a JSON object", path);
  if (!doc.contains("kind") || doc["kind"] != "word") {
    fail("vocab file '{}': field 'kind' is {}, expected \"word\"", path,
         doc.contains("kind") ? doc["kind"].dump() : std::string("missing"));
  }
  if (!doc.contains("tokens") || !doc["tokens"].is_array()) {
    fail("vocab file '{}': field 'tokens' missing or not an array", path);
  }
  const json& tokens = doc["tokens"];
  const auto& sp = special_tokens();
  if (tokens.size() < sp.size()) {
    fail("vocab file '{}': field 'tokens' has {} entries, fewer than the {} special tokens", path, tokens.size(),
         sp.size());
  }
  std::vector<std::string> words;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (!tokens[i].is_string()) fail("vocab file '{}': field 'tokens[{}]' is not a string", path, i);
    std::string t = tokens[i].get<std::string>();
    if (i < sp.size()) {
      if (t != sp[i]) fail("vocab file '{}': field 'tokens[{}]' is '{}', expected '{}'", path, i, t, sp[i]);
    } else {
      words.push_back(std::move(t));
    }
  }
  try {
    return WordTokenizer(words);
  } catch (const Error& e) {
    fail("vocab file '{}': {}", path, e.what());
  }
}

std::vector<int64_t> WordTokenizer::encode(const std::string& text) const {
  std::vector<int64_t> ids;
  for (const std::string& w : split(text)) {
    const auto it = word_ids_.find(w);
    ids.push_back(it == word_ids_.end() ? kUnkId : it->second);
  }
  return ids;
}

std::vector<int64_t> WordTokenizer::encode_with_specials(const std::string& text) const {
  std::vector<int64_t> ids;
  const auto& sp = special_tokens();
  size_t segment = 0;
  for (size_t i = 0; i < text.size();) {
    int64_t hit = -1;
    if (text[i] == '<') {
      for (size_t s = 0; s < sp.size(); ++s) {
        if (text.compare(i, sp[s].size(), sp[s]) == 0) hit = static_cast<int64_t>(s);
      }
    }
    if (hit < 0) {
      ++i;
      continue;
    }
    const std::vector<int64_t> before = encode(text.substr(segment, i - segment));
    ids.insert(ids.end(), before.begin(), before.end());
    ids.push_back(hit);
    i += sp[static_cast<size_t>(hit)].size();
    segment = i;
  }
  const std::vector<int64_t> rest = encode(text.substr(segment));
  ids.insert(ids.end(), rest.begin(), rest.end());
  return ids;
}

std::string WordTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string out;
  for (size_t k = 0; k < ids.size(); ++k) {
    const int64_t id = ids[k];
    if (id < 0 || id >= vocab_size()) {
      fail("word tokenizer: decode: unknown token id {} at position {} (vocab size {})", id, k, vocab_size());
    }
    const std::string& t = tokens_[static_cast<size_t>(id)];
    if (!out.empty() && !attaches_left(t)) out.push_back(' ');
    out += t;
  }
  return out;
}

std::string WordTokenizer::token_text(int64_t id) const {
  if (id < 0 || id >= vocab_size()) {
    fail("word tokenizer: token_text: unknown token id {} (vocab size {})", id, vocab_size());
  }
  return tokens_[static_cast<size_t>(id)];
}

std::optional<int64_t> WordTokenizer::special_id(const std::string& token) const {
  const auto& sp = special_tokens();
  const auto it = std::find(sp.begin(), sp.end(), token);
  if (it == sp.end()) return std::nullopt;
  return static_cast<int64_t>(it - sp.begin());
}

std::vector<std::string> WordTokenizer::words() const {
  return std::vector<std::string>(tokens_.begin() + kFirstWordId, tokens_.end());
}

std::optional<int64_t> WordTokenizer::word_id(const std::string& word) const {
  const auto it = word_ids_.find(word);
  if (it == word_ids_.end()) return std::nullopt;
  return it->second;
}

}  // namespace sightline
