// safetensors reader/writer and TensorSource: round trips, a hand-assembled file, and
// malformed inputs whose errors must name the file and the tensor/field at fault.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/types.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/common/error.h"
#include "core/io/json_util.h"
#include "core/io/safetensors.h"
#include "core/io/tensor_source.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace sightline;
using ::testing::HasSubstr;

using sightline::test::error_of;
using sightline::test::read_bytes;
using sightline::test::write_bytes;

namespace {




std::string u64_le(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// A safetensors file from a literal header and data section (header length taken from
// the header unless `claimed_len` overrides it, to make it lie).
std::string raw_file(const std::string& header, const std::string& data, int64_t claimed_len = -1) {
  return u64_le(claimed_len < 0 ? header.size() : static_cast<uint64_t>(claimed_len)) + header + data;
}

bool bit_equal(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const at::Tensor ca = a.contiguous(), cb = b.contiguous();
  return ca.nbytes() == cb.nbytes() && std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0;
}

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::scratch_dir("io-st"); }
  std::string file(const std::string& name) const { return (fs::path(dir_) / name).string(); }
  // Writes `bytes` to <dir>/<name> and returns the error SafetensorsFile gives for it.
  std::string open_error(const std::string& name, const std::string& bytes) {
    const std::string p = file(name);
    write_bytes(p, bytes);
    return error_of([&] { SafetensorsFile f(p); });
  }
  std::string dir_;
};

// --- round trips ------------------------------------------------------------------------

TEST_F(SafetensorsTest, RoundTripEveryDtypeBitExact) {
  torch::manual_seed(1);
  // Random bit patterns for the 16-bit floats: covers NaNs, infinities and subnormals.
  const at::Tensor f32 = torch::tensor({1.0f, -0.0f, std::numeric_limits<float>::infinity(),
                                        std::numeric_limits<float>::denorm_min(), 3.14159f, -1e30f});
  const std::vector<std::pair<std::string, at::Tensor>> tensors = {
      {"f64", torch::randn({3, 2}, torch::kDouble)},
      {"f32", f32},
      {"f16", torch::randint(-32768, 32767, {4, 5}, torch::kShort).view(torch::kHalf)},
      {"bf16", torch::randint(-32768, 32767, {2, 3, 4}, torch::kShort).view(torch::kBFloat16)},
      {"i64", torch::tensor({int64_t{-9007199254740993}, int64_t{1} << 62, int64_t{0}})},
      {"i32", torch::tensor({-2147483647 - 1, 2147483647, 5}, torch::kInt)},
      {"i16", torch::randint(-32768, 32767, {7}, torch::kShort)},
      {"i8", torch::tensor({-128, 127, 0, 1}, torch::kChar)},
      {"u8", torch::tensor({0, 255, 128}, torch::kByte)},
      {"bool", torch::tensor({true, false, true})},
  };
  const std::string p = file("all.safetensors");
  save_safetensors(p, tensors);
  SafetensorsFile f(p);
  EXPECT_EQ(f.path(), p);
  std::vector<std::string> expected_names;
  for (const auto& [n, t] : tensors) expected_names.push_back(n);
  std::sort(expected_names.begin(), expected_names.end());
  EXPECT_EQ(f.names(), expected_names);
  const std::map<std::string, std::string> dtype_names = {{"f64", "F64"}, {"f32", "F32"}, {"f16", "F16"},
                                                         {"bf16", "BF16"}, {"i64", "I64"}, {"i32", "I32"},
                                                         {"i16", "I16"}, {"i8", "I8"},   {"u8", "U8"},
                                                         {"bool", "BOOL"}};
  for (const auto& [name, t] : tensors) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(f.contains(name));
    EXPECT_EQ(f.entry(name).dtype, dtype_names.at(name));
    EXPECT_EQ(f.entry(name).shape, t.sizes().vec());
    const at::Tensor back = f.load(name);
    EXPECT_TRUE(back.is_contiguous());
    EXPECT_EQ(back.device(), at::Device(at::kCPU));
    EXPECT_TRUE(bit_equal(back, t));
  }
  EXPECT_FALSE(f.contains("F32"));
  EXPECT_TRUE(f.metadata().empty());
}

