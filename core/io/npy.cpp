#include "core/io/npy.h"

#include <fmt/ranges.h>
#include <torch/types.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <vector>

#include "core/common/error.h"
#include "core/io/json_util.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "npy data is read as little-endian");

namespace sightline {

namespace {

constexpr char kMagic[] = "\x93NUMPY";  // 6 bytes, then major, minor version bytes
constexpr size_t kMagicLen = 6;
// A header this large is not something numpy writes; refuse before allocating it.
constexpr uint64_t kMaxNpyHeaderBytes = 100'000'000;

struct NpyDtype {
  const char* descr;
  at::ScalarType type;
  size_t itemsize;
};

constexpr NpyDtype kNpyDtypes[] = {
    {"<f8", at::kDouble, 8}, {"<f4", at::kFloat, 4}, {"<f2", at::kHalf, 2}, {"<i8", at::kLong, 8}, {"<i4", at::kInt, 4},
    {"<i2", at::kShort, 2},  {"|i1", at::kChar, 1},  {"|u1", at::kByte, 1}, {"|b1", at::kBool, 1},
};

std::string supported_descrs() {
  std::string s;
  for (const auto& d : kNpyDtypes) s += (s.empty() ? "" : " ") + std::string(d.descr);
  return s;
}

// The header is a Python dict literal, e.g. {'descr': '<f4', 'fortran_order': False,
// 'shape': (3, 4), }. Only the value kinds numpy writes there are understood.
struct PyValue {
  enum Kind { kString, kBool, kTuple } kind = kString;
  std::string str;
  bool boolean = false;
  std::vector<int64_t> ints;
};

class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& path) : s_(text), path_(path) {}

  std::map<std::string, PyValue> parse_dict() {
    std::map<std::string, PyValue> out;
    skip_ws();
    expect('{', "the header dict");
    while (true) {
      skip_ws();
      if (peek() == '}') {
        ++i_;
        break;
      }
      const std::string key = parse_string("a header key");
      skip_ws();
      expect(':', "after key '" + key + "'");
      skip_ws();
      if (out.count(key)) fail("file '{}': npy header field '{}' appears twice", path_, key);
      out.emplace(key, parse_value(key));
      skip_ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      if (peek() == '}') {
        ++i_;
        break;
      }
      fail("file '{}': npy header: expected ',' or '}}' after field '{}' at byte {}", path_, key, i_);
    }
    skip_ws();
    if (i_ != s_.size()) fail("file '{}': npy header: unexpected text after the dict at byte {}", path_, i_);
    return out;
  }

 private:
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_ws() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  void expect(char c, const std::string& context) {
    if (peek() != c) fail("file '{}': npy header: expected '{}' {} at byte {}", path_, c, context, i_);
    ++i_;
  }
  std::string parse_string(const std::string& what) {
    const char q = peek();
    if (q != '\'' && q != '"') fail("file '{}': npy header: expected {} (a quoted string) at byte {}", path_, what, i_);
    const size_t start = ++i_;
    while (i_ < s_.size() && s_[i_] != q) ++i_;
    if (i_ >= s_.size()) fail("file '{}': npy header: unterminated string at byte {}", path_, start - 1);
    return s_.substr(start, i_++ - start);
  }
  PyValue parse_value(const std::string& key) {
    PyValue v;
    const char c = peek();
    if (c == '\'' || c == '"') {
      v.kind = PyValue::kString;
      v.str = parse_string("field '" + key + "'");
      return v;
    }
    if (s_.compare(i_, 4, "True") == 0 || s_.compare(i_, 5, "False") == 0) {
      v.kind = PyValue::kBool;
      v.boolean = s_[i_] == 'T';
      i_ += v.boolean ? 4 : 5;
      return v;
    }
    if (c == '(') {
      ++i_;
      v.kind = PyValue::kTuple;
      while (true) {
        skip_ws();
        if (peek() == ')') {
          ++i_;
          return v;
        }
        v.ints.push_back(parse_int(key));
        skip_ws();
        if (peek() == ',') {
          ++i_;
        } else if (peek() != ')') {
          fail("file '{}': npy header field '{}': expected ',' or ')' at byte {}", path_, key, i_);
        }
      }
    }
    if (c == '[')
      fail("file '{}': npy header field '{}' holds a list{}, which is not supported", path_, key,
           key == "descr" ? " (a structured dtype)" : "");
    fail("file '{}': npy header field '{}' has a value that is not a string, bool or tuple (byte {})", path_, key, i_);
  }
  int64_t parse_int(const std::string& key) {
    if (peek() == '-') fail("file '{}': npy header field '{}' holds a negative number", path_, key);
    if (!std::isdigit(static_cast<unsigned char>(peek())))
      fail("file '{}': npy header field '{}': expected an integer at byte {}", path_, key, i_);
    int64_t x = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      if (__builtin_mul_overflow(x, int64_t{10}, &x) || __builtin_add_overflow(x, int64_t{s_[i_] - '0'}, &x))
        fail("file '{}': npy header field '{}': integer too large", path_, key);
      ++i_;
    }
    if (peek() == 'L') ++i_;  // Python 2 long suffix, seen in old files
    return x;
  }

  const std::string& s_;
  const std::string& path_;
  size_t i_ = 0;
};

std::string shape_tuple(const std::vector<int64_t>& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

}  // namespace

