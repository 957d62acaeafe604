// JSON / JSONL helpers: syntax errors with line numbers, atomic writes, typed field access.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/common/error.h"
#include "core/io/json_util.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace sightline;
using ::testing::HasSubstr;
using nlohmann::json;

using sightline::test::error_of;
using sightline::test::write_bytes;

namespace {



std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class JsonTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::scratch_dir("io-json"); }
  std::string file(const std::string& name) const { return (fs::path(dir_) / name).string(); }
  std::string dir_;
};

TEST_F(JsonTest, WriteThenReadRoundTrip) {
  const std::string p = file("cfg.json");
  const json j = {{"hidden_size", 4096}, {"name", "llama ✓"}, {"eps", 1e-5}, {"list", {1, 2, 3}}, {"none", nullptr}};
  write_json_file(p, j);
  EXPECT_EQ(read_json_file(p), j);
  const std::string text = read_text(p);
  EXPECT_EQ(text.back(), '\n');
  EXPECT_THAT(text, HasSubstr("\n  \"eps\""));  // indent 2
  EXPECT_FALSE(fs::exists(p + ".tmp"));
  write_json_file(p, json{{"a", 1}}, -1);
  EXPECT_EQ(read_text(p), "{\"a\":1}\n");
}

TEST_F(JsonTest, SyntaxErrorNamesFileLineAndColumn) {
  const std::string p = file("broken.json");
  write_bytes(p, "{\n  \"a\": 1,\n  \"b\": tru\n}\n");
  const std::string msg = error_of([&] { read_json_file(p); });
  EXPECT_THAT(msg, HasSubstr("file '" + p + "'"));
  EXPECT_THAT(msg, HasSubstr("line 3, column"));
  EXPECT_THAT(msg, HasSubstr("JSON syntax error"));
  write_bytes(p, "");
  EXPECT_THAT(error_of([&] { read_json_file(p); }), HasSubstr("line 1"));
  EXPECT_THAT(error_of([&] { read_json_file(file("absent.json")); }), HasSubstr("file '" + file("absent.json") + "'"));
}

TEST_F(JsonTest, WriteErrorsNameTheFile) {
  const std::string p = file("no/such/dir/x.json");
  EXPECT_THAT(error_of([&] { write_json_file(p, json{{"a", 1}}); }), HasSubstr("file '" + p + "'"));
  const std::string q = file("bad_utf8.json");
  EXPECT_THAT(error_of([&] { write_json_file(q, json{{"a", std::string("\xff")}}); }),
              HasSubstr("file '" + q + "'"));
  EXPECT_FALSE(fs::exists(q));
  EXPECT_FALSE(fs::exists(q + ".tmp"));
}

TEST_F(JsonTest, JsonlLineNumbersSkipBlankLinesAndCrlf) {
  const std::string p = file("items.jsonl");
  write_bytes(p, "{\"i\": 1}\n\n   \n{\"i\": 2}\r\n{\"i\": 3}");  // no final newline
  std::vector<std::pair<int64_t, int64_t>> seen;
  for_each_jsonl(p, [&](int64_t line, const json& j) { seen.emplace_back(line, j.at("i").get<int64_t>()); });
  EXPECT_EQ(seen, (std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {4, 2}, {5, 3}}));
}

TEST_F(JsonTest, JsonlBadLineNamesLineNumber) {
  const std::string p = file("bad.jsonl");
  write_bytes(p, "{\"i\": 1}\n{\"i\": 2}\n\n{\"i\": 3,}\n{\"i\": 5}\n");
  int calls = 0;
  const std::string msg = error_of([&] { for_each_jsonl(p, [&](int64_t, const json&) { ++calls; }); });
  EXPECT_THAT(msg, HasSubstr("file '" + p + "': line 4:"));
  EXPECT_EQ(calls, 2);
  // A nlohmann error inside the callback is reported with the file and line too.
  write_bytes(p, "{\"i\": 1}\n{\"j\": 2}\n");
  const std::string msg2 = error_of([&] { for_each_jsonl(p, [&](int64_t, const json& j) { j.at("i"); }); });
  EXPECT_THAT(msg2, HasSubstr("file '" + p + "': line 2:"));
  EXPECT_THAT(error_of([&] { for_each_jsonl(file("absent.jsonl"), [](int64_t, const json&) {}); }),
              HasSubstr("absent.jsonl"));
}

