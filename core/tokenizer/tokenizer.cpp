#include "core/tokenizer/tokenizer.h"

#include <filesystem>
#include <fstream>

#include "core/common/error.h"
#include "core/tokenizer/llama3_tokenizer.h"
#include "core/tokenizer/word_tokenizer.h"

namespace sightline {

namespace fs = std::filesystem;

namespace {

enum class Format { kHfJson, kTiktoken, kWordVocab };

std::unique_ptr<Tokenizer> load_as(const std::string& path, Format format) {
  switch (format) {
    case Format::kHfJson:
      return Llama3Tokenizer::from_hf_json(path);
    case Format::kTiktoken:
      return Llama3Tokenizer::from_tiktoken(path);
    case Format::kWordVocab:
      return std::make_unique<WordTokenizer>(WordTokenizer::load(path));
  }
  fail("tokenizer '{}': unknown format", path);
}

// For a file with none of the standard names: JSON holding "kind":"word" is a word
// vocabulary, other JSON a tokenizer.json, anything else tiktoken lines. Looks at the
// first 4 KiB only (the "kind" key comes first in files written by WordTokenizer::save).
Format sniff(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("tokenizer file '{}': cannot open", path);
  std::string head(4096, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  const size_t first = head.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || head[first] != '{') return Format::kTiktoken;
  return head.find("\"word\"") != std::string::npos && head.find("\"kind\"") != std::string::npos
             ? Format::kWordVocab
             : Format::kHfJson;
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  std::error_code ec;
  const fs::path p(path);
  if (!fs::exists(p, ec)) fail("tokenizer '{}': no such file or directory", path);
  const std::pair<const char*, Format> names[] = {
      {"tokenizer.json", Format::kHfJson}, {"tokenizer.model", Format::kTiktoken}, {"vocab.json", Format::kWordVocab}};
  if (fs::is_directory(p, ec)) {
    for (const auto& [name, format] : names) {
      const fs::path candidate = p / name;
      if (fs::is_regular_file(candidate, ec)) return load_as(candidate.string(), format);
    }
    fail("tokenizer directory '{}': holds none of tokenizer.json, tokenizer.model, vocab.json", path);
  }
  const std::string file_name = p.filename().string();
  for (const auto& [name, format] : names) {
    if (file_name == name) return load_as(path, format);
  }
  return load_as(path, sniff(path));
}

}  // namespace sightline
