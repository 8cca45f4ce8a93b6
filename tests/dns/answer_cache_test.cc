#include "dns/answer_cache.h"

#include <gtest/gtest.h>

namespace tern::dns {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

Answer make(AnswerStatus status, std::optional<seconds> ttl) {
  Answer a;
  a.status = status;
  a.ttl = ttl;
  if (status == AnswerStatus::Ok) a.addresses = {"192.0.2.1"};
  return a;
}

TEST(AnswerCache, Lifetimes) {
  AnswerCache cache(CachePolicy{});  // max 1h, negative default 5 min, failures 3 s
  struct Row {
    AnswerStatus status;
    std::optional<seconds> ttl;
    seconds want;
  } rows[] = {
      {AnswerStatus::Ok, seconds{300}, seconds{300}},
      {AnswerStatus::Ok, seconds{86400}, seconds{3600}},
      {AnswerStatus::Ok, seconds{0}, seconds{0}},
      {AnswerStatus::Ok, std::nullopt, seconds{0}},
      {AnswerStatus::NxDomain, seconds{60}, seconds{60}},
      {AnswerStatus::NxDomain, std::nullopt, seconds{300}},
      {AnswerStatus::NoData, seconds{7200}, seconds{3600}},
      {AnswerStatus::ServFail, std::nullopt, seconds{3}},
      {AnswerStatus::Timeout, seconds{999}, seconds{3}},
      {AnswerStatus::Refused, std::nullopt, seconds{3}},
      {AnswerStatus::Cancelled, std::nullopt, seconds{0}},
  };
  for (const auto& r : rows) EXPECT_EQ(cache.lifetime(make(r.status, r.ttl)), r.want) << describe(r.status);
}

TEST(AnswerCache, ExpiresAndIsPerType) {
  AnswerCache cache(CachePolicy{});
  milliseconds t0{1'000'000};
  cache.store("h.test", RecordType::A, make(AnswerStatus::Ok, seconds{10}), t0);
  EXPECT_TRUE(cache.find("h.test", RecordType::A, t0 + milliseconds{9999}));
  EXPECT_FALSE(cache.find("h.test", RecordType::Aaaa, t0));
  EXPECT_FALSE(cache.find("other.test", RecordType::A, t0));
  EXPECT_FALSE(cache.find("h.test", RecordType::A, t0 + seconds{10}));
  EXPECT_EQ(cache.size(), 0u);  // the expired entry was dropped when found stale
}

TEST(AnswerCache, NothingStoredForZeroLifetime) {
  AnswerCache cache(CachePolicy{});
  cache.store("h.test", RecordType::A, make(AnswerStatus::Cancelled, std::nullopt), milliseconds{0});
  cache.store("h.test", RecordType::Aaaa, make(AnswerStatus::Ok, seconds{0}), milliseconds{0});
  EXPECT_EQ(cache.size(), 0u);
}

TEST(AnswerCache, ReplacesAndEvictsSoonestExpiringWhenFull) {
  CachePolicy policy;
  policy.max_entries = 3;
  AnswerCache cache(policy);
  milliseconds t{0};
  cache.store("a.test", RecordType::A, make(AnswerStatus::Ok, seconds{100}), t);
  cache.store("b.test", RecordType::A, make(AnswerStatus::Ok, seconds{50}), t);
  cache.store("c.test", RecordType::A, make(AnswerStatus::Ok, seconds{200}), t);
  cache.store("a.test", RecordType::A, make(AnswerStatus::Ok, seconds{300}), t);  // replaces, no eviction
  EXPECT_EQ(cache.size(), 3u);
  cache.store("d.test", RecordType::A, make(AnswerStatus::Ok, seconds{400}), t);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.find("b.test", RecordType::A, t));  // expired soonest: evicted
  EXPECT_TRUE(cache.find("a.test", RecordType::A, t + seconds{250}));
  EXPECT_TRUE(cache.find("c.test", RecordType::A, t));
  EXPECT_TRUE(cache.find("d.test", RecordType::A, t));
  // A bounded load: many names never grow the cache past its cap.
  for (int i = 0; i < 1000; ++i) {
    cache.store("n" + std::to_string(i) + ".test", RecordType::A, make(AnswerStatus::Ok, seconds{10 + i}), t);
  }
  EXPECT_EQ(cache.size(), 3u);
}

TEST(AnswerCache, DisabledWithZeroEntries) {
  CachePolicy policy;
  policy.max_entries = 0;
  AnswerCache cache(policy);
  cache.store("a.test", RecordType::A, make(AnswerStatus::Ok, seconds{100}), milliseconds{0});
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace tern::dns
