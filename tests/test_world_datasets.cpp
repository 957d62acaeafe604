#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/common/error.h"
#include "core/data/prompts.h"
#include "core/data/skill_filter.h"
#include "core/data/vqa.h"
#include "core/data/vsr.h"
#include "core/image/image.h"
#include "core/world/corpus.h"
#include "core/world/datasets.h"
#include "core/world/render.h"
#include "tests/test_util.h"
#include "tests/world_fixture.h"

namespace fs = std::filesystem;

namespace sightline {
namespace {

WorldDataOptions small_options(uint64_t seed) {
  WorldDataOptions o;
  o.seed = seed;
  o.n_train = 48;
  o.n_val = 16;
  o.n_test = 16;
  o.n_corpus_train = 40;
  o.n_corpus_val = 8;
  return o;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// Relative path -> bytes of every file under dir.
std::map<std::string, std::string> all_files(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) files[fs::relative(entry.path(), dir).string()] = slurp(entry.path().string());
  return files;
}

// One dataset for the whole suite: writing it twice is the determinism check.
class WorldDatasetFiles : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(test::scratch_dir("world-a"));
    write_world_dataset(*dir_, small_options(11), null_progress());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string* dir_;
};
std::string* WorldDatasetFiles::dir_ = nullptr;

TEST_F(WorldDatasetFiles, SameSeedByteIdenticalOtherSeedDifferent) {
  const std::string again = test::scratch_dir("world-b");
  write_world_dataset(again, small_options(11), null_progress());
  const auto a = all_files(*dir_);
  const auto b = all_files(again);
  ASSERT_EQ(a.size(), b.size());
  // 80 images + 3 x (vsr, vqa questions, vqa annotations, scenes) + 2 corpus + prompts + vocab + options.
  EXPECT_EQ(a.size(), 80u + 12u + 5u);
  for (const auto& [name, bytes] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    EXPECT_TRUE(bytes == b.at(name)) << name << " differs between two runs with the same seed";
  }

  const std::string other = test::scratch_dir("world-c");
  write_world_dataset(other, small_options(12), null_progress());
  const auto c = all_files(other);
  for (const std::string name : {"vsr_train.jsonl", "vqa_val_questions.json", "corpus_train.txt",
                                 "images/COCO_shapes_000100000000.png"})
    EXPECT_NE(a.at(name), c.at(name)) << name;
  EXPECT_EQ(a.at("vocab_words.txt"), c.at("vocab_words.txt"));
}

TEST_F(WorldDatasetFiles, VsrFilesParseWithTheRealReader) {
  const WorldDataOptions o = small_options(11);
  std::set<std::string> images;
  for (const std::string split : {"train", "val", "test"}) {
    const auto items = read_vsr_jsonl(*dir_ + "/vsr_" + split + ".jsonl");
    const int64_t n = split == "train" ? o.n_train : o.n_val;
    // Every 8th scene is free: 48 scenes -> 42 items, 16 -> 14.
    EXPECT_EQ(static_cast<int64_t>(items.size()), n - n / 8) << split;
    for (const VsrItem& item : items) {
      EXPECT_TRUE(images.insert(item.image).second) << "image shared between items or splits: " << item.image;
      EXPECT_TRUE(fs::exists(*dir_ + "/images/" + item.image)) << item.image;
      EXPECT_EQ(item.image_link, "");
      EXPECT_EQ(item.annotator_id, 0);
      EXPECT_TRUE(item.has_reference_frame);
      EXPECT_FALSE(item.reference_frame.has_value());
      EXPECT_EQ(item.caption, "The " + item.subj + (item.relation == "contains" ? " " : " is ") + item.relation +
                                  " the " + item.obj + ".");
    }
  }
  // The first line, field by field in the real order.
  const std::string first = lines_of(*dir_ + "/vsr_train.jsonl").at(0);
  EXPECT_EQ(first.rfind("{\"image\": \"COCO_shapes_000100000000.png\", \"image_link\": \"\", \"caption\": \"The ", 0),
            0u)
      << first;
  EXPECT_NE(first.find("\"relation\": \"left of\", \"subj\": "), std::string::npos) << first;
  EXPECT_NE(first.find("\"annotator_id\": 0, \"vote_true_validator_id\": \"[]\", \"vote_false_validator_id\": "
                       "\"[]\", \"reference_frame\": null}"),
            std::string::npos)
      << first;
}

TEST_F(WorldDatasetFiles, VqaFilesParseWithTheRealReader) {
  size_t total = 0;
  for (const std::string split : {"train", "val", "test"}) {
    VqaFileInfo info;
    const auto items = read_vqa(*dir_ + "/vqa_" + split + "_questions.json",
                                *dir_ + "/vqa_" + split + "_annotations.json", &info);
    EXPECT_EQ(info.data_type, "shapes");
    EXPECT_GT(items.size(), 0u);
    total += items.size();
    int yes = 0, no = 0;
    for (const VqaItem& item : items) {
      ASSERT_EQ(item.answers.size(), 10u);
      for (const VqaAnswer& a : item.answers) EXPECT_EQ(a.answer, item.multiple_choice_answer);
      EXPECT_TRUE(fs::exists(*dir_ + "/images/" + item.image_file)) << item.image_file;
      EXPECT_EQ(item.image_file, fmt::format("COCO_shapes_{:012d}.png", item.image_id));
      EXPECT_TRUE(item.answer_type == "yes/no" || item.answer_type == "number" || item.answer_type == "other");
      if (item.answer_type == "yes/no") (item.multiple_choice_answer == "yes" ? yes : no) += 1;
      EXPECT_EQ(item.multiple_choice_answer.find(' '), std::string::npos) << "answers are single words";
    }
    EXPECT_EQ(yes, no) << split;
  }
  EXPECT_GT(total, 400u);
}

TEST_F(WorldDatasetFiles, ImagesScenesPromptsAndVocab) {
  const WorldDataOptions o = small_options(11);
  const ImageU8 image = load_image(*dir_ + "/images/COCO_shapes_000200000003.png");
  EXPECT_EQ(image.width, 64);
  EXPECT_EQ(image.height, 64);
  const SceneRecord record = make_scene_record(o, WorldSplit::Val, 3);
  EXPECT_EQ(image.rgb, render_scene(record.scene, o.world).rgb);

  const auto scene_lines = lines_of(*dir_ + "/scenes_val.jsonl");
  ASSERT_EQ(scene_lines.size(), 16u);
  const auto j = nlohmann::json::parse(scene_lines[3]);
  EXPECT_EQ(j.at("image").get<std::string>(), record.image_file);
  EXPECT_EQ(scene_to_json(scene_from_json(j.at("scene"), "scenes_val.jsonl")).dump(),
            scene_to_json(record.scene).dump());

  EXPECT_EQ(read_prompt_file(*dir_ + "/neutral_prompts.txt"), world_neutral_prompts());
  EXPECT_EQ(lines_of(*dir_ + "/vocab_words.txt"), world_vocabulary(o.world));
  EXPECT_EQ(lines_of(*dir_ + "/corpus_train.txt").size(), 40u);
  EXPECT_EQ(lines_of(*dir_ + "/corpus_val.txt").size(), 8u);
  const auto back = world_data_options_from_json(nlohmann::json::parse(slurp(*dir_ + "/world_options.json")), "w");
  EXPECT_EQ(world_data_options_to_json(back).dump(), world_data_options_to_json(o).dump());
}

TEST(WorldDatasets, LabelsBalancedPerRelation) {
  WorldDataOptions o;
  o.free_scene_every = 0;
  const int64_t relations = static_cast<int64_t>(relation_table().size());
  std::map<std::string, std::pair<int, int>> counts;  // relation -> (true, false)
  for (int64_t i = 0; i < 4 * relations; ++i) {
    const SceneRecord r = make_scene_record(o, WorldSplit::Train, i);
    ASSERT_TRUE(r.vsr.has_value());
    (r.vsr->label ? counts[r.vsr->relation].first : counts[r.vsr->relation].second) += 1;
  }
  ASSERT_EQ(static_cast<int64_t>(counts.size()), relations);
  for (const auto& [relation, tf] : counts) {
    EXPECT_EQ(tf.first, 2) << relation;
    EXPECT_EQ(tf.second, 2) << relation;
  }
}

TEST(WorldDatasets, RecordsAreStreamableAndConsistent) {
  const WorldDataOptions o = small_options(3);
  const SceneRecord a = make_scene_record(o, WorldSplit::Test, 5);
  const SceneRecord b = make_scene_record(o, WorldSplit::Test, 5);
  EXPECT_EQ(scene_to_json(a.scene).dump(), scene_to_json(b.scene).dump());
  EXPECT_EQ(a.image_id, 300000005);
  EXPECT_EQ(a.image_file, "COCO_shapes_000300000005.png");
  ASSERT_EQ(a.vqa.size(), a.questions.size());
  for (size_t k = 0; k < a.vqa.size(); ++k) EXPECT_EQ(a.vqa[k].question_id, a.image_id * 1000 + static_cast<int64_t>(k));
  // Scene 7 of a split is free (no VSR item); scene 8 is item 7.
  EXPECT_FALSE(make_scene_record(o, WorldSplit::Test, 7).vsr.has_value());
  const SceneRecord eighth = make_scene_record(o, WorldSplit::Test, 8);
  ASSERT_TRUE(eighth.vsr.has_value());
  EXPECT_EQ(eighth.vsr->relation, relation_table()[7].name);
  // Changing the corpus settings leaves scenes and questions alone.
  WorldDataOptions more = o;
  more.corpus_facts = 1;
  const SceneRecord c = make_scene_record(more, WorldSplit::Test, 5);
  EXPECT_EQ(scene_to_json(c.scene).dump(), scene_to_json(a.scene).dump());
  ASSERT_EQ(c.questions.size(), a.questions.size());
  for (size_t k = 0; k < a.questions.size(); ++k) EXPECT_EQ(c.questions[k].question, a.questions[k].question);
  EXPECT_THROW(make_scene_record(o, WorldSplit::Train, -1), Error);
}

TEST(WorldDatasets, QuestionsTruthfulAndTargetAsked) {
  const WorldDataOptions o = small_options(5);
  std::map<std::string, int> skills;
  for (int64_t i = 0; i < 150; ++i) {
    const SceneRecord r = make_scene_record(o, WorldSplit::Train, i);
    const SceneGeometry g(r.scene, o.world);
    if (r.vsr) {
      // The VSR statement is asked as a spatial yes/no question with the same answer.
      const Object* s = nullptr;
      const Object* ob = nullptr;
      for (const Object& x : r.scene.objects) {
        if (x.name() == r.vsr->subj) s = &x;
        if (x.name() == r.vsr->obj) ob = &x;
      }
      ASSERT_TRUE(s && ob);
      const std::string q = relation_question(*relation_from_name(r.vsr->relation), s->name(), ob->name());
      bool asked = false;
      for (const WorldQuestion& wq : r.questions)
        if (wq.question == q) asked = wq.answer == (r.vsr->label ? "yes" : "no");
      EXPECT_TRUE(asked) << q;
    }
    for (const WorldQuestion& q : r.questions) {
      ++skills[q.skill];
      if (q.skill == "count" && q.question == "how many objects are there?") {
        EXPECT_EQ(q.answer, std::to_string(r.scene.objects.size()));
      }
      if (q.skill == "ocr") {
        bool found = false;
        for (const Object& x : r.scene.objects)
          found = found || (x.shape == Shape::Sign && std::string(1, static_cast<char>(std::tolower(x.text))) == q.answer);
        EXPECT_TRUE(found) << q.question;
      }
      if (q.skill == "colour") {
        bool found = false;
        for (const Object& x : r.scene.objects)
          found = found || ("what color is the " + shape_name(x.shape) + "?" == q.question && colour_name(x.colour) == q.answer);
        EXPECT_TRUE(found) << q.question;
      }
    }
  }
  for (const std::string skill : {"colour", "shape", "count", "existence", "spatial", "ocr"})
    EXPECT_GT(skills[skill], 10) << skill;
}

TEST(WorldDatasets, CueFiltersClassifyWorldQuestions) {
  const WorldDataOptions o = small_options(6);
  const SkillFilter spatial = skill_filter_preset("spatial");
  const SkillFilter ocr = skill_filter_preset("ocr");
  int spatial_seen = 0;
  for (int64_t i = 0; i < 120; ++i) {
    for (const WorldQuestion& q : make_scene_record(o, WorldSplit::Val, i).questions) {
      if (q.skill == "spatial") {
        ++spatial_seen;
        EXPECT_TRUE(spatial.matches(q.question)) << q.question;
      } else {
        EXPECT_FALSE(spatial.matches(q.question)) << q.question;
      }
      if (q.skill == "ocr") {
        EXPECT_TRUE(ocr.matches(q.question)) << q.question;
      }
      if (q.skill == "count" || q.skill == "existence" || q.skill == "shape") {
        EXPECT_FALSE(ocr.matches(q.question) && q.question.find("sign") == std::string::npos) << q.question;
      }
    }
  }
  EXPECT_GT(spatial_seen, 100);
  for (const std::string& p : world_neutral_prompts()) {
    EXPECT_FALSE(spatial.matches(p)) << p;
    EXPECT_FALSE(ocr.matches(p)) << p;
  }
  EXPECT_EQ(world_neutral_prompts()[0], "Describe the positions of objects in the image.");
}

TEST(WorldDatasets, CorpusSharesQuestionsAndVocabulary) {
  const WorldDataOptions o = small_options(8);
  const std::vector<std::string> vocab = world_vocabulary(o.world);
  const std::set<std::string> words(vocab.begin(), vocab.end());
  EXPECT_TRUE(std::is_sorted(vocab.begin(), vocab.end()));
  for (const std::string& w : vocab) {
    EXPECT_FALSE(w.empty());
    for (const char c : w) EXPECT_FALSE(c >= 'A' && c <= 'Z') << w;
  }
  const auto covered = [&](const std::string& text) {
    for (const std::string& w : split_words(text))
      if (!words.count(w)) return "'" + w + "' of \"" + text + "\" is not in the vocabulary";
    return std::string();
  };
  for (const std::string& p : world_neutral_prompts()) EXPECT_EQ(covered(p), "");
  for (int64_t i = 0; i < 60; ++i) {
    for (const WorldSplit split : {WorldSplit::Train, WorldSplit::CorpusTrain}) {
      const SceneRecord r = make_scene_record(o, split, i);
      const std::string doc = corpus_document(r, o.world);
      EXPECT_EQ(doc.find('\n'), std::string::npos);
      EXPECT_EQ(covered(doc), "");
      EXPECT_EQ(doc.rfind(describe_scene(r.scene, o.world), 0), 0u);
      // Every open question is asked; of the yes/no questions, one per skill.
      std::map<std::string, int> yes_no_asked, yes_no_total;
      for (const WorldQuestion& q : r.questions) {
        const bool asked = doc.find(question_prompt(q.question) + " " + q.answer + " .") != std::string::npos;
        if (q.answer_type == "yes/no") {
          yes_no_asked[q.skill] += asked;
          yes_no_total[q.skill] += 1;
        } else {
          EXPECT_TRUE(asked) << q.question;
        }
        EXPECT_EQ(covered(q.question + " " + q.answer), "");
      }
      for (const auto& [skill, n] : yes_no_total) EXPECT_EQ(yes_no_asked[skill], 1) << skill << " of " << n;
      if (r.vsr) {
        EXPECT_EQ(covered(r.vsr->caption), "");
      }
      int yes = 0, no = 0;
      for (const RelationFact& f : r.statements) (f.truth ? yes : no) += 1;
      EXPECT_EQ(yes, no);
      EXPECT_EQ(corpus_qa_items(r), corpus_qa_items(make_scene_record(o, split, i)));  // deterministic
    }
  }
  // The description reads positions off the grid.
  Scene s;
  s.objects = {test::make_object(Shape::Arrow, Colour::Blue, SizeClass::Small, 50, 17, 4, Facing::Left),
               test::make_object(Shape::Sign, Colour::White, SizeClass::Large, 20.5f, 44, 1, Facing::None, 'Q')};
  EXPECT_EQ(describe_scene(s, o.world),
            "scene : small blue arrow x6 y2 z1 pointing left ; large white sign x2 y5 z0 letter q .");
  EXPECT_EQ(split_words("Is the Red circle left of it?"),
            (std::vector<std::string>{"is", "the", "red", "circle", "left", "of", "it", "?"}));
}

TEST(WorldDatasets, CancelAndProgress) {
  WorldDataOptions o = small_options(1);
  Progress progress;
  const std::string dir = test::scratch_dir("world-progress");
  o.write_images = false;
  write_world_dataset(dir, o, progress);
  EXPECT_EQ(progress.done(), 48 + 16 + 16 + 40 + 8);
  EXPECT_EQ(progress.total(), progress.done());
  EXPECT_FALSE(fs::exists(dir + "/images/COCO_shapes_000100000000.png"));
  Progress cancelled;
  cancelled.cancel();
  EXPECT_THROW(write_world_dataset(test::scratch_dir("world-cancel"), o, cancelled), Cancelled);
  WorldDataOptions bad = o;
  bad.n_train = -1;
  EXPECT_THROW(write_world_dataset(dir, bad, progress), Error);
}

TEST(WorldDatasets, GenerationIsFast) {
  // A few thousand scenes a second in memory (scene, questions, corpus parts, image); the
  // bound is loose for shared CPUs. Writing adds one PNG file per scene, whose cost is
  // the file system's.
  const WorldDataOptions o = small_options(2);
  const auto start = std::chrono::steady_clock::now();
  size_t pixels = 0;
  for (int64_t i = 0; i < 1000; ++i)
    pixels += render_scene(make_scene_record(o, WorldSplit::Train, i).scene, o.world).rgb.size();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(pixels, 1000u * 64 * 64 * 3);
  std::printf("world generation: %.0f scenes/s (records and images, in memory)\n", 1000 / seconds);
}

// A corpus document must not let an LM answer from the order of its items: both members
// of a balanced pair in a fixed order ("the second existence question is a no") made the
// base LM score 0.72 on in-document answers and 0.50 when asked one question alone.
TEST(WorldDatasets, CorpusAnswersCannotBeReadOffTheOrder) {
  const WorldDataOptions o = small_options(8);
  int existence_yes = 0, existence_docs = 0;
  std::set<size_t> existence_slots;
  for (int64_t i = 0; i < 400; ++i) {
    const SceneRecord r = make_scene_record(o, WorldSplit::CorpusTrain, i);
    const auto items = corpus_qa_items(r);
    for (size_t k = 0; k < items.size(); ++k) {
      if (items[k].rfind("question : is there", 0) != 0) continue;
      ++existence_docs;
      existence_yes += items[k].find("answer : yes .") != std::string::npos;
      existence_slots.insert(k);
    }
  }
  ASSERT_GT(existence_docs, 300);
  const double rate = static_cast<double>(existence_yes) / existence_docs;
  EXPECT_GT(rate, 0.42);
  EXPECT_LT(rate, 0.58);
  EXPECT_GE(existence_slots.size(), 4u);  // the question moves around the document
}

}  // namespace
}  // namespace sightline

