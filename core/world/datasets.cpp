#include "core/world/datasets.h"

#include <fmt/format.h>

#include <filesystem>
#include <map>

#include "core/common/error.h"
#include "core/data/prompts.h"
#include "core/image/image.h"
#include "core/io/json_util.h"
#include "core/world/corpus.h"
#include "core/world/generator.h"
#include "core/world/render.h"

namespace fs = std::filesystem;

namespace sightline {

namespace {

using json = nlohmann::json;

constexpr int64_t kIndexLimit = 100000000;  // image ids: split code * 10^8 + index
constexpr int kAnswersPerQuestion = 10;

uint64_t split_code(WorldSplit split) { return static_cast<uint64_t>(split) + 1; }

VsrItem vsr_item(const SceneRecord& record, const RelationFact& fact) {
  const Object& s = record.scene.objects[static_cast<size_t>(fact.subject)];
  const Object& o = record.scene.objects[static_cast<size_t>(fact.object)];
  VsrItem item;
  item.image = record.image_file;
  item.caption = relation_caption(fact.relation, s.name(), o.name());
  item.label = fact.truth ? 1 : 0;
  item.relation = relation_info(fact.relation).name;
  item.subj = s.name();
  item.obj = o.name();
  item.has_reference_frame = true;  // written as null, as in the random split files
  return item;
}

VqaItem vqa_item(const SceneRecord& record, const WorldQuestion& q, size_t k) {
  VqaItem item;
  item.question_id = record.image_id * 1000 + static_cast<int64_t>(k);
  item.image_id = record.image_id;
  item.question = q.question;
  item.image_file = record.image_file;
  item.question_type = q.question_type;
  item.answer_type = q.answer_type;
  item.multiple_choice_answer = q.answer;
  for (int a = 1; a <= kAnswersPerQuestion; ++a) item.answers.push_back({q.answer, "yes", a});
  return item;
}

std::string caption_of(const Scene& scene, const RelationFact& f) {
  return relation_caption(f.relation, scene.objects[static_cast<size_t>(f.subject)].name(),
                          scene.objects[static_cast<size_t>(f.object)].name());
}

// Streams lines into a file written atomically on finish().
class LineWriter {
 public:
  explicit LineWriter(const std::string& path) : out_(path) {}
  void line(const std::string& text) {
    buffer_ += text;
    buffer_ += '\n';
    if (buffer_.size() > (1u << 20)) flush();
  }
  void finish() {
    flush();
    out_.commit();
  }

