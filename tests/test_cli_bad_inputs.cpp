// Bad input catalogue (issue 9): malformed files for every loader and bad values for the
// CLI's options, each run through the real binary. Each must exit non-zero without a
// signal and print a one-line error naming the file (or option) and the field at fault.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/io/json_util.h"
#include "tests/model_fixture.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace sightline;

namespace {

// One tensor of a hand-written safetensors file (its data all zero bytes).
struct BadTensor {
  std::string name, dtype;
  std::vector<int64_t> shape;
};

int64_t bad_dtype_size(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64") return 8;
  if (dtype == "F16" || dtype == "BF16") return 2;
  return 4;  // F32, and 4 for an unknown dtype: the file stays consistent but for the dtype
}

// The bytes of a safetensors file (8-byte little-endian header length, JSON header, data).
std::string bad_safetensors(const std::vector<BadTensor>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  int64_t offset = 0;
  for (const auto& t : tensors) {
    int64_t n = bad_dtype_size(t.dtype);
    for (int64_t d : t.shape) n *= d;
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  const std::string h = header.dump();
  std::string out(8, '\0');
  const uint64_t len = h.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((len >> (8 * i)) & 0xff);
  return out + h + std::string(static_cast<size_t>(offset), '\0');
}

// A raw safetensors file from a header text and `data` bytes.
std::string bad_safetensors_raw(const std::string& header, size_t data) {
  std::string out(8, '\0');
  const uint64_t len = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((len >> (8 * i)) & 0xff);
  return out + header + std::string(data, '\0');
}

// A float32 .npy of shape [rows, cols], zeros.
std::string bad_npy(int64_t rows, int64_t cols) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(cols) + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  return out + header + std::string(static_cast<size_t>(rows * cols * 4), '\0');
}

// A SAELens directory: cfg.json (d_in 4, d_sae 8, relu) and zero weights of the given
// tensors.
std::string bad_saelens_dir(const std::string& root, const std::string& name, const nlohmann::json& cfg,
                            const std::vector<BadTensor>& tensors) {
  const std::string dir = root + "/" + name;
  fs::create_directories(dir);
  test::write_bytes(dir + "/cfg.json", cfg.dump());
  test::write_bytes(dir + "/sae_weights.safetensors", bad_safetensors(tensors));
  return dir;
}

nlohmann::json bad_good_sae_cfg() {
  return {{"d_in", 4}, {"d_sae", 8}, {"architecture", "standard"}, {"activation_fn_str", "relu"},
          {"hook_name", "blocks.0.hook_resid_post"}};
}

std::vector<BadTensor> bad_good_sae_tensors() {
  return {{"W_enc", "F32", {4, 8}}, {"b_enc", "F32", {8}}, {"W_dec", "F32", {8, 4}}, {"b_dec", "F32", {4}}};
}

struct BadCase {
  std::string name;    // what is wrong
  std::string args;    // the command line after `sightline`
  std::string where;   // the file, directory or option the error must name
  std::string what;    // the field / tensor / value at fault ("" = `where` says it all)
};

// The line of `out` holding `needle`, or "".
std::string bad_line_with(const std::string& out, const std::string& needle) {
  size_t start = 0;
  while (start <= out.size()) {
    const size_t end = out.find('\n', start);
    const std::string line = out.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (line.find(needle) != std::string::npos) return line;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return "";
}

TEST(CliBadInputs, CatalogueEachFailsCleanlyWithAOneLineError) {
  const std::string d = test::scratch_dir("cli-bad-inputs");
  auto q = [](const std::string& p) { return "'" + p + "'"; };
  auto file = [&](const std::string& name, const std::string& bytes) {
    test::write_bytes(d + "/" + name, bytes);
    return d + "/" + name;
  };
  std::vector<BadCase> cases;

  // --- safetensors (through an SAE directory and `inspect sae encode`) -----------------
  const std::string x4 = file("x4.npy", bad_npy(2, 4));
  auto encode = [&](const std::string& sae_dir, const std::string& input = "") {
    return "inspect sae-encode --sae " + q(sae_dir) + " --input " + q(input.empty() ? x4 : input) + " --out " +
           q(d + "/out.npy");
  };
  const std::string good_sae = bad_saelens_dir(d, "sae-good", bad_good_sae_cfg(), bad_good_sae_tensors());
  {
    const std::string s = bad_saelens_dir(d, "st-short", bad_good_sae_cfg(), {});
    test::write_bytes(s + "/sae_weights.safetensors", "abc");
    cases.push_back({"safetensors shorter than its 8-byte header length", encode(s), "sae_weights.safetensors", ""});
  }
  {
    const std::string s = bad_saelens_dir(d, "st-liar", bad_good_sae_cfg(), {});
    std::string bytes = bad_safetensors(bad_good_sae_tensors());
    bytes[0] = '\xff';
    bytes[1] = '\xff';
    bytes[2] = '\xff';
    test::write_bytes(s + "/sae_weights.safetensors", bytes);
    cases.push_back({"safetensors header length past the end of the file", encode(s), "sae_weights.safetensors",
                     "header"});
  }
  {
    const std::string s = bad_saelens_dir(d, "st-json", bad_good_sae_cfg(), {});
    test::write_bytes(s + "/sae_weights.safetensors", bad_safetensors_raw("{\"W_enc\": [1, 2", 0));
    cases.push_back({"safetensors header not JSON", encode(s), "sae_weights.safetensors", "header"});
  }
  {
    auto t = bad_good_sae_tensors();
    t[0].dtype = "Q7";
    const std::string s = bad_saelens_dir(d, "st-dtype", bad_good_sae_cfg(), t);
    cases.push_back({"safetensors unknown dtype", encode(s), "sae_weights.safetensors", "Q7"});
  }
  {
    const std::string s = bad_saelens_dir(d, "st-offsets", bad_good_sae_cfg(), {});
    test::write_bytes(s + "/sae_weights.safetensors",
                      bad_safetensors_raw(R"({"W_enc": {"dtype": "F32", "shape": [4, 8], "data_offsets": [0, 128]}})",
                                          16));
    cases.push_back({"safetensors data offsets past the end", encode(s), "sae_weights.safetensors", "W_enc"});
  }
  {
    const std::string s = bad_saelens_dir(d, "st-size", bad_good_sae_cfg(), {});
    test::write_bytes(s + "/sae_weights.safetensors",
                      bad_safetensors_raw(R"({"W_enc": {"dtype": "F32", "shape": [4, 8], "data_offsets": [0, 64]}})",
                                          64));
    cases.push_back({"safetensors byte range disagrees with the shape", encode(s), "sae_weights.safetensors",
                     "W_enc"});
  }
  {
    const std::string s = bad_saelens_dir(d, "st-neg", bad_good_sae_cfg(), {});
    test::write_bytes(
        s + "/sae_weights.safetensors",
        bad_safetensors_raw(R"({"W_enc": {"dtype": "F32", "shape": [-4, 8], "data_offsets": [0, 128]}})", 128));
    cases.push_back({"safetensors negative dimension", encode(s), "sae_weights.safetensors", "W_enc"});
  }
  {
    const std::string s = bad_saelens_dir(d, "st-notobj", bad_good_sae_cfg(), {});
    test::write_bytes(s + "/sae_weights.safetensors", bad_safetensors_raw("[1, 2, 3]", 0));
    cases.push_back({"safetensors header not an object", encode(s), "sae_weights.safetensors", "header"});
  }

  // --- SAE directories ---------------------------------------------------------------
  {
    auto t = bad_good_sae_tensors();
    t[0].shape = {8, 4};
    const std::string s = bad_saelens_dir(d, "sae-shape", bad_good_sae_cfg(), t);
    cases.push_back({"SAE tensor of the wrong shape", encode(s), "sae-shape", "W_enc"});
  }
  {
    auto t = bad_good_sae_tensors();
    t.pop_back();
    const std::string s = bad_saelens_dir(d, "sae-missing-tensor", bad_good_sae_cfg(), t);
    cases.push_back({"SAE without its b_dec tensor", encode(s), "sae-missing-tensor", "b_dec"});
  }
  {
    const std::string s = d + "/sae-no-weights";
    fs::create_directories(s);
    test::write_bytes(s + "/cfg.json", bad_good_sae_cfg().dump());
    cases.push_back({"SAE directory without its weights file", encode(s), "sae_weights.safetensors", ""});
  }
  {
    const std::string s = d + "/sae-empty";
    fs::create_directories(s);
    cases.push_back({"SAE directory with neither config", encode(s), "sae-empty", "cfg.json"});
  }
  {
    const std::string s = bad_saelens_dir(d, "sae-cfg-json", bad_good_sae_cfg(), bad_good_sae_tensors());
    test::write_bytes(s + "/cfg.json", "{\"d_in\": 4,");
    cases.push_back({"SAE cfg.json not JSON", encode(s), "sae-cfg-json/cfg.json", ""});
  }
  {
    auto cfg = bad_good_sae_cfg();
    cfg.erase("d_in");
    const std::string s = bad_saelens_dir(d, "sae-no-din", cfg, bad_good_sae_tensors());
    cases.push_back({"SAE cfg.json without d_in", encode(s), "sae-no-din/cfg.json", "d_in"});
  }
  {
    auto cfg = bad_good_sae_cfg();
    cfg["d_sae"] = "eight";
    const std::string s = bad_saelens_dir(d, "sae-dsae-type", cfg, bad_good_sae_tensors());
    cases.push_back({"SAE cfg.json d_sae a string", encode(s), "sae-dsae-type/cfg.json", "d_sae"});
  }
  {
    auto cfg = bad_good_sae_cfg();
    cfg["architecture"] = "gated";
    const std::string s = bad_saelens_dir(d, "sae-arch", cfg, bad_good_sae_tensors());
    cases.push_back({"SAE cfg.json unknown architecture", encode(s), "sae-arch/cfg.json", "gated"});
  }
  {
    auto cfg = bad_good_sae_cfg();
    cfg["d_sae"] = -8;
    const std::string s = bad_saelens_dir(d, "sae-neg", cfg, bad_good_sae_tensors());
    cases.push_back({"SAE cfg.json negative d_sae", encode(s), "sae-neg/cfg.json", "d_sae"});
  }
  {
    const std::string s = d + "/sae-llamascope";
    fs::create_directories(s);
    test::write_bytes(s + "/hyperparams.json",
                      R"({"d_model": 4, "d_sae": 8, "act_fn": "gelu", "hook_point_in": "blocks.0.hook_resid_post"})");
    cases.push_back({"LLaMA-Scope hyperparams.json unknown act_fn", encode(s), "hyperparams.json", "act_fn"});
  }
  {
    const std::string s = d + "/sae-llamascope-nockpt";
    fs::create_directories(s);
    test::write_bytes(s + "/hyperparams.json",
                      R"({"d_model": 4, "d_sae": 8, "act_fn": "relu", "hook_point_in": "blocks.0.hook_resid_post"})");
    cases.push_back({"LLaMA-Scope directory without checkpoints/", encode(s), "final.safetensors", ""});
  }
  cases.push_back({"SAE input .npy not an npy file", encode(good_sae, file("junk.npy", "not numpy")), "junk.npy", ""});
  cases.push_back({"SAE input .npy of the wrong width", encode(good_sae, file("x5.npy", bad_npy(2, 5))), "x5.npy", ""});
  cases.push_back({"SAE input .npy truncated", encode(good_sae, file("xcut.npy", bad_npy(2, 4).substr(0, 140))),
                   "xcut.npy", ""});

  // --- model checkpoints (`inspect forward`) --------------------------------------------
  const std::string model = d + "/model";
  test::write_tiny_checkpoint(test::make_tiny_checkpoint({}, 23), model, "F32", 1);
  const auto config = read_json_file(model + "/config.json");
  auto forward = [&](const std::string& dir) {
    return "inspect forward --model " + q(dir) + " --ids 1,2 --out " + q(d + "/logits.npy");
  };
  auto model_copy = [&](const std::string& name) {
    const std::string dir = d + "/" + name;
    fs::create_directories(dir);
    for (const auto& e : fs::directory_iterator(model)) fs::copy(e.path(), dir / e.path().filename());
    return dir;
  };
  {
    const std::string m = model_copy("model-cfg-json");
    test::write_bytes(m + "/config.json", "{\"architectures\": [");
    cases.push_back({"config.json not JSON", forward(m), "model-cfg-json/config.json", ""});
  }
  {
    const std::string m = model_copy("model-no-hidden");
    auto c = config;
    if (c.contains("text_config")) c["text_config"].erase("hidden_size");
    c.erase("hidden_size");
    test::write_bytes(m + "/config.json", c.dump());
    cases.push_back({"config.json without hidden_size", forward(m), "config.json", "hidden_size"});
  }
  {
    const std::string m = model_copy("model-heads");
    auto c = config;
    auto& t = c.contains("text_config") ? c["text_config"] : c;
    t["num_attention_heads"] = 5;  // not a multiple of num_key_value_heads 2
    test::write_bytes(m + "/config.json", c.dump());
    cases.push_back(
        {"config.json heads not a multiple of the kv heads", forward(m), "config.json", "num_attention_heads"});
  }
  {
    const std::string m = model_copy("model-no-config");
    fs::remove(m + "/config.json");
    cases.push_back({"model directory without config.json", forward(m), "model-no-config", "config.json"});
  }
  {
    const std::string m = model_copy("model-no-weights");
    for (const auto& e : fs::directory_iterator(m))
      if (e.path().extension() == ".safetensors") fs::remove(e.path());
    cases.push_back({"model directory without weights", forward(m), "model-no-weights", "safetensors"});
  }
  {
    const std::string m = model_copy("model-cut");
    for (const auto& e : fs::directory_iterator(m))
      if (e.path().extension() == ".safetensors") {
        const std::string bytes = test::read_bytes(e.path().string());
        test::write_bytes(e.path().string(), bytes.substr(0, bytes.size() / 2));
      }
    cases.push_back({"model weights truncated halfway", forward(m), "model-cut/model", ".safetensors"});
  }
  {
    const std::string m = d + "/model-sharded";
    test::write_tiny_checkpoint(test::make_tiny_checkpoint({}, 24), m, "F32", 2);
    fs::remove(m + "/model-00002-of-00002.safetensors");
    cases.push_back({"sharded checkpoint missing a shard", forward(m), "model-00002-of-00002.safetensors", ""});
  }
  cases.push_back({"forward --ids out of the vocabulary",
                   "inspect forward --model " + q(model) + " --ids 1,2,999 --out " + q(d + "/o.npy"), "999", ""});
  cases.push_back({"forward --ids not an integer",
                   "inspect forward --model " + q(model) + " --ids 1,x --out " + q(d + "/o.npy"), "'x'", ""});
  cases.push_back({"forward --hidden past the last layer",
                   "inspect forward --model " + q(model) + " --ids 1,2 --hidden 9 --hidden-out " + q(d + "/h.npy") +
                       " --out " + q(d + "/o.npy"),
                   "--hidden 9", ""});
  cases.push_back({"forward --dtype unknown",
                   "inspect forward --model " + q(model) + " --ids 1,2 --dtype float8 --out " + q(d + "/o.npy"),
                   "float8", ""});

  // --- tokenizers (`inspect tokenize`) --------------------------------------------------
  auto tokenize = [&](const std::string& path) { return "inspect tokenize --tokenizer " + q(path) + " --text hi"; };
  cases.push_back({"tokenizer.json not JSON", tokenize(file("tokenizer.json", "{\"model\": {")), "tokenizer.json", ""});
  {
    const std::string dir = d + "/tok-nomodel";
    fs::create_directories(dir);
    test::write_bytes(dir + "/tokenizer.json", R"({"version": "1.0", "added_tokens": []})");
    cases.push_back({"tokenizer.json without its model", tokenize(dir + "/tokenizer.json"), "tokenizer.json", "model"});
  }
  {
    const std::string dir = d + "/tok-tiktoken";
    fs::create_directories(dir);
    test::write_bytes(dir + "/tokenizer.model", "IQ== 0\n!!!notbase64 1\n");
    cases.push_back({"tokenizer.model with a bad line", tokenize(dir + "/tokenizer.model"), "tokenizer.model", ""});
  }
  {
    const std::string dir = d + "/tok-vocab";
    fs::create_directories(dir);
    test::write_bytes(dir + "/vocab.json", "[\"a\", 3]");
    cases.push_back({"vocab.json not a word vocabulary", tokenize(dir + "/vocab.json"), "vocab.json", ""});
  }
  {
    const std::string dir = d + "/tok-empty";
    fs::create_directories(dir);
    cases.push_back({"tokenizer directory with no tokenizer", tokenize(dir), "tok-empty", "tokenizer.json"});
  }
  {
    const std::string dir = d + "/tok-dup";
    fs::create_directories(dir);
    test::write_bytes(dir + "/vocab.json", R"({"kind": "word", "tokens": ["<pad>", "<bos>", "<eos>", "<unk>",
                                               "<image>", "left", "left"]})");
    cases.push_back({"vocab.json with a word twice", tokenize(dir + "/vocab.json"), "vocab.json", "tokens[6]"});
  }
  cases.push_back({"tokenizer file missing", tokenize(d + "/nope.model"), "nope.model", ""});

