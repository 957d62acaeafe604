// libFuzzer target: the word tokenizer of the shapes world. The input is (a) loaded as a
// vocab.json (WordTokenizer::load, then through load_tokenizer's content sniffing under
// another name) and (b) encoded as text by a fixed vocabulary. For any text,
// encode(decode(encode(text))) == encode(text): decoding never changes what a text means.
#include "core/common/error.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/word_tokenizer.h"
#include "tests/fuzz/fuzz_util.h"

using namespace sightline;

namespace {

void check_text(const WordTokenizer& tok, const std::string& text) {
  const std::vector<int64_t> ids = tok.encode(text);
  for (const int64_t id : ids)
    if (id < 0 || id >= tok.vocab_size()) fuzz::finding("encode gave id " + std::to_string(id) + " outside the vocab");
  if (tok.encode(tok.decode(ids)) != ids) fuzz::finding("encode(decode(ids)) != ids");
  const std::vector<int64_t> with_specials = tok.encode_with_specials(text);
  tok.decode(with_specials);
  WordTokenizer::split(text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(fuzz::as_text(data, size));
  const std::string path = fuzz::scratch_path("vocab.json");
  fuzz::write_input(path, data, size);
  try {
    const WordTokenizer tok = WordTokenizer::load(path);
    // What save() writes, load() reads back to the same tokens.
    const std::string copy = fuzz::scratch_path("vocab-copy.json");
    tok.save(copy);
    if (WordTokenizer::load(copy).words() != tok.words()) fuzz::finding("save/load round trip changed the words");
    check_text(tok, "the red circle is left of the blue square. <image> <bos>");
    check_text(tok, text.substr(0, 512));
  } catch (const Error&) {
  }
  const std::string other = fuzz::scratch_path("custom-name");
  fuzz::write_input(other, data, size);
  try {
    load_tokenizer(other);
  } catch (const Error&) {
  }
  static const WordTokenizer fixed({"the", "red", "circle", "is", "left", "of", "blue", "square", ".", "?", "'",
                                    "\"", "(", ")", "é", "a<pad>b"});
  check_text(fixed, text);
  return 0;
}
