// sightline run ...: the headless pipeline (adapt, diff, ...) into a store, with progress
// bars and a summary table; sightline report ...: a run's results as CSV files.
#include <CLI/CLI.hpp>

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "app/commands.h"
#include "app/progress_bar.h"
#include "core/common/error.h"
#include "core/pipeline/options.h"
#include "core/pipeline/pipeline.h"
#include "core/pipeline/report.h"
#include "core/pipeline/report_figures.h"
#include "core/pipeline/stages.h"

namespace fs = std::filesystem;

namespace sightline::app {

namespace {

struct RunArgs {
  std::string world, model, vision, sae, tokenizer, vqa_questions, vqa_annotations, vsr, images;
  std::vector<std::string> data;
  std::string db, config, name = "default", device, dtype;
  std::vector<std::string> stages, force;
  std::vector<int> layers;
  bool print_config = false, new_run = false;
};

// --data entries by kind: a folder = images, *.jsonl = VSR, a JSON file naming
// "question(s)" = VQAv2 questions, "annotation(s)" = VQAv2 annotations.
void classify_data(const std::vector<std::string>& paths, SourceOptions& src) {
  for (const auto& p : paths) {
    const std::string file = fs::path(p).filename().string();
    if (fs::is_directory(p)) {
      src.images = p;
    } else if (fs::path(p).extension() == ".jsonl") {
      src.vsr = p;
    } else if (file.find("question") != std::string::npos) {
      src.vqa_questions = p;
    } else if (file.find("annotation") != std::string::npos) {
      src.vqa_annotations = p;
    } else {
      fail("--data '{}': not an image folder, a VSR .jsonl, or a VQAv2 *questions* / *annotations* JSON file", p);
    }
  }
}

PipelineOptions resolve_options(const RunArgs& a) {
  PipelineOptions o = a.config.empty() ? default_pipeline_options() : load_pipeline_options(a.config);
  auto set = [](std::string& field, const std::string& value) {
    if (!value.empty()) field = value;
  };
  auto& src = o.source;
  set(src.world, a.world);
  set(src.model, a.model);
  set(src.vision, a.vision);
  set(src.sae, a.sae);
  set(src.tokenizer, a.tokenizer);
  classify_data(a.data, src);
  set(src.vqa_questions, a.vqa_questions);
  set(src.vqa_annotations, a.vqa_annotations);
  set(src.vsr, a.vsr);
  set(src.images, a.images);
  set(o.device, a.device);
  set(o.dtype, a.dtype);
  if (!a.layers.empty()) o.layers = a.layers;
  // Paths are stored absolute so the run's options identify the same files from anywhere.
  for (std::string* p : {&src.world, &src.model, &src.vision, &src.sae, &src.tokenizer, &src.vqa_questions,
                         &src.vqa_annotations, &src.vsr, &src.images})
    if (!p->empty()) *p = fs::absolute(*p).lexically_normal().string();
  return pipeline_options_from_json(to_json(o), a.config.empty() ? "command line" : a.config);
}

std::string seconds(double s) { return fmt::format("{:.1f}s", s); }

void run_pipeline_cli(const RunArgs& a) {
  const PipelineOptions options = resolve_options(a);
  if (a.print_config) {
    std::printf("%s\n", to_json(options).dump(2).c_str());
    return;
  }
  check(!a.db.empty(), "run: --db FILE is required");
  PipelineRunOptions ro;
  ro.db_path = a.db;
  ro.name = a.name;
  ro.new_run = a.new_run;
  ro.stages = a.stages;
  ro.force = std::set<std::string>(a.force.begin(), a.force.end());
  Pipeline pipeline(options, ro);
  std::printf("run %lld '%s' (%s) in %s: stages %s\n", static_cast<long long>(pipeline.run_id()), a.name.c_str(),
              pipeline.resumed() ? "resumed" : "new", a.db.c_str(), fmt::format("{}", fmt::join(pipeline.stage_names(), ", ")).c_str());
  std::fflush(stdout);

  RunSnapshot final;
  run_with_progress([&](Progress& progress) {
    JobRunner& runner = pipeline.runner();
    runner.start();
    std::map<std::string, StageStatus> reported;
    std::string shown;
    while (true) {
      const RunSnapshot snap = runner.snapshot();
      for (const auto& s : snap.stages) {
        auto it = reported.find(s.name);
        if (it != reported.end() && it->second == s.status) continue;
        reported[s.name] = s.status;
        if (s.status == StageStatus::kPending) continue;
        std::string line = fmt::format("stage {}: {}", s.name, to_string(s.status));
        if (s.reused) {
          line += " (reused)";
        } else if (s.status == StageStatus::kDone) {
          const auto record = pipeline.store().stage(pipeline.run_id(), s.name);
          if (record && record->finished_at >= record->started_at)
            line += " in " + seconds(static_cast<double>(record->finished_at - record->started_at) / 1000.0);
        }
        if (!s.error.empty()) line += ": " + s.error;
        progress_log(line);
      }
      if (snap.finished) {
        final = snap;
        break;
      }
      if (progress.cancelled()) runner.cancel();
      // The bar shows the running stage's current phase.
      for (const auto& s : snap.stages) {
        if (s.status != StageStatus::kRunning) continue;
        const std::string label = s.name + ": " + s.label;
        if (label != shown) {
          progress.begin(label, s.total);
          shown = label;
        }
        progress.set_total(s.total);
        progress.set_done(s.done);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    runner.wait();
  });
  const RunSummary summary = run_summary(pipeline.store(), pipeline.run_id());
  if (!summary.layers.empty()) std::printf("\n%s", format_summary(summary).c_str());
  if (!final.ok()) {
    for (const auto& s : final.stages)
      if (s.status != StageStatus::kDone) fail("run {}: stage '{}' {}{}", pipeline.run_id(), s.name, to_string(s.status),
                                               s.error.empty() ? "" : ": " + s.error);
    fail("run {} did not finish", pipeline.run_id());
  }
  std::printf("run %lld done: %s (report: sightline report --db %s --out DIR)\n",
              static_cast<long long>(pipeline.run_id()), a.db.c_str(), a.db.c_str());
}

}  // namespace

void register_run(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("run", "Run the pipeline stages (adapt, diff, ...) into a run store");
  auto a = std::make_shared<RunArgs>();
  cmd->add_option("--world", a->world, "World directory (sightline world build): model, SAEs and data");
  cmd->add_option("--model", a->model, "Real mode: HF / LLaVA-MORE checkpoint directory");
  cmd->add_option("--vision", a->vision, "Real mode: HF CLIP directory for the vision tower");
  cmd->add_option("--sae", a->sae, "Real mode: folder of LLaMA-Scope SAE directories (or one SAE directory)");
  cmd->add_option("--tokenizer", a->tokenizer, "Real mode: tokenizer file or folder (default: the model directory)");
  cmd->add_option("--data", a->data,
                  "Real mode: VQAv2 *questions*.json and *annotations*.json, a VSR .jsonl, and the image folder");
  cmd->add_option("--vqa-questions", a->vqa_questions, "Real mode: VQAv2 questions file");
  cmd->add_option("--vqa-annotations", a->vqa_annotations, "Real mode: VQAv2 annotations file");
  cmd->add_option("--vsr", a->vsr, "Real mode: VSR jsonl file");
  cmd->add_option("--images", a->images, "Real mode: image folder");
  cmd->add_option("--db", a->db, "Run store (SQLite file; created when absent)");
  cmd->add_option("--config", a->config, "Pipeline options JSON (see --print-config)");
  cmd->add_option("--stages", a->stages, "Stages to run, comma-separated (dependencies are added); default all")
      ->delimiter(',');
  cmd->add_option("--force", a->force, "Stages to recompute even when done, comma-separated")->delimiter(',');
  cmd->add_option("--layers", a->layers, "Layers to analyse, comma-separated (default: every layer with an SAE)")
      ->delimiter(',');
  cmd->add_option("--name", a->name, "Run name: the newest run of this name with the same options is resumed");
  cmd->add_flag("--new", a->new_run, "Start a new run even when one with the same options exists");
  cmd->add_option("--device", a->device, "cpu, cuda, cuda:N, auto");
  cmd->add_option("--dtype", a->dtype, "float32, bfloat16, float16");
  cmd->add_flag("--print-config", a->print_config, "Print every option (defaults, config and flags merged) and exit");
  cmd->callback([a, &action] { action = [a] { run_pipeline_cli(*a); }; });
}

void register_report(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("report",
                                 "Export a run's results as CSV (features, fvu, sweep, layers, skill_features)");
  auto db = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  auto run = std::make_shared<int64_t>(0);
  cmd->add_option("--db", *db, "Run store")->required();
  cmd->add_option("--out", *out, "Output directory")->required();
  cmd->add_option("--run", *run, "Run id (default: the newest run, or the newest of --name)");
  cmd->add_option("--name", *name, "Run name");
  cmd->callback([=, &action] {
    action = [=] {
      check(fs::exists(*db), "report: store '{}' does not exist", *db);
      Store store = Store::open(*db, Store::Mode::kReadOnly);
      int64_t id = *run;
      if (id == 0) {
        if (!name->empty()) {
          const auto r = store.latest_run(*name);
          check(r.has_value(), "report: store '{}' has no run named '{}'", *db, *name);
          id = r->id;
        } else {
          const auto runs = store.runs();
          check(!runs.empty(), "report: store '{}' has no runs", *db);
          id = runs.front().id;
        }
      }
      const ReportCounts c = write_report(store, id, *out);
      std::string line = fmt::format(
          "run {} -> {}: features.csv ({} rows), fvu.csv ({}), sweep.csv ({}), layers.csv ({}), skill_features.csv ({})",
          id, *out, c.features, c.fvu, c.sweep, c.layers, c.skill_features);
      if (c.heads) line += fmt::format(", heads.csv ({})", c.heads);
      if (c.patching) line += fmt::format(", patching.csv ({})", c.patching);
      if (c.ablation) line += fmt::format(", ablation.csv and ablation.md ({})", c.ablation);
      const auto figures = write_report_figures(store, id, *out);
      if (!figures.empty()) line += fmt::format("; figures: {}", fmt::join(figures, ", "));
      std::printf("%s\n", line.c_str());
    };
  });
}

}  // namespace sightline::app
