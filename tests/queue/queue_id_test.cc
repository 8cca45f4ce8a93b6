#include "queue/queue_id.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>
#include <vector>

namespace tern::queue {
namespace {

TEST(QueueId, FormatsKnownValues) {
  struct Case {
    std::uint64_t millis;
    std::uint16_t sequence;
    std::uint16_t salt;
    const char* want;
  };
  const Case cases[] = {
      {0, 0, 0, "0000000000000000"},
      {0, 0, 1, "0000000000000001"},
      {0, 0, 31, "000000000000000Z"},
      {0, 0, 0xffff, "0000000000001ZZZ"},   // 16 bits of salt: 1 + 3*5
      {0, 1, 0, "0000000000002000"},        // the sequence starts at bit 16
      {0, 0xffff, 0xffff, "0000000003ZZZZZZ"},
      {1, 0, 0, "0000000004000000"},        // the time starts at bit 32
      {0xffffffffffffULL, 0xffff, 0xffff, "ZZZZZZZZZZZZZZZZ"},
      // 2024-01-01T00:00:00Z (values computed independently, in Python)
      {1704067200000ULL, 0, 0, "066C4MFM00000000"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(format_queue_id(c.millis, c.sequence, c.salt), c.want) << c.millis << " " << c.sequence << " " << c.salt;
  }
}

TEST(QueueId, HasTheCrockfordShape) {
  for (int i = 0; i < 100; ++i) {
    std::string id = make_queue_id();
    EXPECT_EQ(id.size(), kQueueIdLength);
    EXPECT_TRUE(is_queue_id(id)) << id;
    EXPECT_EQ(id.find_first_of("ILOU"), std::string::npos) << id;
  }
  EXPECT_FALSE(is_queue_id(""));
  EXPECT_TRUE(is_queue_id("066C4MFM00000000"));
  EXPECT_FALSE(is_queue_id("066C4MFM0000000"));    // 15
  EXPECT_FALSE(is_queue_id("066C4MFM000000000"));  // 17
  EXPECT_FALSE(is_queue_id("066C4MFM0000000I"));   // not in the alphabet
  EXPECT_FALSE(is_queue_id("066c4mfm00000000"));   // lower case
}

TEST(QueueId, SortsByTime) {
  EXPECT_LT(format_queue_id(1000, 0xffff, 0xffff), format_queue_id(1001, 0, 0));
  EXPECT_LT(format_queue_id(1000, 1, 0xffff), format_queue_id(1000, 2, 0));
}

TEST(QueueId, StrictlyIncreasesWithinAThread) {
  std::string last = make_queue_id();
  for (int i = 0; i < 100000; ++i) {  // far more than one millisecond's 65536 sequence numbers
    std::string id = make_queue_id();
    ASSERT_LT(last, id);
    last = id;
  }
}

TEST(QueueId, UniqueAcrossThreads) {
  constexpr int kThreads = 8;
  constexpr int kEach = 20000;
  std::vector<std::vector<std::string>> made(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&made, t] {
      made[t].reserve(kEach);
      for (int i = 0; i < kEach; ++i) made[t].push_back(make_queue_id());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& v : made) {
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kEach));
}

}  // namespace
}  // namespace tern::queue