TEST_F(JsonTest, JsonGetTypedAccess) {
  const json j = json::parse(R"({"n": 5, "neg": -3, "f": 1.5, "s": "x", "b": true, "v": [1, 2, 3],
                                 "vs": ["a", "b"], "m": {"k": "v"}, "big": 300, "nul": null})");
  EXPECT_EQ(json_get<int>(j, "n", "cfg.json"), 5);
  EXPECT_EQ(json_get<int64_t>(j, "neg", "cfg.json"), -3);
  EXPECT_EQ(json_get<double>(j, "f", "cfg.json"), 1.5);
  EXPECT_EQ(json_get<double>(j, "n", "cfg.json"), 5.0);  // integers are numbers
  EXPECT_EQ(json_get<float>(j, "f", "cfg.json"), 1.5f);
  EXPECT_EQ(json_get<std::string>(j, "s", "cfg.json"), "x");
  EXPECT_EQ(json_get<bool>(j, "b", "cfg.json"), true);
  EXPECT_EQ(json_get<std::vector<int64_t>>(j, "v", "cfg.json"), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(json_get<std::vector<std::string>>(j, "vs", "cfg.json"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ((json_get<std::map<std::string, std::string>>(j, "m", "cfg.json")),
            (std::map<std::string, std::string>{{"k", "v"}}));
  EXPECT_EQ(json_get<json>(j, "m", "cfg.json"), j["m"]);

  EXPECT_EQ(json_get_or<int>(j, "absent", 42, "cfg.json"), 42);
  EXPECT_EQ(json_get_or<int>(j, "nul", 42, "cfg.json"), 42);
  EXPECT_EQ(json_get_or<int>(j, "n", 42, "cfg.json"), 5);
  EXPECT_EQ(json_get_or<std::string>(j, "absent", "d", "cfg.json"), "d");
}

TEST_F(JsonTest, JsonGetErrors) {
  const json j = json::parse(R"({"n": 5, "neg": -3, "f": 1.5, "s": "x", "v": [1, "two", 3], "big": 300})");
  EXPECT_EQ(error_of([&] { json_get<int>(j, "hidden_size", "cfg.json"); }),
            "file 'cfg.json': field 'hidden_size' missing");
  EXPECT_EQ(error_of([&] { json_get<int>(j, "s", "cfg.json"); }),
            "file 'cfg.json': field 's' must be an integer, got string \"x\"");
  EXPECT_EQ(error_of([&] { json_get<int>(j, "f", "cfg.json"); }),
            "file 'cfg.json': field 'f' must be an integer, got number 1.5");
  EXPECT_EQ(error_of([&] { json_get<std::string>(j, "n", "cfg.json"); }),
            "file 'cfg.json': field 'n' must be a string, got number 5");
  EXPECT_EQ(error_of([&] { json_get<bool>(j, "v", "cfg.json"); }),
            "file 'cfg.json': field 'v' must be a boolean, got array of 3 elements");
  EXPECT_THAT(error_of([&] { json_get<int8_t>(j, "big", "cfg.json"); }),
              HasSubstr("field 'big' must be an integer, got number 300 (out of range for a signed 8-bit integer)"));
  EXPECT_THAT(error_of([&] { json_get<uint32_t>(j, "neg", "cfg.json"); }),
              HasSubstr("field 'neg' must be an integer, got number -3 (out of range"));
  EXPECT_EQ(error_of([&] { json_get<std::vector<int>>(j, "v", "cfg.json"); }),
            "file 'cfg.json': field 'v' must be an array of integers, got array with string \"two\" at index 1");
  // json_get_or still checks the type of a present field.
  EXPECT_THAT(error_of([&] { json_get_or<double>(j, "s", 1.0, "cfg.json"); }),
              HasSubstr("field 's' must be a number, got string"));
  EXPECT_THAT(error_of([&] { json_get<int>(json::array({1}), "n", "list.json"); }),
              HasSubstr("file 'list.json': expected an object holding field 'n', got array"));
}

TEST_F(JsonTest, ReadsVsrFixture) {
  SIGHTLINE_REQUIRE_FIXTURES();
  const std::string p = (fs::path(test::fixtures_dir()) / "vsr" / "random_dev.jsonl").string();
  int64_t count = 0, last_line = 0, positives = 0;
  for_each_jsonl(p, [&](int64_t line, const json& j) {
    ++count;
    last_line = line;
    const std::string where = p + ":" + std::to_string(line);
    EXPECT_FALSE(json_get<std::string>(j, "caption", where).empty());
    const int label = json_get<int>(j, "label", where);
    EXPECT_TRUE(label == 0 || label == 1);
    positives += label;
    json_get<std::string>(j, "relation", where);
  });
  EXPECT_EQ(count, 1097);  // FORMATS.md: random dev split size
  EXPECT_EQ(last_line, 1097);
  EXPECT_GT(positives, 0);
  EXPECT_LT(positives, count);
}

}  // namespace