  // --- images (`inspect image`) -----------------------------------------------------------
  auto image = [&](const std::string& path, const std::string& extra = "") {
    return "inspect image --image " + q(path) + extra + " --out " + q(d + "/p.npy");
  };
  cases.push_back({"image not an image", image(file("garbage.jpg", "not an image at all")), "garbage.jpg", ""});
  cases.push_back({"image empty file", image(file("empty.png", "")), "empty.png", ""});
  cases.push_back({"PNG cut after its signature",
                   image(file("cut.png", std::string("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16))), "cut.png", ""});
  cases.push_back({"JPEG with only its start marker",
                   image(file("cut.jpg", std::string("\xff\xd8\xff\xe0\0\x10JFIF", 10))), "cut.jpg", ""});
  cases.push_back({"image --size out of range", image(file("any.png", ""), " --size 0"), "--size", ""});
  cases.push_back({"image missing", image(d + "/nope.png"), "nope.png", ""});

  // --- pipeline options (`run --print-config --config`) ----------------------------------
  auto run_config = [&](const std::string& name, const std::string& json) {
    return "run --print-config --world " + q(d) + " --config " + q(file(name, json));
  };
  cases.push_back({"pipeline config not JSON", run_config("cfg-json.json", "{\"stages\": "), "cfg-json.json", ""});
  cases.push_back({"pipeline config typo in a stage option",
                   run_config("cfg-epoch.json", R"({"stages": {"adapt": {"epoch": 2}}})"), "cfg-epoch.json", "epoch"});
  cases.push_back({"pipeline config unknown stage",
                   run_config("cfg-stage.json", R"({"stages": {"shfit": {}}})"), "cfg-stage.json", "shfit"});
  cases.push_back({"pipeline config p_cos out of range",
                   run_config("cfg-pcos.json", R"({"stages": {"diff": {"p_cos": 2}}})"), "cfg-pcos.json", "p_cos"});
  cases.push_back({"pipeline config negative train_items",
                   run_config("cfg-items.json", R"({"data": {"train_items": -1}})"), "cfg-items.json", "train_items"});
  cases.push_back({"pipeline config duplicated regime",
                   run_config("cfg-regimes.json", R"({"stages": {"adapt": {"regimes": ["text", "text"]}}})"),
                   "cfg-regimes.json", "regimes"});
  cases.push_back({"pipeline config a number where a string goes",
                   run_config("cfg-type.json", R"({"stages": {"diff": {"regime": 3}}})"), "cfg-type.json", "regime"});
  cases.push_back({"pipeline config unknown top-level key",
                   run_config("cfg-top.json", R"({"sources": {}})"), "cfg-top.json", "sources"});
  cases.push_back({"pipeline config not an object", run_config("cfg-array.json", "[1, 2]"), "cfg-array.json", ""});

  // --- `run` options ----------------------------------------------------------------------
  cases.push_back({"run without --db", "run --world " + q(d), "--db", ""});
  cases.push_back({"run --world without a manifest", "run --world " + q(d + "/model") + " --db " + q(d + "/w.db"),
                   "manifest.json", ""});
  cases.push_back({"run --data of an unknown kind",
                   "run --world " + q(d) + " --data " + q(file("data.txt", "x")) + " --db " + q(d + "/w.db"),
                   "data.txt", "--data"});
  cases.push_back({"run --sae folder without SAEs",
                   "run --model " + q(model) + " --sae " + q(d + "/sae-empty") + " --db " + q(d + "/s.db"),
                   "sae-empty", ""});

  // --- VQAv2 files (a real-mode run of stage 1 on the tiny checkpoint) ---------------------
  {
    const auto& text = config.contains("text_config") ? config["text_config"] : config;
    const int64_t hidden = text.at("hidden_size").get<int64_t>();
    const std::string saes = d + "/real-saes";
    auto cfg = bad_good_sae_cfg();
    cfg["d_in"] = hidden;
    bad_saelens_dir(saes, "layer0", cfg,
                    {{"W_enc", "F32", {hidden, 8}}, {"b_enc", "F32", {8}}, {"W_dec", "F32", {8, hidden}},
                     {"b_dec", "F32", {hidden}}});
    const std::string vocab = file("real-vocab.json",
                                   R"({"kind": "word", "tokens": ["<pad>", "<bos>", "<eos>", "<unk>", "<image>",
                                       "what", "is", "left", "yes", "no"]})");
    fs::create_directories(d + "/real-images");
    const std::string good_q =
        file("good_questions.json",
             R"({"questions": [{"question_id": 1, "image_id": 1, "question": "what is left"}]})");
    const std::string good_a = file("good_annotations.json",
                                    R"({"annotations": [{"question_id": 1, "image_id": 1,
                                        "multiple_choice_answer": "yes", "answers": [{"answer": "yes"}]}]})");
    auto real = [&](const std::string& questions, const std::string& annotations, const std::string& db) {
      return "--threads 1 run --model " + q(model) + " --sae " + q(saes) + " --tokenizer " + q(vocab) +
             " --images " + q(d + "/real-images") + " --vqa-questions " + q(questions) + " --vqa-annotations " +
             q(annotations) + " --layers 0 --stages adapt --db " + q(d + "/" + db);
    };
    cases.push_back({"VQA questions file not JSON",
                     real(file("bad1_questions.json", "{\"questions\": [{"), good_a, "vqa1.db"), "bad1_questions.json",
                     ""});
    cases.push_back({"VQA questions file without its questions array",
                     real(file("bad2_questions.json", R"({"info": {}})"), good_a, "vqa2.db"), "bad2_questions.json",
                     "questions"});
    cases.push_back({"VQA question without question_id",
                     real(file("bad3_questions.json", R"({"questions": [{"image_id": 1, "question": "what"}]})"),
                          good_a, "vqa3.db"),
                     "bad3_questions.json", "question_id"});
    cases.push_back({"VQA annotation without its answers",
                     real(good_q,
                          file("bad4_annotations.json", R"({"annotations": [{"question_id": 1, "image_id": 1}]})"),
                          "vqa4.db"),
                     "bad4_annotations.json", "answer"});
  }

