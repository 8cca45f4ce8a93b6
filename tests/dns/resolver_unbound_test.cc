// Resolver against unbound, which (unlike dnsmasq) can answer SERVFAIL, and
// serves zones with an SOA, for negative TTLs, and long TTLs, for the cap.
#include "dns/resolver.h"

#include <gtest/gtest.h>

#include "tests/dns/resolver_fixture.h"

namespace tern::dns {
namespace {

using std::chrono::seconds;

// servfail.test is forwarded to an address unbound may not query: instant SERVFAIL.
constexpr const char* kZones = R"(
  local-zone: "." refuse
  local-zone: "servfail.test." transparent
  do-not-query-localhost: yes
  local-zone: "soa.test." static
  local-data: "soa.test. 300 IN SOA ns.soa.test. hostmaster.soa.test. 1 3600 600 86400 60"
  local-data: "mail.soa.test. 300 IN A 127.0.0.8"
  local-zone: "longttl.test." static
  local-data: "longttl.test. 86400 IN SOA ns.longttl.test. hostmaster.longttl.test. 1 3600 600 86400 86400"
  local-data: "longttl.test. 86400 IN MX 10 mx.longttl.test."
  local-data: "mx.longttl.test. 86400 IN A 127.0.0.9"
)";
constexpr const char* kForward = R"(
forward-zone:
  name: "servfail.test."
  forward-addr: 127.0.0.1@9
)";

class UnboundResolverTest : public testing::ResolverTest {
 protected:
  void SetUp() override {
    if (!testing::DnsServer::unbound_installed()) {
      GTEST_SKIP() << "unbound is not installed at " << testing::kUnboundPath << " (Debian package unbound)";
    }
    auto server = testing::DnsServer::start_unbound(kZones, kForward);
    ASSERT_TRUE(server) << server.error().message();
    server_ = std::move(*server);
  }
};

TEST_F(UnboundResolverTest, ServFailIsTransientAndCounted) {
  auto got = mx("servfail.test");
  ASSERT_FALSE(got);
  EXPECT_TRUE(got.error().is_transient());
  EXPECT_EQ(got.error().message(), "servfail.test: 4.4.3 DNS lookup failed (MX: SERVFAIL)");
  EXPECT_EQ(count(QueryResult::ServFail), 1);
  EXPECT_EQ(queries(), 1);

  auto addresses = host("www.servfail.test");
  ASSERT_FALSE(addresses);
  EXPECT_TRUE(addresses.error().is_transient());
  EXPECT_EQ(addresses.error().message(), "www.servfail.test: 4.4.3 DNS lookup failed (A: SERVFAIL, AAAA: SERVFAIL)");
}

TEST_F(UnboundResolverTest, RefusedIsTransientAndCountedAsServFail) {
  auto got = mx("elsewhere.example");
  ASSERT_FALSE(got);
  EXPECT_TRUE(got.error().is_transient());
  EXPECT_EQ(got.error().message(), "elsewhere.example: 4.4.3 DNS lookup failed (MX: REFUSED)");
  EXPECT_EQ(count(QueryResult::ServFail), 1);
}

TEST_F(UnboundResolverTest, NegativeAnswerCachedForTheSoaMinimum) {
  auto got = mx("nx.soa.test");
  ASSERT_FALSE(got);
  EXPECT_TRUE(got.error().is_permanent());
  EXPECT_EQ(count(QueryResult::NxDomain), 1);
  now_ += seconds{59};
  ASSERT_FALSE(mx("nx.soa.test"));
  EXPECT_EQ(count(QueryResult::NxDomain), 1);
  now_ += seconds{1};  // min(SOA TTL 300, MINIMUM 60)
  ASSERT_FALSE(mx("nx.soa.test"));
  EXPECT_EQ(count(QueryResult::NxDomain), 2);
}

TEST_F(UnboundResolverTest, LongTtlsAreCapped) {
  auto got = mx("longttl.test");
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(*got, (std::vector<MxHost>{{"mx.longttl.test", 10, {"127.0.0.9"}}}));
  ASSERT_EQ(queries(), 3);
  now_ += seconds{3599};
  ASSERT_TRUE(mx("longttl.test"));
  EXPECT_EQ(queries(), 3);
  now_ += seconds{1};  // CachePolicy::max_ttl, not the records' 86400
  ASSERT_TRUE(mx("longttl.test"));
  EXPECT_EQ(queries(), 6);
}

TEST_F(UnboundResolverTest, ImplicitMxInAZoneWithSoa) {
  auto got = mx("mail.soa.test");
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(*got, (std::vector<MxHost>{{"mail.soa.test", 0, {"127.0.0.8"}}}));
}

}  // namespace
}  // namespace tern::dns
