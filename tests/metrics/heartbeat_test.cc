// Tests metrics/heartbeat.cc with made-up time points: no clock is read.

#include "metrics/heartbeat.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace tern::metrics {
namespace {

using namespace std::chrono_literals;
using T = Heartbeat::Clock::time_point;

const T t0 = T{} + 1000h;  // any epoch: only differences matter
constexpr auto kMax = 3s;

TEST(Heartbeat, EmptyTableIsHealthy) {
  Heartbeat hb;
  EXPECT_TRUE(hb.healthy(t0, kMax));
  EXPECT_TRUE(hb.stale(t0, kMax).empty());
}

// One loop registered at t0 that beat at `beat` (or never), asked at `now`.
struct Row {
  const char* what;
  std::optional<std::chrono::milliseconds> beat;
  std::chrono::milliseconds now;
  bool healthy;
};

TEST(Heartbeat, StalenessOfOneLoop) {
  const Row rows[] = {
      {"just registered", std::nullopt, 0ms, true},
      {"registered, within bound", std::nullopt, 3000ms, true},
      {"registered, never beat", std::nullopt, 3001ms, false},
      {"beat recently", 5000ms, 7000ms, true},
      {"beat exactly at the bound", 5000ms, 8000ms, true},
      {"beat just too long ago", 5000ms, 8001ms, false},
      {"clock before the beat", 5000ms, 4000ms, true},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.what);
    Heartbeat hb;
    const auto id = hb.add("io-0", t0);
    if (r.beat) hb.beat(id, t0 + *r.beat);
    EXPECT_EQ(hb.healthy(t0 + r.now, kMax), r.healthy);
    EXPECT_EQ(hb.stale(t0 + r.now, kMax).empty(), r.healthy);
  }
}

TEST(Heartbeat, OneStuckLoopMakesTheProcessUnhealthy) {
  Heartbeat hb;
  const auto io = hb.add("io-0", t0);
  const auto worker = hb.add("worker-0", t0);
  const auto queue = hb.add("queue", t0);
  for (int s = 1; s <= 10; ++s) {
    hb.beat(io, t0 + std::chrono::seconds(s));
    hb.beat(queue, t0 + std::chrono::seconds(s));
    if (s <= 2) hb.beat(worker, t0 + std::chrono::seconds(s));  // then it blocks
  }
  EXPECT_FALSE(hb.healthy(t0 + 10s, kMax));
  EXPECT_EQ(hb.stale(t0 + 10s, kMax), std::vector<std::string>{"worker-0"});
  // It turns again and all is well.
  hb.beat(worker, t0 + 10s);
  EXPECT_TRUE(hb.healthy(t0 + 10s, kMax));
}

TEST(Heartbeat, AnOlderBeatDoesNotAgeALoop) {
  Heartbeat hb;
  const auto id = hb.add("io-0", t0);
  hb.beat(id, t0 + 10s);
  hb.beat(id, t0 + 1s);
  EXPECT_TRUE(hb.healthy(t0 + 12s, kMax));
}

TEST(Heartbeat, RemovedLoopsNoLongerCount) {
  Heartbeat hb;
  const auto a = hb.add("io-0", t0);
  const auto b = hb.add("io-1", t0);
  hb.beat(a, t0 + 60s);
  EXPECT_FALSE(hb.healthy(t0 + 60s, kMax));
  hb.remove(b);
  EXPECT_TRUE(hb.healthy(t0 + 60s, kMax));
  const auto c = hb.add("io-2", t0 + 60s);
  EXPECT_NE(c, b);  // ids are not reused
  EXPECT_TRUE(hb.healthy(t0 + 61s, kMax));
}

TEST(Heartbeat, BeatsFromManyThreads) {
  Heartbeat hb;
  std::vector<Heartbeat::Id> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(hb.add("loop-" + std::to_string(i), t0));
  std::vector<std::thread> threads;
  for (auto id : ids) {
    threads.emplace_back([&hb, id] {
      for (int s = 1; s <= 1000; ++s) hb.beat(id, t0 + std::chrono::milliseconds(s * 10));
    });
  }
  for (int i = 0; i < 100; ++i) (void)hb.healthy(t0 + 5s, kMax);  // reads race the writers
  for (auto& t : threads) t.join();
  EXPECT_TRUE(hb.healthy(t0 + 13s, kMax));
  EXPECT_FALSE(hb.healthy(t0 + 13001ms, kMax));
}

}  // namespace
}  // namespace tern::metrics
