#include "core/io/safetensors.h"

#include <fcntl.h>
#include <fmt/ranges.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <torch/types.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "core/common/error.h"
#include "core/io/json_util.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian; so must the host be");

namespace sightline {

namespace {

// The Rust reference implementation refuses headers above 100 MB; so do we, so that a
// corrupt length cannot make us parse gigabytes.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
  size_t itemsize;
};

constexpr DtypeInfo kDtypes[] = {
    {"F64", at::kDouble, 8}, {"F32", at::kFloat, 4}, {"F16", at::kHalf, 2},  {"BF16", at::kBFloat16, 2},
    {"I64", at::kLong, 8},   {"I32", at::kInt, 4},   {"I16", at::kShort, 2}, {"I8", at::kChar, 1},
    {"U8", at::kByte, 1},    {"BOOL", at::kBool, 1},
};

const DtypeInfo* dtype_by_name(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

const DtypeInfo* dtype_by_type(at::ScalarType type) {
  for (const auto& d : kDtypes)
    if (type == d.type) return &d;
  return nullptr;
}

std::string supported_dtypes() {
  std::string s;
  for (const auto& d : kDtypes) s += (s.empty() ? "" : " ") + std::string(d.name);
  return s;
}

// A non-negative integer from the header, or throws naming the tensor and field.
uint64_t header_uint(const nlohmann::json& v, const std::string& path, const std::string& tensor,
                     const std::string& field) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer()) fail("file '{}': tensor '{}': {} holds negative value {}", path, tensor, field, v.dump());
  fail("file '{}': tensor '{}': {} must hold integers, got {}", path, tensor, field, json_detail::describe(v));
}