TEST_F(SafetensorsTest, MetadataEmptyTensorsScalarsAndNonContiguousInput) {
  const at::Tensor base = torch::arange(12, torch::kFloat).reshape({3, 4});
  const std::string p = file("misc.safetensors");
  save_safetensors(p,
                   {{"scalar", torch::tensor(7.5)},
                    {"empty", torch::zeros({0}, torch::kFloat)},
                    {"empty2d", torch::zeros({3, 0}, torch::kHalf)},
                    {"transposed", base.t()},
                    {"after_empty", torch::tensor({1, 2}, torch::kLong)}},
                   {{"format", "pt"}, {"note", "ünïcode ✓"}});
  SafetensorsFile f(p);
  EXPECT_EQ(f.metadata(), (std::map<std::string, std::string>{{"format", "pt"}, {"note", "ünïcode ✓"}}));
  const at::Tensor s = f.load("scalar");
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(f.entry("scalar").shape, std::vector<int64_t>{});
  EXPECT_EQ(s.item<double>(), 7.5);
  EXPECT_EQ(f.load("empty").sizes(), (std::vector<int64_t>{0}));
  EXPECT_EQ(f.load("empty2d").sizes(), (std::vector<int64_t>{3, 0}));
  EXPECT_EQ(f.load("empty2d").scalar_type(), at::kHalf);
  EXPECT_EQ(f.entry("empty").begin, f.entry("empty").end);
  EXPECT_TRUE(torch::equal(f.load("transposed"), base.t().contiguous()));
  EXPECT_TRUE(torch::equal(f.load("after_empty"), torch::tensor({1, 2}, torch::kLong)));
}

TEST_F(SafetensorsTest, WriterLayoutMatchesTheFormat) {
  const std::string p = file("layout.safetensors");
  save_safetensors(p, {{"b", torch::ones({3}, torch::kHalf)}, {"a", torch::ones({2, 2}, torch::kFloat)}},
                   {{"k", "v"}});
  const std::string bytes = read_bytes(p);
  ASSERT_GE(bytes.size(), 8u);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u) << "header must be padded to a multiple of 8";
  ASSERT_EQ(bytes.size(), 8 + n + 3 * 2 + 4 * 4);  // data packed with no gaps, nothing after
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.front(), '{');
  EXPECT_EQ(header.find_last_not_of(' '), header.rfind('}'));
  const auto j = nlohmann::json::parse(header);
  // Data in the order given: "b" first, then "a".
  EXPECT_EQ(j["b"]["data_offsets"], nlohmann::json::array({0, 6}));
  EXPECT_EQ(j["a"]["data_offsets"], nlohmann::json::array({6, 22}));
  EXPECT_EQ(j["a"]["dtype"], "F32");
  EXPECT_EQ(j["a"]["shape"], nlohmann::json::array({2, 2}));
  EXPECT_EQ(j["__metadata__"]["k"], "v");
  // F16 1.0 is 0x3C00, little-endian.
  EXPECT_EQ(static_cast<unsigned char>(bytes[8 + n]), 0x00);
  EXPECT_EQ(static_cast<unsigned char>(bytes[8 + n + 1]), 0x3C);
}