  // --- world build / data ------------------------------------------------------------------
  cases.push_back({"world build config not JSON",
                   "world build --preset micro --out " + q(d + "/w") + " --config " + q(file("w-json.json", "{")),
                   "w-json.json", ""});
  cases.push_back({"world build config unknown key",
                   "world build --preset micro --out " + q(d + "/w") + " --config " +
                       q(file("w-key.json", R"({"lm": {"hiden_size": 8}})")),
                   "w-key.json", "hiden_size"});
  cases.push_back({"world build config tunes an unknown skill",
                   "world build --preset micro --out " + q(d + "/w") + " --config " +
                       q(file("w-skill.json", R"({"tune_skills": ["existence", "colours"]})")),
                   "w-skill.json", "tune_skills' names 'colours'"});
  cases.push_back({"world build config with no turns per sequence",
                   "world build --preset micro --out " + q(d + "/w") + " --config " +
                       q(file("w-turns.json", R"({"tune_items_per_sequence": 0})")),
                   "w-turns.json", "tune_items_per_sequence' is 0"});
  cases.push_back({"world build unknown preset", "world build --preset huge --out " + q(d + "/w"), "--preset", ""});
  cases.push_back({"world data config not JSON",
                   "world data --out " + q(d + "/wd") + " --config " + q(file("wd-json.json", "{\"n_train\": ")),
                   "wd-json.json", ""});

