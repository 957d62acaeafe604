// Store: a reader on its own connection while the writer writes (WAL), in real threads.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "core/common/error.h"
#include "core/store/store.h"
#include "tests/test_util.h"

using namespace sightline;

namespace {
std::vector<FeatureRow> batch(int first, int count) {
  std::vector<FeatureRow> rows(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    rows[static_cast<size_t>(i)].layer = 4;
    rows[static_cast<size_t>(i)].feature = first + i;
    rows[static_cast<size_t>(i)].visual_energy = first + i;
  }
  return rows;
}
}  // namespace

TEST(StoreConcurrency, ReaderNeverBusyAndSeesMonotonicCounts) {
  const std::string path = sightline::test::scratch_dir("concurrent") + "/store.db";
  Store writer = Store::open(path);
  RunRecord r;
  r.name = "concurrent";
  const int64_t run = writer.create_run(r);
  constexpr int kBatches = 150, kBatchSize = 40;
  constexpr int64_t kTotal = int64_t{kBatches} * kBatchSize;

  std::promise<void> reader_ready;
  std::atomic<bool> writer_done{false};
  std::vector<int64_t> seen;
  std::string reader_error;
  std::thread reader([&] {
    try {
      Store store = Store::open(path, Store::Mode::kReadOnly);
      seen.push_back(store.count_features(run));
      reader_ready.set_value();
      // Read until the last commit has been observed (it must be, once the writer is done).
      for (;;) {
        const bool done = writer_done.load();
        seen.push_back(store.count_features(run));
        const auto rows = store.features(run, 4);  // a two-table read in one snapshot
        if (static_cast<int64_t>(rows.size()) < seen.back()) throw Error("snapshot went backwards");
        if (done) break;
      }
    } catch (const std::exception& e) {
      reader_error = e.what();
      try {
        reader_ready.set_value();
      } catch (const std::future_error&) {
      }
    }
  });
  reader_ready.get_future().wait();
  for (int b = 0; b < kBatches; ++b) writer.upsert_features(run, batch(b * kBatchSize, kBatchSize));
  writer_done.store(true);
  reader.join();

  ASSERT_EQ(reader_error, "");  // no SQLITE_BUSY, no other error
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen.front(), 0);
  EXPECT_EQ(seen.back(), kTotal);
  for (size_t i = 1; i < seen.size(); ++i) ASSERT_LE(seen[i - 1], seen[i]) << "at read " << i;
  // Every count the reader saw is a whole number of batches: it never saw half a commit.
  for (int64_t c : seen) EXPECT_EQ(c % kBatchSize, 0) << c;
}

TEST(StoreConcurrency, OpenWriteTransactionDoesNotBlockReaders) {
  const std::string path = sightline::test::scratch_dir("no-block") + "/store.db";
  Store writer = Store::open(path);
  RunRecord r;
  r.name = "blocking";
  const int64_t run = writer.create_run(r);
  writer.upsert_features(run, batch(0, 10));

  std::promise<void> inserted, reader_checked;
  auto checked = reader_checked.get_future();
  std::thread write_thread([&] {
    writer.transaction([&] {
      writer.upsert_features(run, batch(10, 10));
      inserted.set_value();
      // Hold the write transaction open until the reader has read (bounded wait so a
      // blocked reader fails the test instead of hanging it).
      checked.wait_for(std::chrono::seconds(10));
    });
  });
  inserted.get_future().wait();
  int64_t during = -1;
  const auto t0 = std::chrono::steady_clock::now();
  {
    Store reader = Store::open(path, Store::Mode::kReadOnly);
    during = reader.count_features(run);
  }
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  reader_checked.set_value();
  write_thread.join();
  EXPECT_EQ(during, 10);  // the uncommitted rows are invisible
  EXPECT_LT(waited, 2.0);  // and the reader did not wait for the writer
  Store reader = Store::open(path, Store::Mode::kReadOnly);
  EXPECT_EQ(reader.count_features(run), 20);
}

TEST(StoreConcurrency, SharedWriterSerialisesThreads) {
  // Two threads writing through one Store: each transaction stays whole.
  const std::string path = sightline::test::scratch_dir("shared") + "/store.db";
  Store store = Store::open(path);
  RunRecord r;
  r.name = "shared";
  const int64_t run = store.create_run(r);
  auto work = [&](int base) {
    for (int i = 0; i < 50; ++i)
      store.transaction([&] {
        store.put_selection(run, "t" + std::to_string(base), {{base, i}, {base, i + 1000}});
        store.upsert_features(run, batch(base * 100000 + i * 2, 2));
      });
  };
  std::thread a(work, 1), b(work, 2);
  a.join();
  b.join();
  EXPECT_EQ(store.count_features(run), 200);
  EXPECT_EQ(store.selection(run, "t1").size(), 2u);
  EXPECT_TRUE(store.integrity_ok());
}
