// Writes the seed corpus of every fuzz target into <out>/<target>/: small valid inputs the
// mutations start from, made with the project's own writers and from the fixtures (VSR
// lines, the tiktoken file's first ranks, the JPEGs, downscaled and re-encoded).
// scripts/fuzz runs it into build-fuzz/seeds; nothing here is committed.
// Usage: fuzz_make_seeds <fixtures dir or ""> <out dir>
#include <ATen/ATen.h>
#include <stb_image_write.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "core/common/error.h"
#include "core/data/vqa.h"
#include "core/data/vsr.h"
#include "core/image/image.h"
#include "core/io/safetensors.h"
#include "core/tokenizer/llama3_tokenizer.h"
#include "core/tokenizer/word_tokenizer.h"

namespace fs = std::filesystem;
using namespace sightline;

namespace {

std::string g_out;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("file '{}': cannot open", path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void put(const std::string& target, const std::string& name, const std::string& bytes) {
  const fs::path dir = fs::path(g_out) / target;
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) fail("file '{}': cannot write", (dir / name).string());
}

// The first n lines of a file (with their newlines).
std::string head_lines(const std::string& path, size_t n) {
  std::ifstream in(path, std::ios::binary);
  std::string line, out;
  for (size_t i = 0; i < n && std::getline(in, line); ++i) out += line + "\n";
  return out;
}

void safetensors_seeds() {
  const std::string tmp = (fs::path(g_out) / "tmp.safetensors").string();
  const std::vector<std::vector<std::pair<std::string, at::Tensor>>> files = {
      {{"w", at::arange(6, at::kFloat).reshape({2, 3})}},
      {{"a", at::arange(4, at::kFloat).to(at::kBFloat16)},
       {"b", at::arange(3, at::kLong)},
       {"mask", at::tensor({1, 0, 1}, at::kByte).to(at::kBool)},
       {"scalar", at::full({}, 2.5, at::kDouble)},
       {"empty", at::empty({0, 4}, at::kHalf)}},
      {{"i8", at::tensor({-1, 2}, at::kChar)}, {"i16", at::tensor({300, -4}, at::kShort)},
       {"i32", at::tensor({7}, at::kInt)}, {"u8", at::tensor({255}, at::kByte)}},
  };
  for (size_t i = 0; i < files.size(); ++i) {
    save_safetensors(tmp, files[i], i == 1 ? std::map<std::string, std::string>{{"format", "pt"}} : std::map<std::string, std::string>{});
    put("safetensors", "seed" + std::to_string(i) + ".safetensors", read_all(tmp));
  }
  save_safetensors(tmp, {}, {{"only", "metadata"}});
  put("safetensors", "metadata-only.safetensors", read_all(tmp));
  fs::remove(tmp);
}

void vsr_seeds(const std::string& fixtures) {
  if (!fixtures.empty()) {
    const std::string dir = fixtures + "/vsr/";
    put("vsr", "random_dev-head.jsonl", head_lines(dir + "random_dev.jsonl", 8));
    put("vsr", "zeroshot_dev-head.jsonl", head_lines(dir + "zeroshot_dev.jsonl", 4));
    put("vsr", "all_validated-head.jsonl", head_lines(dir + "all_vsr_validated_data.jsonl", 4));
    put("vsr", "rel_meta_category_dict.txt", read_all(dir + "rel_meta_category_dict.txt"));
  }
  // The shapes world's lines: subj/obj plus a numeric reference_frame, written by our writer.
  VsrItem item;
  item.image = "shape_000001.png";
  item.caption = "The red circle is left of the blue square.";
  item.label = 1;
  item.relation = "left of";
  item.subj = "red circle";
  item.obj = "blue square";
  item.annotator_id = 3;
  item.vote_true_validator_ids = {2, 10};
  item.has_reference_frame = true;
  item.reference_frame = 1.0;
  put("vsr", "shapes.jsonl", vsr_item_to_line(item) + "\n");
}

void vqa_seeds() {
  std::vector<VqaItem> items(2);
  items[0].question_id = 1001;
  items[0].image_id = 42;
  items[0].question = "What color is the circle?";
  items[0].question_type = "what color is the";
  items[0].answer_type = "other";
  items[0].multiple_choice_answer = "red";
  items[1].question_id = 1002;
  items[1].image_id = 42;
  items[1].question = "Is the square left of the circle?";
  items[1].question_type = "is the";
  items[1].answer_type = "yes/no";
  items[1].multiple_choice_answer = "yes";
  for (auto& item : items) {
    for (int k = 1; k <= 3; ++k)
      item.answers.push_back({item.multiple_choice_answer, k == 3 ? "maybe" : "yes", k});
  }
  VqaFileInfo info;
  info.data_type = "shapes";
  info.data_subtype = "shapes";
  const std::string q = (fs::path(g_out) / "tmp-q.json").string();
  const std::string a = (fs::path(g_out) / "tmp-a.json").string();
  for (auto& item : items) item.image_file = vqa_image_file(info.data_type, info.data_subtype, item.image_id);
  write_vqa_questions(q, items, info);
  write_vqa_annotations(a, items, info);
  put("vqa", "questions.json", read_all(q));
  put("vqa", "questions+annotations", read_all(q) + "\n@@annotations@@\n" + read_all(a));
  fs::remove(q);
  fs::remove(a);
}

// GPT-2's bytes_to_unicode (the alphabet of tokenizer.json's vocab and merges).
std::string bytes_to_gpt2(const std::string& bytes) {
  static const std::array<uint32_t, 256> map = [] {
    std::array<uint32_t, 256> m{};
    uint32_t extra = 0;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool keep = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      m[b] = keep ? b : 256 + extra++;
    }
    return m;
  }();
  std::string out;
  for (const unsigned char c : bytes) {
    const uint32_t cp = map[c];
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  return out;
}

// The first `n` ranks of the real tiktoken file (the 256 single bytes come first), and the
// same vocabulary as a tokenizer.json in Hugging Face's layout (merges as HF's converter
// makes them: every split of a token into two tokens, ordered by the merged token's rank).
void tokenizer_seeds(const std::string& fixtures) {
  if (fixtures.empty()) return;
  constexpr size_t kRanks = 320;
  const std::string tiktoken = head_lines(fixtures + "/llama3/tokenizer.model", kRanks);
  put("tokenizer_tiktoken", "llama3-head.model", tiktoken);
  const std::string tmp = (fs::path(g_out) / "tmp.model").string();
  {
    std::ofstream out(tmp, std::ios::binary);
    out << tiktoken;
  }
  const auto sub = Llama3Tokenizer::from_tiktoken(tmp);
  fs::remove(tmp);
  std::map<std::string, int64_t> rank;
  nlohmann::json vocab = nlohmann::json::object();
  for (int64_t id = 0; id < static_cast<int64_t>(kRanks); ++id) {
    rank[sub->token_bytes(id)] = id;
    vocab[bytes_to_gpt2(sub->token_bytes(id))] = id;
  }
  std::vector<std::tuple<int64_t, int64_t, int64_t, std::string, std::string>> splits;
  for (const auto& [bytes, r] : rank) {
    for (size_t k = 1; k < bytes.size(); ++k) {
      const auto a = rank.find(bytes.substr(0, k)), b = rank.find(bytes.substr(k));
      if (a != rank.end() && b != rank.end()) splits.emplace_back(r, a->second, b->second, a->first, b->first);
    }
  }
  std::sort(splits.begin(), splits.end());
  nlohmann::json merges = nlohmann::json::array(), pair_merges = nlohmann::json::array();
  for (const auto& [r, ra, rb, a, b] : splits) {
    merges.push_back(bytes_to_gpt2(a) + " " + bytes_to_gpt2(b));
    pair_merges.push_back({bytes_to_gpt2(a), bytes_to_gpt2(b)});
  }
  const auto names = llama31_special_tokens();
  nlohmann::json added = nlohmann::json::array();
  for (size_t i = 0; i < 12; ++i)  // the named specials; the reserved ones add nothing new
    added.push_back({{"id", static_cast<int64_t>(kRanks + i)}, {"content", names[i]}, {"special", true}});
  nlohmann::json root = {
      {"version", "1.0"},
      {"added_tokens", added},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"}, {"pattern", {{"Regex", kLlama3Pattern}}}, {"behavior", "Isolated"}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}}},
      {"model", {{"type", "BPE"}, {"ignore_merges", true}, {"vocab", vocab}, {"merges", merges}}},
  };
  put("tokenizer_json", "tokenizer.json", root.dump());
  root["model"]["merges"] = pair_merges;
  root["model"]["ignore_merges"] = false;
  root.erase("pre_tokenizer");
  put("tokenizer_json", "tokenizer-pair-merges.json", root.dump(1));
}

void word_tokenizer_seeds(const std::string& fixtures) {
  std::vector<std::string> corpus = {"The red circle is left of the blue square.",
                                     "Is the green triangle above the circle? (yes)", "\"It's\" behind; near: far!"};
  if (!fixtures.empty()) {
    for (const VsrItem& item : read_vsr_jsonl(fixtures + "/vsr/zeroshot_dev.jsonl")) {
      corpus.push_back(item.caption);
      if (corpus.size() >= 40) break;
    }
  }
  const std::string tmp = (fs::path(g_out) / "tmp-vocab.json").string();
  WordTokenizer::build(corpus).save(tmp);
  put("word_tokenizer", "vocab.json", read_all(tmp));
  fs::remove(tmp);
  put("word_tokenizer", "text.txt", corpus[1] + " <image> <bos>\n");
}

void sink(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
}

// Each fixture JPEG downscaled, re-encoded as baseline JPEG, PNG (RGB, grey, grey+alpha,
// RGBA) and BMP, plus the two smallest originals (a baseline and a progressive JPEG).
void image_seeds(const std::string& fixtures) {
  std::vector<ImageU8> sources;
  if (!fixtures.empty()) {
    for (const char* name : {"extreme_ironing.jpg", "waterview.jpg", "COCO_train2014_000000458752.jpg"})
      sources.push_back(load_image(fixtures + "/images/" + name));
    put("image", "extreme_ironing.jpg", read_all(fixtures + "/images/extreme_ironing.jpg"));
    put("image", "waterview-progressive.jpg", read_all(fixtures + "/images/waterview.jpg"));
  } else {
    ImageU8 gradient;
    gradient.width = 24;
    gradient.height = 16;
    for (int y = 0; y < 16; ++y)
      for (int x = 0; x < 24; ++x) gradient.rgb.insert(gradient.rgb.end(), {uint8_t(x * 10), uint8_t(y * 15), 128});
    sources.push_back(gradient);
  }
  for (size_t i = 0; i < sources.size(); ++i) {
    const ImageU8 small = resize_bicubic(sources[i], 24 + 8 * static_cast<int>(i), 16 + 4 * static_cast<int>(i));
    const std::string tag = "img" + std::to_string(i);
    std::string bytes;
    stbi_write_jpg_to_func(sink, &bytes, small.width, small.height, 3, small.rgb.data(), 75);
    put("image", tag + ".jpg", bytes);
    bytes.clear();
    stbi_write_png_to_func(sink, &bytes, small.width, small.height, 3, small.rgb.data(), small.width * 3);
    put("image", tag + ".png", bytes);
    bytes.clear();
    stbi_write_bmp_to_func(sink, &bytes, small.width, small.height, 3, small.rgb.data());
    put("image", tag + ".bmp", bytes);
    if (i == 0) {
      std::vector<uint8_t> grey, grey_alpha, rgba;
      for (size_t p = 0; p < small.rgb.size(); p += 3) {
        const uint8_t g = static_cast<uint8_t>((small.rgb[p] + small.rgb[p + 1] + small.rgb[p + 2]) / 3);
        grey.push_back(g);
        grey_alpha.insert(grey_alpha.end(), {g, static_cast<uint8_t>(p)});
        rgba.insert(rgba.end(), {small.rgb[p], small.rgb[p + 1], small.rgb[p + 2], 200});
      }
      bytes.clear();
      stbi_write_png_to_func(sink, &bytes, small.width, small.height, 1, grey.data(), small.width);
      put("image", tag + "-grey.png", bytes);
      bytes.clear();
      stbi_write_png_to_func(sink, &bytes, small.width, small.height, 2, grey_alpha.data(), small.width * 2);
      put("image", tag + "-grey-alpha.png", bytes);
      bytes.clear();
      stbi_write_png_to_func(sink, &bytes, small.width, small.height, 4, rgba.data(), small.width * 4);
      put("image", tag + "-rgba.png", bytes);
      bytes.clear();
      stbi_write_jpg_to_func(sink, &bytes, small.width, small.height, 1, grey.data(), 60);
      put("image", tag + "-grey.jpg", bytes);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: fuzz_make_seeds <fixtures dir or \"\"> <out dir>\n";
    return 2;
  }
  const std::string fixtures = argv[1];
  g_out = argv[2];
  try {
    fs::create_directories(g_out);
    safetensors_seeds();
    vsr_seeds(fixtures);
    vqa_seeds();
    tokenizer_seeds(fixtures);
    word_tokenizer_seeds(fixtures);
    image_seeds(fixtures);
  } catch (const std::exception& e) {
    std::cerr << "fuzz_make_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
