#include "core/common/word_split.h"

#include <utility>

namespace sightline {

bool is_split_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

bool is_split_punct(char c) {
  switch (c) {
    case '.': case ',': case '?': case ';': case ':': case '!': case '\'': case '"': case '(': case ')':
      return true;
    default:
      return false;
  }
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::vector<std::string> split_text_words(const std::string& text) {
  std::vector<std::string> out;
  std::string word;
  const auto flush = [&] {
    if (!word.empty()) out.push_back(std::move(word));
    word.clear();
  };
  for (const char c : text) {
    if (is_split_space(c)) {
      flush();
    } else if (is_split_punct(c)) {
      flush();
      out.emplace_back(1, c);
    } else {
      word.push_back(ascii_lower(c));
    }
  }
  flush();
  return out;
}

}  // namespace sightline
