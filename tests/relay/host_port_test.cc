#include "relay/host_port.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace tern::relay {
namespace {

TEST(ParseHostPort, Accepts) {
  struct Case {
    std::string text;
    std::optional<std::uint16_t> default_port;
    std::string host;
    std::uint16_t port;
    std::string str;
  };
  const Case cases[] = {
      {"0.0.0.0:587", std::nullopt, "0.0.0.0", 587, "0.0.0.0:587"},
      {"127.0.0.1:1", std::nullopt, "127.0.0.1", 1, "127.0.0.1:1"},
      {"[::]:587", std::nullopt, "::", 587, "[::]:587"},
      {"[::1]:65535", std::nullopt, "::1", 65535, "[::1]:65535"},
      {"[2001:db8::7]:25", std::nullopt, "2001:db8::7", 25, "[2001:db8::7]:25"},
      {"smtp.example.com:587", std::nullopt, "smtp.example.com", 587, "smtp.example.com:587"},
      {"relay_1.internal:2525", std::nullopt, "relay_1.internal", 2525, "relay_1.internal:2525"},
      {"localhost:25", std::nullopt, "localhost", 25, "localhost:25"},
      {"127.0.0.1", 53, "127.0.0.1", 53, "127.0.0.1:53"},
      {"[::1]", 53, "::1", 53, "[::1]:53"},
      {"127.0.0.1:5353", 53, "127.0.0.1", 5353, "127.0.0.1:5353"},
  };
  for (const Case& c : cases) {
    Result<HostPort> got = parse_host_port(c.text, c.default_port);
    ASSERT_TRUE(got) << c.text << ": " << got.error().message();
    EXPECT_EQ(got->host, c.host) << c.text;
    EXPECT_EQ(got->port, c.port) << c.text;
    EXPECT_EQ(got->str(), c.str) << c.text;
    Result<HostPort> again = parse_host_port(got->str());
    ASSERT_TRUE(again) << got->str();
    EXPECT_EQ(*again, *got) << "str() parses back";
  }
}

TEST(ParseHostPort, Refuses) {
  struct Case {
    std::string text;
    std::string reason;
  };
  const Case cases[] = {
      {"", "empty"},
      {"smtp.example.com", "port is missing"},
      {"127.0.0.1", "port is missing"},
      {"[::1]", "port is missing"},
      {"127.0.0.1:", "1..65535"},
      {"127.0.0.1:0", "1..65535, got 0"},
      {"127.0.0.1:65536", "1..65535, got 65536"},
      {"127.0.0.1:99999999999", "1..65535"},
      {"127.0.0.1:-1", "1..65535"},
      {"127.0.0.1:+25", "1..65535"},
      {"127.0.0.1:25x", "1..65535"},
      {":587", "host is missing"},
      {"::1:25", "needs brackets"},
      {"::", "needs brackets"},
      {"[::1:25", "missing ']'"},
      {"[::1]x25", "expected ':'"},
      {"[127.0.0.1]:25", "not an IPv6 address"},
      {"[zz::1]:25", "not an IPv6 address"},
      {"smtp example.com:25", "not a valid host"},
      {"smtp..example.com:25", "not a valid host"},
      {".example.com:25", "not a valid host"},
      {"example.com.:25", "not a valid host"},
      {"host/x:25", "not a valid host"},
  };
  for (const Case& c : cases) {
    Result<HostPort> got = parse_host_port(c.text);
    ASSERT_FALSE(got) << "accepted \"" << c.text << "\"";
    EXPECT_NE(got.error().message().find(c.reason), std::string::npos) << c.text << " -> " << got.error().message();
  }
}

TEST(HostPort, IsIpAddress) {
  EXPECT_TRUE(is_ip_address("127.0.0.1"));
  EXPECT_TRUE(is_ip_address("::1"));
  EXPECT_TRUE(is_ip_address("::ffff:10.1.2.3"));
  EXPECT_FALSE(is_ip_address("localhost"));
  EXPECT_FALSE(is_ip_address("[::1]"));
  EXPECT_FALSE(is_ip_address("127.0.0.1:25"));
  EXPECT_FALSE(is_ip_address(""));
  EXPECT_FALSE(is_ip_address("1.2.3"));
  EXPECT_TRUE((HostPort{"0.0.0.0", 587}.is_ip_address()));
  EXPECT_FALSE((HostPort{"smtp.example.com", 587}.is_ip_address()));
}

}  // namespace
}  // namespace tern::relay
