#include "core/io/json_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sightline {

namespace {

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("file '{}': cannot open for reading: {}", path, std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) fail("file '{}': read error", path);
  return buffer.str();
}

// nlohmann's what() is "[json.exception.parse_error.101] parse error at line 1, column 2:
// syntax error ..."; keep only the part after the position, which we report ourselves.
std::string parse_error_detail(const nlohmann::json::parse_error& e) {
  const std::string msg = e.what();
  const size_t col = msg.find("column ");
  if (col != std::string::npos) {
    const size_t colon = msg.find(": ", col);
    if (colon != std::string::npos) return msg.substr(colon + 2);
  }
  const size_t bracket = msg.find("] ");
  return bracket == std::string::npos ? msg : msg.substr(bracket + 2);
}

// 1-based line and column of the character at 0-based `index` in `text`.
std::pair<int64_t, int64_t> line_and_column(const std::string& text, size_t index) {
  if (index > text.size()) index = text.size();
  int64_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < index; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return {line, static_cast<int64_t>(index - line_start) + 1};
}

}  // namespace

namespace json_detail {

std::string describe(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::boolean:
      return std::string("boolean ") + (v.get<bool>() ? "true" : "false");
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      return "number " + v.dump();
    case nlohmann::json::value_t::string: {
      std::string s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      if (s.size() > 40) s = s.substr(0, 37) + "...";
      return "string " + s;
    }
    case nlohmann::json::value_t::array:
      return "array of " + std::to_string(v.size()) + " elements";
    case nlohmann::json::value_t::object:
      return "object";
    default:
      return v.type_name();
  }
}

void require_object(const nlohmann::json& j, const std::string& key, const std::string& where) {
  if (!j.is_object()) fail("file '{}': expected an object holding field '{}', got {}", where, key, describe(j));
}

}  // namespace json_detail

nlohmann::json read_json_file(const std::string& path) {
  const std::string text = read_text_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte counts characters read, so the offending character is at e.byte - 1.
    const auto [line, column] = line_and_column(text, e.byte > 0 ? e.byte - 1 : 0);
    fail("file '{}': line {}, column {}: JSON syntax error: {}", path, line, column, parse_error_detail(e));
  } catch (const nlohmann::json::exception& e) {
    // out_of_range 406: a number literal such as 1e999 overflows a double.
    fail("file '{}': invalid JSON value: {}", path, e.what());
  }
}

void write_json_file(const std::string& path, const nlohmann::json& j, int indent) {
  std::string text;
  try {
    text = j.dump(indent);
  } catch (const nlohmann::json::exception& e) {
    // type_error 316: a string holds invalid UTF-8.
    fail("file '{}': cannot serialise JSON: {}", path, e.what());
  }
  text += '\n';
  AtomicWriter out(path);
  out.write(text);
  out.commit();
}

void for_each_jsonl(const std::string& path, const std::function<void(int64_t, const nlohmann::json&)>& fn) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("file '{}': cannot open for reading: {}", path, std::strerror(errno));
  std::string line;
  int64_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF files
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    nlohmann::json value;
    try {
      value = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      fail("file '{}': line {}: JSON syntax error at column {}: {}", path, line_number, e.byte,
           parse_error_detail(e));
    } catch (const nlohmann::json::exception& e) {
      fail("file '{}': line {}: invalid JSON value: {}", path, line_number, e.what());
    }
    try {
      fn(line_number, value);
    } catch (const nlohmann::json::exception& e) {
      fail("file '{}': line {}: {}", path, line_number, e.what());
    }
  }
  if (in.bad()) fail("file '{}': read error after line {}", path, line_number);
}

AtomicWriter::AtomicWriter(const std::string& path) : path_(path), tmp_path_(path + ".tmp") {
  fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("file '{}': cannot create '{}': {}", path_, tmp_path_, std::strerror(errno));
}

AtomicWriter::~AtomicWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_path_.c_str());
}

void AtomicWriter::write(const void* data, size_t n) {
  check(fd_ >= 0 && !committed_, "file '{}': write after commit", path_);
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("file '{}': write failed: {}", path_, std::strerror(errno));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void AtomicWriter::commit() {
  check(fd_ >= 0 && !committed_, "file '{}': committed twice", path_);
  // fsync before rename: otherwise a crash can leave `path` renamed but empty.
  if (::fsync(fd_) != 0) fail("file '{}': fsync failed: {}", path_, std::strerror(errno));
  const int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) fail("file '{}': close failed: {}", path_, std::strerror(errno));
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0)
    fail("file '{}': cannot rename '{}' into place: {}", path_, tmp_path_, std::strerror(errno));
  committed_ = true;
  // Persist the directory entry too; failure here only weakens durability, not integrity.
  std::string dir = std::filesystem::path(path_).parent_path().string();
  if (dir.empty()) dir = ".";
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace sightline
