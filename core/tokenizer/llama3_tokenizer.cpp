#include "core/tokenizer/llama3_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>
#include <unordered_map>

#include "core/common/error.h"
#include "core/tokenizer/bpe.h"

namespace sightline {

// Named, not anonymous: Llama3Tokenizer::Impl holds these types, and GCC flags an
// anonymous-namespace member type when this file is compiled inside a unity batch.
namespace llama3_detail {

using json = nlohmann::json;

std::string read_file(const std::string& path, const char* what) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail("{} '{}': no such file", what, path);
  if (std::filesystem::is_directory(path, ec)) fail("{} '{}': is a directory, expected a file", what, path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{} '{}': cannot open: {}", what, path, std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) fail("{} '{}': read error", what, path);
  return buffer.str();
}

// Length of the well-formed UTF-8 sequence starting at s[i] (RFC 3629: no overlongs, no
// surrogates, at most U+10FFFF), or 0 when s[i] does not start one.
size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return len;
}

// Decodes standard base64 (RFC 4648 alphabet, '=' padding required to a multiple of 4).
bool base64_decode(std::string_view in, std::string& out) {
  static const std::array<int8_t, 256> table = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
    return t;
  }();
  out.clear();
  if (in.empty() || in.size() % 4 != 0) return false;
  size_t pad = 0;
  if (in.back() == '=') pad = (in[in.size() - 2] == '=') ? 2 : 1;
  for (size_t i = 0; i < in.size(); i += 4) {
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
      const char ch = in[i + k];
      int d;
      if (ch == '=') {
        // Padding only in the last group's final `pad` places.
        if (i + 4 != in.size() || k < 4 - pad) return false;
        d = 0;
      } else {
        d = table[static_cast<unsigned char>(ch)];
        if (d < 0) return false;
      }
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    out.push_back(static_cast<char>((v >> 16) & 0xFF));
    if (i + 4 != in.size() || pad < 2) out.push_back(static_cast<char>((v >> 8) & 0xFF));
    if (i + 4 != in.size() || pad < 1) out.push_back(static_cast<char>(v & 0xFF));
  }
  return !out.empty();
}

// GPT-2's bytes_to_unicode (used by HF byte-level BPE vocabularies): printable bytes
// '!'..'~', 0xA1..0xAC and 0xAE..0xFF stand for themselves; the other 68 bytes map to
// U+0100.. in increasing byte order. Returns code point -> byte, -1 where unused.
const std::array<int16_t, 512>& gpt2_unicode_to_byte() {
  static const std::array<int16_t, 512> table = [] {
    std::array<int16_t, 512> t{};
    t.fill(-1);
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      t[printable ? b : next++] = static_cast<int16_t>(b);
    }
    return t;
  }();
  return table;
}

// Converts a token string in GPT-2's byte alphabet back to its bytes; false when it holds
// a character outside that alphabet or is not valid UTF-8.
bool gpt2_to_bytes(std::string_view s, std::string& out, uint32_t& bad_code_point) {
  const auto& table = gpt2_unicode_to_byte();
  out.clear();
  for (size_t i = 0; i < s.size();) {
    const size_t len = utf8_sequence_length(s, i);
    if (len == 0) {
      bad_code_point = static_cast<unsigned char>(s[i]);
      return false;
    }
    uint32_t cp = static_cast<unsigned char>(s[i]);
    if (len > 1) {
      cp &= (0x7Fu >> len);
      for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
    }
    if (cp >= table.size() || table[cp] < 0) {
      bad_code_point = cp;
      return false;
    }
    out.push_back(static_cast<char>(table[cp]));
    i += len;
  }
  return !out.empty();
}

std::string printable_bytes(std::string_view bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size();) {
    const size_t len = utf8_sequence_length(bytes, i);
    if (len == 0) {
      out += fmt::format("<0x{:02X}>", static_cast<unsigned char>(bytes[i]));
      ++i;
    } else {
      out.append(bytes.substr(i, len));
      i += len;
    }
  }
  return out;
}

