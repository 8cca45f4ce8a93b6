// Resolver caching and coalescing, against a real dnsmasq (answers with TTL
// 300 s, negative answers without SOA) and a fake clock.
#include "dns/resolver.h"

#include <gtest/gtest.h>

#include "tests/dns/resolver_fixture.h"

namespace tern::dns {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ResolverTest;
using Hosts = std::vector<MxHost>;

TEST_F(ResolverTest, SecondLookupComesFromTheCache) {
  auto first = mx("example.test");
  ASSERT_TRUE(first) << first.error().message();
  ASSERT_EQ(queries(), 5);
  auto second = mx("example.test");
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(*second, *first);
  auto spelled = mx("EXAMPLE.Test.");  // names are cached case-insensitively, without the root dot
  ASSERT_TRUE(spelled);
  EXPECT_EQ(*spelled, *first);
  auto addresses = host("mx1.example.test");  // A/AAAA were cached by the MX lookup
  ASSERT_TRUE(addresses);
  EXPECT_EQ(queries(), 5);
}

TEST_F(ResolverTest, PositiveAnswersExpireWithTheirTtl) {
  ASSERT_TRUE(mx("example.test"));
  ASSERT_EQ(queries(), 5);
  now_ += seconds{299};
  ASSERT_TRUE(mx("example.test"));
  EXPECT_EQ(queries(), 5);
  now_ += seconds{2};  // past dnsmasq's --local-ttl=300
  ASSERT_TRUE(mx("example.test"));
  EXPECT_EQ(queries(), 10);
}

TEST_F(ResolverTest, NegativeAnswersCachedForTheDefaultWithoutSoa) {
  ASSERT_FALSE(mx("nx.test"));
  ASSERT_FALSE(mx("nullmx.test"));
  ASSERT_EQ(queries(), 2);
  now_ += seconds{299};
  EXPECT_FALSE(mx("nx.test"));
  EXPECT_FALSE(mx("nullmx.test"));
  EXPECT_EQ(queries(), 2);
  now_ += seconds{2};  // CachePolicy::default_negative_ttl is 5 min; nullmx's 300 s TTL ends too
  EXPECT_FALSE(mx("nx.test"));
  EXPECT_FALSE(mx("nullmx.test"));
  EXPECT_EQ(queries(), 4);
}

TEST_F(ResolverTest, FailuresCachedForAFewSecondsOnly) {
  auto first = mx("timeout.test");
  ASSERT_FALSE(first);
  ASSERT_EQ(count(QueryResult::Timeout), 1);
  auto again = mx("timeout.test");  // answered from the cache at once, same error
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), first.error());
  EXPECT_EQ(count(QueryResult::Timeout), 1);
  now_ += seconds{3};  // CachePolicy::failure_ttl
  ASSERT_FALSE(mx("timeout.test"));
  EXPECT_EQ(count(QueryResult::Timeout), 2);
}

TEST_F(ResolverTest, CacheCanBeTurnedOff) {
  auto o = options();
  o.cache.max_entries = 0;
  resolver_ = make(o);
  ASSERT_TRUE(mx("example.test"));
  ASSERT_TRUE(mx("example.test"));
  EXPECT_EQ(queries(), 10);
}

TEST_F(ResolverTest, ConcurrentLookupsShareOneQuery) {
  std::vector<Result<Hosts>> mx_results;
  std::vector<Result<std::vector<std::string>>> host_results;
  for (int i = 0; i < 3; ++i) {
    resolver().resolve_mx("example.test", [&](Result<Hosts> r) { mx_results.push_back(std::move(r)); });
    resolver().resolve_host("mx1.example.test",
                            [&](Result<std::vector<std::string>> r) { host_results.push_back(std::move(r)); });
  }
  resolver().resolve_host("v6only.test", [&](Result<std::vector<std::string>> r) { host_results.push_back(std::move(r)); });
  resolver().resolve_host("v6only.test", [&](Result<std::vector<std::string>> r) { host_results.push_back(std::move(r)); });
  ASSERT_TRUE(loop_.run_until([&] { return mx_results.size() == 3 && host_results.size() == 5; }));
  for (const auto& r : mx_results) {
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(names(*r), (std::vector<std::string>{"mx1.example.test", "mx2.example.test"}));
  }
  for (const auto& r : host_results) ASSERT_TRUE(r) << r.error().message();
  // MX example.test, A/AAAA mx1 (shared by the MX lookups and resolve_host), A/AAAA mx2, A/AAAA v6only.
  EXPECT_EQ(queries(), 7);
}

TEST_F(ResolverTest, CacheHitsStillAnswerFromTheLoop) {
  ASSERT_TRUE(mx("example.test"));
  bool returned = false, called_after_return = false;
  resolver().resolve_mx("example.test", [&](Result<Hosts> r) {
    EXPECT_TRUE(r);
    called_after_return = returned;
  });
  returned = true;
  ASSERT_TRUE(loop_.run_until([&] { return called_after_return; }));
}

TEST_F(ResolverTest, CallbacksMayStartLookups) {
  // A callback that resolves again (from the cache) is answered on a later
  // turn of the loop, not recursively.
  int depth = 0, calls = 0;
  std::function<void(Result<Hosts>)> again = [&](Result<Hosts> r) {
    EXPECT_TRUE(r);
    EXPECT_EQ(depth, 0);
    ++depth;
    if (++calls < 50) resolver().resolve_mx("example.test", again);
    --depth;
  };
  resolver().resolve_mx("example.test", again);
  ASSERT_TRUE(loop_.run_until([&] { return calls == 50; }));
  EXPECT_EQ(queries(), 5);
}

}  // namespace
}  // namespace tern::dns
