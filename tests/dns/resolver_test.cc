// Resolver against a real dnsmasq: what resolve_mx() and resolve_host() answer
// for each kind of domain (RFC 5321 §5.1, RFC 7505), and how errors are typed.
#include "dns/resolver.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/dns/resolver_fixture.h"

namespace tern::dns {
namespace {

using testing::ResolverTest;
using Hosts = std::vector<MxHost>;
using Addresses = std::vector<std::string>;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST_F(ResolverTest, MxSortedByPreferenceWithIpv4AndIpv6Addresses) {
  auto got = mx("example.test");
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(*got, (Hosts{{"mx1.example.test", 10, {"127.0.0.2", "::2"}}, {"mx2.example.test", 20, {"127.0.0.3"}}}));
  EXPECT_EQ(count(QueryResult::Ok), 5);  // MX, then A and AAAA of each host
  EXPECT_EQ(queries(), 5);
}

TEST_F(ResolverTest, ImplicitMxWhenNoMxRecords) {
  auto got = mx("nomx.test");
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(*got, (Hosts{{"nomx.test", 0, {"127.0.0.4"}}}));
  EXPECT_EQ(count(QueryResult::Ok), 3);  // NODATA counts as an answer
}

TEST_F(ResolverTest, NullMxIsPermanent) {
  auto got = mx("nullmx.test");
  ASSERT_FALSE(got);
  EXPECT_TRUE(got.error().is_permanent());
  EXPECT_EQ(got.error().message(), "nullmx.test: 5.1.10 domain does not accept mail (null MX)");
  EXPECT_EQ(queries(), 1);  // no address lookups for "."
}

TEST_F(ResolverTest, NxDomainIsPermanent) {
  auto got = mx("nx.test");
  ASSERT_FALSE(got);
  EXPECT_TRUE(got.error().is_permanent());
  EXPECT_EQ(got.error().message(), "nx.test: 5.1.2 domain not found");
  EXPECT_EQ(count(QueryResult::NxDomain), 1);
  EXPECT_EQ(queries(), 1);
}

TEST_F(ResolverTest, MxHostWithoutAddressIsDroppedAndPermanentWhenNoneLeft) {
  auto none = mx("noaddr.test");
  ASSERT_FALSE(none);
  EXPECT_TRUE(none.error().is_permanent());
  EXPECT_TRUE(contains(none.error().message(), "noaddr.test: 5.4.4 no usable mail host")) << none.error().message();
  EXPECT_TRUE(contains(none.error().message(), "ghost.noaddr.test: 5.4.4 host not found")) << none.error().message();

  auto some = mx("partial.test");
  ASSERT_TRUE(some) << some.error().message();
  EXPECT_EQ(*some, (Hosts{{"mx2.example.test", 20, {"127.0.0.3"}}}));
}

TEST_F(ResolverTest, MxTimeoutIsTransientWithinTheConfiguredTimeout) {
  auto start = std::chrono::steady_clock::now();
  auto got = mx("timeout.test");  // 300 ms, 1 try (fixture options)
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(got);
  EXPECT_TRUE(got.error().is_transient());
  EXPECT_EQ(got.error().message(), "timeout.test: 4.4.3 DNS lookup failed (MX: timeout)");
  EXPECT_EQ(count(QueryResult::Timeout), 1);
  // Not a timing test: c-ares's default of 5 s would miss this by far.
  EXPECT_LT(took, std::chrono::seconds(3));
}

TEST_F(ResolverTest, MxHostTimingOutMakesTheLookupTransient) {
  auto got = mx("slowmx.test");
  ASSERT_FALSE(got);
  EXPECT_TRUE(got.error().is_transient());
  EXPECT_TRUE(contains(got.error().message(), "slowmx.test: 4.4.3 no mail host resolved")) << got.error().message();
  EXPECT_TRUE(contains(got.error().message(), "host.timeout.test: 4.4.3 DNS lookup failed (A: timeout, AAAA: timeout)"))
      << got.error().message();
  EXPECT_EQ(count(QueryResult::Ok), 1);
  EXPECT_EQ(count(QueryResult::Timeout), 2);
}

TEST_F(ResolverTest, MxHostsCappedAfterOrdering) {
  auto o = options();
  o.max_mx_hosts = 2;
  resolver_ = make(o);
  auto got = mx("equal.test");
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->size(), 2u);
  EXPECT_EQ(queries(), 1 + 2 * 2);
}

TEST_F(ResolverTest, EqualPreferencesShuffledAcrossFreshResolvers) {
  // Each fresh resolver seeds its own shuffle. Missing one of the 6 orders in
  // 300 tries has probability about 6*(5/6)^300, i.e. never.
  std::set<std::vector<std::string>> seen;
  for (int i = 0; i < 300 && seen.size() < 6; ++i) {
    auto r = make(options());
    ASSERT_NE(r, nullptr);
    auto got = mx(*r, "equal.test");
    ASSERT_TRUE(got) << got.error().message();
    ASSERT_EQ(got->size(), 3u);
    for (const auto& h : *got) EXPECT_EQ(h.preference, 10);
    seen.insert(names(*got));
  }
  EXPECT_EQ(seen.size(), 6u);
}

TEST_F(ResolverTest, EqualPreferencesShuffledOnEveryLookupEvenFromCache) {
  std::set<std::vector<std::string>> seen;
  for (int i = 0; i < 300 && seen.size() < 6; ++i) {
    auto got = mx("equal.test");
    ASSERT_TRUE(got) << got.error().message();
    seen.insert(names(*got));
  }
  EXPECT_EQ(seen.size(), 6u);
  EXPECT_EQ(queries(), 7);  // one MX, A and AAAA of three hosts; the rest came from the cache
}

TEST_F(ResolverTest, ResolveHost) {
  struct Row {
    const char* name;
    std::optional<Addresses> want;  // nullopt: an error
    const char* error;
  } rows[] = {
      {"mx1.example.test", Addresses{"127.0.0.2", "::2"}, ""},
      {"MX2.Example.Test.", Addresses{"127.0.0.3"}, ""},
      {"v6only.test", Addresses{"::5"}, ""},
      {"192.0.2.9", Addresses{"192.0.2.9"}, ""},
      {"2001:db8::1", Addresses{"2001:db8::1"}, ""},
      {"nx.test", std::nullopt, "nx.test: 5.4.4 host not found"},
      {"nullmx.test", std::nullopt, "nullmx.test: 5.4.4 no address records"},
      {"bad name.test", std::nullopt, "\"bad name.test\": 5.1.2 invalid domain name (character not allowed)"},
  };
  for (const auto& r : rows) {
    auto got = host(r.name);
    if (r.want) {
      ASSERT_TRUE(got) << r.name << ": " << got.error().message();
      EXPECT_EQ(*got, *r.want) << r.name;
    } else {
      ASSERT_FALSE(got) << r.name;
      EXPECT_TRUE(got.error().is_permanent()) << r.name;
      EXPECT_EQ(got.error().message(), r.error);
    }
  }
}

TEST_F(ResolverTest, HostTimeoutIsTransient) {
  auto got = host("host.timeout.test");
  ASSERT_FALSE(got);
  EXPECT_TRUE(got.error().is_transient());
  EXPECT_EQ(got.error().message(), "host.timeout.test: 4.4.3 DNS lookup failed (A: timeout, AAAA: timeout)");
}

TEST_F(ResolverTest, InvalidDomainFailsWithoutQuerying) {
  for (const char* bad : {"", "exa mple.test", "a..test", "example.test\r\nDATA"}) {
    auto got = mx(bad);
    ASSERT_FALSE(got) << bad;
    EXPECT_TRUE(got.error().is_permanent());
    EXPECT_TRUE(contains(got.error().message(), "5.1.2 invalid domain name")) << got.error().message();
  }
  EXPECT_EQ(queries(), 0);
}

TEST_F(ResolverTest, ManyConcurrentLookupsAllComplete) {
  const std::vector<std::string> domains = {"example.test", "equal.test", "nomx.test", "nx.test", "nullmx.test",
                                            "partial.test", "noaddr.test"};
  int done = 0, ok = 0;
  for (int round = 0; round < 20; ++round) {
    for (const auto& d : domains) {
      resolver().resolve_mx(d, [&](Result<Hosts> r) {
        ++done;
        ok += r ? 1 : 0;
      });
    }
  }
  ASSERT_TRUE(loop_.run_until([&] { return done == 140; }));
  EXPECT_EQ(ok, 4 * 20);
  EXPECT_EQ(queries(), 5 + 7 + 3 + 1 + 1 + 3 + 3);  // each distinct query once, however many asked (mx2 is shared)
}

TEST(ResolverOptions, RejectsBadOptions) {
  testing::TestLoop loop;
  struct Row {
    const char* what;
    ResolverOptions options;
    const char* error;
  } rows[] = {
      {"server not an IP", {.servers = {{"dns.example", 53}}}, "dns server \"dns.example\" is not an IP address"},
      {"zero timeout", {.timeout = std::chrono::milliseconds(0)}, "dns timeout must be between 1ms and 1h, got 0ms"},
      {"no tries", {.tries = 0}, "dns tries must be 1..10, got 0"},
      {"no MX hosts", {.max_mx_hosts = 0}, "dns: max_mx_hosts must be at least 1"},
  };
  for (auto& r : rows) {
    auto got = Resolver::create(loop.get(), r.options);
    ASSERT_FALSE(got) << r.what;
    EXPECT_TRUE(got.error().is_permanent());
    EXPECT_EQ(got.error().message(), r.error) << r.what;
  }
  // resolv.conf servers, and IPv6 servers with a port, are fine.
  EXPECT_TRUE(Resolver::create(loop.get(), {}));
  EXPECT_TRUE(Resolver::create(loop.get(), {.servers = {{"::1", 5353}, {"127.0.0.1", 0}, {"::1", 0}}}));
  EXPECT_TRUE(loop.close());
}

TEST(QueryResultLabels, MatchInterface) {
  EXPECT_EQ(metric_label(QueryResult::Ok), "ok");
  EXPECT_EQ(metric_label(QueryResult::NxDomain), "nxdomain");
  EXPECT_EQ(metric_label(QueryResult::ServFail), "servfail");
  EXPECT_EQ(metric_label(QueryResult::Timeout), "timeout");
}

}  // namespace
}  // namespace tern::dns
