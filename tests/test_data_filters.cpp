#include <gtest/gtest.h>

#include <fstream>

#include "core/common/error.h"
#include "core/data/prompts.h"
#include "core/data/skill_filter.h"
#include "tests/test_util.h"

namespace sightline {
namespace {

TEST(DataSkillFilter, SpatialPresetOnWordBoundaries) {
  const SkillFilter spatial = skill_filter_preset("spatial");
  EXPECT_EQ(spatial.name(), "spatial");
  EXPECT_TRUE(spatial.matches("What is to the LEFT of the dog?"));
  EXPECT_TRUE(spatial.matches("Is the cat in front of the car?"));
  EXPECT_TRUE(spatial.matches("Is the cup on top of the table?"));
  EXPECT_TRUE(spatial.matches("What is next to the bed?"));
  EXPECT_TRUE(spatial.matches("Does the bowl contain fruit?"));
  EXPECT_FALSE(spatial.matches("Is there any leftover food?"));  // "left" inside a word
  EXPECT_FALSE(spatial.matches("Is the front door open?"));      // "front" without "in"
  EXPECT_FALSE(spatial.matches("What is infront?"));
  EXPECT_FALSE(spatial.matches("What color is the bus?"));
  EXPECT_FALSE(spatial.matches("How many people are there?"));
  EXPECT_FALSE(spatial.matches("Is the TV on?"));
  EXPECT_EQ(spatial.matched_cues("Is the dog beside and under the table?"),
            (std::vector<std::string>{"under", "beside"}));
  EXPECT_EQ(spatial.select({"what color?", "left?", "far away", "farm"}), (std::vector<size_t>{1, 2}));
}

TEST(DataSkillFilter, OcrPreset) {
  const SkillFilter ocr = skill_filter_preset("ocr");
  EXPECT_TRUE(ocr.matches("What does the sign say?"));
  EXPECT_TRUE(ocr.matches("What is written on the bus?"));
  EXPECT_TRUE(ocr.matches("What letter is on the sign?"));
  EXPECT_FALSE(ocr.matches("What color is the bus?"));
  EXPECT_FALSE(ocr.matches("Is the dog left of the cat?"));
  EXPECT_FALSE(ocr.matches("Is this a signal?"));
  EXPECT_THROW(skill_filter_preset("colour"), Error);
}

TEST(DataSkillFilter, UserDefinedFromJson) {
  const std::string dir = test::scratch_dir("skill");
  const std::string path = dir + "/counting.json";
  std::ofstream(path) << R"({"name": "counting", "cues": ["how many", "Number of"]})";
  const SkillFilter f = load_skill_filter(path);
  EXPECT_EQ(f.name(), "counting");
  EXPECT_TRUE(f.matches("HOW MANY dogs?"));
  EXPECT_TRUE(f.matches("the number of cats"));
  EXPECT_FALSE(f.matches("how is it"));
  save_skill_filter(dir + "/copy.json", f);
  EXPECT_EQ(load_skill_filter(dir + "/copy.json").cues(), f.cues());

  const auto expect_error = [&](const std::string& name, const std::string& text, const std::string& needle) {
    const std::string p = dir + "/" + name;
    std::ofstream(p) << text;
    try {
      load_skill_filter(p);
      ADD_FAILURE() << name;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error("nocues.json", R"({"name": "x"})", "cues");
  expect_error("empty.json", R"({"name": "x", "cues": []})", "cues");
  expect_error("badcue.json", R"({"name": "x", "cues": ["ok", "?!"]})", "cues[1]");
  expect_error("type.json", R"({"name": "x", "cues": [1]})", "cues");
}

TEST(DataPrompts, NeutralPromptsHoldNoCue) {
  const SkillFilter spatial = skill_filter_preset("spatial");
  const SkillFilter ocr = skill_filter_preset("ocr");
  const auto prompts = default_neutral_prompts();
  ASSERT_FALSE(prompts.empty());
  EXPECT_EQ(prompts[0], "Describe the positions of objects in the image.");
  for (const auto& p : prompts) {
    EXPECT_FALSE(spatial.matches(p)) << p;
    EXPECT_FALSE(ocr.matches(p)) << p;
  }
}

TEST(DataPrompts, FileRoundTripAndErrors) {
  const std::string dir = test::scratch_dir("prompts");
  write_prompt_file(dir + "/p.txt", {"Describe the image.", "What is here?"});
  EXPECT_EQ(read_prompt_file(dir + "/p.txt"), (std::vector<std::string>{"Describe the image.", "What is here?"}));
  std::ofstream(dir + "/c.txt") << "# comment\n\n  Describe it.  \n";
  EXPECT_EQ(read_prompt_file(dir + "/c.txt"), (std::vector<std::string>{"Describe it."}));
  std::ofstream(dir + "/e.txt") << "# only a comment\n";
  EXPECT_THROW(read_prompt_file(dir + "/e.txt"), Error);
  EXPECT_THROW(read_prompt_file(dir + "/absent.txt"), Error);
  EXPECT_THROW(write_prompt_file(dir + "/x.txt", {"a\nb"}), Error);
}

}  // namespace
}  // namespace sightline