 private:
  void flush() {
    out_.write(buffer_);
    buffer_.clear();
  }
  AtomicWriter out_;
  std::string buffer_;
};

}  // namespace

std::string split_name(WorldSplit split) {
  switch (split) {
    case WorldSplit::Train: return "train";
    case WorldSplit::Val: return "val";
    case WorldSplit::Test: return "test";
    case WorldSplit::CorpusTrain: return "corpus_train";
    case WorldSplit::CorpusVal: return "corpus_val";
  }
  return "?";
}

void validate_world_data_options(const WorldDataOptions& o) {
  validate_world_options(o.world);
  for (const auto& [name, n] : {std::pair<const char*, int64_t>{"n_train", o.n_train},
                                {"n_val", o.n_val},
                                {"n_test", o.n_test},
                                {"n_corpus_train", o.n_corpus_train},
                                {"n_corpus_val", o.n_corpus_val}})
    check(n >= 0 && n < kIndexLimit, "world data options: {} = {} must be in [0, {})", name, n, kIndexLimit);
  check(o.free_scene_every >= 0, "world data options: free_scene_every {} must be >= 0", o.free_scene_every);
  check(o.free_scene_every != 1, "world data options: free_scene_every 1 would leave no VSR items");
  check(o.corpus_facts >= 0, "world data options: corpus_facts {} must be >= 0", o.corpus_facts);
  check(o.corpus_statement_pairs >= 0, "world data options: corpus_statement_pairs {} must be >= 0",
        o.corpus_statement_pairs);
}

json world_data_options_to_json(const WorldDataOptions& o) {
  return json{{"seed", o.seed},
              {"n_train", o.n_train},
              {"n_val", o.n_val},
              {"n_test", o.n_test},
              {"n_corpus_train", o.n_corpus_train},
              {"n_corpus_val", o.n_corpus_val},
              {"free_scene_every", o.free_scene_every},
              {"corpus_facts", o.corpus_facts},
              {"corpus_statement_pairs", o.corpus_statement_pairs},
              {"write_images", o.write_images},
              {"world", world_options_to_json(o.world)}};
}

WorldDataOptions world_data_options_from_json(const json& j, const std::string& where, WorldDataOptions o) {
  o.seed = json_get_or<uint64_t>(j, "seed", o.seed, where);
  o.n_train = json_get_or<int64_t>(j, "n_train", o.n_train, where);
  o.n_val = json_get_or<int64_t>(j, "n_val", o.n_val, where);
  o.n_test = json_get_or<int64_t>(j, "n_test", o.n_test, where);
  o.n_corpus_train = json_get_or<int64_t>(j, "n_corpus_train", o.n_corpus_train, where);
  o.n_corpus_val = json_get_or<int64_t>(j, "n_corpus_val", o.n_corpus_val, where);
  o.free_scene_every = json_get_or<int>(j, "free_scene_every", o.free_scene_every, where);
  o.corpus_facts = json_get_or<int>(j, "corpus_facts", o.corpus_facts, where);
  o.corpus_statement_pairs = json_get_or<int>(j, "corpus_statement_pairs", o.corpus_statement_pairs, where);
  o.write_images = json_get_or<bool>(j, "write_images", o.write_images, where);
  if (j.contains("world")) o.world = world_options_from_json(j.at("world"), where + ": world");
  try {
    validate_world_data_options(o);
  } catch (const Error& e) {
    fail("file '{}': {}", where, e.what());
  }
  return o;
}

int64_t split_size(const WorldDataOptions& options, WorldSplit split) {
  switch (split) {
    case WorldSplit::Train: return options.n_train;
    case WorldSplit::Val: return options.n_val;
    case WorldSplit::Test: return options.n_test;
    case WorldSplit::CorpusTrain: return options.n_corpus_train;
    case WorldSplit::CorpusVal: return options.n_corpus_val;
  }
  return 0;
}

SceneRecord make_scene_record(const WorldDataOptions& options, WorldSplit split, int64_t index) {
  if (index < 0 || index >= kIndexLimit)
    fail("world split '{}': scene index {} is outside [0, {})", split_name(split), index, kIndexLimit);
  SceneRecord record;
  record.split = split;
  record.index = index;
  record.image_id = static_cast<int64_t>(split_code(split)) * kIndexLimit + index;
  record.image_file = vqa_image_file("shapes", "shapes", record.image_id);

  const int every = options.free_scene_every;
  const bool free = every > 0 && index % every == every - 1;
  std::optional<RelationTarget> target;
  if (!free) {
    const int64_t j = every > 0 ? index - index / every : index;
    const int64_t r = static_cast<int64_t>(relation_table().size());
    target = RelationTarget{relation_table()[static_cast<size_t>(j % r)].relation, (j / r) % 2 == 0};
  }

  Rng rng(derive_seed(options.seed, {split_code(split), static_cast<uint64_t>(index)}));
  const GeneratedScene generated = generate_scene(rng, options.world, target);
  record.scene = generated.scene;
  const SceneGeometry geometry(record.scene, options.world);

  std::optional<RelationFact> fact;
  if (target) {
    fact = RelationFact{target->relation, generated.subject, generated.object, target->label};
    record.vsr = vsr_item(record, *fact);
  }
  record.questions = make_questions(geometry, options.world, rng, fact);
  for (size_t k = 0; k < record.questions.size(); ++k) record.vqa.push_back(vqa_item(record, record.questions[k], k));

  // The corpus part draws from its own stream, so corpus settings leave the images and
  // questions unchanged.
  Rng corpus_rng(derive_seed(options.seed, {split_code(split), static_cast<uint64_t>(index), 1}));
  std::vector<RelationFact> yes, no;
  for (const RelationFact& f : scene_facts(geometry)) (f.truth ? yes : no).push_back(f);
  corpus_rng.shuffle(yes);
  corpus_rng.shuffle(no);
  const size_t pairs = std::min({static_cast<size_t>(options.corpus_statement_pairs), yes.size(), no.size()});
  for (size_t k = 0; k < pairs; ++k) {
    const bool yes_first = corpus_rng.bernoulli(0.5);
    record.statements.push_back(yes_first ? yes[k] : no[k]);
    record.statements.push_back(yes_first ? no[k] : yes[k]);
  }
  // Facts are the true statements not already judged above.
  for (size_t k = pairs; k < yes.size() && record.facts.size() < static_cast<size_t>(options.corpus_facts); ++k)
    record.facts.push_back(yes[k]);
  return record;
}

std::vector<std::string> corpus_qa_items(const SceneRecord& record) {
  // A document that held both members of each balanced pair (the yes and the no existence
  // question, a relation question and its swap, a true and a false statement) in a fixed
  // order would let an LM answer from the order alone ("the second existence question is
  // a no"). So one member of each pair is drawn, and the items are shuffled.
  Rng rng(derive_seed(static_cast<uint64_t>(record.image_id), {0x51ed5eedULL}));
  std::vector<std::string> items;
  for (size_t k = 0; k + 1 < record.statements.size(); k += 2) {
    const RelationFact& f = record.statements[k + rng.index(2)];
    items.push_back(statement_prompt(caption_of(record.scene, f)) + (f.truth ? " yes ." : " no ."));
  }
  if (record.statements.size() % 2 == 1) {
    const RelationFact& f = record.statements.back();
    items.push_back(statement_prompt(caption_of(record.scene, f)) + (f.truth ? " yes ." : " no ."));
  }
  std::map<std::string, std::vector<const WorldQuestion*>> yes_no;  // by skill
  for (const WorldQuestion& q : record.questions) {
    if (q.answer_type == "yes/no")
      yes_no[q.skill].push_back(&q);
    else
      items.push_back(question_prompt(q.question) + " " + q.answer + " .");
  }
  for (const auto& [skill, qs] : yes_no) {
    const WorldQuestion& q = *qs[rng.index(qs.size())];
    items.push_back(question_prompt(q.question) + " " + q.answer + " .");
  }
  rng.shuffle(items);
  return items;
}

std::string corpus_document(const SceneRecord& record, const WorldOptions& options) {
  std::string doc = describe_scene(record.scene, options);
  if (!record.facts.empty()) {
    doc += " facts :";
    for (const RelationFact& f : record.facts) doc += " " + caption_of(record.scene, f);
  }
  for (const std::string& item : corpus_qa_items(record)) doc += " " + item;
  return doc;
}

void write_world_dataset(const std::string& dir, const WorldDataOptions& options, Progress& progress) {
  validate_world_data_options(options);
  const std::string image_dir = dir + "/images";
  std::error_code ec;
  fs::create_directories(image_dir, ec);
  if (ec) fail("world dataset: cannot create directory '{}': {}", image_dir, ec.message());

  write_json_file(dir + "/world_options.json", world_data_options_to_json(options), 2);
  int64_t total = 0;
  for (const WorldSplit s : {WorldSplit::Train, WorldSplit::Val, WorldSplit::Test, WorldSplit::CorpusTrain,
                             WorldSplit::CorpusVal})
    total += split_size(options, s);
  progress.begin("world dataset", total);

  for (const WorldSplit split : {WorldSplit::Train, WorldSplit::Val, WorldSplit::Test}) {
    const std::string name = split_name(split);
    std::vector<VsrItem> vsr;
    std::vector<VqaItem> vqa;
    LineWriter scenes(fmt::format("{}/scenes_{}.jsonl", dir, name));
    for (int64_t i = 0; i < split_size(options, split); ++i) {
      progress.check_cancel();
      SceneRecord record = make_scene_record(options, split, i);
      if (options.write_images)
        save_png(image_dir + "/" + record.image_file, render_scene(record.scene, options.world));
      if (record.vsr) vsr.push_back(std::move(*record.vsr));
      for (VqaItem& item : record.vqa) vqa.push_back(std::move(item));
      scenes.line(json{{"image_id", record.image_id}, {"image", record.image_file},
                       {"scene", scene_to_json(record.scene)}}
                      .dump());
      progress.tick();
    }
    scenes.finish();
    write_vsr_jsonl(fmt::format("{}/vsr_{}.jsonl", dir, name), vsr);
    VqaFileInfo info;
    info.data_type = "shapes";
    info.data_subtype = "shapes";
    info.description = "Sightline shapes world, split " + name;
    write_vqa_questions(fmt::format("{}/vqa_{}_questions.json", dir, name), vqa, info);
    write_vqa_annotations(fmt::format("{}/vqa_{}_annotations.json", dir, name), vqa, info);
  }

  for (const WorldSplit split : {WorldSplit::CorpusTrain, WorldSplit::CorpusVal}) {
    LineWriter corpus(fmt::format("{}/{}.txt", dir, split_name(split)));
    for (int64_t i = 0; i < split_size(options, split); ++i) {
      progress.check_cancel();
      corpus.line(corpus_document(make_scene_record(options, split, i), options.world));
      progress.tick();
    }
    corpus.finish();
  }

  write_prompt_file(dir + "/neutral_prompts.txt", world_neutral_prompts());
  LineWriter vocab(dir + "/vocab_words.txt");
  for (const std::string& w : world_vocabulary(options.world)) vocab.line(w);
  vocab.finish();
}

}  // namespace sightline
