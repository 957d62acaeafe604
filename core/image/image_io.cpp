// Image decoding (stb_image) and PNG writing (stb_image_write). The stb implementations
// live in libstb; only the declarations are included here.
#include "core/image/image.h"

#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <unistd.h>

#include "core/common/error.h"

namespace fs = std::filesystem;

namespace sightline {
namespace {

// PIL raises DecompressionBombError above 2 * Image.MAX_IMAGE_PIXELS; refuse the same,
// so a hostile header cannot make us allocate gigabytes.
constexpr int64_t kMaxPixels = 2LL * 89478485;

enum class Format { kJpeg, kPng, kBmp };

const char* format_name(Format f) {
  switch (f) {
    case Format::kJpeg: return "JPEG";
    case Format::kPng: return "PNG";
    case Format::kBmp: return "BMP";
  }
  return "?";
}

// Magic numbers: JPEG SOI + marker prefix, the 8-byte PNG signature, BMP "BM". stb also
// guesses TGA and others from weak headers, which would let random bytes "decode"; only
// the three formats we document are accepted.
bool sniff(const uint8_t* b, size_t n, Format* out) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) {
    *out = Format::kJpeg;
    return true;
  }
  if (n >= 8 && std::memcmp(b, kPng, 8) == 0) {
    *out = Format::kPng;
    return true;
  }
  if (n >= 2 && b[0] == 'B' && b[1] == 'M') {
    *out = Format::kBmp;
    return true;
  }
  return false;
}

// A DHT (define Huffman table) segment: each table is a class/id byte, 16 code counts and
// that many symbols. libjpeg rejects more than 256 codes or a table running past the
// segment ("bogus Huffman table definition"); stb_image 2.27 does not check the count and
// writes past its 256-entry tables (found by tests/fuzz/fuzz_image). Returns "" when sound.
std::string dht_problem(const uint8_t* segment, size_t size) {
  size_t at = 0;
  for (int table = 0; at < size; ++table) {
    if (size - at < 17) return fmt::format("Huffman table {} is cut inside its 17-byte header", table);
    size_t codes = 0;
    for (size_t i = 1; i <= 16; ++i) codes += segment[at + i];
    if (codes > 256) return fmt::format("Huffman table {} declares {} codes (at most 256)", table, codes);
    if (codes > size - at - 17)
      return fmt::format("Huffman table {} declares {} codes but its segment holds {}", table, codes, size - at - 17);
    at += 17 + codes;
  }
  return "";
}

// PIL/libjpeg reject a JPEG that ends before its end-of-image marker ("image file is
// truncated"). stb_image 2.27 does too, but only as "expected marker", and older stb
// releases decode the cut scan padded with zeros; so walk the marker structure ourselves
// and require FFD9 before the data ends. Returns "" when complete, else what is wrong.
std::string jpeg_structure_problem(const uint8_t* b, size_t n) {
  size_t pos = 2;  // after SOI (checked by sniff)
  while (pos < n) {
    // Expect a marker; libjpeg skips stray bytes before one ("extraneous bytes"), so do we.
    while (pos < n && b[pos] != 0xFF) ++pos;
    while (pos < n && b[pos] == 0xFF) ++pos;  // fill bytes
    if (pos >= n) break;
    const uint8_t marker = b[pos++];
    if (marker == 0xD9) return "";
    // Standalone markers carry no length: TEM, RST0..7, SOI.
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) continue;
    if (pos + 2 > n) return "truncated inside a marker segment header";
    const size_t length = (static_cast<size_t>(b[pos]) << 8) | b[pos + 1];
    if (length < 2) return fmt::format("marker 0x{:02X} has invalid length {}", marker, length);
    if (pos + length > n) return fmt::format("truncated inside marker 0x{:02X} segment", marker);
    if (marker == 0xC4) {
      const std::string dht = dht_problem(b + pos + 2, length - 2);
      if (!dht.empty()) return "DHT segment: " + dht;
    }
    pos += length;
    if (marker != 0xDA) continue;
    // Start of scan: entropy-coded data runs until a marker other than a stuffed 0xFF00
    // or a restart marker RST0..7.
    while (pos < n) {
      if (b[pos] != 0xFF) {
        ++pos;
        continue;
      }
      if (pos + 1 >= n) {
        pos = n;
        break;
      }
      const uint8_t next = b[pos + 1];
      if (next == 0x00 || (next >= 0xD0 && next <= 0xD7)) {
        pos += 2;
      } else if (next == 0xFF) {
        ++pos;  // fill byte before a marker
      } else {
        break;  // a real marker: handled by the outer loop
      }
    }
  }
  return "truncated: no end-of-image marker (FFD9)";
}

