// safetensors reader (mmap) and writer. Format (FORMATS.md): 8-byte little-endian u64
// header length N, N bytes of UTF-8 JSON {name: {dtype, shape, data_offsets: [b, e]},
// "__metadata__": {str: str}}, then raw little-endian data; offsets are relative to the
// end of the header.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sightline {

// One tensor's header record. begin/end are byte offsets into the data section
// (relative to the end of the header), end exclusive.
struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // "F32", "BF16", ...
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

// A read-only, memory-mapped safetensors file. The constructor validates the whole header
// against the file length (sizes, offsets, overlaps, dtypes) and throws Error naming the
// file and the tensor or field at fault. Supported dtypes: F64 F32 F16 BF16 I64 I32 I16
// I8 U8 BOOL. load() is safe to call from several threads at once.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;

  const std::string& path() const { return path_; }
  // All tensor names, sorted.
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const;
  // Throws "file '<path>': no tensor '<name>'".
  const SafetensorsEntry& entry(const std::string& name) const;
  // An owned, contiguous CPU tensor of the stored dtype and shape (copied out of the
  // mapping). BOOL data holding bytes other than 0/1 throws.
  at::Tensor load(const std::string& name) const;
  // The "__metadata__" map (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::string path_;
  const uint8_t* map_ = nullptr;  // whole file, PROT_READ
  size_t map_size_ = 0;
  uint64_t data_start_ = 0;  // 8 + header length
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Writes `tensors` in the given order (any device; made contiguous and copied to CPU;
// dtypes F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL) with the header padded with spaces to a
// multiple of 8 bytes, as the Python writer does. Writes path + ".tmp" then renames, so a
// crash never leaves a half-written file under `path`. Names must be unique, non-empty
// and not "__metadata__"; `metadata` becomes "__metadata__" when non-empty.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace sightline
