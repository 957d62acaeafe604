#include "ui/top_text.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <memory>
#include <utility>

#include "core/common/error.h"
#include "core/pipeline/context.h"
#include "core/pipeline/options.h"
#include "core/pipeline/sample_index.h"

namespace fs = std::filesystem;

namespace sightline::ui {

bool has_top_tokens(const RunResults& results) {
  for (const auto& [ref, detail] : results.features)
    for (const TopActivation& a : detail.top)
      if (!a.token_acts.empty()) return true;
  return false;
}

void resolve_top_texts(RunResults& results, const std::string& options_json, const std::string& world_dir,
                       const std::string& where, Progress& progress) {
  results.top_text_pending = false;
  results.top_text_error.clear();
  if (!has_top_tokens(results)) return;
  try {
    progress.begin("question words: load the run's tokenizer and data", 0);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(options_json);
    } catch (const nlohmann::json::exception& e) {
      fail("{}: field 'options_json' is not JSON ({})", where, e.what());
    }
    PipelineOptions options = pipeline_options_from_json(j, where + " options");
    if (!world_dir.empty()) {
      options.source = SourceOptions{};
      options.source.world = world_dir;
    }
    if (options.source.world_mode())
      check(fs::is_directory(options.source.world),
            "{}: world '{}' is not a directory (start the explorer with --world DIR)", where, options.source.world);
    // The words only: the CPU is enough, and the model's config gives the image token
    // count (no weights are read: a real checkpoint is many GB).
    options.device = "cpu";
    PipelineContext ctx(options);
    SampleIndex samples(ctx);
    const Tokenizer& tokenizer = ctx.tokenizer();
    const int64_t image_tokens = ctx.image_tokens();
    samples.eval();
    progress.check_cancel();

    int64_t total = 0;
    for (const auto& [ref, detail] : results.features) total += static_cast<int64_t>(detail.top.size());
    progress.begin("question words of the top samples", total);
    int64_t resolved = 0, unresolved = 0;
    for (auto& [ref, detail] : results.features) {
      progress.check_cancel();
      detail.top_text.clear();
      for (const TopActivation& top : detail.top) {
        TokenExample e;
        e.sample_id = top.sample_id;
        e.dataset = top.dataset;
        const PromptItem* item = samples.find(top.sample_id, nullptr);
        if (!item) {
          e.error = fmt::format("sample '{}' is in neither the evaluation nor the VSR split of the run's data{}",
                                top.sample_id, samples.vsr_error().empty() ? "" : " (VSR: " + samples.vsr_error() + ")");
        } else if (top.token_acts.empty()) {
          e.error = fmt::format("sample '{}': the store holds no token activations", top.sample_id);
        } else {
          try {
            const QuestionTokens q = top_question_tokens(tokenizer, *item, top, image_tokens);
            e.tokens = q.pieces;
            e.activations = q.activations;
          } catch (const Cancelled&) {
            throw;
          } catch (const Error& err) {
            e.error = err.what();
          }
        }
        (e.tokens.empty() ? unresolved : resolved) += 1;
        detail.top_text.push_back(std::move(e));
        progress.tick();
      }
    }
    spdlog::info("{}: question words of {} top samples resolved, {} not", where, resolved, unresolved);
  } catch (const Cancelled&) {
    throw;
  } catch (const std::exception& e) {
    for (auto& [ref, detail] : results.features) detail.top_text.clear();
    results.top_text_error = e.what();
    spdlog::warn("{}: the top samples' question words are not shown: {}", where, e.what());
  }
}

}  // namespace sightline::ui