// A file assembled byte by byte, independent of save_safetensors.
TEST_F(SafetensorsTest, ReadsHandAssembledFile) {
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("h":{"dtype":"F16","shape":[1],"data_offsets":[8,10]},)"
      R"("b":{"dtype":"BF16","shape":[1,1],"data_offsets":[10,12]},)"
      R"("i":{"dtype":"I16","shape":[2],"data_offsets":[12,16]},)"
      R"("z":{"dtype":"BOOL","shape":[],"data_offsets":[16,17]}}  )";  // trailing spaces: padding
  const std::string data = std::string("\x00\x00\x80\x3F", 4)  // 1.0f
                           + std::string("\x00\x00\x20\xC0", 4)  // -2.5f
                           + std::string("\x00\xB8", 2)          // F16 0xB800 = -0.5
                           + std::string("\xC0\x3F", 2)          // BF16 0x3FC0 = 1.5
                           + std::string("\xFF\xFF\x02\x01", 4)  // I16 -1, 258
                           + std::string("\x01", 1);             // true
  std::string bytes;
  ASSERT_LT(header.size(), 65536u);
  bytes += static_cast<char>(header.size() & 0xff);  // u64 little-endian: low byte first
  bytes += static_cast<char>(header.size() >> 8);
  bytes += std::string(6, '\0');
  bytes += header + data;
  const std::string p = file("hand.safetensors");
  write_bytes(p, bytes);

  SafetensorsFile f(p);
  EXPECT_EQ(f.names(), (std::vector<std::string>{"b", "h", "i", "w", "z"}));
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const at::Tensor w = f.load("w");
  ASSERT_EQ(w.scalar_type(), at::kFloat);
  EXPECT_EQ(w[0].item<float>(), 1.0f);
  EXPECT_EQ(w[1].item<float>(), -2.5f);
  EXPECT_EQ(f.load("h").item<float>(), -0.5f);
  const at::Tensor b = f.load("b");
  EXPECT_EQ(b.scalar_type(), at::kBFloat16);
  EXPECT_EQ(b.sizes(), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(b.item<float>(), 1.5f);
  EXPECT_TRUE(torch::equal(f.load("i"), torch::tensor({-1, 258}, torch::kShort)));
  EXPECT_EQ(f.load("z").item<bool>(), true);
  EXPECT_EQ(f.entry("i").begin, 12u);
  EXPECT_EQ(f.entry("i").end, 16u);
}

TEST_F(SafetensorsTest, LoadedTensorOutlivesFileAndMoves) {
  const std::string p = file("m.safetensors");
  save_safetensors(p, {{"x", torch::arange(5, torch::kInt)}});
  at::Tensor t;
  {
    SafetensorsFile f(p);
    SafetensorsFile g(std::move(f));
    t = g.load("x");
  }  // mapping released
  fs::remove(p);
  EXPECT_TRUE(torch::equal(t, torch::arange(5, torch::kInt)));
}

TEST_F(SafetensorsTest, AtomicSaveKeepsOldFileOnFailureAndLeavesNoTemp) {
  const std::string p = file("keep.safetensors");
  save_safetensors(p, {{"x", torch::ones({2})}});
  const std::string before = read_bytes(p);
  const std::string msg = error_of([&] {
    save_safetensors(p, {{"ok", torch::ones({2})}, {"c", torch::ones({2}, torch::kComplexFloat)}});
  });
  EXPECT_THAT(msg, HasSubstr("file '" + p + "'"));
  EXPECT_THAT(msg, HasSubstr("tensor 'c'"));
  EXPECT_EQ(read_bytes(p), before);
  EXPECT_FALSE(fs::exists(p + ".tmp"));
  // Overwriting succeeds and replaces the content.
  save_safetensors(p, {{"y", torch::zeros({1})}});
  EXPECT_EQ(SafetensorsFile(p).names(), std::vector<std::string>{"y"});
  EXPECT_FALSE(fs::exists(p + ".tmp"));
}

TEST_F(SafetensorsTest, SaveRejectsBadInput) {
  const std::string p = file("bad_save.safetensors");
  std::string msg = error_of([&] { save_safetensors(p, {{"a", torch::ones({1})}, {"a", torch::ones({1})}}); });
  EXPECT_THAT(msg, HasSubstr("tensor 'a' given twice"));
  msg = error_of([&] { save_safetensors(p, {{"__metadata__", torch::ones({1})}}); });
  EXPECT_THAT(msg, HasSubstr("__metadata__"));
  msg = error_of([&] { save_safetensors(p, {{"u", at::Tensor()}}); });
  EXPECT_THAT(msg, HasSubstr("tensor 'u' is undefined"));
  const std::string missing_dir = file("no/such/dir/x.safetensors");
  msg = error_of([&] { save_safetensors(missing_dir, {{"a", torch::ones({1})}}); });
  EXPECT_THAT(msg, HasSubstr(missing_dir));
  EXPECT_FALSE(fs::exists(p));
}

// --- malformed files ----------------------------------------------------------------------

const char* kGoodEntry = R"("w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";

TEST_F(SafetensorsTest, RejectsTruncatedFile) {
  const std::string msg = open_error("short.safetensors", std::string("\x10\x00\x00", 3));
  EXPECT_THAT(msg, HasSubstr("file '" + file("short.safetensors") + "'"));
  EXPECT_THAT(msg, HasSubstr("truncated: 3 bytes"));
  EXPECT_THAT(open_error("empty.safetensors", ""), HasSubstr("truncated: 0 bytes"));
}

TEST_F(SafetensorsTest, RejectsHeaderLengthBeyondFile) {
  const std::string header = std::string("{") + kGoodEntry + "}";
  const std::string msg = open_error("lie.safetensors", raw_file(header, std::string(8, '\0'), 4096));
  EXPECT_THAT(msg, HasSubstr("file '" + file("lie.safetensors") + "'"));
  EXPECT_THAT(msg, HasSubstr("header length 4096 exceeds"));
}

TEST_F(SafetensorsTest, RejectsAbsurdHeaderLength) {
  const std::string msg = open_error("absurd.safetensors", raw_file("{}", "", int64_t{1} << 40));
  EXPECT_THAT(msg, HasSubstr("file '" + file("absurd.safetensors") + "'"));
  EXPECT_THAT(msg, HasSubstr("implausible"));
}

TEST_F(SafetensorsTest, RejectsHeaderThatIsNotJson) {
  const std::string msg = open_error("notjson.safetensors", raw_file("{\"w\": [1, 2,,]}", ""));
  EXPECT_THAT(msg, HasSubstr("file '" + file("notjson.safetensors") + "'"));
  EXPECT_THAT(msg, HasSubstr("header is not valid JSON"));
  // Invalid UTF-8 inside a name is also a parse error.
  EXPECT_THAT(open_error("utf8.safetensors", raw_file("{\"\xff\xfe\":{}}", "")), HasSubstr("not valid JSON"));
  EXPECT_THAT(open_error("array.safetensors", raw_file("[1,2]", "")), HasSubstr("header must be a JSON object"));
}

TEST_F(SafetensorsTest, RejectsMalformedEntries) {
  struct Case {
    std::string header, expect;
  };
  const std::vector<Case> cases = {
      {R"({"w": 5})", "tensor 'w': header entry must be an object, got number 5"},
      {R"({"w":{"shape":[2],"data_offsets":[0,8]}})", "tensor 'w': field 'dtype' missing"},
      {R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", "tensor 'w': field 'shape' missing"},
      {R"({"w":{"dtype":"F32","shape":[2]}})", "tensor 'w': field 'data_offsets' missing"},
      {R"({"w":{"dtype":7,"shape":[2],"data_offsets":[0,8]}})", "tensor 'w': field 'dtype' must be a string"},
      {R"({"w":{"dtype":"F32","shape":"2","data_offsets":[0,8]}})", "tensor 'w': field 'shape' must be an array"},
      {R"({"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", "tensor 'w': field 'shape' must hold integers"},
      {R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", "tensor 'w': field 'shape' holds negative value -2"},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", "tensor 'w': field 'data_offsets' must be an array of 2"},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[-1,8]}})", "tensor 'w': field 'data_offsets' holds negative"},
      {R"({"__metadata__":{"k":1}})", "field '__metadata__' key 'k' must be a string"},
      {R"({"__metadata__":[]})", "field '__metadata__' must be an object"},
      {R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})",
       "tensor 'w': shape"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].header);
    const std::string name = "entry" + std::to_string(i) + ".safetensors";
    const std::string msg = open_error(name, raw_file(cases[i].header, std::string(8, '\0')));
    EXPECT_THAT(msg, HasSubstr("file '" + file(name) + "'"));
    EXPECT_THAT(msg, HasSubstr(cases[i].expect));
  }
}

