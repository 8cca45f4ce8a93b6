#pragma once
// Test fixture for Resolver tests: a private loop, a dnsmasq serving
// standard_records() (skipped when dnsmasq is missing), a fake clock for the
// cache, an observer counting queries by result, and helpers that run the
// loop until a lookup's callback arrives (with a deadline).

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dns/resolver.h"
#include "tests/dns/dns_server.h"
#include "tests/dns/test_loop.h"

namespace tern::dns::testing {

class ResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!DnsServer::dnsmasq_installed()) {
      GTEST_SKIP() << "dnsmasq is not installed at " << kDnsmasqPath << " (Debian package dnsmasq-base)";
    }
    ASSERT_TRUE(blackhole_.ok());
    auto server = DnsServer::start_dnsmasq(standard_records(blackhole_.port()));
    ASSERT_TRUE(server) << server.error().message();
    server_ = std::move(*server);
  }

  void TearDown() override {
    resolver_.reset();
    EXPECT_TRUE(loop_.close());
  }

  ResolverOptions options() {
    ResolverOptions o;
    if (server_) o.servers = {{"127.0.0.1", server_->port()}};
    o.timeout = std::chrono::milliseconds(300);
    o.tries = 1;
    o.clock = [this] { return now_; };
    return o;
  }

  std::unique_ptr<Resolver> make(ResolverOptions o) {
    auto r = Resolver::create(loop_.get(), std::move(o));
    EXPECT_TRUE(r) << r.error().message();
    if (!r) return nullptr;
    (*r)->set_query_observer([this](QueryResult q) { ++counts_[q]; });
    return std::move(*r);
  }
  Resolver& resolver() {
    if (!resolver_) resolver_ = make(options());
    return *resolver_;
  }

  Result<std::vector<MxHost>> mx(Resolver& r, const std::string& domain) {
    std::optional<Result<std::vector<MxHost>>> got;
    r.resolve_mx(domain, [&](Result<std::vector<MxHost>> res) { got.emplace(std::move(res)); });
    EXPECT_FALSE(got) << "callback ran inside resolve_mx";
    if (!loop_.run_until([&] { return got.has_value(); })) return Error::transient("TEST: no answer before the deadline");
    return std::move(*got);
  }
  Result<std::vector<MxHost>> mx(const std::string& domain) { return mx(resolver(), domain); }

  Result<std::vector<std::string>> host(const std::string& name) {
    std::optional<Result<std::vector<std::string>>> got;
    resolver().resolve_host(name, [&](Result<std::vector<std::string>> res) { got.emplace(std::move(res)); });
    EXPECT_FALSE(got) << "callback ran inside resolve_host";
    if (!loop_.run_until([&] { return got.has_value(); })) return Error::transient("TEST: no answer before the deadline");
    return std::move(*got);
  }

  int queries() const {
    int n = 0;
    for (const auto& [result, count] : counts_) n += count;
    return n;
  }
  int count(QueryResult r) const {
    auto it = counts_.find(r);
    return it == counts_.end() ? 0 : it->second;
  }

  static std::vector<std::string> names(const std::vector<MxHost>& hosts) {
    std::vector<std::string> out;
    for (const auto& h : hosts) out.push_back(h.name);
    return out;
  }

  TestLoop loop_;  // first member: outlives the resolver
  BlackHole blackhole_;
  std::unique_ptr<DnsServer> server_;
  std::unique_ptr<Resolver> resolver_;
  std::map<QueryResult, int> counts_;
  std::chrono::milliseconds now_{1'000'000'000};
};

}  // namespace tern::dns::testing