// A compiled PCRE2 pre-tokenizer pattern (JIT-compiled when the library supports it).
class Regex {
 public:
  Regex(const std::string& pattern, const std::string& where) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    // MATCH_INVALID_UTF: invalid UTF-8 bytes never match and are left as gaps between
    // matches (encoded as raw-byte pieces) instead of failing the whole match.
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                          PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error, &offset, nullptr);
    if (code_ == nullptr) fail("{}: regex does not compile at offset {}: {}", where, offset, message(error));
    jit_ = pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE) == 0;
  }
  ~Regex() { pcre2_code_free(code_); }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  const pcre2_code* code() const { return code_; }
  bool jit() const { return jit_; }

  static std::string message(int error) {
    std::array<PCRE2_UCHAR, 256> buffer{};
    pcre2_get_error_message(error, buffer.data(), buffer.size());
    return reinterpret_cast<const char*>(buffer.data());
  }

 private:
  pcre2_code* code_ = nullptr;
  bool jit_ = false;
};

// Owns the per-call PCRE2 match state; the larger JIT stack is made only when needed.
struct MatchState {
  explicit MatchState(const pcre2_code* code) : data(pcre2_match_data_create_from_pattern(code, nullptr)) {
    if (data == nullptr) fail("tokenizer: out of memory creating PCRE2 match data");
  }
  ~MatchState() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(stack);
  }
  MatchState(const MatchState&) = delete;
  MatchState& operator=(const MatchState&) = delete;

  // Gives the JIT a 64 MiB stack (the default 32 KiB one runs out on pathological input).
  bool grow() {
    if (context != nullptr) return false;
    stack = pcre2_jit_stack_create(32 * 1024, 64 * 1024 * 1024, nullptr);
    context = pcre2_match_context_create(nullptr);
    if (stack == nullptr || context == nullptr) return false;
    pcre2_jit_stack_assign(context, nullptr, stack);
    return true;
  }

  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* stack = nullptr;
};

enum class IdKind : uint8_t { kNone = 0, kOrdinary = 1, kSpecial = 2 };

struct SpecialToken {
  std::string text;
  int64_t id;
};

}  // namespace llama3_detail

using namespace llama3_detail;

std::vector<std::string> llama31_special_tokens() {
  std::vector<std::string> names = {
      "<|begin_of_text|>",  "<|end_of_text|>",           "<|reserved_special_token_0|>",
      "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>",
      "<|start_header_id|>", "<|end_header_id|>",        "<|eom_id|>",
      "<|eot_id|>",         "<|python_tag|>"};
  for (int i = 3; names.size() < static_cast<size_t>(kLlama3NumSpecial); ++i) {
    names.push_back("<|reserved_special_token_" + std::to_string(i) + "|>");
  }
  return names;
}

struct Llama3Tokenizer::Impl {
  std::string source;
  bpe::ByteTable encoder;                   // ordinary token bytes -> id
  std::unique_ptr<bpe::ByteTable> merges;  // merged bytes -> merge index (tokenizer.json only)
  bool whole_piece_lookup = true;           // a pre-token that is itself a token skips BPE
  std::vector<std::string> id_bytes;        // index = id
  std::vector<IdKind> id_kind;
  std::unordered_map<std::string, int64_t> specials;
  std::array<std::vector<SpecialToken>, 256> specials_by_first_byte;  // longest first
  int64_t bos = -1;
  int64_t eos = -1;
  std::unique_ptr<Regex> regex;

  // BPE results of pre-tokens that are not single tokens, shared by all callers.
  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<uint32_t>> cache;

  const bpe::ByteTable& ranks() const { return merges ? *merges : encoder; }

  void set_id(int64_t id, std::string bytes, IdKind kind) {
    if (static_cast<size_t>(id) >= id_bytes.size()) {
      id_bytes.resize(static_cast<size_t>(id) + 1);
      id_kind.resize(static_cast<size_t>(id) + 1, IdKind::kNone);
    }
    id_bytes[static_cast<size_t>(id)] = std::move(bytes);
    id_kind[static_cast<size_t>(id)] = kind;
  }

  void add_special(const std::string& text, int64_t id) {
    specials[text] = id;
    set_id(id, text, IdKind::kSpecial);
    auto& bucket = specials_by_first_byte[static_cast<unsigned char>(text[0])];
    bucket.push_back({text, id});
    std::stable_sort(bucket.begin(), bucket.end(),
                     [](const SpecialToken& a, const SpecialToken& b) { return a.text.size() > b.text.size(); });
  }

  // Checks what byte-level BPE needs of every loader: all 256 single bytes are tokens.
  void check_bytes(const std::string& where) const {
    for (int b = 0; b < 256; ++b) {
      const char c = static_cast<char>(b);
      if (encoder.find(std::string_view(&c, 1)) == bpe::kAbsent) {
        fail("{}: no token for the single byte 0x{:02X} (byte-level BPE needs all 256)", where, b);
      }
    }
  }