  // --- report on a bad store ------------------------------------------------------------------
  cases.push_back({"report on a missing store", "report --db " + q(d + "/missing.db") + " --out " + q(d + "/r1"),
                   "missing.db", ""});
  cases.push_back({"report on a file that is not SQLite",
                   "report --db " + q(file("corrupt.db", std::string(4096, 'x'))) + " --out " + q(d + "/r2"),
                   "corrupt.db", ""});
  {
    // A real SQLite header followed by garbage pages.
    std::string bytes = "SQLite format 3";
    bytes += '\0';
    bytes += std::string(8192 - bytes.size(), '\x5a');
    cases.push_back({"report on a store with corrupt pages",
                     "report --db " + q(file("pages.db", bytes)) + " --out " + q(d + "/r3"), "pages.db", ""});
  }

  ASSERT_GE(cases.size(), 40u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name + ": sightline " + c.args);
    const auto r = test::run_cli(c.args);
    // run_cli reports a shell exit status; 128 + N is a death by signal N.
    EXPECT_NE(r.exit_code, 0) << r.out;
    EXPECT_LT(r.exit_code, 128) << "killed by a signal (134 = abort, 139 = segfault)\n" << r.out;
    const std::string line = bad_line_with(r.out, c.where);
    std::printf("%-55s exit %d: %s\n", c.name.c_str(), r.exit_code, line.c_str());
    EXPECT_FALSE(line.empty()) << "no line names '" << c.where << "'\n" << r.out;
    if (!c.what.empty()) {
      EXPECT_NE(line.find(c.what), std::string::npos) << "the line naming '" << c.where << "' does not name '"
                                                      << c.what << "'\n" << r.out;
    }
    // One error line: the message itself holds no line break.
    int error_lines = 0;
    for (size_t p = r.out.find("error"); p != std::string::npos; p = r.out.find("error", p + 1))
      error_lines += p == 0 || r.out[p - 1] == '\n';
    EXPECT_LE(error_lines, 1) << r.out;
  }
  std::printf("bad input catalogue: %zu cases\n", cases.size());
}

}  // namespace
