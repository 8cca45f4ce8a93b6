#include "relay/cidr.h"

#include <gtest/gtest.h>

#include <string>

namespace tern::relay {
namespace {

TEST(Cidr, ParsesAndPrintsCanonically) {
  struct Case {
    std::string text;
    std::string str;
    bool ipv4;
    int prefix;
  };
  const Case cases[] = {
      {"10.0.0.0/8", "10.0.0.0/8", true, 8},
      {"172.16.0.0/12", "172.16.0.0/12", true, 12},
      {"0.0.0.0/0", "0.0.0.0/0", true, 0},
      {"192.0.2.7", "192.0.2.7/32", true, 32},
      {"192.0.2.7/32", "192.0.2.7/32", true, 32},
      {"::1/128", "::1/128", false, 128},
      {"::1", "::1/128", false, 128},
      {"::/0", "::/0", false, 0},
      {"fd00::/8", "fd00::/8", false, 8},
      {"2001:0db8:0000::/32", "2001:db8::/32", false, 32},
      {"::ffff:0:0/96", "::ffff:0.0.0.0/96", false, 96},
  };
  for (const Case& c : cases) {
    Result<Cidr> got = Cidr::parse(c.text);
    ASSERT_TRUE(got) << c.text << ": " << got.error().message();
    EXPECT_EQ(got->str(), c.str) << c.text;
    EXPECT_EQ(got->is_ipv4(), c.ipv4) << c.text;
    EXPECT_EQ(got->prefix_length(), c.prefix) << c.text;
    Result<Cidr> again = Cidr::parse(got->str());
    ASSERT_TRUE(again) << got->str();
    EXPECT_EQ(*again, *got);
  }
}

TEST(Cidr, Refuses) {
  struct Case {
    std::string text;
    std::string reason;
  };
  const Case cases[] = {
      {"", "not an IPv4 or IPv6 address"},
      {"10.0.0/8", "not an IPv4 or IPv6 address"},
      {"example.com/8", "not an IPv4 or IPv6 address"},
      {"10.0.0.0/33", "0..32"},
      {"::/129", "0..128"},
      {"10.0.0.0/", "0..32"},
      {"10.0.0.0/-1", "0..32"},
      {"10.0.0.0/8x", "0..32"},
      {"10.0.0.0/08/8", "0..32"},
      {"10.1.2.3/8", "did you mean 10.0.0.0/8?"},
      {"172.17.0.1/16", "did you mean 172.17.0.0/16?"},
      {"fd00::1/8", "did you mean fd00::/8?"},
      {" 10.0.0.0/8", "not an IPv4 or IPv6 address"},
  };
  for (const Case& c : cases) {
    Result<Cidr> got = Cidr::parse(c.text);
    ASSERT_FALSE(got) << "accepted \"" << c.text << "\"";
    EXPECT_NE(got.error().message().find(c.reason), std::string::npos) << c.text << " -> " << got.error().message();
  }
}

TEST(Cidr, Contains) {
  struct Case {
    std::string cidr;
    std::string address;
    bool want;
  };
  const Case cases[] = {
      {"10.0.0.0/8", "10.1.2.3", true},
      {"10.0.0.0/8", "10.255.255.255", true},
      {"10.0.0.0/8", "11.0.0.0", false},
      {"10.0.0.0/8", "9.255.255.255", false},
      {"172.16.0.0/12", "172.31.255.254", true},
      {"172.16.0.0/12", "172.32.0.1", false},
      {"192.0.2.7", "192.0.2.7", true},
      {"192.0.2.7", "192.0.2.8", false},
      {"0.0.0.0/0", "203.0.113.9", true},
      {"0.0.0.0/0", "::1", false},  // an IPv4 network never holds a real IPv6 client
      {"::1/128", "::1", true},
      {"::1/128", "::2", false},
      {"fd00::/8", "fd12:3456::1", true},
      {"fd00::/8", "fe80::1", false},
      {"2001:db8::/33", "2001:db8:7fff::1", true},
      {"2001:db8::/33", "2001:db8:8000::1", false},
      {"::/0", "2001:db8::1", true},
      // IPv4-mapped IPv6 clients (a dual-stack listener on [::]) match IPv4 networks...
      {"10.0.0.0/8", "::ffff:10.1.2.3", true},
      {"10.0.0.0/8", "::ffff:11.1.2.3", false},
      {"127.0.0.1", "::ffff:127.0.0.1", true},
      // ...and IPv4 clients match mapped IPv6 networks.
      {"::ffff:10.0.0.0/104", "10.1.2.3", true},
      {"::ffff:10.0.0.0/104", "11.1.2.3", false},
      {"::ffff:10.0.0.0/104", "::ffff:10.9.9.9", true},
      // Not addresses: never contained, never a crash.
      {"0.0.0.0/0", "", false},
      {"0.0.0.0/0", "localhost", false},
      {"0.0.0.0/0", "10.1.2.3:25", false},
      {"::/0", "[::1]", false},
      {"::/0", std::string(200, 'a'), false},
  };
  for (const Case& c : cases) {
    Result<Cidr> net = Cidr::parse(c.cidr);
    ASSERT_TRUE(net) << c.cidr;
    EXPECT_EQ(net->contains(c.address), c.want) << c.cidr << " contains " << c.address;
  }
}

}  // namespace
}  // namespace tern::relay