TEST_F(SafetensorsTest, RejectsUnknownDtypeByName) {
  const std::string msg =
      open_error("dtype.safetensors", raw_file(R"({"w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})",
                                               std::string(2, '\0')));
  EXPECT_THAT(msg, HasSubstr("file '" + file("dtype.safetensors") + "'"));
  EXPECT_THAT(msg, HasSubstr("tensor 'w'"));
  EXPECT_THAT(msg, HasSubstr("unknown dtype 'F8_E4M3'"));
}

TEST_F(SafetensorsTest, RejectsOffsetsPastEndAndTruncatedData) {
  std::string msg = open_error("past.safetensors", raw_file(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
                                                          std::string(12, '\0')));
  EXPECT_THAT(msg, HasSubstr("file '" + file("past.safetensors") + "'"));
  EXPECT_THAT(msg, HasSubstr("tensor 'w'"));
  EXPECT_THAT(msg, HasSubstr("run past the end of the data (12 bytes"));
  // A real file cut short by one byte.
  const std::string p = file("cut.safetensors");
  save_safetensors(p, {{"a", torch::ones({4})}, {"z", torch::ones({3})}});
  fs::resize_file(p, fs::file_size(p) - 1);
  msg = error_of([&] { SafetensorsFile f(p); });
  EXPECT_THAT(msg, HasSubstr("file '" + p + "'"));
  EXPECT_THAT(msg, HasSubstr("tensor 'z'"));
  EXPECT_THAT(msg, HasSubstr("run past the end"));
}