  void encode_piece(std::string_view piece, std::vector<int64_t>& out) const {
    if (whole_piece_lookup) {
      const uint32_t id = encoder.find(piece);
      if (id != bpe::kAbsent) {
        out.push_back(id);
        return;
      }
    }
    constexpr size_t kMaxCachedPiece = 64;
    constexpr size_t kMaxCacheEntries = 1 << 16;
    const bool cacheable = piece.size() <= kMaxCachedPiece;
    if (cacheable) {
      std::lock_guard<std::mutex> lock(cache_mutex);
      const auto it = cache.find(std::string(piece));
      if (it != cache.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    const std::vector<size_t> bounds = bpe::merge(piece, ranks());
    std::vector<uint32_t> ids;
    ids.reserve(bounds.size() - 1);
    for (size_t k = 0; k + 1 < bounds.size(); ++k) {
      const std::string_view part = piece.substr(bounds[k], bounds[k + 1] - bounds[k]);
      const uint32_t id = encoder.find(part);
      // Loaders guarantee every byte and every merge result is a token.
      if (id == bpe::kAbsent) fail("tokenizer '{}': BPE produced a byte string with no token id", source);
      ids.push_back(id);
    }
    out.insert(out.end(), ids.begin(), ids.end());
    if (cacheable) {
      std::lock_guard<std::mutex> lock(cache_mutex);
      if (cache.size() >= kMaxCacheEntries) cache.clear();
      cache.emplace(std::string(piece), std::move(ids));
    }
  }

  // Pre-tokenizes with the regex, then BPE-encodes each pre-token.
  void encode_plain(std::string_view text, std::vector<int64_t>& out) const {
    if (text.empty()) return;
    MatchState state(regex->code());
    const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t offset = 0;    // where the next search starts
    size_t covered = 0;   // end of the text already encoded
    while (offset < text.size()) {
      int rc = pcre2_match(regex->code(), subject, text.size(), offset, 0, state.data, state.context);
      if (rc == PCRE2_ERROR_JIT_STACKLIMIT && state.grow()) {
        rc = pcre2_match(regex->code(), subject, text.size(), offset, 0, state.data, state.context);
      }
      if (rc == PCRE2_ERROR_NOMATCH) break;
      if (rc < 0) {
        fail("tokenizer '{}': pre-tokenizer regex failed at byte {}: {}", source, offset, Regex::message(rc));
      }
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(state.data);
      const size_t start = ov[0], end = ov[1];
      if (end == start) {
        // An empty match (possible only with a custom tokenizer.json pattern): step one
        // character and let the skipped text become part of a gap piece.
        const size_t len = utf8_sequence_length(text, start);
        offset = start + (len == 0 ? 1 : len);
        continue;
      }
      // Bytes no alternative matched (invalid UTF-8) form their own piece.
      if (start > covered) encode_piece(text.substr(covered, start - covered), out);
      encode_piece(text.substr(start, end - start), out);
      covered = offset = end;
    }
    if (covered < text.size()) encode_piece(text.substr(covered), out);
  }

  void check_id(int64_t id, const char* what) const {
    if (id < 0 || static_cast<size_t>(id) >= id_kind.size() ||
        id_kind[static_cast<size_t>(id)] == IdKind::kNone) {
      fail("tokenizer '{}': {}: unknown token id {} (vocab size {})", source, what, id, id_kind.size());
    }
  }
};

Llama3Tokenizer::Llama3Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Llama3Tokenizer::~Llama3Tokenizer() = default;

std::unique_ptr<Llama3Tokenizer> Llama3Tokenizer::from_tiktoken(const std::string& path) {
  const std::string content = read_file(path, "tokenizer file");
  auto impl = std::make_unique<Impl>();
  impl->source = path;
  impl->encoder.reserve(130000);
  // Ranks are ids 0..count-1, so none can reach the number of lines.
  const size_t max_lines = static_cast<size_t>(std::count(content.begin(), content.end(), '\n')) + 1;
  std::vector<char> seen_rank;
  std::string bytes;
  size_t line_no = 0;
  size_t count = 0;
  for (size_t pos = 0; pos < content.size();) {
    size_t eol = content.find('\n', pos);
    if (eol == std::string::npos) eol = content.size();
    std::string_view line(content.data() + pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;  // tiktoken skips blank lines too
    const size_t space = line.find(' ');
    if (space == std::string_view::npos || space == 0 || line.find(' ', space + 1) != std::string_view::npos) {
      fail("tokenizer file '{}': line {}: expected 'base64 rank', got '{}'", path, line_no,
           printable_bytes(line.substr(0, 80)));
    }
    const std::string_view b64 = line.substr(0, space);
    const std::string_view rank_text = line.substr(space + 1);
    if (!base64_decode(b64, bytes)) {
      fail("tokenizer file '{}': line {}: invalid base64 token '{}'", path, line_no,
           printable_bytes(b64.substr(0, 80)));
    }
    uint64_t rank = 0;
    bool ok = !rank_text.empty() && rank_text.size() <= 9;
    for (const char ch : rank_text) {
      if (ch < '0' || ch > '9') ok = false;
      rank = rank * 10 + static_cast<uint64_t>(ch - '0');
    }
    if (!ok) {
      fail("tokenizer file '{}': line {}: invalid rank '{}'", path, line_no, printable_bytes(rank_text.substr(0, 40)));
    }
    if (rank >= max_lines) {
      fail("tokenizer file '{}': line {}: rank {} is beyond the file's {} lines (ranks are ids 0..N-1)", path, line_no,
           rank, max_lines);
    }
    if (rank >= seen_rank.size()) seen_rank.resize(rank + 1, 0);
    if (seen_rank[rank]) fail("tokenizer file '{}': line {}: rank {} appears twice", path, line_no, rank);
    seen_rank[rank] = 1;
    if (!impl->encoder.insert(bytes, static_cast<uint32_t>(rank))) {
      fail("tokenizer file '{}': line {}: token '{}' appears twice", path, line_no, printable_bytes(b64));
    }
    impl->set_id(static_cast<int64_t>(rank), bytes, IdKind::kOrdinary);
    ++count;
  }
  if (count == 0) fail("tokenizer file '{}': no 'base64 rank' lines", path);
  // Ranks are ids, so they must be 0..count-1 with no holes.
  if (seen_rank.size() != count) {
    size_t missing = 0;
    while (seen_rank[missing]) ++missing;
    fail("tokenizer file '{}': ranks must be 0..{} but rank {} is missing", path, count - 1, missing);
  }
  impl->check_bytes("tokenizer file '" + path + "'");
  const std::vector<std::string> names = llama31_special_tokens();
  for (size_t i = 0; i < names.size(); ++i) impl->add_special(names[i], static_cast<int64_t>(count + i));
  impl->bos = impl->specials.at("<|begin_of_text|>");
  impl->eos = impl->specials.at("<|end_of_text|>");
  impl->regex = std::make_unique<Regex>(kLlama3Pattern, "tokenizer file '" + path + "': pre-tokenizer");
  return std::unique_ptr<Llama3Tokenizer>(new Llama3Tokenizer(std::move(impl)));
}

namespace {

// The first Split pre-tokenizer's regex in a tokenizer.json pre_tokenizer tree, or "".
std::string find_split_regex(const json& node) {
  if (!node.is_object()) return "";
  if (node.value("type", "") == "Split" && node.contains("pattern") && node["pattern"].is_object() &&
      node["pattern"].contains("Regex") && node["pattern"]["Regex"].is_string()) {
    return node["pattern"]["Regex"].get<std::string>();
  }
  if (node.contains("pretokenizers") && node["pretokenizers"].is_array()) {
    for (const json& child : node["pretokenizers"]) {
      std::string found = find_split_regex(child);
      if (!found.empty()) return found;
    }
  }
  return "";
}

}  // namespace

std::unique_ptr<Llama3Tokenizer> Llama3Tokenizer::from_hf_json(const std::string& path) {
  const std::string content = read_file(path, "tokenizer file");
  json root;
  try {
    root = json::parse(content);
  } catch (const json::parse_error& e) {
    fail("tokenizer file '{}': invalid JSON at byte {}: {}", path, e.byte, e.what());
  } catch (const json::exception& e) {  // out_of_range 406: a number such as 1e999
    fail("tokenizer file '{}': invalid JSON value: {}", path, e.what());
  }
  const std::string where = "tokenizer file '" + path + "'";
  if (!root.is_object()) fail("{}: top level is not a JSON object", where);
  if (!root.contains("model") || !root["model"].is_object()) fail("{}: field 'model' missing or not an object", where);
  const json& model = root["model"];
  if (model.contains("type") && model["type"] != "BPE") {
    fail("{}: field 'model.type' is {}, only \"BPE\" is supported", where, model["type"].dump());
  }
  if (!model.contains("vocab") || !model["vocab"].is_object()) {
    fail("{}: field 'model.vocab' missing or not an object", where);
  }
  if (!model.contains("merges") || !model["merges"].is_array()) {
    fail("{}: field 'model.merges' missing or not an array", where);
  }

  auto impl = std::make_unique<Impl>();
  impl->source = path;
  impl->encoder.reserve(model["vocab"].size());
  // Ids index a dense table: allow holes, but not an id far past the entry count (which
  // would make a huge table from one typo).
  const size_t n_added =
      root.contains("added_tokens") && root["added_tokens"].is_array() ? root["added_tokens"].size() : 0;
  const int64_t max_id = static_cast<int64_t>(2 * (model["vocab"].size() + n_added) + 65536);
  std::string bytes;
  uint32_t bad = 0;
  for (const auto& [key, value] : model["vocab"].items()) {
    if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() >= max_id) {
      fail("{}: field 'model.vocab[\"{}\"]' is {}, expected an id in [0, {})", where, key, value.dump(), max_id);
    }
    if (!gpt2_to_bytes(key, bytes, bad)) {
      fail("{}: field 'model.vocab[\"{}\"]': character U+{:04X} is outside the byte-level alphabet", where,
           printable_bytes(key), bad);
    }
    const int64_t id = value.get<int64_t>();
    if (static_cast<size_t>(id) < impl->id_kind.size() && impl->id_kind[static_cast<size_t>(id)] != IdKind::kNone) {
      fail("{}: field 'model.vocab[\"{}\"]': id {} is used twice", where, key, id);
    }
    if (!impl->encoder.insert(bytes, static_cast<uint32_t>(id))) {
      fail("{}: field 'model.vocab[\"{}\"]': the same bytes appear under two keys", where, key);
    }
    impl->set_id(id, bytes, IdKind::kOrdinary);
  }
  impl->check_bytes(where + ": field 'model.vocab'");

  impl->merges = std::make_unique<bpe::ByteTable>();
  const json& merges = model["merges"];
  impl->merges->reserve(merges.size());
  std::string left, right;
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& m = merges[i];
    std::string a, b;
    if (m.is_string()) {  // "a b" (older tokenizers); byte-level tokens never hold ' '
      const std::string s = m.get<std::string>();
      const size_t space = s.find(' ');
      if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos) {
        fail("{}: field 'model.merges[{}]' is \"{}\", expected two tokens separated by one space", where, i, s);
      }
      a = s.substr(0, space);
      b = s.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {  // ["a", "b"]
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      fail("{}: field 'model.merges[{}]' is {}, expected \"a b\" or [\"a\", \"b\"]", where, i, m.dump());
    }
    if (!gpt2_to_bytes(a, left, bad) || !gpt2_to_bytes(b, right, bad)) {
      fail("{}: field 'model.merges[{}]': character U+{:04X} is outside the byte-level alphabet", where, i, bad);
    }
    if (impl->encoder.find(left) == bpe::kAbsent || impl->encoder.find(right) == bpe::kAbsent) {
      fail("{}: field 'model.merges[{}]' (\"{} {}\") names a token not in model.vocab", where, i, a, b);
    }
    if (impl->encoder.find(left + right) == bpe::kAbsent) {
      fail("{}: field 'model.merges[{}]' (\"{} {}\") makes \"{}{}\", which is not in model.vocab", where, i, a, b, a,
           b);
    }
    impl->merges->insert(left + right, static_cast<uint32_t>(i));  // the first merge making it ranks
  }
  impl->whole_piece_lookup = model.value("ignore_merges", false);

  if (root.contains("added_tokens")) {
    const json& added = root["added_tokens"];
    if (!added.is_array()) fail("{}: field 'added_tokens' is not an array", where);
    for (size_t i = 0; i < added.size(); ++i) {
      const json& t = added[i];
      if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() || !t.contains("content") ||
          !t["content"].is_string()) {
        fail("{}: field 'added_tokens[{}]' needs an integer 'id' and a string 'content'", where, i);
      }
      const int64_t id = t["id"].get<int64_t>();
      const std::string text = t["content"].get<std::string>();
      if (id < 0 || id >= max_id) fail("{}: field 'added_tokens[{}].id' is {}, expected [0, {})", where, i, id, max_id);
      if (text.empty()) fail("{}: field 'added_tokens[{}].content' is empty", where, i);
      // An added token may repeat an ordinary one (GPT-2 lists <|endoftext|> in both); one
      // that takes another token's id would make encode() emit ids that decode as it.
      const size_t u = static_cast<size_t>(id);
      if (u < impl->id_kind.size() && impl->id_kind[u] != IdKind::kNone && impl->id_bytes[u] != text) {
        fail("{}: field 'added_tokens[{}].id' is {}, which {} already gives to \"{}\"", where, i, id,
             impl->id_kind[u] == IdKind::kOrdinary ? "model.vocab" : "an earlier added token",
             printable_bytes(impl->id_bytes[u]));
      }
      impl->add_special(text, id);
    }
  }
  const auto require = [&](const char* name) {
    const auto it = impl->specials.find(name);
    if (it == impl->specials.end()) fail("{}: field 'added_tokens' has no {}", where, name);
    return it->second;
  };
  impl->bos = require("<|begin_of_text|>");
  impl->eos = require("<|end_of_text|>");

