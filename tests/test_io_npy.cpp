// .npy reader/writer: round trips, numpy's exact byte layout, hand-assembled files and
// malformed headers whose errors must name the file and the field at fault.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/types.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/common/error.h"
#include "core/io/npy.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace sightline;
using ::testing::HasSubstr;

using sightline::test::error_of;
using sightline::test::read_bytes;
using sightline::test::write_bytes;

namespace {




bool npy_bit_equal(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const at::Tensor ca = a.contiguous(), cb = b.contiguous();
  // An empty tensor's data_ptr() is null, and memcmp's arguments must not be (UBSan).
  return ca.nbytes() == cb.nbytes() &&
         (ca.nbytes() == 0 || std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0);
}

// A v1.0 .npy file from a literal header dict (padded like numpy) and raw data.
std::string npy_v1(const std::string& dict, const std::string& data) {
  std::string header = dict;
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

class NpyTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::scratch_dir("io-npy"); }
  std::string file(const std::string& name) const { return (fs::path(dir_) / name).string(); }
  std::string read_error(const std::string& name, const std::string& bytes) {
    const std::string p = file(name);
    write_bytes(p, bytes);
    return error_of([&] { read_npy(p); });
  }
  std::string dir_;
};

TEST_F(NpyTest, RoundTripEveryDtypeBitExact) {
  torch::manual_seed(2);
  const std::vector<at::Tensor> tensors = {
      torch::randn({2, 3}, torch::kFloat),
      torch::randn({5}, torch::kDouble),
      torch::randint(-32768, 32767, {3, 2}, torch::kShort).view(torch::kHalf),
      torch::tensor({-(int64_t{1} << 60), int64_t{7}}),
      torch::tensor({-5, 6, 2147483647}, torch::kInt),
      torch::tensor({-32768, 32767}, torch::kShort),
      torch::tensor({-128, 127}, torch::kChar),
      torch::tensor({0, 200, 255}, torch::kByte),
      torch::tensor({true, false}),
      torch::tensor(2.5f),                       // scalar, shape ()
      torch::zeros({0, 3}, torch::kFloat),       // empty
      torch::arange(24, torch::kInt).reshape({2, 3, 4}).permute({2, 0, 1}),  // non-contiguous
  };
  for (size_t i = 0; i < tensors.size(); ++i) {
    SCOPED_TRACE(i);
    const std::string p = file("t" + std::to_string(i) + ".npy");
    write_npy(p, tensors[i]);
    EXPECT_FALSE(fs::exists(p + ".tmp"));
    const std::string bytes = read_bytes(p);
    ASSERT_GE(bytes.size(), 10u);
    const size_t header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    EXPECT_EQ((10 + header_len) % 64, 0u);
    EXPECT_EQ(bytes[6], '\x01');  // v1.0
    const at::Tensor back = read_npy(p);
    EXPECT_TRUE(npy_bit_equal(back, tensors[i])) << back << tensors[i];
  }
}

TEST_F(NpyTest, WriterMatchesNumpyBytes) {
  // np.save(p, np.array([1, 2, 3], dtype='<f4')) writes exactly these bytes.
  const std::string p = file("numpy.npy");
  write_npy(p, torch::tensor({1.0f, 2.0f, 3.0f}));
  std::string expected("\x93NUMPY\x01\x00\x76\x00", 10);
  expected += "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
  expected += std::string(128 - expected.size() - 1, ' ') + "\n";
  expected += std::string("\x00\x00\x80\x3F\x00\x00\x00\x40\x00\x00\x40\x40", 12);
  EXPECT_EQ(read_bytes(p), expected);

  write_npy(p, torch::zeros({2, 3}, torch::kLong));
  EXPECT_THAT(read_bytes(p), HasSubstr("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }"));
  write_npy(p, torch::tensor(true));
  EXPECT_THAT(read_bytes(p), HasSubstr("{'descr': '|b1', 'fortran_order': False, 'shape': (), }"));
}

TEST_F(NpyTest, ReadsHandAssembledFiles) {
  // v1.0, int32 [2, 2] = [[1, -1], [256, 7]]
  const std::string p1 = file("hand1.npy");
  write_bytes(p1, npy_v1("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }",
                         std::string("\x01\x00\x00\x00\xFF\xFF\xFF\xFF\x00\x01\x00\x00\x07\x00\x00\x00", 16)));
  EXPECT_TRUE(torch::equal(read_npy(p1), torch::tensor({1, -1, 256, 7}, torch::kInt).reshape({2, 2})));

  // v2.0 (u32 length), double quotes, no trailing comma, Python 2 long suffix, f2 data.
  const std::string dict = "{\"descr\": \"<f2\", \"shape\": (2L,), \"fortran_order\": False}";
  std::string header = dict + std::string((64 - (12 + dict.size() + 1) % 64) % 64, ' ') + "\n";
  std::string bytes("\x93NUMPY\x02\x00", 8);
  for (int b = 0; b < 4; ++b) bytes += static_cast<char>((header.size() >> (8 * b)) & 0xff);
  bytes += header + std::string("\x00\x3C\x00\xC0", 4);  // F16 1.0, -2.0
  const std::string p2 = file("hand2.npy");
  write_bytes(p2, bytes);
  const at::Tensor t = read_npy(p2);
  EXPECT_EQ(t.scalar_type(), at::kHalf);
  EXPECT_TRUE(torch::equal(t.to(torch::kFloat), torch::tensor({1.0f, -2.0f})));

  // |u1 scalar.
  const std::string p3 = file("hand3.npy");
  write_bytes(p3, npy_v1("{'descr': '|u1', 'fortran_order': False, 'shape': (), }", "\xC8"));
  const at::Tensor s = read_npy(p3);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.item<int>(), 200);
}