at::Tensor read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) fail("file '{}': cannot open for reading: {}", path, std::strerror(errno));
  const uint64_t file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);

  char pre[12] = {};
  const size_t pre_len = static_cast<size_t>(std::min<uint64_t>(file_size, 8));
  in.read(pre, static_cast<std::streamsize>(pre_len));
  if (pre_len < kMagicLen || std::memcmp(pre, kMagic, kMagicLen) != 0)
    fail("file '{}': bad magic: does not start with \"\\x93NUMPY\" (not a .npy file)", path);
  if (pre_len < 8) fail("file '{}': truncated: {} bytes, too short for the npy version field", path, file_size);
  const int major = static_cast<unsigned char>(pre[6]);
  const int minor = static_cast<unsigned char>(pre[7]);
  if (major < 1 || major > 3) fail("file '{}': unsupported npy format version {}.{}", path, major, minor);
  // v1.0: u16 header length; v2.0/v3.0: u32 (v3.0 only changes the header's encoding to UTF-8).
  const size_t len_bytes = major == 1 ? 2 : 4;
  if (file_size < 8 + len_bytes) fail("file '{}': truncated inside the header length field", path);
  in.read(pre + 8, static_cast<std::streamsize>(len_bytes));
  uint64_t header_len = 0;
  for (size_t b = 0; b < len_bytes; ++b)
    header_len |= static_cast<uint64_t>(static_cast<unsigned char>(pre[8 + b])) << (8 * b);
  const uint64_t data_offset = 8 + len_bytes + header_len;
  if (header_len > kMaxNpyHeaderBytes || data_offset > file_size)
    fail("file '{}': truncated: header length {} runs past the end of the {}-byte file", path, header_len,
         file_size);
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  if (!in) fail("file '{}': read error in the header", path);

  const auto fields = HeaderParser(header, path).parse_dict();
  for (const auto& [key, value] : fields)
    if (key != "descr" && key != "fortran_order" && key != "shape")
      fail("file '{}': npy header has unexpected field '{}'", path, key);
  const auto field = [&](const char* key, PyValue::Kind kind, const char* kind_name) -> const PyValue& {
    const auto it = fields.find(key);
    if (it == fields.end()) fail("file '{}': npy header field '{}' missing", path, key);
    if (it->second.kind != kind) fail("file '{}': npy header field '{}' must be {}", path, key, kind_name);
    return it->second;
  };
  const std::string descr = field("descr", PyValue::kString, "a string").str;
  const bool fortran = field("fortran_order", PyValue::kBool, "True or False").boolean;
  const std::vector<int64_t> shape = field("shape", PyValue::kTuple, "a tuple of integers").ints;

  const NpyDtype* dtype = nullptr;
  for (const auto& d : kNpyDtypes)
    if (descr == d.descr) dtype = &d;
  if (!dtype) {
    if (!descr.empty() && descr[0] == '>')
      fail("file '{}': npy header field 'descr' is big-endian '{}'; only little-endian is supported", path, descr);
    fail("file '{}': npy header field 'descr' has unsupported dtype '{}' (supported: {})", path, descr,
         supported_descrs());
  }
  if (fortran)
    fail("file '{}': npy header field 'fortran_order' is True; only C order is supported (save with "
         "np.ascontiguousarray)",
         path);

  uint64_t nbytes = dtype->itemsize;
  for (const int64_t d : shape)
    if (__builtin_mul_overflow(nbytes, static_cast<uint64_t>(d), &nbytes))
      fail("file '{}': npy header field 'shape' {} overflows 64 bits", path, shape_tuple(shape));
  const uint64_t available = file_size - data_offset;
  if (available < nbytes)
    fail("file '{}': data truncated: shape {} of {} needs {} bytes, the file holds {} after the header", path,
         shape_tuple(shape), descr, nbytes, available);
  if (available > nbytes)
    fail("file '{}': {} unexpected bytes after the data of shape {} of {}", path, available - nbytes,
         shape_tuple(shape), descr);

  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype->type));
  if (nbytes > 0) {
    in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(nbytes));
    if (!in) fail("file '{}': read error in the data", path);
  }
  if (dtype->type == at::kBool) {
    const uint8_t* p = static_cast<const uint8_t*>(t.data_ptr());
    for (uint64_t i = 0; i < nbytes; ++i)
      if (p[i] > 1) fail("file '{}': bool element {} holds byte {}, not 0 or 1", path, i, p[i]);
  }
  return t;
}

void write_npy(const std::string& path, const at::Tensor& t) {
  if (!t.defined()) fail("file '{}': cannot write an undefined tensor", path);
  const NpyDtype* dtype = nullptr;
  for (const auto& d : kNpyDtypes)
    if (t.scalar_type() == d.type) dtype = &d;
  if (!dtype)
    fail("file '{}': dtype {} has no .npy equivalent (supported: {}); convert first", path,
         c10::toString(t.scalar_type()), supported_descrs());
  const at::Tensor c = t.detach().to(at::kCPU).contiguous();

  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", dtype->descr, shape_tuple(c.sizes().vec()));
  // numpy pads with spaces and a final '\n' so that the data begins 64-byte aligned.
  const auto padded = [&](size_t prefix) { return header.size() + 1 + (64 - (prefix + header.size() + 1) % 64) % 64; };
  const size_t prefix = padded(10) <= 65535 ? 10 : 12;  // v1.0 has a u16 length; beyond it, v2.0's u32
  header.append(padded(prefix) - header.size() - 1, ' ');
  header += '\n';

  std::string pre(kMagic, kMagicLen);
  pre += static_cast<char>(prefix == 10 ? 1 : 2);
  pre += '\0';
  const uint64_t len = header.size();
  for (size_t b = 0; b < prefix - 8; ++b) pre += static_cast<char>((len >> (8 * b)) & 0xff);

  AtomicWriter out(path);
  out.write(pre);
  out.write(header);
  if (c.nbytes() > 0) out.write(c.data_ptr(), c.nbytes());
  out.commit();
}

}  // namespace sightline
