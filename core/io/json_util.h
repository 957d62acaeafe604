// JSON / JSONL files with error messages that name the file, the line and the field at
// fault, plus the crash-safe file writer the io module uses for every output
// (safetensors, npy, json).
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "core/common/error.h"

namespace sightline {

// Parses a whole JSON file. Throws Error "file '<path>': line L, column C: ..." on a
// syntax error, or naming the file when it cannot be read.
nlohmann::json read_json_file(const std::string& path);

// Writes `j` (pretty-printed with `indent` spaces, or compact when indent < 0) plus a
// final newline, atomically: path + ".tmp" then rename, so `path` is never half-written.
void write_json_file(const std::string& path, const nlohmann::json& j, int indent = 2);

// Reads a JSON-lines file: calls fn(line_number, json) for each non-blank line, with
// 1-based line numbers. A line that is not JSON throws "file '<path>': line N: ...";
// a nlohmann::json exception thrown by fn (e.g. a bad .at()) is re-thrown as Error
// naming the file and line. Other exceptions from fn pass through unchanged.
void for_each_jsonl(const std::string& path,
                    const std::function<void(int64_t, const nlohmann::json&)>& fn);

// Writes a file as path + ".tmp", then fsyncs and renames it over `path` in commit().
// If commit() is never reached (an exception, a crash) the temp file is removed (or, on a
// crash, left beside `path`) and `path` keeps its old content.
class AtomicWriter {
 public:
  explicit AtomicWriter(const std::string& path);  // throws Error naming the file
  ~AtomicWriter();                                  // removes the temp file unless committed
  AtomicWriter(const AtomicWriter&) = delete;
  AtomicWriter& operator=(const AtomicWriter&) = delete;