TEST_F(SafetensorsTest, RejectsEndBeforeBegin) {
  const std::string msg = open_error(
      "rev.safetensors", raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", std::string(8, '\0')));
  EXPECT_THAT(msg, HasSubstr("file '" + file("rev.safetensors") + "'"));
  EXPECT_THAT(msg, HasSubstr("tensor 'w': data_offsets [8, 0] end before begin"));
}

TEST_F(SafetensorsTest, RejectsSizeShapeMismatch) {
  const std::string msg = open_error(
      "size.safetensors", raw_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0')));
  EXPECT_THAT(msg, HasSubstr("file '" + file("size.safetensors") + "'"));
  EXPECT_THAT(msg, HasSubstr("tensor 'w'"));
  EXPECT_THAT(msg, HasSubstr("span 8 bytes but shape [3] of F32 needs 12"));
}

TEST_F(SafetensorsTest, RejectsOverlappingTensors) {
  const std::string msg =
      open_error("overlap.safetensors", raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                                 R"("b":{"dtype":"I32","shape":[2],"data_offsets":[4,12]}})",
                                                 std::string(12, '\0')));
  EXPECT_THAT(msg, HasSubstr("file '" + file("overlap.safetensors") + "'"));
  EXPECT_THAT(msg, HasSubstr("tensor 'b'"));
  EXPECT_THAT(msg, HasSubstr("overlap tensor 'a'"));
  // Touching ranges and empty tensors at the same offset are fine.
  const std::string ok = file("touch.safetensors");
  write_bytes(ok, raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                           R"("e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
                           R"("b":{"dtype":"I32","shape":[1],"data_offsets":[8,12]}})",
                           std::string(12, '\0')));
  EXPECT_EQ(SafetensorsFile(ok).names().size(), 3u);
}

TEST_F(SafetensorsTest, RejectsDuplicateTensorName) {
  const std::string msg = open_error("dup.safetensors", raw_file(std::string("{") + kGoodEntry + "," + kGoodEntry + "}",
                                                                 std::string(8, '\0')));
  EXPECT_THAT(msg, HasSubstr("file '" + file("dup.safetensors") + "'"));
  EXPECT_THAT(msg, HasSubstr("tensor 'w' appears twice"));
}

TEST_F(SafetensorsTest, MissingTensorAndBadBoolBytes) {
  const std::string p = file("bool.safetensors");
  write_bytes(p, raw_file(R"({"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})", std::string("\x01\x00\x07", 3)));
  SafetensorsFile f(p);
  std::string msg = error_of([&] { f.entry("nope"); });
  EXPECT_EQ(msg, "file '" + p + "': no tensor 'nope'");
  msg = error_of([&] { f.load("nope"); });
  EXPECT_THAT(msg, HasSubstr("no tensor 'nope'"));
  msg = error_of([&] { f.load("m"); });
  EXPECT_THAT(msg, HasSubstr("file '" + p + "'"));
  EXPECT_THAT(msg, HasSubstr("tensor 'm': BOOL byte 2 holds 7"));
  EXPECT_THAT(error_of([&] { SafetensorsFile g(file("absent.safetensors")); }), HasSubstr("absent.safetensors"));
}

// --- TensorSource ------------------------------------------------------------------------

