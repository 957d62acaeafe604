// What was confirmed (LLaVA-MORE source, aimagelab/LLaVA-MORE):
//  - conv_templates["llama_3_1"] (SeparatorStyle.LLAMA_3_1) builds
//    [{"role":"system","content":system}, {"role":"user","content":"<image>\n" + question}]
//    and renders it with the tokenizer's apply_chat_template; TOKENIZER_PATH is the
//    language model's own (Llama 3.1 8B Instruct) tokenizer.
//  - The Llama 3.1 Instruct template: bos_token, then "<|start_header_id|>system
//    <|end_header_id|>\n\n" + "Cutting Knowledge Date: December 2023\n" + "Today Date: " +
//    date_string ("26 Jul 2024" by default) + "\n\n" + system|trim + "<|eot_id|>", then per
//    message "<|start_header_id|>" + role + "<|end_header_id|>\n\n" + content|trim +
//    "<|eot_id|>", then with add_generation_prompt "<|start_header_id|>assistant
//    <|end_header_id|>\n\n".
//  - tokenizer_image_token splits the prompt text on "<image>", tokenizes each chunk on its
//    own (special strings parsed) and puts IMAGE_TOKEN_INDEX (-200) between chunks; the
//    doubled <|begin_of_text|> that results (template text + tokenizer's bos) is removed in
//    preprocess_llama_3_1 ("remove the first bos token"), so training saw one.
// What is assumed:
//  - The prompt ends with the assistant header (add_generation_prompt), as in training where
//    the answer follows it; LLaVA-MORE's run_llava renders without it.
//  - The released checkpoint's tokenizer_config.json carries the stock Llama 3.1 Instruct
//    template (hence the date header by default; date_header=false drops it).
//  - Jinja's |trim is approximated by trimming ASCII whitespace.
#include "core/tokenizer/prompt.h"

#include "core/common/error.h"

namespace sightline {

namespace {

constexpr const char* kAsciiSpace = " \t\n\r\v\f";

std::string rtrim_ascii(const std::string& s) {
  const size_t last = s.find_last_not_of(kAsciiSpace);
  return last == std::string::npos ? "" : s.substr(0, last + 1);
}

std::string trim_ascii(const std::string& s) {
  const size_t first = s.find_first_not_of(kAsciiSpace);
  return first == std::string::npos ? "" : rtrim_ascii(s.substr(first));
}

void append(std::vector<int64_t>& out, const std::vector<int64_t>& ids) {
  out.insert(out.end(), ids.begin(), ids.end());
}

}  // namespace

std::vector<int64_t> llava_more_prompt(const Tokenizer& tok, const std::string& question, bool with_image,
                                       const std::string& system, bool date_header) {
  for (const char* name : {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"}) {
    if (!tok.special_id(name)) {
      fail("llava_more_prompt: the {} tokenizer has no special token {} (a Llama 3 tokenizer is needed)", tok.kind(),
           name);
    }
  }
  const std::string head = std::string("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n") +
                           (date_header ? kLlama31DateHeader : "") + trim_ascii(system) +
                           "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n";
  const std::string tail = "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
  std::vector<int64_t> ids;
  if (!with_image) {
    append(ids, tok.encode_with_specials(head + trim_ascii(question) + tail));
    return ids;
  }
  // The user content is "<image>\n" + question, trimmed as a whole: only its end can change
  // (an all-whitespace question leaves "<image>" alone).
  const std::string after_image = rtrim_ascii("\n" + question);
  append(ids, tok.encode_with_specials(head));
  ids.push_back(kImageTokenIndex);
  append(ids, tok.encode_with_specials(after_image + tail));
  return ids;
}

std::vector<int64_t> word_prompt(const WordTokenizer& tok, const std::string& question, bool with_image) {
  const auto answer = tok.word_id("answer");
  const auto colon = tok.word_id(":");
  if (!answer || !colon) {
    fail("word_prompt: the word vocabulary ({} tokens) lacks \"{}\"; build it from a corpus holding \"answer:\"",
         tok.vocab_size(), answer ? ":" : "answer");
  }
  std::vector<int64_t> ids = {tok.bos_id()};
  if (with_image) ids.push_back(kImageTokenIndex);
  append(ids, tok.encode(question));
  ids.push_back(*answer);
  ids.push_back(*colon);
  return ids;
}

}  // namespace sightline