SafetensorsEntry parse_entry(const std::string& path, const std::string& name, const nlohmann::json& rec,
                             uint64_t data_size) {
  if (!rec.is_object())
    fail("file '{}': tensor '{}': header entry must be an object, got {}", path, name, json_detail::describe(rec));
  SafetensorsEntry e;
  e.name = name;

  const auto dt = rec.find("dtype");
  if (dt == rec.end()) fail("file '{}': tensor '{}': field 'dtype' missing", path, name);
  if (!dt->is_string())
    fail("file '{}': tensor '{}': field 'dtype' must be a string, got {}", path, name, json_detail::describe(*dt));
  e.dtype = dt->get<std::string>();
  const DtypeInfo* info = dtype_by_name(e.dtype);
  if (!info)
    fail("file '{}': tensor '{}': unknown dtype '{}' (supported: {})", path, name, e.dtype, supported_dtypes());

  const auto sh = rec.find("shape");
  if (sh == rec.end()) fail("file '{}': tensor '{}': field 'shape' missing", path, name);
  if (!sh->is_array())
    fail("file '{}': tensor '{}': field 'shape' must be an array, got {}", path, name, json_detail::describe(*sh));
  // numel * itemsize, with overflow detected (a lying header must not wrap around).
  uint64_t nbytes = info->itemsize;
  for (const auto& d : *sh) {
    const uint64_t dim = header_uint(d, path, name, "field 'shape'");
    if (dim > static_cast<uint64_t>(INT64_MAX))
      fail("file '{}': tensor '{}': dimension {} is too large", path, name, dim);
    e.shape.push_back(static_cast<int64_t>(dim));
    if (__builtin_mul_overflow(nbytes, dim, &nbytes))
      fail("file '{}': tensor '{}': shape {} overflows 64 bits", path, name, sh->dump());
  }

  const auto off = rec.find("data_offsets");
  if (off == rec.end()) fail("file '{}': tensor '{}': field 'data_offsets' missing", path, name);
  if (!off->is_array() || off->size() != 2)
    fail("file '{}': tensor '{}': field 'data_offsets' must be an array of 2 integers, got {}", path, name,
         off->is_array() ? off->dump() : json_detail::describe(*off));
  e.begin = header_uint((*off)[0], path, name, "field 'data_offsets'");
  e.end = header_uint((*off)[1], path, name, "field 'data_offsets'");
  if (e.end < e.begin)
    fail("file '{}': tensor '{}': data_offsets [{}, {}] end before begin", path, name, e.begin, e.end);
  if (e.end > data_size)
    fail("file '{}': tensor '{}': data_offsets [{}, {}] run past the end of the data ({} bytes; file truncated?)",
         path, name, e.begin, e.end, data_size);
  if (e.end - e.begin != nbytes)
    fail("file '{}': tensor '{}': data_offsets [{}, {}] span {} bytes but shape [{}] of {} needs {}", path, name,
         e.begin, e.end, e.end - e.begin, fmt::join(e.shape, ", "), e.dtype, nbytes);
  return e;
}

}  // namespace

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("file '{}': cannot open: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("file '{}': not a regular file", path);
  }
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < 8) {
    ::close(fd);
    fail("file '{}': truncated: {} bytes, shorter than the 8-byte header length", path, file_size);
  }
  void* m = ::mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int mmap_errno = errno;
  ::close(fd);  // the mapping keeps the file alive
  if (m == MAP_FAILED) fail("file '{}': mmap failed: {}", path, std::strerror(mmap_errno));
  map_ = static_cast<const uint8_t*>(m);
  map_size_ = file_size;

  // From here on a throw must unmap: the destructor does not run for a failed constructor.
  try {
    uint64_t header_len = 0;
    std::memcpy(&header_len, map_, 8);
    if (header_len > kMaxHeaderBytes)
      fail("file '{}': header length {} is implausible (limit {} bytes; not a safetensors file?)", path, header_len,
           kMaxHeaderBytes);
    if (header_len > file_size - 8)
      fail("file '{}': header length {} exceeds the {} bytes after the length field (file truncated?)", path,
           header_len, file_size - 8);
    data_start_ = 8 + header_len;
    const uint64_t data_size = file_size - data_start_;

    // Collect top-level keys as they are parsed: nlohmann keeps only the last of a
    // repeated key, which would silently hide a tensor.
    std::set<std::string> seen;
    std::string duplicate;
    const auto on_event = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
      if (depth == 1 && event == nlohmann::json::parse_event_t::key) {
        const auto key = parsed.get<std::string>();
        if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
      }
      return true;
    };
    nlohmann::json header;
    const char* hbegin = reinterpret_cast<const char*>(map_ + 8);
    try {
      header = nlohmann::json::parse(hbegin, hbegin + header_len, on_event);
    } catch (const nlohmann::json::parse_error& e) {
      fail("file '{}': header is not valid JSON (byte {} of {}): {}", path, e.byte, header_len, e.what());
    } catch (const nlohmann::json::exception& e) {  // out_of_range 406: a number such as 1e999
      fail("file '{}': header holds an invalid JSON value: {}", path, e.what());
    }
    if (!header.is_object())
      fail("file '{}': header must be a JSON object, got {}", path, json_detail::describe(header));
    if (!duplicate.empty()) fail("file '{}': tensor '{}' appears twice in the header", path, duplicate);

    for (const auto& item : header.items()) {
      const std::string& key = item.key();
      if (key == "__metadata__") {
        if (!item.value().is_object())
          fail("file '{}': field '__metadata__' must be an object, got {}", path,
               json_detail::describe(item.value()));
        for (const auto& kv : item.value().items()) {
          if (!kv.value().is_string())
            fail("file '{}': field '__metadata__' key '{}' must be a string, got {}", path, kv.key(),
                 json_detail::describe(kv.value()));
          metadata_.emplace(kv.key(), kv.value().get<std::string>());
        }
        continue;
      }
      entries_.emplace(key, parse_entry(path, key, item.value(), data_size));
    }

    // Overlap check: sorted by begin, each non-empty range must start at or after the
    // previous one's end. Empty tensors occupy no bytes and cannot overlap.
    std::vector<const SafetensorsEntry*> by_offset;
    for (const auto& [name, e] : entries_)
      if (e.end > e.begin) by_offset.push_back(&e);
    std::sort(by_offset.begin(), by_offset.end(), [](const SafetensorsEntry* a, const SafetensorsEntry* b) {
      return a->begin != b->begin ? a->begin < b->begin : a->name < b->name;
    });
    for (size_t i = 1; i < by_offset.size(); ++i) {
      const auto* prev = by_offset[i - 1];
      const auto* cur = by_offset[i];
      if (cur->begin < prev->end)
        fail("file '{}': tensor '{}' data_offsets [{}, {}] overlap tensor '{}' [{}, {}]", path, cur->name, cur->begin,
             cur->end, prev->name, prev->begin, prev->end);
    }
  } catch (...) {
    ::munmap(const_cast<uint8_t*>(map_), map_size_);
    map_ = nullptr;
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(const_cast<uint8_t*>(map_), map_size_);
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept
    : path_(std::move(other.path_)),
      map_(std::exchange(other.map_, nullptr)),
      map_size_(std::exchange(other.map_size_, 0)),
      data_start_(other.data_start_),
      entries_(std::move(other.entries_)),
      metadata_(std::move(other.metadata_)) {}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept {
  if (this != &other) {
    if (map_) ::munmap(const_cast<uint8_t*>(map_), map_size_);
    path_ = std::move(other.path_);
    map_ = std::exchange(other.map_, nullptr);
    map_size_ = std::exchange(other.map_size_, 0);
    data_start_ = other.data_start_;
    entries_ = std::move(other.entries_);
    metadata_ = std::move(other.metadata_);
  }
  return *this;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& [name, e] : entries_) out.push_back(name);
  return out;  // std::map iterates sorted
}

