// The shapes world's datasets, in the real formats so that the real-format readers
// (core/data) serve both: VSR-style jsonl with PNG images, VQAv2-style questions and
// annotations, a text corpus for the base LM, neutral prompts and the word list.
//
// Every scene is a pure function of (seed, split, index): scene i of a split can be made
// in memory (make_scene_record) without writing or reading anything else, and the files
// are byte-identical for the same options.
//
// Scene schedule within a split: scene i is "free" (random objects, no VSR item) when
// free_scene_every > 0 and i % free_scene_every == free_scene_every - 1; otherwise it is
// built for VSR item j = i - floor(i / free_scene_every) (j = i when free_scene_every = 0)
// with relation relation_table()[j % R] and label true when (j / R) is even (R = 19),
// so each relation gets equally many items and true/false alternate (counts differ by
// at most one).
//
// Files written by write_world_dataset(dir):
//   images/COCO_shapes_{image_id:012d}.png   train, val and test scenes
//   vsr_{train,val,test}.jsonl               VSR random-split fields plus subj/obj
//   vqa_{train,val,test}_questions.json      VQAv2 questions (data_type "shapes")
//   vqa_{train,val,test}_annotations.json    VQAv2 annotations, 10 identical answers each
//   scenes_{train,val,test}.jsonl            {"image_id", "image", "scene"} per line
//   corpus_train.txt, corpus_val.txt         one document per line (corpus_document)
//   neutral_prompts.txt                      world_neutral_prompts(), one a line
//   vocab_words.txt                          world_vocabulary(), one word a line
//   world_options.json                       the WorldDataOptions used
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/progress.h"
#include "core/data/vqa.h"
#include "core/data/vsr.h"
#include "core/world/questions.h"
#include "core/world/scene.h"

namespace sightline {

enum class WorldSplit : uint8_t { Train, Val, Test, CorpusTrain, CorpusVal };

// "train", "val", "test", "corpus_train", "corpus_val".
std::string split_name(WorldSplit split);

struct WorldDataOptions {
  uint64_t seed = 1;
  int64_t n_train = 6000;          // image scenes per split
  int64_t n_val = 500;
  int64_t n_test = 500;
  int64_t n_corpus_train = 20000;  // text-only scenes (documents) per corpus split
  int64_t n_corpus_val = 1000;
  int free_scene_every = 8;        // every 8th scene is free (0: none)
  int corpus_facts = 6;            // true relation facts per corpus document, at most
  int corpus_statement_pairs = 1;  // statement pairs (one true, one false) per document
  bool write_images = true;        // false: write everything but the PNG files
  WorldOptions world;
};

// Throws Error naming the field when an option is out of range.
void validate_world_data_options(const WorldDataOptions& options);
nlohmann::json world_data_options_to_json(const WorldDataOptions& options);
// Missing fields keep their values in `base`; throws Error naming `where` and the field at fault.
WorldDataOptions world_data_options_from_json(const nlohmann::json& j, const std::string& where,
                                              WorldDataOptions base = {});

// Number of scenes in a split.
int64_t split_size(const WorldDataOptions& options, WorldSplit split);

// One scene with everything the datasets say about it.
struct SceneRecord {
  WorldSplit split = WorldSplit::Train;
  int64_t index = 0;
  int64_t image_id = 0;        // split code (train 1 ... corpus_val 5) * 10^8 + index
  std::string image_file;      // "COCO_shapes_{image_id:012d}.png"
  Scene scene;
  std::optional<VsrItem> vsr;  // absent for free scenes
  std::vector<WorldQuestion> questions;
  std::vector<VqaItem> vqa;    // the questions in VQAv2 form; question_id = image_id * 1000 + k
  std::vector<RelationFact> facts;       // true facts the corpus document states
  std::vector<RelationFact> statements;  // statements the corpus document judges (half true)
};

// Scene `index` of `split`. Throws Error for an index outside [0, 10^8) or when the scene
// cannot be generated.
SceneRecord make_scene_record(const WorldDataOptions& options, WorldSplit split, int64_t index);

// The corpus document of a scene, one line:
//   describe_scene + " facts : " + captions + (statement_prompt(caption) + " yes ." | " no .")...
//   + (question_prompt(question) + " " + answer + " .")...
// e.g. "scene : large red circle x3 y5 z1 ; small blue square x6 y2 z0 . facts : The red
// circle is left of the blue square. statement : The red circle is above the blue square.
// answer : no . question : is the red circle left of the blue square? answer : yes ."
// Question strings and answers are exactly those of the VQA files.
// The statements and questions a corpus document asks of a scene, each with its answer
// ("question : ... answer : yes ."): one member of each balanced yes/no pair, shuffled,
// deterministic for the record.
std::vector<std::string> corpus_qa_items(const SceneRecord& record);
std::string corpus_document(const SceneRecord& record, const WorldOptions& options);

// Writes all files above under `dir` (created when missing). Progress: one unit per scene
// over all five splits; check_cancel() between scenes (throws Cancelled). Throws Error
// naming the file on an I/O failure.
void write_world_dataset(const std::string& dir, const WorldDataOptions& options, Progress& progress);

}  // namespace sightline
