#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>

#include "core/common/error.h"
#include "core/data/vsr.h"
#include "tests/test_util.h"

namespace sightline {
namespace {

std::string vsr_write_text(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(DataVsr, RealRandomSplitsParse) {
  SIGHTLINE_REQUIRE_FIXTURES();
  const std::string dir = test::fixtures_dir() + "/vsr";
  const auto dev = read_vsr_jsonl(dir + "/random_dev.jsonl");
  const auto test = read_vsr_jsonl(dir + "/random_test.jsonl");
  EXPECT_EQ(dev.size(), 1097u);
  EXPECT_EQ(test.size(), 2195u);
  // First line of random_dev, as in the file.
  EXPECT_EQ(dev[0].image, "000000239417.jpg");
  EXPECT_EQ(dev[0].image_link, "http://images.cocodataset.org/train2017/000000239417.jpg");
  EXPECT_EQ(dev[0].caption, "The bench is at the right side of the train.");
  EXPECT_EQ(dev[0].label, 0);
  EXPECT_EQ(dev[0].relation, "at the right side of");
  EXPECT_EQ(dev[0].annotator_id, 1);
  EXPECT_TRUE(dev[0].vote_true_validator_ids.empty());
  EXPECT_EQ(dev[0].vote_false_validator_ids, (std::vector<int64_t>{2, 10, 1}));
  EXPECT_TRUE(dev[0].has_reference_frame);
  EXPECT_FALSE(dev[0].reference_frame.has_value());
  EXPECT_TRUE(dev[0].subj.empty());
  EXPECT_EQ(dev[0].line, 1);
  // Third line has reference_frame 1.0.
  ASSERT_TRUE(dev[2].reference_frame.has_value());
  EXPECT_DOUBLE_EQ(*dev[2].reference_frame, 1.0);
  for (const auto& item : dev) EXPECT_TRUE(item.label == 0 || item.label == 1);
}

TEST(DataVsr, RealZeroShotAndAllValidatedParse) {
  SIGHTLINE_REQUIRE_FIXTURES();
  const std::string dir = test::fixtures_dir() + "/vsr";
  const auto zs = read_vsr_jsonl(dir + "/zeroshot_dev.jsonl");
  ASSERT_EQ(zs.size(), 340u);
  EXPECT_EQ(zs[0].subj, "dog");
  EXPECT_EQ(zs[0].obj, "surfboard");
  EXPECT_EQ(zs[0].relation, "on");
  EXPECT_FALSE(zs[0].has_reference_frame);
  for (const auto& item : zs) {
    EXPECT_FALSE(item.subj.empty());
    EXPECT_FALSE(item.obj.empty());
  }

  const auto all = read_vsr_jsonl(dir + "/all_vsr_validated_data.jsonl");
  EXPECT_EQ(all.size(), 10972u);
  std::set<std::string> relations;
  for (const auto& item : all) relations.insert(item.relation);
  EXPECT_EQ(relations.size(), 66u);
  EXPECT_TRUE(relations.count("congruent"));
}

TEST(DataVsr, MetaCategoriesFromRealFile) {
  SIGHTLINE_REQUIRE_FIXTURES();
  const auto cats = read_vsr_relation_categories(test::fixtures_dir() + "/vsr/rel_meta_category_dict.txt");
  EXPECT_EQ(cats.categories.size(), 7u);
  EXPECT_EQ(cats.categories.front(), "Adjacency");
  EXPECT_EQ(cats.categories.back(), "Unallocated");
  // "among" is listed twice; "down from " carries a trailing space in the file.
  ASSERT_EQ(cats.categories_of.at("among").size(), 2u);
  EXPECT_EQ(cats.categories_of.at("among")[0], "Topological");
  EXPECT_EQ(cats.categories_of.at("among")[1], "Unallocated");
  EXPECT_EQ(cats.category_of("down from"), "Directional");
  EXPECT_EQ(cats.category_of("left of"), "Projective");
  EXPECT_EQ(cats.category_of("facing"), "Orientation");
  EXPECT_EQ(cats.category_of("congruent"), "");
  EXPECT_EQ(cats.relations.at("Proximity").size(), 5u);

  // Every relation in the data but "congruent" has a category.
  const auto all = read_vsr_jsonl(test::fixtures_dir() + "/vsr/all_vsr_validated_data.jsonl");
  std::set<std::string> uncategorised;
  for (const auto& item : all)
    if (cats.category_of(item.relation).empty()) uncategorised.insert(item.relation);
  EXPECT_EQ(uncategorised, (std::set<std::string>{"congruent"}));
}

TEST(DataVsr, ValidatorIdsAsStringsOrLists) {
  const std::string dir = test::scratch_dir("vsr-ids");
  const std::string path = vsr_write_text(
      dir, "raw.jsonl",
      "{\"image\": \"a.jpg\", \"caption\": \"The cat is near the dog.\", \"label\": 1, \"relation\": \"near\", "
      "\"annotator_id\": 3, \"vote_true_validator_id\": [4, 5], \"vote_false_validator_id\": \"[7]\"}\n"
      "\n"
      "{\"image\": \"b.jpg\", \"caption\": \"c\", \"label\": 0, \"relation\": \"far from\", "
      "\"vote_true_validator_id\": \"[]\", \"vote_false_validator_id\": [], \"reference_frame\": 2.0}\n");
  const auto items = read_vsr_jsonl(path);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].vote_true_validator_ids, (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(items[0].vote_false_validator_ids, (std::vector<int64_t>{7}));
  EXPECT_EQ(items[0].image_link, "");
  EXPECT_EQ(items[1].line, 3);  // blank line skipped, numbering kept
  EXPECT_DOUBLE_EQ(*items[1].reference_frame, 2.0);
  EXPECT_EQ(parse_validator_ids("[2, 10, 1]", "w", "f"), (std::vector<int64_t>{2, 10, 1}));
  EXPECT_THROW(parse_validator_ids("[2, x]", "w", "f"), Error);
  EXPECT_THROW(parse_validator_ids("[2, \"3\"]", "w", "f"), Error);
}

TEST(DataVsr, BadLinesNameFileLineAndField) {
  const std::string dir = test::scratch_dir("vsr-bad");
  const std::string good =
      "{\"image\": \"a.jpg\", \"caption\": \"c\", \"label\": 1, \"relation\": \"near\"}\n";
  const auto expect_error = [&](const std::string& name, const std::string& second_line, const std::string& field) {
    const std::string path = vsr_write_text(dir, name, good + second_line + "\n");
    try {
      read_vsr_jsonl(path);
      ADD_FAILURE() << "no error for " << name;
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(path), std::string::npos) << msg;
      EXPECT_NE(msg.find(":2"), std::string::npos) << msg;
      EXPECT_NE(msg.find(field), std::string::npos) << msg;
    }
  };
  expect_error("label.jsonl", "{\"image\": \"a.jpg\", \"caption\": \"c\", \"label\": 2, \"relation\": \"near\"}",
               "label");
  expect_error("missing.jsonl", "{\"image\": \"a.jpg\", \"label\": 1, \"relation\": \"near\"}", "caption");
  expect_error("votes.jsonl",
               "{\"image\": \"a.jpg\", \"caption\": \"c\", \"label\": 1, \"relation\": \"near\", "
               "\"vote_true_validator_id\": \"oops\"}",
               "vote_true_validator_id");
  expect_error("frame.jsonl",
               "{\"image\": \"a.jpg\", \"caption\": \"c\", \"label\": 1, \"relation\": \"near\", "
               "\"reference_frame\": \"x\"}",
               "reference_frame");
  // Syntax errors are reported by the jsonl reader with the line number.
  const std::string path = vsr_write_text(dir, "syntax.jsonl", good + "{not json\n");
  try {
    read_vsr_jsonl(path);
    ADD_FAILURE() << "no error for a syntax error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
  }
}

TEST(DataVsr, WriterMatchesRealLineByteForByte) {
  SIGHTLINE_REQUIRE_FIXTURES();
  const std::string dir = test::fixtures_dir() + "/vsr";
  for (const std::string name : {"random_dev.jsonl", "zeroshot_dev.jsonl"}) {
    std::ifstream in(dir + "/" + name);
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(in, line) && lines.size() < 200) lines.push_back(line);
    const auto items = read_vsr_jsonl(dir + "/" + name);
    for (size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(vsr_item_to_line(items[i]), lines[i]) << name << ":" << i + 1;
  }
}

TEST(DataVsr, WriteReadRoundTrip) {
  const std::string dir = test::scratch_dir("vsr-rt");
  VsrItem a;
  a.image = "COCO_shapes_000000000001.png";
  a.caption = "The red circle is left of the blue square.";
  a.label = 1;
  a.relation = "left of";
  a.subj = "red circle";
  a.obj = "blue square";
  a.has_reference_frame = true;
  VsrItem b = a;
  b.label = 0;
  b.vote_true_validator_ids = {1, 2};
  b.reference_frame = 0.0;
  write_vsr_jsonl(dir + "/x.jsonl", {a, b});
  const auto items = read_vsr_jsonl(dir + "/x.jsonl");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].subj, "red circle");
  EXPECT_EQ(items[0].caption, a.caption);
  EXPECT_TRUE(items[0].has_reference_frame);
  EXPECT_FALSE(items[0].reference_frame.has_value());
  EXPECT_EQ(items[1].vote_true_validator_ids, (std::vector<int64_t>{1, 2}));
  EXPECT_DOUBLE_EQ(*items[1].reference_frame, 0.0);
  EXPECT_EQ(vsr_item_to_line(b).find("\"reference_frame\": 0.0"), vsr_item_to_line(b).size() - 23);
}

TEST(DataVsr, MetaCategoryFileErrors) {
  const std::string dir = test::scratch_dir("vsr-cat");
  EXPECT_THROW(read_vsr_relation_categories(dir + "/absent.txt"), Error);
  const std::string bad = vsr_write_text(dir, "bad.txt", "Projective: left of\nno colon here\n");
  try {
    read_vsr_relation_categories(bad);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sightline
