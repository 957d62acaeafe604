// SQLite insert throughput for the feature table (issue 9) at the size of a real run
// (default 32 layers x 32768 features = 1M rows): Store::upsert_features of fresh rows
// (two metric columns set), a second upsert merging a third column into the same rows,
// and set_feature_metric of one column and of one extra key (feature_metrics table). A
// read-back checks every row and sampled values, so a store that silently drops writes
// fails the bench instead of looking fast. The store is a fresh file in a temp directory.
// Run: build/bin/bench_store_insert [--threads N] [--layers N] [--features N]
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "core/store/store.h"
#include "tests/bench/bench_util.h"

using namespace sightline;

namespace {

// Deterministic per-feature values, distinct per (layer, feature, salt), so the read-back
// can recompute what must be stored.
double store_bench_value(int32_t layer, int32_t feature, int salt) {
  return static_cast<double>(layer) * 1e-3 + static_cast<double>(feature) * 1e-7 + salt;
}

int64_t store_bench_file_bytes(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

int run_store_bench(int argc, char** argv) {
  // --threads is accepted (scripts/bench passes it to every bench); SQLite writes on one thread.
  const int32_t layers = bench::flag<int32_t>(argc, argv, "--layers", 32);
  const int32_t features = bench::flag<int32_t>(argc, argv, "--features", 32768);
  if (layers <= 0 || features <= 0) {
    std::fprintf(stderr, "bench_store_insert: --layers and --features must be positive\n");
    return 1;
  }
  char dir_template[] = "/tmp/sightline-bench-store-XXXXXX";
  if (!::mkdtemp(dir_template)) {
    std::fprintf(stderr, "bench_store_insert: cannot create a temp directory under /tmp\n");
    return 1;
  }
  const std::string dir = dir_template;
  const std::string path = dir + "/bench.sightline";
  const int64_t rows = static_cast<int64_t>(layers) * features;
  int failures = 0;
  double insert_s = 0, merge_s = 0, column_s = 0, extra_s = 0;
  int64_t db_bytes = 0;
  {
    Store store = Store::open(path);
    RunRecord run;
    run.name = "bench";
    const int64_t run_id = store.create_run(run);

    std::vector<FeatureRow> batch(static_cast<size_t>(rows));
    for (int32_t l = 0; l < layers; ++l) {
      for (int32_t f = 0; f < features; ++f) {
        auto& r = batch[static_cast<size_t>(static_cast<int64_t>(l) * features + f)];
        r.layer = l;
        r.feature = f;
        r.visual_energy = store_bench_value(l, f, 1);
        r.decoder_cosine = store_bench_value(l, f, 2);
      }
    }
    auto t0 = std::chrono::steady_clock::now();
    store.upsert_features(run_id, batch);
    insert_s = bench::seconds_since(t0);

    // The same rows again with only p_base set: NaN columns keep the stored values.
    for (auto& r : batch) {
      r.visual_energy = r.decoder_cosine = kNotComputed;
      r.p_base = store_bench_value(r.layer, r.feature, 3);
    }
    t0 = std::chrono::steady_clock::now();
    store.upsert_features(run_id, batch);
    merge_s = bench::seconds_since(t0);
    batch.clear();
    batch.shrink_to_fit();

    std::vector<FeatureValue> values(static_cast<size_t>(rows));
    for (int64_t i = 0; i < rows; ++i) {
      const auto l = static_cast<int32_t>(i / features), f = static_cast<int32_t>(i % features);
      values[static_cast<size_t>(i)] = {l, f, store_bench_value(l, f, 4)};
    }
    t0 = std::chrono::steady_clock::now();
    store.set_feature_metric(run_id, "delta_p", values);
    column_s = bench::seconds_since(t0);
    for (auto& v : values) v.value = store_bench_value(v.layer, v.feature, 5);
    t0 = std::chrono::steady_clock::now();
    store.set_feature_metric(run_id, "bench_extra", values);
    extra_s = bench::seconds_since(t0);

    // Read-back: every row is there, and sampled rows hold every value written.
    const int64_t stored = store.count_features(run_id);
    const int64_t stored_extra = store.count_rows("feature_metrics", run_id);
    if (stored != rows || stored_extra != rows) {
      std::fprintf(stderr, "read-back: %lld feature rows and %lld feature_metrics rows stored, %lld written\n",
                   static_cast<long long>(stored), static_cast<long long>(stored_extra), static_cast<long long>(rows));
      ++failures;
    }
    const int32_t samples[][2] = {{0, 0}, {layers - 1, features - 1}, {layers / 2, features / 3}};
    for (const auto& s : samples) {
      const auto row = store.feature(run_id, s[0], s[1]);
      const auto extra = row ? row->get("bench_extra") : std::nullopt;
      const bool ok = row && row->visual_energy == store_bench_value(s[0], s[1], 1) &&
                      row->decoder_cosine == store_bench_value(s[0], s[1], 2) &&
                      row->p_base == store_bench_value(s[0], s[1], 3) &&
                      row->delta_p == store_bench_value(s[0], s[1], 4) && extra &&
                      *extra == store_bench_value(s[0], s[1], 5);
      if (!ok) {
        std::fprintf(stderr, "read-back: feature (%d, %d) does not hold the values written\n", s[0], s[1]);
        ++failures;
      }
    }
    if (!store.integrity_ok()) {
      std::fprintf(stderr, "read-back: integrity check failed on '%s'\n", path.c_str());
      ++failures;
    }
  }
  db_bytes = store_bench_file_bytes(path) + store_bench_file_bytes(path + "-wal");
  for (const char* suffix : {"", "-wal", "-shm", "-writer.lock"}) ::unlink((path + suffix).c_str());
  ::rmdir(dir.c_str());

  const double r = static_cast<double>(rows);
  std::printf("bench_store_insert: %d layers x %d features = %lld rows, file %.1f MB\n", layers, features,
              static_cast<long long>(rows), static_cast<double>(db_bytes) / 1e6);
  std::printf("upsert_features, new rows (2 columns)      %10.0f rows/s  (%.2f s)\n", r / insert_s, insert_s);
  std::printf("upsert_features, merge 1 column            %10.0f rows/s  (%.2f s)\n", r / merge_s, merge_s);
  std::printf("set_feature_metric, column                 %10.0f rows/s  (%.2f s)\n", r / column_s, column_s);
  std::printf("set_feature_metric, extra key              %10.0f rows/s  (%.2f s)\n", r / extra_s, extra_s);
  std::printf("read-back: %s\n", failures == 0 ? "ok" : "FAILED");
  std::printf("BENCH name=bench_store_insert rows=%lld insert_rows_s=%.0f merge_rows_s=%.0f metric_rows_s=%.0f "
              "extra_rows_s=%.0f readback=%s\n",
              static_cast<long long>(rows), r / insert_s, r / merge_s, r / column_s, r / extra_s,
              failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  // A store error (disk full, /tmp not writable) is reported, not left to terminate().
  try {
    return run_store_bench(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_store_insert: %s\n", e.what());
    return 1;
  }
}