class TensorSourceTest : public SafetensorsTest {
 protected:
  // Two shards plus an index, as HF writes a sharded checkpoint.
  std::string make_sharded(const std::string& sub, const nlohmann::json& weight_map) {
    const fs::path d = fs::path(dir_) / sub;
    fs::create_directories(d);
    save_safetensors((d / "model-00001-of-00002.safetensors").string(),
                     {{"embed.weight", torch::arange(6, torch::kFloat).reshape({2, 3})},
                      {"layers.0.w", torch::ones({4}, torch::kHalf)}});
    save_safetensors((d / "model-00002-of-00002.safetensors").string(),
                     {{"layers.1.w", torch::full({2, 2}, 3.0, torch::kBFloat16)}, {"norm", torch::zeros({3})}});
    write_json_file((d / "model.safetensors.index.json").string(),
                    {{"metadata", {{"total_size", 64}}}, {"weight_map", weight_map}});
    return d.string();
  }
  static nlohmann::json good_map() {
    return {{"embed.weight", "model-00001-of-00002.safetensors"},
            {"layers.0.w", "model-00001-of-00002.safetensors"},
            {"layers.1.w", "model-00002-of-00002.safetensors"},
            {"norm", "model-00002-of-00002.safetensors"}};
  }
};

TEST_F(TensorSourceTest, ShardedDirectoryWithIndex) {
  const std::string d = make_sharded("sharded", good_map());
  TensorSource src(d);
  EXPECT_EQ(src.path(), d);
  EXPECT_EQ(src.names(), (std::vector<std::string>{"embed.weight", "layers.0.w", "layers.1.w", "norm"}));
  EXPECT_TRUE(src.contains("norm"));
  EXPECT_FALSE(src.contains("lm_head.weight"));
  EXPECT_EQ(src.file_of("norm"), (fs::path(d) / "model-00002-of-00002.safetensors").string());
  EXPECT_EQ(src.file_of("layers.0.w"), (fs::path(d) / "model-00001-of-00002.safetensors").string());
  EXPECT_EQ(src.entry("layers.1.w").dtype, "BF16");
  EXPECT_TRUE(torch::equal(src.load("embed.weight"), torch::arange(6, torch::kFloat).reshape({2, 3})));
  EXPECT_TRUE(torch::equal(src.load_shaped("layers.1.w", {2, 2}, "test"), torch::full({2, 2}, 3.0, torch::kBFloat16)));

  const std::string msg = error_of([&] { src.load_shaped("embed.weight", {3, 2}, "config.json hidden_size"); });
  EXPECT_EQ(msg, "file '" + src.file_of("embed.weight") +
                     "': tensor 'embed.weight' has shape [2, 3], expected [3, 2] (from config.json hidden_size)");
  const std::string missing = error_of([&] { src.load("lm_head.weight"); });
  EXPECT_THAT(missing, HasSubstr(d));
  EXPECT_THAT(missing, HasSubstr("tensor 'lm_head.weight'"));
  EXPECT_THAT(error_of([&] { src.file_of("x"); }), HasSubstr("no tensor 'x'"));
}

