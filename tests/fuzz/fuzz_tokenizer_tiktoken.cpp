// libFuzzer target: Meta's tiktoken tokenizer.model loader (Llama3Tokenizer::from_tiktoken:
// "base64 rank" lines), then encode / decode with the tokenizer it accepted
// (tests/fuzz/llama3_checks.h).
#include "core/common/error.h"
#include "core/tokenizer/llama3_tokenizer.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/llama3_checks.h"

using namespace sightline;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::scratch_path("tokenizer.model");
  fuzz::write_input(path, data, size);
  try {
    const auto tok = Llama3Tokenizer::from_tiktoken(path);
    fuzz::check_llama3(*tok, fuzz::as_text(data, size));
  } catch (const Error&) {
  }
  return 0;
}
