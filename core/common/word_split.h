// The word splitter of the shapes world's text, shared by its tokenizer (WordTokenizer)
// and its corpus (split_words), so the two can never disagree on what a word is.
#pragma once

#include <string>
#include <vector>

namespace sightline {

// ASCII whitespace: space, \t, \n, \r, \v, \f.
bool is_split_space(char c);
// The punctuation that is always a token of its own: . , ? ; : ! ' " ( )
bool is_split_punct(char c);
// 'A'-'Z' lower-cased; any other byte unchanged.
char ascii_lower(char c);

// Lower-cased (ASCII) words split on whitespace, each punctuation character above a token
// of its own, in text order.
std::vector<std::string> split_text_words(const std::string& text);

}  // namespace sightline