TEST_F(TensorSourceTest, SingleFileDirectoryAndFilePath) {
  const fs::path d = fs::path(dir_) / "single";
  fs::create_directories(d);
  const std::string p = (d / "model.safetensors").string();
  save_safetensors(p, {{"a", torch::ones({2})}, {"b", torch::zeros({1}, torch::kLong)}});
  // A stray extra file is ignored when model.safetensors exists.
  save_safetensors((d / "other.safetensors").string(), {{"c", torch::ones({1})}});
  TensorSource from_dir(d.string());
  EXPECT_EQ(from_dir.names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(from_dir.file_of("a"), p);
  TensorSource from_file(p);
  EXPECT_EQ(from_file.names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(torch::equal(from_file.load("b"), torch::zeros({1}, torch::kLong)));
}

TEST_F(TensorSourceTest, GlobFallbackAndDuplicateNames) {
  const fs::path d = fs::path(dir_) / "glob";
  fs::create_directories(d);
  save_safetensors((d / "sae_weights.safetensors").string(), {{"W_enc", torch::ones({2, 3})}});
  save_safetensors((d / "extra.safetensors").string(), {{"threshold", torch::ones({3})}});
  write_bytes((d / "notes.txt").string(), "not a tensor file");
  TensorSource src(d.string());
  EXPECT_EQ(src.names(), (std::vector<std::string>{"W_enc", "threshold"}));
  EXPECT_EQ(src.file_of("threshold"), (d / "extra.safetensors").string());

  save_safetensors((d / "zzz.safetensors").string(), {{"W_enc", torch::zeros({1})}});
  const std::string msg = error_of([&] { TensorSource s(d.string()); });
  EXPECT_THAT(msg, HasSubstr("tensor 'W_enc' is in both"));
  EXPECT_THAT(msg, HasSubstr("sae_weights.safetensors"));
  EXPECT_THAT(msg, HasSubstr("zzz.safetensors"));
}

TEST_F(TensorSourceTest, RejectsMissingShard) {
  nlohmann::json map = good_map();
  map["lm_head.weight"] = "model-00003-of-00003.safetensors";
  const std::string d = make_sharded("noshard", map);
  const std::string msg = error_of([&] { TensorSource s(d); });
  EXPECT_THAT(msg, HasSubstr("file '" + (fs::path(d) / "model.safetensors.index.json").string() + "'"));
  EXPECT_THAT(msg, HasSubstr("shard 'model-00003-of-00003.safetensors'"));
  EXPECT_THAT(msg, HasSubstr("does not exist"));
}

TEST_F(TensorSourceTest, RejectsWeightMapEntryAbsentFromShard) {
  nlohmann::json map = good_map();
  map["ghost"] = "model-00002-of-00002.safetensors";
  const std::string d = make_sharded("ghost", map);
  const std::string msg = error_of([&] { TensorSource s(d); });
  EXPECT_THAT(msg, HasSubstr("model.safetensors.index.json"));
  EXPECT_THAT(msg, HasSubstr("tensor 'ghost'"));
  EXPECT_THAT(msg, HasSubstr("file '" + (fs::path(d) / "model-00002-of-00002.safetensors").string() + "'"));
}

TEST_F(TensorSourceTest, RejectsIndexNotJson) {
  const std::string d = make_sharded("badindex", good_map());
  const std::string index = (fs::path(d) / "model.safetensors.index.json").string();
  write_bytes(index, "{\n  \"weight_map\": {\n    \"a\": \"x.safetensors\",\n  }\n}\n");
  const std::string msg = error_of([&] { TensorSource s(d); });
  EXPECT_THAT(msg, HasSubstr("file '" + index + "'"));
  EXPECT_THAT(msg, HasSubstr("line 4"));
}

TEST_F(TensorSourceTest, RejectsIndexWithoutWeightMap) {
  const std::string d = make_sharded("nomap", good_map());
  const std::string index = (fs::path(d) / "model.safetensors.index.json").string();
  write_json_file(index, {{"metadata", {{"total_size", 1}}}});
  std::string msg = error_of([&] { TensorSource s(d); });
  EXPECT_EQ(msg, "file '" + index + "': field 'weight_map' missing");
  write_json_file(index, {{"weight_map", {{"norm", 3}}}});
  msg = error_of([&] { TensorSource s(d); });
  EXPECT_THAT(msg, HasSubstr("file '" + index + "': field 'weight_map' must be an object of strings"));
  EXPECT_THAT(msg, HasSubstr("key 'norm'"));
}

TEST_F(TensorSourceTest, RejectsEmptyOrMissingDirectoryAndBadShard) {
  const fs::path empty = fs::path(dir_) / "empty";
  fs::create_directories(empty);
  std::string msg = error_of([&] { TensorSource s(empty.string()); });
  EXPECT_THAT(msg, HasSubstr("checkpoint '" + empty.string() + "'"));
  EXPECT_THAT(msg, HasSubstr("no model.safetensors"));
  const std::string gone = (fs::path(dir_) / "gone").string();
  EXPECT_THAT(error_of([&] { TensorSource s(gone); }), HasSubstr("checkpoint '" + gone + "': no such file"));
  // A corrupt shard is reported with the shard's own path.
  const std::string d = make_sharded("corrupt", good_map());
  const std::string shard = (fs::path(d) / "model-00002-of-00002.safetensors").string();
  fs::resize_file(shard, 4);
  msg = error_of([&] { TensorSource s(d); });
  EXPECT_THAT(msg, HasSubstr("file '" + shard + "'"));
  EXPECT_THAT(msg, HasSubstr("truncated"));
}

}  // namespace
