#include "dns/names.h"

#include <gtest/gtest.h>

#include <string>

namespace tern::dns {
namespace {

TEST(IsIpAddress, Table) {
  struct Row {
    const char* text;
    bool want;
  } rows[] = {
      {"192.0.2.1", true},         {"127.0.0.1", true},       {"::1", true},
      {"2001:db8::7", true},       {"::ffff:192.0.2.1", true}, {"", false},
      {"example.org", false},      {"192.0.2", false},        {"192.0.2.256", false},
      {"[::1]", false},            {"::1%lo", false},         {"192.0.2.1 ", false},
      {"2001:db8::/32", false},    {"1.2.3.4.5", false},
      {"0000:0000:0000:0000:0000:ffff:255.255.255.255:extra-bytes-beyond-the-longest-address", false},
  };
  for (const auto& r : rows) EXPECT_EQ(is_ip_address(r.text), r.want) << r.text;
  // An embedded NUL must not truncate the check.
  EXPECT_FALSE(is_ip_address(std::string("127.0.0.1\0junk", 14)));
}

TEST(NormalizeName, Accepts) {
  struct Row {
    const char* in;
    const char* want;
  } rows[] = {
      {"example.org", "example.org"},
      {"Example.ORG.", "example.org"},
      {"mx1.example.test", "mx1.example.test"},
      {"xn--bcher-kva.example", "xn--bcher-kva.example"},
      {"_dmarc.example.org", "_dmarc.example.org"},
      {"localhost", "localhost"},
      {"127.0.0.1", "127.0.0.1"},  // looks like an address, is a valid name: callers check literals first
  };
  for (const auto& r : rows) {
    auto got = normalize_name(r.in);
    ASSERT_TRUE(got) << r.in << ": " << got.error().message();
    EXPECT_EQ(*got, r.want);
  }
  std::string label63(63, 'a');
  EXPECT_TRUE(normalize_name(label63 + ".org"));
  std::string long_name;
  while (long_name.size() < 253) long_name += "abcdefghi.";
  long_name.resize(253);
  if (long_name.back() == '.') long_name.back() = 'x';
  EXPECT_TRUE(normalize_name(long_name));
  EXPECT_TRUE(normalize_name(long_name + "."));
}

TEST(NormalizeName, Rejects) {
  const std::string rows[] = {
      "", ".", "..", "a..b", ".example.org", "example.org..", "exa mple.org", "example.org\r\nRCPT TO:<x>",
      "[127.0.0.1]", "ex@mple.org", "b\xc3\xbc" "cher.example", std::string("a\0b", 3), std::string(64, 'a') + ".org",
      std::string(254, 'a'),
  };
  for (const auto& in : rows) {
    auto got = normalize_name(in);
    ASSERT_FALSE(got) << in;
    EXPECT_TRUE(got.error().is_permanent());
    EXPECT_NE(got.error().message().find("5.1.2 invalid domain name"), std::string::npos) << got.error().message();
    for (char c : got.error().message()) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "unprintable byte in error";
  }
}

TEST(PrintableName, ReplacesAndTruncates) {
  EXPECT_EQ(printable_name("a\r\nb"), "a??b");
  EXPECT_EQ(printable_name(std::string(150, 'x')), std::string(100, 'x') + "...");
}

}  // namespace
}  // namespace tern::dns
