// What every Llama 3 tokenizer the loaders accept must do, whatever file it came from:
// encode / encode_with_specials / decode without crashing, decode(encode(text)) == text
// (the loaders guarantee all 256 bytes are tokens, so byte-level BPE is lossless), ids
// inside the vocabulary, and token_text for any id either working or throwing Error.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.h"
#include "core/tokenizer/llama3_tokenizer.h"
#include "tests/fuzz/fuzz_util.h"

namespace sightline::fuzz {

inline void check_llama3(const Llama3Tokenizer& tok, std::string_view input) {
  // Fixed texts (letters, digits, contractions, whitespace runs, non-Latin scripts,
  // emoji, invalid UTF-8, special tokens) plus the first bytes of the input itself.
  const std::vector<std::string> texts = {
      "", "Hello world", " The cat's 123456 tokens!\n\n  x", "\t\r\n  \n", "日本語 😀 ключ",
      std::string("\xff\xfe bad \xc3( utf8 \xe2\x82"), "<|begin_of_text|>hi<|eot_id|> <|end_of_text|>",
      std::string(input.substr(0, 256))};
  for (const std::string& text : texts) {
    const std::vector<int64_t> ids = tok.encode(text);
    for (const int64_t id : ids)
      if (id < 0 || id >= tok.vocab_size()) finding("encode gave id " + std::to_string(id) + " outside the vocab");
    if (tok.decode(ids) != text) finding("decode(encode(text)) != text for a text of " + std::to_string(text.size()) + " bytes");
    const std::vector<int64_t> with_specials = tok.encode_with_specials(text);
    if (tok.decode(with_specials) != text)
      finding("decode(encode_with_specials(text)) != text for a text of " + std::to_string(text.size()) + " bytes");
  }
  // Ids picked by the input bytes, inside and outside the vocabulary.
  for (size_t i = 0; i + 1 < input.size() && i < 64; i += 2) {
    const int64_t id = (static_cast<unsigned char>(input[i]) << 8 | static_cast<unsigned char>(input[i + 1])) - 16;
    try {
      tok.token_text(id);
      tok.decode({id});
    } catch (const Error&) {
    }
  }
}

}  // namespace sightline::fuzz
