#include "relay/work_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

namespace tern::relay {
namespace {

TEST(WorkPool, RunsEveryJobBeforeStopReturns) {
  std::atomic<int> done{0};
  WorkPool pool(3);
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(pool.post([&] { done.fetch_add(1); }));
  pool.stop();
  EXPECT_EQ(done.load(), 200);
  EXPECT_FALSE(pool.post([&] { done.fetch_add(1); }));
  EXPECT_EQ(done.load(), 200);
}

TEST(WorkPool, JobsRunOffTheCallingThreadAndInParallel) {
  WorkPool pool(2);
  std::mutex m;
  std::condition_variable cv;
  int arrived = 0;
  std::set<std::thread::id> ids;
  // Two jobs that each wait for the other: only possible with two threads.
  for (int i = 0; i < 2; ++i) {
    pool.post([&] {
      std::unique_lock<std::mutex> lock(m);
      ids.insert(std::this_thread::get_id());
      ++arrived;
      cv.notify_all();
      ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return arrived == 2; }));
    });
  }
  pool.stop();
  EXPECT_EQ(arrived, 2);
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids.count(std::this_thread::get_id()), 0u);
}

}  // namespace
}  // namespace tern::relay
