// The sightline CLI as a user runs it: exact output forms, files written, and one-line
// errors with a non-zero exit on bad input.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/types.h>

#include <filesystem>
#include <fstream>

#include "core/image/image.h"
#include "core/io/npy.h"
#include "core/model/model.h"
#include "tests/model_fixture.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace sightline;
using testing::HasSubstr;

namespace {
int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}
}  // namespace

TEST(Cli, TokenizeLlama3WithBosEos) {
  SIGHTLINE_REQUIRE_FIXTURES();
  const auto r = test::run_cli("inspect tokenize --tokenizer '" + test::fixtures_dir() +
                               "/llama3/tokenizer.model' --text 'This is a test sentence.' --bos --eos");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "128000 2028 374 264 1296 11914 13 128001\n");
}

TEST(Cli, ForwardWritesLogitsAndHiddenMatchingTheLibrary) {
  const std::string dir = test::scratch_dir("cli-model");
  test::write_tiny_checkpoint(test::make_tiny_checkpoint({}, 21), dir, "F32", 2);
  // A 20x12 image: the CLI pads, resizes and normalises it to the tower's 16x16.
  ImageU8 img;
  img.width = 20;
  img.height = 12;
  img.rgb.resize(20 * 12 * 3);
  for (size_t i = 0; i < img.rgb.size(); ++i) img.rgb[i] = static_cast<uint8_t>((i * 37) % 251);
  const std::string png = dir + "/img.png";
  save_png(png, img);
  const auto r = test::run_cli("inspect forward --model '" + dir + "' --ids 1,7,-200,9,4 --image '" + png +
                               "' --out '" + dir + "/logits.npy' --hidden 1 --hidden-out '" + dir + "/h.npy'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto logits = read_npy(dir + "/logits.npy");
  const auto hidden = read_npy(dir + "/h.npy");
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{4 + 16, 61}));
  EXPECT_EQ(hidden.sizes(), (std::vector<int64_t>{4 + 16, 32}));

  LoadOptions options;
  options.model_dir = dir;
  auto model = VisionLanguageModel::load(options);
  ClipPreprocess p;
  p.size = 16;
  ForwardRequest req;
  req.capture.insert("blocks.1.hook_resid_post");
  const auto out = model->forward(BatchInput{{{1, 7, -200, 9, 4}}, preprocess_clip(img, p).unsqueeze(0)}, req);
  EXPECT_TRUE(torch::allclose(logits, out.logits[0], 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(hidden, out.at("blocks.1.hook_resid_post")[0], 1e-5, 1e-5));
}

TEST(Cli, ImageWritesPreprocessedTensor) {
  SIGHTLINE_REQUIRE_FIXTURES();
  const std::string dir = test::scratch_dir("cli-image");
  const auto r = test::run_cli("inspect image --image '" + test::fixtures_dir() +
                               "/images/extreme_ironing.jpg' --size 64 --out '" + dir + "/p.npy'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto t = read_npy(dir + "/p.npy");
  EXPECT_EQ(t.sizes(), (std::vector<int64_t>{3, 64, 64}));
  EXPECT_EQ(t.scalar_type(), torch::kFloat32);
}

TEST(CliBadInput, EachFailsWithOneLineAndNonZeroExit) {
  const std::string dir = test::scratch_dir("cli-bad");
  test::write_tiny_checkpoint(test::make_tiny_checkpoint({}, 22), dir, "F32", 1);
  std::ofstream(dir + "/garbage.jpg") << "not an image at all";
  struct Case {
    std::string args, expect;
  };
  const std::vector<Case> cases{
      {"inspect forward --model '" + dir + "' --ids 1,2,999 --out '" + dir + "/o.npy'", "token id 999"},
      {"inspect forward --model '" + dir + "' --ids 1,x,3 --out '" + dir + "/o.npy'", "'x' is not an integer"},
      {"inspect forward --model /nonexistent --ids 1 --out '" + dir + "/o.npy'", "/nonexistent"},
      {"inspect forward --model '" + dir + "' --ids 1,-200 --out '" + dir + "/o.npy'", "no --image"},
      {"inspect forward --model '" + dir + "' --ids 1,-200 --image '" + dir + "/garbage.jpg' --out '" + dir +
           "/o.npy'",
       "garbage.jpg"},
      {"inspect forward --model '" + dir + "' --ids 1,2 --hidden 5 --hidden-out '" + dir + "/h.npy' --out '" + dir +
           "/o.npy'",
       "--hidden 5"},
      {"inspect image --image /nonexistent.png --out '" + dir + "/p.npy'", "/nonexistent.png"},
      {"inspect tokenize --tokenizer /nonexistent.model --text hi", "/nonexistent.model"},
  };
  for (const auto& c : cases) {
    const auto r = test::run_cli(c.args);
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_THAT(r.out, HasSubstr(c.expect)) << c.args;
    EXPECT_EQ(count_lines(r.out), 1) << c.args << "\n" << r.out;
    EXPECT_THAT(r.out, HasSubstr("error: ")) << c.args;
  }
}