// BITMAPFILEHEADER: "BM", u32 LE file size at offset 2. stb reads zeros past the end of
// a cut BMP, so compare the declared size with what we have.
std::string bmp_structure_problem(const uint8_t* b, size_t n) {
  if (n < 14) return "truncated inside the 14-byte file header";
  const uint32_t declared = static_cast<uint32_t>(b[2]) | (static_cast<uint32_t>(b[3]) << 8) |
                            (static_cast<uint32_t>(b[4]) << 16) | (static_cast<uint32_t>(b[5]) << 24);
  if (declared != 0 && declared > n)
    return fmt::format("truncated: header declares {} bytes, file has {}", declared, n);
  return "";
}

std::string stb_reason() {
  const char* reason = stbi_failure_reason();
  return reason ? reason : "unknown stb_image error";
}

}  // namespace

ImageU8 decode_image(const uint8_t* bytes, size_t size, const std::string& what) {
  if (bytes == nullptr || size == 0) fail("image '{}': empty file", what);
  Format format;
  if (!sniff(bytes, size, &format)) {
    const size_t shown = std::min<size_t>(size, 8);
    std::string head;
    for (size_t i = 0; i < shown; ++i) head += fmt::format("{:02X}", bytes[i]);
    fail("image '{}': not a JPEG, PNG or BMP file (first bytes {})", what, head);
  }
  if (size > static_cast<size_t>(INT_MAX))
    fail("image '{}': {} bytes is too large to decode", what, size);

  std::string problem;
  if (format == Format::kJpeg) problem = jpeg_structure_problem(bytes, size);
  if (format == Format::kBmp) problem = bmp_structure_problem(bytes, size);
  if (!problem.empty()) fail("image '{}': bad {}: {}", what, format_name(format), problem);

  const int length = static_cast<int>(size);
  int width = 0, height = 0, channels = 0;
  if (!stbi_info_from_memory(bytes, length, &width, &height, &channels))
    fail("image '{}': bad {} header: {}", what, format_name(format), stb_reason());
  if (width <= 0 || height <= 0 || static_cast<int64_t>(width) * height > kMaxPixels)
    fail("image '{}': {} dimensions {}x{} out of range (max {} pixels)", what, format_name(format),
         width, height, kMaxPixels);

  std::unique_ptr<stbi_uc, void (*)(void*)> data(
      stbi_load_from_memory(bytes, length, &width, &height, &channels, 3), stbi_image_free);
  if (!data) fail("image '{}': cannot decode {}: {}", what, format_name(format), stb_reason());

  ImageU8 image;
  image.width = width;
  image.height = height;
  image.rgb.assign(data.get(), data.get() + static_cast<size_t>(width) * height * 3);
  return image;
}

ImageU8 load_image(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) fail("image '{}': is a directory", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("image '{}': cannot open: {}", path, std::strerror(errno));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail("image '{}': read error", path);
  return decode_image(bytes.data(), bytes.size(), path);
}

void save_png(const std::string& path, const ImageU8& image) {
  if (image.width <= 0 || image.height <= 0)
    fail("image '{}': cannot save an empty {}x{} image", path, image.width, image.height);
  if (image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3)
    fail("image '{}': rgb buffer holds {} bytes, expected {}x{}x3", path, image.rgb.size(),
         image.width, image.height);
  if (static_cast<int64_t>(image.width) * 3 > INT_MAX)
    fail("image '{}': width {} too large for PNG rows", path, image.width);

  std::vector<uint8_t> encoded;
  auto sink = [](void* context, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(context);
    const auto* p = static_cast<const uint8_t*>(data);
    out->insert(out->end(), p, p + size);
  };
  if (!stbi_write_png_to_func(sink, &encoded, image.width, image.height, 3, image.rgb.data(),
                              image.width * 3))
    fail("image '{}': PNG encoding failed", path);

  // Temporary name unique per process and call, in the same directory so rename is atomic.
  static std::atomic<uint64_t> counter{0};
  const std::string tmp =
      fmt::format("{}.tmp-{}-{}", path, static_cast<long>(::getpid()), counter.fetch_add(1));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("image '{}': cannot create '{}': {}", path, tmp, std::strerror(errno));
    out.write(reinterpret_cast<const char*>(encoded.data()),
              static_cast<std::streamsize>(encoded.size()));
    out.close();
    if (!out) {
      std::error_code ignored;
      fs::remove(tmp, ignored);
      fail("image '{}': write error on '{}'", path, tmp);
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    fail("image '{}': cannot rename '{}' into place: {}", path, tmp, ec.message());
  }
}

}  // namespace sightline
