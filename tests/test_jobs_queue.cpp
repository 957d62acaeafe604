// WorkerQueue (UI requests with superseding) and MainThreadQueue (per-frame callbacks).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "core/common/error.h"
#include "core/jobs/main_thread_queue.h"
#include "core/jobs/worker_queue.h"
#include "tests/test_util.h"

using namespace sightline;

TEST(WorkerQueue, ReturnsValuesAndExceptions) {
  WorkerQueue queue(2);
  auto sum = queue.submit([](Progress& p) {
    p.begin("summing", 10);
    int s = 0;
    for (int i = 1; i <= 10; ++i, p.tick()) s += i;
    return s;
  });
  auto move_only = queue.submit([](Progress&) { return std::make_unique<int>(7); });
  auto fails = queue.submit([](Progress&) -> int { throw Error("file 'x.npy': bad shape"); });
  auto nothing = queue.submit([](Progress&) {});
  EXPECT_EQ(sum.get(), 55);
  EXPECT_EQ(*move_only.get(), 7);
  try {
    fails.get();
    FAIL() << "exception lost";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "file 'x.npy': bad shape");
  }
  nothing.wait();
  EXPECT_TRUE(nothing.ready());
  EXPECT_NO_THROW(nothing.get());
}

TEST(WorkerQueue, NewerRequestSupersedesQueuedAndRunningOnes) {
  WorkerQueue queue(1);
  // A running request for view "detail" that only stops when cancelled.
  std::atomic<bool> running{false};
  auto slow = queue.submit(
      [&](Progress& p) {
        running = true;
        for (;;) {
          p.check_cancel();
          std::this_thread::yield();
        }
        return 0;
      },
      "detail");
  ASSERT_TRUE(test::wait_until([&] { return running.load(); }));
  EXPECT_FALSE(slow.ready());

  // Block the worker behind it with an unrelated request, then queue two "detail" ones.
  std::atomic<bool> release{false};
  std::atomic<int> ran{0};
  auto newer = queue.submit(
      [&](Progress&) {
        ++ran;
        return 1;
      },
      "detail");  // cancels `slow`
  auto blocker = queue.submit([&](Progress&) {
    test::wait_until([&] { return release.load(); });
    return 0;
  });
  EXPECT_THROW(slow.get(), Cancelled);
  EXPECT_EQ(newer.get(), 1);
  // Now the worker runs `blocker`; queue two more "detail" requests behind it.
  auto stale = queue.submit(
      [&](Progress&) {
        ++ran;
        return 2;
      },
      "detail");
  auto newest = queue.submit(
      [&](Progress&) {
        ++ran;
        return 3;
      },
      "detail");
  EXPECT_THROW(stale.get(), Cancelled);  // dropped without running
  release = true;
  EXPECT_EQ(blocker.get(), 0);
  EXPECT_EQ(newest.get(), 3);
  EXPECT_EQ(ran.load(), 2);  // newer + newest, never stale
}

TEST(WorkerQueue, CancelAndDestructionDropQueuedRequests) {
  std::atomic<bool> release{false}, hold{false};  // outlive the queue's workers
  Request<int> queued_a, queued_b;
  {
    WorkerQueue queue(1);
    std::atomic<bool> started{false};
    auto blocker = queue.submit([&](Progress& p) {
      started = true;
      while (!release.load()) {
        p.check_cancel();
        std::this_thread::yield();
      }
      return 0;
    });
    ASSERT_TRUE(test::wait_until([&] { return started.load(); }));
    queued_a = queue.submit([](Progress&) { return 1; });
    queued_b = queue.submit([](Progress&) { return 2; });
    EXPECT_EQ(queue.queued(), 2u);
    queued_a.cancel();
    release = true;
    EXPECT_EQ(blocker.get(), 0);
    EXPECT_THROW(queued_a.get(), Cancelled);
    EXPECT_EQ(queued_b.get(), 2);
    queue.cancel_all();
    // A request still queued when the queue goes away is dropped, never left hanging.
    auto busy = queue.submit([&](Progress& p) {
      while (!hold.load()) {
        p.check_cancel();
        std::this_thread::yield();
      }
      return 0;
    });
    queued_a = queue.submit([](Progress&) { return 5; });
  }
  EXPECT_TRUE(queued_a.ready());
  EXPECT_THROW(queued_a.get(), Cancelled);
}

TEST(MainThreadQueue, DrainsOncePerFrameInOrder) {
  MainThreadQueue queue;
  std::vector<int> order;
  std::thread producer([&] {
    for (int i = 0; i < 3; ++i) queue.post([&order, i] { order.push_back(i); });
  });
  producer.join();
  queue.post([&] {
    order.push_back(10);
    queue.post([&] { order.push_back(11); });  // runs next frame
  });
  EXPECT_EQ(queue.pending(), 4u);
  EXPECT_EQ(queue.drain(), 4u);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 10}));
  EXPECT_EQ(queue.drain(), 1u);
  EXPECT_EQ(order.back(), 11);

  queue.post([] { throw Error("callback failed"); });
  queue.post([&] { order.push_back(12); });
  EXPECT_THROW(queue.drain(), Error);
  EXPECT_EQ(order.back(), 12);  // the rest still ran
  EXPECT_EQ(queue.drain(), 0u);
}
