// Crash safety (issue 9): `sightline run` killed with SIGKILL at pseudo-random points of
// every stage, re-run after each kill, then run to completion; the store must pass
// PRAGMA integrity_check and hold exactly the results of an uninterrupted run.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/common/error.h"
#include "core/io/json_util.h"
#include "core/store/store.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace sightline;

namespace {

// The small budgets of tests/test_pipeline.cpp's test_config().
nlohmann::json crash_test_config() {
  return nlohmann::json::parse(R"({
    "data": {"train_items": 200, "heldout_items": 30, "eval_items": 80},
    "stages": {"adapt": {"train_tokens": 4000,
                         "train": {"batch_size": 256, "lr": 1e-3, "warmup_steps": 5, "eval_every_tokens": 1000,
                                   "shuffle_buffer_mb": 0.5, "dead_window_tokens": 20000}}}})");
}

const std::vector<std::string> kCrashStages{"adapt",  "diff",       "shift",  "topk",
                                            "lexical", "autointerp", "attrib", "ablate"};

// Starts `sightline --threads 1 run ...` with its output appended to `log`.
pid_t crash_spawn(const std::string& world, const std::string& db, const std::string& config,
                  const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    setenv("OMP_NUM_THREADS", "1", 1);
    execl(SIGHTLINE_BINARY, SIGHTLINE_BINARY, "--threads", "1", "run", "--world", world.c_str(), "--db", db.c_str(),
          "--config", config.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// The stage the store shows running ("" = none: start-up, or between two stages).
std::string crash_running_stage(const std::string& db) {
  try {
    Store store = Store::open(db, Store::Mode::kReadOnly);
    const auto runs = store.runs();
    if (runs.empty()) return "";
    for (const auto& st : store.stages(runs.front().id))
      if (st.status == StageStatus::kRunning) return st.name;
  } catch (const Error&) {
    // The writer may still be creating the schema.
  }
  return "";
}

int crash_stage_index(const std::string& name) {
  const auto it = std::find(kCrashStages.begin(), kCrashStages.end(), name);
  return it == kCrashStages.end() ? -1 : static_cast<int>(it - kCrashStages.begin());
}

// A table's rows of run `run` as sorted CSV lines (row order is insertion order, which a
// resumed run need not share), without the run_id column.
std::vector<std::string> crash_table_lines(Store& store, const std::string& table, int64_t run,
                                           const std::string& dir) {
  const std::string path = dir + "/" + table + ".csv";
  store.export_csv(table, path, run);
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  if (!lines.empty()) std::sort(lines.begin() + 1, lines.end());
  return lines;
}

std::vector<std::string> crash_split(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  for (std::string f; std::getline(ss, f, ',');) out.push_back(f);
  return out;
}

// Field-by-field equality; numbers within a relative 1e-9 (the same arithmetic in another
// process), everything else exactly. The run_id column (the header says which) is skipped.
void expect_same_table(const std::vector<std::string>& got, const std::vector<std::string>& want,
                       const std::string& table) {
  ASSERT_EQ(got.size(), want.size()) << table;
  if (got.empty()) return;
  const auto header = crash_split(want[0]);
  ASSERT_EQ(crash_split(got[0]), header) << table;
  for (size_t i = 1; i < got.size(); ++i) {
    const auto a = crash_split(got[i]);
    const auto b = crash_split(want[i]);
    ASSERT_EQ(a.size(), b.size()) << table << " row " << i << ": " << got[i] << " vs " << want[i];
    for (size_t k = 0; k < a.size(); ++k) {
      if (k < header.size() && header[k] == "run_id") continue;
      char* ea = nullptr;
      char* eb = nullptr;
      const double x = std::strtod(a[k].c_str(), &ea);
      const double y = std::strtod(b[k].c_str(), &eb);
      if (!a[k].empty() && !b[k].empty() && *ea == '\0' && *eb == '\0')
        ASSERT_NEAR(x, y, 1e-9 * (1 + std::abs(y))) << table << " row " << i << " column " << k;
      else
        ASSERT_EQ(a[k], b[k]) << table << " row " << i << " column " << k;
    }
  }
}

TEST(PipelineCrash, SigkillInEveryStageThenResumeMatchesAnUninterruptedRun) {
  const std::string world = test::micro_world_dir();
  if (world.empty()) GTEST_SKIP() << "SIGHTLINE_MICRO_WORLD is not set to a built micro world: skipping";
  const auto t0 = std::chrono::steady_clock::now();
  const std::string dir = test::scratch_dir("pipeline-crash");
  const std::string config = dir + "/config.json";
  write_json_file(config, crash_test_config());

  // The uninterrupted reference.
  const std::string ref_db = dir + "/ref.db";
  const auto ref = test::run_cli("--threads 1 run --world " + world + " --db " + ref_db + " --config " + config);
  ASSERT_EQ(ref.exit_code, 0) << ref.out;

  // Kill plan: one or more kills aimed at each stage, each a pseudo-random delay after the
  // aimed-at stage (or a later one) shows as running. Delays are short so that quick
  // stages are hit too; a stage that ends first moves the kill to the next one.
  const std::string db = dir + "/crash.db";
  const std::string log = dir + "/crash.log";
  std::mt19937 rng(20260509);
  // Maximum delays follow the stages' lengths on the micro world (adapt ~0.6 s, diff and
  // shift ~0.1 s, topk and attrib ~0.4 s, ablate ~0.2 s, lexical and autointerp quicker).
  const std::vector<std::pair<std::string, int>> plan{
      {"adapt", 400}, {"adapt", 250}, {"adapt", 100},  {"diff", 50},    {"diff", 25},
      {"shift", 50},  {"topk", 250},  {"topk", 100},   {"lexical", 30}, {"attrib", 250},
      {"attrib", 100}, {"ablate", 120}, {"ablate", 40}};
  std::map<std::string, int> landed;
  int kills = 0;
  for (const auto& [target, max_delay_ms] : plan) {
    const int delay_ms = std::uniform_int_distribution<int>(0, max_delay_ms)(rng);
    const pid_t child = crash_spawn(world, db, config, log);
    ASSERT_GT(child, 0);
    bool exited = false;
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(child, &status, WNOHANG) == child) {
        exited = true;
        break;
      }
      const std::string running = crash_running_stage(db);
      if (!running.empty() && crash_stage_index(running) >= crash_stage_index(target)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (exited) {
      // The run finished before the kill: the aimed-at stages were too quick.
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << test::read_bytes(log);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    kill(child, SIGKILL);
    ASSERT_EQ(waitpid(child, &status, 0), child);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
      ++kills;
      const std::string at = crash_running_stage(db);
      ++landed[at.empty() ? "(between stages)" : at];
    } else {
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << test::read_bytes(log);
      break;
    }
  }
  std::printf("SIGKILLs that landed, by stage:");
  for (const auto& [stage, n] : landed) std::printf(" %s %d;", stage.c_str(), n);
  std::printf(" total %d\n", kills);
  EXPECT_GE(kills, 10) << test::read_bytes(log);
  int stages_hit = 0;
  for (const auto& [stage, n] : landed) stages_hit += crash_stage_index(stage) >= 0;
  EXPECT_GE(stages_hit, 5) << "kills did not spread over the stages";

  // The final run completes.
  const auto final_run = test::run_cli("--threads 1 run --world " + world + " --db " + db + " --config " + config);
  ASSERT_EQ(final_run.exit_code, 0) << final_run.out;

  Store store = Store::open(db, Store::Mode::kReadOnly);
  Store reference = Store::open(ref_db, Store::Mode::kReadOnly);
  EXPECT_TRUE(store.integrity_ok());
  EXPECT_EQ(store.integrity_report(), (std::vector<std::string>{"ok"}));
  ASSERT_EQ(store.runs().size(), 1u) << "a re-run started a new run instead of resuming";
  const int64_t run = store.runs().front().id;
  const int64_t ref_run = reference.runs().front().id;

  // Every stage done exactly once, with the reference's summary.
  const auto stages = store.stages(run);
  ASSERT_EQ(stages.size(), kCrashStages.size());
  for (const auto& name : kCrashStages) {
    int n = 0;
    for (const auto& st : stages) n += st.name == name;
    EXPECT_EQ(n, 1) << name;
    const auto st = store.stage(run, name);
    ASSERT_TRUE(st.has_value()) << name;
    EXPECT_EQ(st->status, StageStatus::kDone) << name << ": " << st->error;
    EXPECT_EQ(st->options_hash, reference.stage(ref_run, name)->options_hash) << name;
  }

  // No row lost or duplicated, and the same values as the uninterrupted run.
  const std::string csv_dir = test::scratch_dir("pipeline-crash-csv");
  fs::create_directories(csv_dir + "/got");
  fs::create_directories(csv_dir + "/want");
  for (const char* table : {"curves", "features", "feature_metrics", "selections", "samples", "heads", "patching",
                            "ablation", "tensors"})
    EXPECT_EQ(store.count_rows(table, run), reference.count_rows(table, ref_run)) << table;
  for (const char* table : {"features", "feature_metrics", "selections", "heads", "patching", "ablation"})
    expect_same_table(crash_table_lines(store, table, run, csv_dir + "/got"),
                      crash_table_lines(reference, table, ref_run, csv_dir + "/want"), table);
  EXPECT_GT(store.count_rows("features", run), 0);
  EXPECT_GT(store.count_rows("selections", run), 0);

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("crash test: %d kills, %.1f s in all\n", kills, seconds);
}

}  // namespace