  std::string pattern = root.contains("pre_tokenizer") ? find_split_regex(root["pre_tokenizer"]) : "";
  if (pattern.empty()) pattern = kLlama3Pattern;
  impl->regex = std::make_unique<Regex>(pattern, where + ": field 'pre_tokenizer' Split pattern");
  return std::unique_ptr<Llama3Tokenizer>(new Llama3Tokenizer(std::move(impl)));
}

std::vector<int64_t> Llama3Tokenizer::encode(const std::string& text) const {
  std::vector<int64_t> out;
  out.reserve(text.size() / 3 + 1);
  impl_->encode_plain(text, out);
  return out;
}

std::vector<int64_t> Llama3Tokenizer::encode_with_specials(const std::string& text) const {
  std::vector<int64_t> out;
  out.reserve(text.size() / 3 + 1);
  const std::string_view view(text);
  size_t segment = 0;
  for (size_t i = 0; i < view.size();) {
    const auto& bucket = impl_->specials_by_first_byte[static_cast<unsigned char>(view[i])];
    const SpecialToken* hit = nullptr;
    for (const SpecialToken& s : bucket) {
      if (view.compare(i, s.text.size(), s.text) == 0) {
        hit = &s;
        break;
      }
    }
    if (hit == nullptr) {
      ++i;
      continue;
    }
    impl_->encode_plain(view.substr(segment, i - segment), out);
    out.push_back(hit->id);
    i += hit->text.size();
    segment = i;
  }
  impl_->encode_plain(view.substr(segment), out);
  return out;
}

