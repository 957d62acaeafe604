#include "core/train/world_eval.h"

#include <torch/types.h>

#include "core/common/error.h"
#include "core/tokenizer/prompt.h"
#include "core/train/vision_pretrain.h"
#include "core/world/corpus.h"

namespace sightline {

nlohmann::json WorldEvalReport::to_json() const {
  auto tally = [](const Tally& t) { return nlohmann::json{{"accuracy", t.accuracy()}, {"n", t.total}}; };
  nlohmann::json j;
  j["vsr"] = tally(vsr);
  for (const auto& [k, v] : vsr_relation) j["vsr_relation"][k] = tally(v);
  for (const auto& [k, v] : vqa_type) j["vqa_answer_type"][k] = tally(v);
  for (const auto& [k, v] : vqa_skill) j["vqa_skill"][k] = tally(v);
  j["control_vsr_shuffled_images"] = tally(vsr_shuffled);
  j["control_vqa_yesno_shuffled_images"] = tally(vqa_yesno_shuffled);
  j["control_vqa_yesno_blank_image"] = tally(vqa_yesno_blank);
  return j;
}

std::vector<int64_t> world_question_ids(const WordTokenizer& tok, const std::string& question, bool with_image) {
  return word_prompt(tok, "question : " + question, with_image);
}

std::vector<int64_t> world_statement_ids(const WordTokenizer& tok, const std::string& caption, bool with_image) {
  return word_prompt(tok, "statement : " + caption, with_image);
}

namespace {

struct Item {
  std::vector<int64_t> ids;
  int64_t image = -1;  // index into the image list
  std::string answer;
  bool yes_no = false;
  Tally* tallies[3] = {nullptr, nullptr, nullptr};
};

}  // namespace

namespace {

WorldEvalReport evaluate_items(const VisionLanguageModel& model, const WordTokenizer& tok,
                               const WorldDataOptions& data, WorldSplit split, int64_t n_scenes, Progress& progress,
                               bool controls, bool in_words) {
  check(in_words || model.has_vision(), "evaluate_world_vlm needs a model with a vision tower");
  const auto yes = tok.word_id("yes"), no = tok.word_id("no");
  check(yes && no, "the tokenizer has no 'yes'/'no' words");
  WorldEvalReport report;
  std::vector<Scene> scenes;
  std::vector<Item> items;
  for (int64_t i = 0; i < n_scenes; ++i) {
    const auto record = make_scene_record(data, split, i);
    scenes.push_back(record.scene);
    const int64_t img = static_cast<int64_t>(scenes.size()) - 1;
    // Controls ask the same item of the next scene's image (a different scene).
    const int64_t other = (i + 1) % n_scenes;
    const std::string words = in_words ? describe_scene(record.scene, data.world) + " " : "";
    if (record.vsr) {
      const auto& v = *record.vsr;
      const std::string answer = v.label ? "yes" : "no";
      const auto ids = in_words ? word_prompt(tok, words + "statement : " + v.caption, false)
                                : world_statement_ids(tok, v.caption, true);
      items.push_back({ids, img, answer, true, {&report.vsr, &report.vsr_relation[v.relation], nullptr}});
      if (controls) items.push_back({ids, other, answer, true, {&report.vsr_shuffled, nullptr, nullptr}});
    }
    for (const auto& q : record.questions) {
      const auto ids = in_words ? word_prompt(tok, words + "question : " + q.question, false)
                                : world_question_ids(tok, q.question, true);
      const bool yn = q.answer_type == "yes/no";
      items.push_back({ids, img, q.answer, yn, {&report.vqa_type[q.answer_type], &report.vqa_skill[q.skill], nullptr}});
      if (controls && yn) {
        items.push_back({ids, other, q.answer, true, {&report.vqa_yesno_shuffled, nullptr, nullptr}});
        items.push_back({ids, -2, q.answer, true, {&report.vqa_yesno_blank, nullptr, nullptr}});
      }
    }
  }
  // Shuffled controls index scenes that may come later: render all first.
  for (auto& it : items) {
    if (it.image >= 0 && it.image >= static_cast<int64_t>(scenes.size())) it.image %= static_cast<int64_t>(scenes.size());
  }
  Scene blank;
  blank.image_size = data.world.image_size;
  scenes.push_back(blank);
  const int64_t blank_index = static_cast<int64_t>(scenes.size()) - 1;
  torch::NoGradGuard guard;
  const auto pixels = in_words ? at::Tensor() : scene_pixels(scenes, data.world, *model.config().mm.vision);
  const size_t batch = 64;
  progress.begin("evaluate", static_cast<int64_t>(items.size()));
  for (size_t start = 0; start < items.size(); start += batch) {
    progress.check_cancel();
    const size_t end = std::min(items.size(), start + batch);
    BatchInput in;
    std::vector<int64_t> image_rows;
    for (size_t k = start; k < end; ++k) {
      in.ids.push_back(items[k].ids);
      image_rows.push_back(items[k].image == -2 ? blank_index : items[k].image);
    }
    if (!in_words) in.pixels = pixels.index_select(0, torch::tensor(image_rows, torch::kInt64));
    ForwardRequest req;
    req.logits = LogitsMode::kLast;
    const auto logits = model.forward(in, req).logits.to(torch::kCPU, torch::kFloat32);  // (B, V)
    const auto argmax = logits.argmax(1);
    for (size_t k = start; k < end; ++k) {
      const auto& it = items[k];
      const int64_t row = static_cast<int64_t>(k - start);
      std::string predicted;
      if (it.yes_no) {
        predicted = logits[row][*yes].item<float>() >= logits[row][*no].item<float>() ? "yes" : "no";
      } else {
        predicted = tok.token_text(argmax[row].item<int64_t>());
      }
      for (Tally* t : it.tallies) {
        if (!t) continue;
        ++t->total;
        t->correct += predicted == it.answer;
      }
    }
    progress.tick(static_cast<int64_t>(end - start));
  }
  return report;
}

}  // namespace

WorldEvalReport evaluate_world_vlm(const VisionLanguageModel& model, const WordTokenizer& tok,
                                   const WorldDataOptions& data, WorldSplit split, int64_t n_scenes,
                                   Progress& progress, bool controls) {
  return evaluate_items(model, tok, data, split, n_scenes, progress, controls, false);
}

WorldEvalReport evaluate_world_text(const VisionLanguageModel& model, const WordTokenizer& tok,
                                    const WorldDataOptions& data, WorldSplit split, int64_t n_scenes,
                                    Progress& progress) {
  return evaluate_items(model, tok, data, split, n_scenes, progress, false, true);
}

}  // namespace sightline