bool SafetensorsFile::contains(const std::string& name) const { return entries_.count(name) > 0; }

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  const auto it = entries_.find(name);
  if (it == entries_.end()) fail("file '{}': no tensor '{}'", path_, name);
  return it->second;
}

at::Tensor SafetensorsFile::load(const std::string& name) const {
  const SafetensorsEntry& e = entry(name);
  check(map_ != nullptr, "file '{}': tensor '{}': file was moved from", path_, name);
  const DtypeInfo* info = dtype_by_name(e.dtype);  // validated in the constructor
  at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(info->type));
  const size_t nbytes = e.end - e.begin;
  const uint8_t* src = map_ + data_start_ + e.begin;
  if (info->type == at::kBool) {
    // Any byte other than 0/1 in a bool tensor is undefined behaviour in torch ops.
    for (size_t i = 0; i < nbytes; ++i)
      if (src[i] > 1) fail("file '{}': tensor '{}': BOOL byte {} holds {}, not 0 or 1", path_, name, i, src[i]);
  }
  if (nbytes > 0) std::memcpy(t.data_ptr(), src, nbytes);
  return t;
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<at::Tensor> cpu;
  cpu.reserve(tensors.size());
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name.empty()) fail("file '{}': tensor names must be non-empty", path);
    if (name == "__metadata__") fail("file '{}': tensor '__metadata__' clashes with the metadata key", path);
    if (header.contains(name)) fail("file '{}': tensor '{}' given twice", path, name);
    if (!t.defined()) fail("file '{}': tensor '{}' is undefined", path, name);
    if (t.layout() != at::kStrided) fail("file '{}': tensor '{}' is not dense", path, name);
    const DtypeInfo* info = dtype_by_type(t.scalar_type());
    if (!info)
      fail("file '{}': tensor '{}' has dtype {}, not storable (supported: {})", path, name,
           c10::toString(t.scalar_type()), supported_dtypes());
    at::Tensor c = t.detach().to(at::kCPU).contiguous();
    const uint64_t nbytes = c.nbytes();
    header[name] = {{"dtype", info->name}, {"shape", c.sizes().vec()}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    cpu.push_back(std::move(c));
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;

  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    fail("file '{}': a tensor name or metadata string is not valid UTF-8: {}", path, e.what());
  }
  // Pad so the data starts 8-byte aligned (8-byte length field + multiple of 8).
  text.append((8 - text.size() % 8) % 8, ' ');
  const uint64_t header_len = text.size();

  AtomicWriter out(path);
  out.write(&header_len, 8);  // host is little-endian (static_assert above)
  out.write(text);
  for (const auto& c : cpu)
    if (c.nbytes() > 0) out.write(c.data_ptr(), c.nbytes());
  out.commit();
}

}  // namespace sightline
