#include "smtp/address.h"

#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace tern::smtp {

// Failure messages show mailboxes as text (found by ADL;
// static, so other test files may print these types their own way).
static void PrintTo(const Mailbox& m, std::ostream* os) { *os << "{" << m.local << "|" << m.domain << "}"; }

namespace {

using namespace std::string_literals;

constexpr AddressSyntax kPlain{};
constexpr AddressSyntax kUtf8{.allow_utf8 = true};
constexpr AddressSyntax kMailFrom{.allow_null = true};
constexpr AddressSyntax kRcptTo{.allow_postmaster = true};

struct Row {
  std::string input;
  AddressSyntax syntax;
  // When ok: the mailbox (nullopt: the null path). Else the error's tail.
  bool ok;
  std::optional<Mailbox> want;
  std::string error;
};

Row good(std::string input, std::string local, std::string domain, AddressSyntax syntax = kPlain) {
  return Row{std::move(input), syntax, true, Mailbox{std::move(local), std::move(domain)}, ""};
}
Row null_path(std::string input, AddressSyntax syntax) { return Row{std::move(input), syntax, true, std::nullopt, ""}; }
Row fails(std::string input, std::string error, AddressSyntax syntax = kPlain) {
  return Row{std::move(input), syntax, false, std::nullopt, std::move(error)};
}

const std::string k64(64, 'a');
const std::string k63(63, 'b');

std::vector<Row> rows() {
  return {
      // Dot-string local parts.
      good("<user@example.com>", "user", "example.com"),
      good("<first.last@example.com>", "first.last", "example.com"),
      good("<a@b>", "a", "b"),
      good("<!#$%&'*+-/=?^_`{|}~@example.com>", "!#$%&'*+-/=?^_`{|}~", "example.com"),
      good("<user+tag@example.com>", "user+tag", "example.com"),
      good("<UPPER@Example.COM>", "UPPER", "Example.COM"),
      fails("<.user@example.com>", "bad address syntax: leading dot in local part"),
      fails("<user.@example.com>", "bad address syntax: trailing dot in local part"),
      fails("<us..er@example.com>", "bad address syntax: double dot in local part"),
      fails("<@example.com>", "bad source route"),  // "@" first reads as a route
      fails("<us er@example.com>", "invalid character in local part"),
      fails("<us(er@example.com>", "invalid character in local part"),
      fails("<us,er@example.com>", "invalid character in local part"),
      fails("<us\"er@example.com>", "quote inside local part"),
      fails("<user>", "missing @domain"),
      fails("<user@>", "empty domain"),
      fails("<a@b@c>", "invalid character in domain"),
      // Quoted-string local parts: kept with quotes and escapes.
      good("<\"john doe\"@example.com>", "\"john doe\"", "example.com"),
      good("<\"\"@example.com>", "\"\"", "example.com"),
      good("<\"a\\\"b\"@example.com>", "\"a\\\"b\"", "example.com"),
      good("<\"a\\\\b\"@example.com>", "\"a\\\\b\"", "example.com"),
      good("<\"a\\ b\"@example.com>", "\"a\\ b\"", "example.com"),
      good("<\"@<>,:;[]\"@example.com>", "\"@<>,:;[]\"", "example.com"),
      good("<\".leading..double.\"@example.com>", "\".leading..double.\"", "example.com"),
      fails("<\"unbalanced@example.com>", "bad address syntax: unbalanced quote"),
      fails("<\"a\\\"@example.com>", "unbalanced quote"),
      fails("<\"a\"b@example.com>", "text after quoted local part"),
      fails("<\"a\">", "missing @domain"),
      fails("<\"tab\there\"@example.com>", "invalid character in quoted string"),
      fails("<\"a\\\tb\"@example.com>", "bad quoted pair"),
      fails("<\"a\\\x7f\"@example.com>", "bad quoted pair"),
      fails("<\"nul\0\"@example.com>"s, "invalid character in quoted string"),
      // Domains.
      good("<u@sub.example.co.uk>", "u", "sub.example.co.uk"),
      good("<u@xn--bcher-kva.example>", "u", "xn--bcher-kva.example"),
      good("<u@a-b--c.example>", "u", "a-b--c.example"),
      good("<u@123.example>", "u", "123.example"),
      good("<u@1.2.3.4>", "u", "1.2.3.4"),  // a domain of numeric labels, not a literal
      good("<u@" + k63 + ".example>", "u", k63 + ".example"),
      fails("<u@example.com.>", "bad address syntax: trailing dot in domain"),
      fails("<u@.example.com>", "bad address syntax: empty label in domain"),
      fails("<u@example..com>", "bad address syntax: empty label in domain"),
      fails("<u@.>", "empty label in domain"),
      fails("<u@-example.com>", "bad address syntax: hyphen at start of domain label"),
      fails("<u@example-.com>", "bad address syntax: hyphen at end of domain label"),
      fails("<u@ex_ample.com>", "bad address syntax: invalid character in domain"),
      fails("<u@exa mple.com>", "invalid character in domain"),
      fails("<u@" + k63 + "b.example>", "domain label longer than 63 octets"),
      // Address literals.
      good("<u@[192.0.2.1]>", "u", "[192.0.2.1]"),
      good("<u@[0.0.0.0]>", "u", "[0.0.0.0]"),
      good("<u@[255.255.255.255]>", "u", "[255.255.255.255]"),
      fails("<u@[256.0.0.1]>", "bad address syntax: bad IPv4 address literal"),
      fails("<u@[1.2.3]>", "bad IPv4 address literal"),
      fails("<u@[1.2.3.4.5]>", "bad IPv4 address literal"),
      fails("<u@[1.2.3.]>", "bad IPv4 address literal"),
      fails("<u@[01.2.3.4]>", "bad IPv4 address literal"),
      fails("<u@[1.2.3.1000]>", "bad IPv4 address literal"),
      fails("<u@[a.b.c.d]>", "bad IPv4 address literal"),
      fails("<u@[]>", "empty address literal"),
      fails("<u@[1.2.3.4>", "unterminated address literal"),
      fails("<u@[1.2.3.4]x>", "unterminated address literal"),
      good("<u@[IPv6:2001:db8:0:0:0:0:0:1]>", "u", "[IPv6:2001:db8:0:0:0:0:0:1]"),
      good("<u@[IPv6:2001:db8::1]>", "u", "[IPv6:2001:db8::1]"),
      good("<u@[ipv6:2001:DB8::1]>", "u", "[ipv6:2001:DB8::1]"),
      good("<u@[IPV6:::1]>", "u", "[IPV6:::1]"),
      good("<u@[IPv6:::]>", "u", "[IPv6:::]"),
      good("<u@[IPv6:fe80::]>", "u", "[IPv6:fe80::]"),
      good("<u@[IPv6:1:2:3::6:7:8]>", "u", "[IPv6:1:2:3::6:7:8]"),
      good("<u@[IPv6:::ffff:192.0.2.1]>", "u", "[IPv6:::ffff:192.0.2.1]"),
      good("<u@[IPv6:::192.0.2.1]>", "u", "[IPv6:::192.0.2.1]"),
      good("<u@[IPv6:1:2:3:4:5:6:192.0.2.1]>", "u", "[IPv6:1:2:3:4:5:6:192.0.2.1]"),
      good("<u@[IPv6:1:2::5:6:192.0.2.1]>", "u", "[IPv6:1:2::5:6:192.0.2.1]"),
      good("<u@[IPv6:1:2:3:4::192.0.2.1]>", "u", "[IPv6:1:2:3:4::192.0.2.1]"),
      fails("<u@[IPv6:1:2:3:4:5:6:7]>", "bad address syntax: bad IPv6 address literal"),
      fails("<u@[IPv6:1:2:3:4:5:6:7:8:9]>", "bad IPv6 address literal"),
      fails("<u@[IPv6:1:2:3:4:5:6:7::]>", "bad IPv6 address literal"),  // "::" is at least two groups
      fails("<u@[IPv6:1::2::3]>", "bad IPv6 address literal"),
      fails("<u@[IPv6:1:::2]>", "bad IPv6 address literal"),
      fails("<u@[IPv6:12345::1]>", "bad IPv6 address literal"),
      fails("<u@[IPv6:g::1]>", "bad IPv6 address literal"),
      fails("<u@[IPv6::1]>", "bad IPv6 address literal"),
      fails("<u@[IPv6:1:]>", "bad IPv6 address literal"),
      fails("<u@[IPv6:]>", "bad IPv6 address literal"),
      fails("<u@[IPv6:1:2:3:4:5:192.0.2.1]>", "bad IPv6 address literal"),
      fails("<u@[IPv6:1:2:3:4:5::192.0.2.1]>", "bad IPv6 address literal"),
      fails("<u@[IPv6:::256.0.0.1]>", "bad IPv6 address literal"),
      fails("<u@[IPv6:1.2.3.4]>", "bad IPv6 address literal"),
      fails("<u@[IPv6:::1.2.3.4:5]>", "bad IPv6 address literal"),
      fails("<u@[IPv6:2001:db8::1 ]>", "bad IPv6 address literal"),
      good("<u@[x-tag:some-thing]>", "u", "[x-tag:some-thing]"),
      fails("<u@[x-:a]>", "bad address syntax: bad address literal"),
      fails("<u@[x:]>", "bad address literal"),
      fails("<u@[:a]>", "bad address literal"),
      fails("<u@[x:a\\b]>", "bad address literal"),
      fails("<u@[x:a b]>", "bad address literal"),
      // Source routes: accepted, dropped.
      good("<@relay.example:user@example.com>", "user", "example.com"),
      good("<@a.example,@b.example:user@example.com>", "user", "example.com"),
      good("<@[192.0.2.1],@[IPv6:::1]:user@example.com>", "user", "example.com"),
      fails("<@a.example user@example.com>", "bad source route"),
      fails("<@a.example,user@example.com>", "bad source route"),
      fails("<@:user@example.com>", "bad source route: empty domain"),
      fails("<@a..b:user@example.com>", "bad source route: empty label in domain"),
      fails("<@a.example:>", "empty address"),
      // The null path and Postmaster.
      null_path("<>", kMailFrom),
      fails("<>", "bad address syntax: null path not allowed here"),
      fails("<>", "null path not allowed here", kRcptTo),
      good("<Postmaster>", "Postmaster", "", kRcptTo),
      good("<postmaster>", "Postmaster", "", kRcptTo),
      good("<POSTMASTER>", "Postmaster", "", kRcptTo),
      good("<postmaster@example.com>", "postmaster", "example.com", kRcptTo),
      fails("<Postmaster>", "missing @domain"),
      fails("<Postmaster>", "missing @domain", kMailFrom),
      fails("<@a:Postmaster>", "missing @domain", kRcptTo),
      // Brackets.
      fails("user@example.com", "bad address syntax: path must be enclosed in <>"),
      fails("<user@example.com", "path must be enclosed in <>"),
      fails("user@example.com>", "path must be enclosed in <>"),
      fails("<user@example.com> ", "path must be enclosed in <>"),
      fails("<<user@example.com>>", "invalid character in local part"),
      fails("", "path must be enclosed in <>"),
      fails("<", "path must be enclosed in <>"),
      fails(">", "path must be enclosed in <>"),
      // UTF-8 (RFC 6531): only with SMTPUTF8, and only well-formed.
      good("<j\xc3\xb6rg@b\xc3\xbc\x63her.example>", "j\xc3\xb6rg", "b\xc3\xbc\x63her.example", kUtf8),
      good("<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\x85\xac\xe5\x8f\xb8>",
           "\xe7\x94\xa8\xe6\x88\xb7", "\xe4\xbe\x8b\xe5\xad\x90.\xe5\x85\xac\xe5\x8f\xb8", kUtf8),
      good("<\"\xc3\xa9 t\xc3\xa9\"@example.com>", "\"\xc3\xa9 t\xc3\xa9\"", "example.com", kUtf8),
      good("<\xf0\x9f\x98\x80@example.com>", "\xf0\x9f\x98\x80", "example.com", kUtf8),
      good("<\xf4\x8f\xbf\xbf@example.com>", "\xf4\x8f\xbf\xbf", "example.com", kUtf8),  // U+10FFFF
      good("<\xef\xbf\xbd@example.com>", "\xef\xbf\xbd", "example.com", kUtf8),
      fails("<j\xc3\xb6rg@example.com>", "bad address syntax: non-ASCII character without SMTPUTF8"),
      fails("<u@b\xc3\xbc\x63her.example>", "non-ASCII character without SMTPUTF8"),
      fails("<\"\xc3\xa9\"@example.com>", "non-ASCII character without SMTPUTF8"),
      fails("<\xc0\xaf@example.com>", "bad address syntax: invalid UTF-8", kUtf8),          // overlong '/'
      fails("<\xe0\x80\xaf@example.com>", "invalid UTF-8", kUtf8),                          // overlong
      fails("<\xf0\x80\x80\xaf@example.com>", "invalid UTF-8", kUtf8),                      // overlong
      fails("<\xed\xa0\x80@example.com>", "invalid UTF-8", kUtf8),                          // surrogate D800
      fails("<\xf4\x90\x80\x80@example.com>", "invalid UTF-8", kUtf8),                      // > U+10FFFF
      fails("<\xff@example.com>", "invalid UTF-8", kUtf8),
      fails("<\x80@example.com>", "invalid UTF-8", kUtf8),                                  // lone continuation
      fails("<\xc3@example.com>", "invalid UTF-8", kUtf8),                                  // truncated
      fails("<\xe4\xbe@example.com>", "invalid UTF-8", kUtf8),
      fails("<u@\xc3.example>", "invalid UTF-8", kUtf8),
      fails("<u@\xed\xbf\xbf.example>", "invalid UTF-8", kUtf8),
      fails("<\"\\\xc3\xa9\"@example.com>", "bad quoted pair", kUtf8),
      // Lengths: local 64, domain 255, path 256.
      good("<" + k64 + "@example.com>", k64, "example.com"),
      fails("<" + k64 + "a@example.com>", "bad address syntax: local part longer than 64 octets"),
      fails("<\"" + std::string(63, 'a') + "\"@example.com>", "local part longer than 64 octets"),
      fails("<" + k64 + "@" + k63 + "." + k63 + "." + k63 + "." + std::string(58, 'c') + ">",
            "bad address syntax: path longer than 256 octets"),
      good("<" + k64 + "@" + k63 + "." + k63 + "." + std::string(61, 'c') + ">", k64,
           k63 + "." + k63 + "." + std::string(61, 'c')),  // exactly 256 with brackets
      fails("<" + k64 + "@" + k63 + "." + k63 + "." + std::string(62, 'c') + ">", "path longer than 256 octets"),
      fails("<@" + std::string(250, 'r') + ":u@example.com>", "path longer than 256 octets"),
  };
}

TEST(ParsePath, Rows) {
  for (const auto& row : rows()) {
    auto got = parse_path(row.input, row.syntax);
    if (row.ok) {
      ASSERT_TRUE(got) << row.input << ": " << got.error().message();
      EXPECT_EQ(got->mailbox, row.want) << row.input;
    } else {
      ASSERT_FALSE(got) << row.input << " parsed as " << got->str();
      EXPECT_TRUE(got.error().is_permanent());
      const std::string& msg = got.error().message();
      EXPECT_TRUE(msg.starts_with("bad address syntax: ")) << msg;
      EXPECT_NE(msg.find(row.error), std::string::npos) << row.input << ": got \"" << msg << "\"";
    }
  }
}

TEST(ParsePath, EveryAcceptedPathRoundTripsThroughStr) {
  for (const auto& row : rows()) {
    auto got = parse_path(row.input, row.syntax);
    if (!got) continue;
    auto again = parse_path(got->str(), row.syntax);
    ASSERT_TRUE(again) << got->str();
    EXPECT_EQ(*again, *got);
    // Without a source route, str() is what was sent (Postmaster is canonicalised).
    if (row.input.find("<@") == std::string::npos && row.want && !row.want->domain.empty()) {
      EXPECT_EQ(got->str(), row.input);
    }
  }
}

TEST(ParsePath, Utf8AllowedIsAStrictSuperset) {
  // Everything valid without SMTPUTF8 stays valid with it, and means the same.
  for (const auto& row : rows()) {
    if (!row.ok || row.syntax.allow_utf8) continue;
    AddressSyntax utf8 = row.syntax;
    utf8.allow_utf8 = true;
    auto got = parse_path(row.input, utf8);
    ASSERT_TRUE(got) << row.input;
    EXPECT_EQ(got->mailbox, row.want);
  }
}

TEST(ParseMailbox, Rows) {
  struct MRow {
    std::string input;
    bool utf8;
    std::optional<Mailbox> want;  // nullopt: error
  };
  const MRow mrows[] = {
      {"user@example.com", false, Mailbox{"user", "example.com"}},
      {"\"a b\"@example.com", false, Mailbox{"\"a b\"", "example.com"}},
      {"u@[IPv6:::1]", false, Mailbox{"u", "[IPv6:::1]"}},
      {"j\xc3\xb6rg@example.com", true, Mailbox{"j\xc3\xb6rg", "example.com"}},
      {"j\xc3\xb6rg@example.com", false, std::nullopt},
      {"<user@example.com>", false, std::nullopt},
      {"", false, std::nullopt},
      {"Postmaster", false, std::nullopt},
      {"@a:user@example.com", false, std::nullopt},
      {"user@example.com ", false, std::nullopt},
      {k64 + "@" + k63 + "." + k63 + "." + std::string(62, 'c'), false, std::nullopt},  // 255 > 254
      {k64 + "@" + k63 + "." + k63 + "." + std::string(61, 'c'), false,
       Mailbox{k64, k63 + "." + k63 + "." + std::string(61, 'c')}},
  };
  for (const auto& row : mrows) {
    auto got = parse_mailbox(row.input, row.utf8);
    if (row.want) {
      ASSERT_TRUE(got) << row.input << ": " << got.error().message();
      EXPECT_EQ(*got, *row.want);
    } else {
      ASSERT_FALSE(got) << row.input;
      EXPECT_TRUE(got.error().message().starts_with("bad address syntax: ")) << got.error().message();
    }
  }
}

TEST(ParseMailbox, LengthLimitsAreLayered) {
  // A 255-octet domain is the most DNS allows, but with "a@" in front the
  // mailbox is over 254, the most a 256-octet path can hold.
  std::string d255 = k63 + "." + k63 + "." + k63 + "." + k63;
  ASSERT_EQ(d255.size(), 255u);
  struct LRow {
    std::string input;
    std::string error;
  };
  const LRow lrows[] = {
      {"a@" + d255, "bad address syntax: address longer than 254 octets"},
      {"a@" + d255 + "b", "bad address syntax: domain longer than 255 octets"},
      {k64 + "a@example.com", "bad address syntax: local part longer than 64 octets"},
  };
  for (const auto& row : lrows) {
    auto got = parse_mailbox(row.input, false);
    ASSERT_FALSE(got) << row.input;
    EXPECT_EQ(got.error().message(), row.error);
  }
}

TEST(Mailbox, Accessors) {
  struct ARow {
    Mailbox m;
    std::string str;
    bool literal;
    std::optional<std::string> address;
    std::string key;
  };
  const ARow arows[] = {
      {{"User", "Example.COM"}, "User@Example.COM", false, std::nullopt, "example.com"},
      {{"u", "[192.0.2.1]"}, "u@[192.0.2.1]", true, "192.0.2.1", "[192.0.2.1]"},
      {{"u", "[IPv6:2001:DB8::1]"}, "u@[IPv6:2001:DB8::1]", true, "2001:DB8::1", "[ipv6:2001:db8::1]"},
      {{"u", "[ipv6:::1]"}, "u@[ipv6:::1]", true, "::1", "[ipv6:::1]"},
      {{"u", "[x-tag:abc]"}, "u@[x-tag:abc]", true, "x-tag:abc", "[x-tag:abc]"},
      {{"Postmaster", ""}, "Postmaster", false, std::nullopt, ""},
      {{"j\xc3\xb6rg", "B\xc3\x9c\x43HER.example"}, "j\xc3\xb6rg@B\xc3\x9c\x43HER.example", false, std::nullopt,
       "b\xc3\x9c\x63her.example"},  // ASCII only is lower-cased
  };
  for (const auto& row : arows) {
    EXPECT_EQ(row.m.str(), row.str);
    EXPECT_EQ(row.m.is_address_literal(), row.literal) << row.str;
    EXPECT_EQ(row.m.literal_address(), row.address) << row.str;
    EXPECT_EQ(row.m.domain_key(), row.key) << row.str;
  }
  EXPECT_EQ(Path{}.str(), "<>");
  EXPECT_TRUE(Path{}.is_null());
  EXPECT_EQ((Path{Mailbox{"a", "b"}}.str()), "<a@b>");
  EXPECT_EQ((Path{Mailbox{"Postmaster", ""}}.str()), "<Postmaster>");
}

TEST(HasNonAscii, Rows) {
  EXPECT_FALSE(has_non_ascii(""));
  EXPECT_FALSE(has_non_ascii("user@example.com\x7f\x01"));
  EXPECT_TRUE(has_non_ascii("j\xc3\xb6rg@example.com"));
  EXPECT_TRUE(has_non_ascii("\x80"));
  EXPECT_TRUE(has_non_ascii("abc\xff"));
}

}  // namespace
}  // namespace tern::smtp