std::string Llama3Tokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string out;
  for (size_t k = 0; k < ids.size(); ++k) {
    const int64_t id = ids[k];
    if (id < 0 || static_cast<size_t>(id) >= impl_->id_kind.size() ||
        impl_->id_kind[static_cast<size_t>(id)] == IdKind::kNone) {
      fail("tokenizer '{}': decode: unknown token id {} at position {} (vocab size {})", impl_->source, id, k,
           impl_->id_kind.size());
    }
    out += impl_->id_bytes[static_cast<size_t>(id)];
  }
  return out;
}

const std::string& Llama3Tokenizer::token_bytes(int64_t id) const {
  impl_->check_id(id, "token_bytes");
  return impl_->id_bytes[static_cast<size_t>(id)];
}

std::string Llama3Tokenizer::token_text(int64_t id) const {
  impl_->check_id(id, "token_text");
  return printable_bytes(impl_->id_bytes[static_cast<size_t>(id)]);
}

int64_t Llama3Tokenizer::vocab_size() const { return static_cast<int64_t>(impl_->id_kind.size()); }
int64_t Llama3Tokenizer::bos_id() const { return impl_->bos; }
int64_t Llama3Tokenizer::eos_id() const { return impl_->eos; }
const std::string& Llama3Tokenizer::source() const { return impl_->source; }

std::optional<int64_t> Llama3Tokenizer::special_id(const std::string& token) const {
  const auto it = impl_->specials.find(token);
  if (it == impl_->specials.end()) return std::nullopt;
  return it->second;
}

}  // namespace sightline