TEST_F(NpyTest, RejectsBadMagic) {
  const std::string msg = read_error("magic.npy", "PK\x03\x04 this is a zip (an .npz?) not an npy file");
  EXPECT_THAT(msg, HasSubstr("file '" + file("magic.npy") + "'"));
  EXPECT_THAT(msg, HasSubstr("bad magic"));
  EXPECT_THAT(read_error("tiny.npy", "\x93NU"), HasSubstr("bad magic"));
}

TEST_F(NpyTest, RejectsUnsupportedDtype) {
  std::string msg =
      read_error("c8.npy", npy_v1("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", std::string(8, '\0')));
  EXPECT_THAT(msg, HasSubstr("file '" + file("c8.npy") + "'"));
  EXPECT_THAT(msg, HasSubstr("field 'descr' has unsupported dtype '<c8'"));
  msg = read_error("be.npy", npy_v1("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", std::string(4, '\0')));
  EXPECT_THAT(msg, HasSubstr("field 'descr' is big-endian '>f4'"));
  msg = read_error("struct.npy",
                   npy_v1("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", std::string(4, '\0')));
  EXPECT_THAT(msg, HasSubstr("field 'descr' holds a list"));
}

TEST_F(NpyTest, RejectsFortranOrder) {
  const std::string msg =
      read_error("fortran.npy", npy_v1("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
                                       std::string(16, '\0')));
  EXPECT_THAT(msg, HasSubstr("file '" + file("fortran.npy") + "'"));
  EXPECT_THAT(msg, HasSubstr("field 'fortran_order' is True"));
}

TEST_F(NpyTest, RejectsTruncatedOrOversizedData) {
  std::string msg =
      read_error("trunc.npy", npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", std::string(20, '\0')));
  EXPECT_THAT(msg, HasSubstr("file '" + file("trunc.npy") + "'"));
  EXPECT_THAT(msg, HasSubstr("data truncated: shape (2, 3) of <f4 needs 24 bytes, the file holds 20"));
  msg = read_error("long.npy", npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", std::string(6, '\0')));
  EXPECT_THAT(msg, HasSubstr("2 unexpected bytes after the data"));
  // Header length running past the end of the file.
  std::string bytes = npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", "");
  bytes[9] = '\x10';
  msg = read_error("hlen.npy", bytes);
  EXPECT_THAT(msg, HasSubstr("file '" + file("hlen.npy") + "'"));
  EXPECT_THAT(msg, HasSubstr("header length"));
}

TEST_F(NpyTest, RejectsMalformedHeaderFields) {
  struct Case {
    std::string dict, expect;
  };
  const std::vector<Case> cases = {
      {"{'descr': '<f4', 'fortran_order': False}", "field 'shape' missing"},
      {"{'shape': (1,), 'fortran_order': False}", "field 'descr' missing"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 'x'}", "unexpected field 'extra'"},
      {"{'descr': '<f4', 'fortran_order': 'no', 'shape': (1,), }", "field 'fortran_order' must be True or False"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", "field 'shape' holds a negative number"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [1], }", "field 'shape' holds a list"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,) ", "expected ',' or '}' after field 'shape'"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", "field 'descr' appears twice"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].dict);
    const std::string name = "hdr" + std::to_string(i) + ".npy";
    const std::string msg = read_error(name, npy_v1(cases[i].dict, std::string(4, '\0')));
    EXPECT_THAT(msg, HasSubstr("file '" + file(name) + "'"));
    EXPECT_THAT(msg, HasSubstr(cases[i].expect));
  }
  std::string v9 = npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", std::string(4, '\0'));
  v9[6] = '\x09';
  EXPECT_THAT(read_error("v9.npy", v9), HasSubstr("unsupported npy format version 9.0"));
}

TEST_F(NpyTest, WriteRejectsDtypesNumpyLacks) {
  const std::string p = file("bf16.npy");
  const std::string msg = error_of([&] { write_npy(p, torch::ones({2}, torch::kBFloat16)); });
  EXPECT_THAT(msg, HasSubstr("file '" + p + "'"));
  EXPECT_THAT(msg, HasSubstr("BFloat16"));
  EXPECT_FALSE(fs::exists(p));
  EXPECT_FALSE(fs::exists(p + ".tmp"));
  EXPECT_THAT(error_of([&] { read_npy(file("absent.npy")); }), HasSubstr("absent.npy"));
}

}  // namespace