  // Appends n bytes; throws Error naming the file on a short write (disk full etc.).
  void write(const void* data, size_t n);
  void write(const std::string& s) { write(s.data(), s.size()); }
  // Flushes to disk and renames the temp file to the final path.
  void commit();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string tmp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

namespace json_detail {

// "string \"abc\"", "number 1.5", "array", "object", "null": what a value is, for errors.
std::string describe(const nlohmann::json& v);

// Throws unless j is an object (json_get on an array or a number is a caller's bug or a
// malformed file; either way the file should be named).
void require_object(const nlohmann::json& j, const std::string& key, const std::string& where);

// JsonKind<T>: whether a json value can be read as T, how T is named in errors, and why
// a given value is not a T.
template <typename T, typename Enable = void>
struct JsonKind;

template <>
struct JsonKind<bool> {
  static std::string name() { return "a boolean"; }
  static bool ok(const nlohmann::json& v) { return v.is_boolean(); }
  static bool get(const nlohmann::json& v) { return v.get<bool>(); }
  static std::string why_not(const nlohmann::json& v) { return describe(v); }
};

template <typename T>
struct JsonKind<T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>> {
  static std::string name() { return "an integer"; }
  // An integer json number that fits T (no silent narrowing or sign flips).
  static bool ok(const nlohmann::json& v) {
    if (v.is_number_unsigned())
      return v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max());
    if (v.is_number_integer()) {
      const int64_t x = v.get<int64_t>();
      if constexpr (std::is_signed_v<T>) {
        return x >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
               x <= static_cast<int64_t>(std::numeric_limits<T>::max());
      } else {
        return x >= 0 && static_cast<uint64_t>(x) <= static_cast<uint64_t>(std::numeric_limits<T>::max());
      }
    }
    return false;
  }
  static T get(const nlohmann::json& v) { return v.get<T>(); }
  static std::string why_not(const nlohmann::json& v) {
    if (v.is_number_integer())
      return describe(v) + " (out of range for " + (std::is_signed_v<T> ? "a signed " : "an unsigned ") +
             std::to_string(8 * sizeof(T)) + "-bit integer)";
    return describe(v);
  }
};

template <typename T>
struct JsonKind<T, std::enable_if_t<std::is_floating_point_v<T>>> {
  static std::string name() { return "a number"; }
  static bool ok(const nlohmann::json& v) { return v.is_number(); }
  static T get(const nlohmann::json& v) { return v.get<T>(); }
  static std::string why_not(const nlohmann::json& v) { return describe(v); }
};

template <>
struct JsonKind<std::string> {
  static std::string name() { return "a string"; }
  static bool ok(const nlohmann::json& v) { return v.is_string(); }
  static std::string get(const nlohmann::json& v) { return v.get<std::string>(); }
  static std::string why_not(const nlohmann::json& v) { return describe(v); }
};

template <>
struct JsonKind<nlohmann::json> {
  static std::string name() { return "any JSON value"; }
  static bool ok(const nlohmann::json&) { return true; }
  static nlohmann::json get(const nlohmann::json& v) { return v; }
  static std::string why_not(const nlohmann::json& v) { return describe(v); }
};

// "a string" -> "strings", "an integer" -> "integers": element names inside containers.
inline std::string plural_of(const std::string& name) {
  if (name.rfind("a ", 0) == 0) return name.substr(2) + "s";
  if (name.rfind("an ", 0) == 0) return name.substr(3) + "s";
  return name;
}

template <typename E>
struct JsonKind<std::vector<E>> {
  static std::string name() { return "an array of " + plural_of(JsonKind<E>::name()); }
  static bool ok(const nlohmann::json& v) {
    if (!v.is_array()) return false;
    for (const auto& e : v)
      if (!JsonKind<E>::ok(e)) return false;
    return true;
  }
  static std::vector<E> get(const nlohmann::json& v) {
    std::vector<E> out;
    out.reserve(v.size());
    for (const auto& e : v) out.push_back(JsonKind<E>::get(e));
    return out;
  }
  static std::string why_not(const nlohmann::json& v) {
    if (v.is_array()) {
      for (size_t i = 0; i < v.size(); ++i)
        if (!JsonKind<E>::ok(v[i])) return "array with " + JsonKind<E>::why_not(v[i]) + " at index " + std::to_string(i);
    }
    return describe(v);
  }
};

template <typename E>
struct JsonKind<std::map<std::string, E>> {
  static std::string name() { return "an object of " + plural_of(JsonKind<E>::name()); }
  static bool ok(const nlohmann::json& v) {
    if (!v.is_object()) return false;
    for (const auto& item : v.items())
      if (!JsonKind<E>::ok(item.value())) return false;
    return true;
  }
  static std::map<std::string, E> get(const nlohmann::json& v) {
    std::map<std::string, E> out;
    for (const auto& item : v.items()) out.emplace(item.key(), JsonKind<E>::get(item.value()));
    return out;
  }
  static std::string why_not(const nlohmann::json& v) {
    if (v.is_object()) {
      for (const auto& item : v.items())
        if (!JsonKind<E>::ok(item.value()))
          return "object with " + JsonKind<E>::why_not(item.value()) + " at key '" + item.key() + "'";
    }
    return describe(v);
  }
};

template <typename T>
T convert(const nlohmann::json& v, const std::string& key, const std::string& where) {
  if (!JsonKind<T>::ok(v))
    fail("file '{}': field '{}' must be {}, got {}", where, key, JsonKind<T>::name(), JsonKind<T>::why_not(v));
  return JsonKind<T>::get(v);
}

}  // namespace json_detail

// Reads j[key] as T. Throws "file '<where>': field '<key>' missing" or
// "file '<where>': field '<key>' must be <type>, got <json type>". Integers must fit T.
// T: bool, integral types, float/double, std::string, nlohmann::json, std::vector<T>,
// std::map<std::string, T>.
template <typename T>
T json_get(const nlohmann::json& j, const std::string& key, const std::string& where) {
  json_detail::require_object(j, key, where);
  const auto it = j.find(key);
  if (it == j.end()) fail("file '{}': field '{}' missing", where, key);
  return json_detail::convert<T>(*it, key, where);
}

// Like json_get, but returns `fallback` when the field is absent or null (HF configs
// write null for "not set").
template <typename T>
T json_get_or(const nlohmann::json& j, const std::string& key, const T& fallback, const std::string& where) {
  json_detail::require_object(j, key, where);
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  return json_detail::convert<T>(*it, key, where);
}

}  // namespace sightline
