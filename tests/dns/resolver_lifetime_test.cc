// Destroying a Resolver with lookups in flight: every callback runs exactly
// once, before the destructor returns, nothing runs after, and no handle or
// byte leaks (the fixture closes the loop; ASan checks memory).
#include "dns/resolver.h"

#include <gtest/gtest.h>

#include "tests/dns/resolver_fixture.h"

namespace tern::dns {
namespace {

using testing::ResolverTest;
using Hosts = std::vector<MxHost>;
using Addresses = std::vector<std::string>;

bool cancelled(const Error& e) { return e.is_transient() && e.message().find("cancelled") != std::string::npos; }

TEST_F(ResolverTest, DestroyWithQueriesInFlightCancelsThem) {
  auto o = options();
  o.timeout = std::chrono::seconds(5);  // nothing would answer before the test ends
  resolver_ = make(o);
  std::vector<Error> errors;
  int ok = 0;
  auto on_mx = [&](Result<Hosts> r) { r ? (void)++ok : errors.push_back(r.error()); };
  auto on_host = [&](Result<Addresses> r) { r ? (void)++ok : errors.push_back(r.error()); };
  resolver_->resolve_mx("timeout.test", on_mx);
  resolver_->resolve_mx("example.test", on_mx);  // sent, not yet read: the loop has not run
  resolver_->resolve_host("host.timeout.test", on_host);
  resolver_->resolve_mx("timeout.test", on_mx);  // coalesced
  resolver_.reset();
  ASSERT_EQ(errors.size(), 4u);
  EXPECT_EQ(ok, 0);
  for (const auto& e : errors) EXPECT_TRUE(cancelled(e)) << e.message();
  EXPECT_EQ(errors[0].message(), "timeout.test: 4.4.3 DNS lookup failed (MX: cancelled)");
  EXPECT_EQ(queries(), 0);  // cancelled queries are not counted as answered or failed
  EXPECT_FALSE(loop_.run_until([&] { return errors.size() > 4; }, std::chrono::milliseconds(50)));
}

TEST_F(ResolverTest, DestroyBetweenMxAnswerAndAddressAnswers) {
  auto o = options();
  o.timeout = std::chrono::seconds(5);
  resolver_ = make(o);
  std::optional<Result<Hosts>> got;
  resolver_->resolve_mx("slowmx.test", [&](Result<Hosts> r) { got.emplace(std::move(r)); });
  ASSERT_TRUE(loop_.run_until([&] { return queries() == 1; }));  // MX answered; A/AAAA of host.timeout.test pending
  ASSERT_FALSE(got);
  resolver_.reset();
  ASSERT_TRUE(got);
  ASSERT_FALSE(*got);
  EXPECT_TRUE(cancelled(got->error())) << got->error().message();
}

TEST_F(ResolverTest, CallbackMayDestroyTheResolver) {
  std::vector<std::string> order;
  auto o = options();
  o.timeout = std::chrono::seconds(5);
  resolver_ = make(o);
  resolver_->resolve_mx("example.test", [&](Result<Hosts> r) {
    ASSERT_TRUE(r);
    order.push_back("first");
    resolver_.reset();  // from inside our own callback
  });
  resolver_->resolve_mx("example.test", [&](Result<Hosts> r) {  // answer already known: delivered as is
    EXPECT_TRUE(r);
    order.push_back("second");
  });
  resolver_->resolve_mx("timeout.test", [&](Result<Hosts> r) {  // still pending: cancelled
    ASSERT_FALSE(r);
    EXPECT_TRUE(cancelled(r.error())) << r.error().message();
    order.push_back("third");
  });
  ASSERT_TRUE(loop_.run_until([&] { return order.size() == 3; }));
  EXPECT_EQ(order, (std::vector<std::string>{"first", "second", "third"}));
}

TEST_F(ResolverTest, LookupsStartedDuringDestructionFailAtOnce) {
  auto o = options();
  o.timeout = std::chrono::seconds(5);
  resolver_ = make(o);
  Resolver* raw = resolver_.get();
  std::vector<std::string> seen;
  resolver_->resolve_mx("timeout.test", [&](Result<Hosts> r) {
    ASSERT_FALSE(r);
    seen.push_back("outer");
    raw->resolve_mx("example.test", [&](Result<Hosts> inner) {
      ASSERT_FALSE(inner);
      EXPECT_TRUE(cancelled(inner.error())) << inner.error().message();
      seen.push_back("inner-mx");
    });
    raw->resolve_host("mx1.example.test", [&](Result<Addresses> inner) {
      ASSERT_FALSE(inner);
      EXPECT_TRUE(cancelled(inner.error())) << inner.error().message();
      seen.push_back("inner-host");
    });
  });
  resolver_.reset();
  EXPECT_EQ(seen, (std::vector<std::string>{"outer", "inner-mx", "inner-host"}));
}

TEST_F(ResolverTest, FreshResolversComeAndGo) {
  // A bounded churn of resolvers with live sockets: every handle is closed
  // (the fixture's loop close fails otherwise) and nothing leaks.
  for (int i = 0; i < 20; ++i) {
    auto r = make(options());
    ASSERT_NE(r, nullptr);
    auto got = mx(*r, i % 2 == 0 ? "example.test" : "nx.test");
    EXPECT_EQ(got.has_value(), i % 2 == 0);
  }
}

}  // namespace
}  // namespace tern::dns
