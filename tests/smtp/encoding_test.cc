#include "smtp/encoding.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

namespace tern::smtp {
namespace {

using namespace std::string_literals;

struct Base64Row {
  std::string bytes;
  std::string text;
};

// RFC 4648 §10 test vectors, plus binary and AUTH PLAIN.
const Base64Row kBase64Rows[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
    {"\0user\0pass"s, "AHVzZXIAcGFzcw=="},
    {"\xff\xfe\xfd", "//79"},
    {"\xfb\xff", "+/8="},
    {"Username:", "VXNlcm5hbWU6"},
};

TEST(Base64, EncodesAndDecodesVectors) {
  for (const auto& row : kBase64Rows) {
    EXPECT_EQ(base64_encode(row.bytes), row.text) << row.text;
    auto decoded = base64_decode(row.text);
    ASSERT_TRUE(decoded.has_value()) << row.text;
    EXPECT_EQ(*decoded, row.bytes) << row.text;
  }
}

TEST(Base64, RoundTripsEveryByteAndLength) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t n = 0; n <= all.size(); n += 1) {
    std::string bytes = all.substr(all.size() - n);
    auto back = base64_decode(base64_encode(bytes));
    ASSERT_TRUE(back.has_value()) << n;
    EXPECT_EQ(*back, bytes) << n;
  }
}

TEST(Base64, RejectsMalformed) {
  const std::string kBad[] = {
      "=",          // "=" alone is AUTH's empty response, not base64
      "Zg",         // missing padding
      "Zg=",        // short padding
      "Zm9",        // length not a multiple of 4
      "Zg===",      // too much padding
      "====",       // padding only
      "Z===",       // three '=' in a quad
      "Zg==Zm8=",   // padding in the middle
      "Zm=v",       // '=' before a data character
      "Zm9v\r\n",   // whitespace
      "Zm9 v",      //
      "Zm9v-_8=",   // base64url alphabet
      "Zh==",       // non-zero bits under the padding (RFC 4648 §3.5)
      "Zm9=",       // same, one '='
      "Zm9v\0AAA"s,  // NUL
      "\xc3\xa9\x41\x41",  // non-ASCII
  };
  for (const auto& text : kBad) EXPECT_FALSE(base64_decode(text).has_value()) << text;
}

struct XtextRow {
  std::string bytes;
  std::string text;
};

const XtextRow kXtextRows[] = {
    {"", ""},
    {"QQ4567", "QQ4567"},
    {"a+b=c", "a+2Bb+3Dc"},
    {"with space", "with+20space"},
    {"rfc822;bob@example.org", "rfc822;bob@example.org"},
    {"<>", "<>"},
    {"tab\there", "tab+09here"},
    {"\r\n", "+0D+0A"},
    {"\x7f\x80\xff", "+7F+80+FF"},
    {"\0"s, "+00"},
    {"~!\"#$%&'()*,-./:;<>?@[\\]^_`{|}", "~!\"#$%&'()*,-./:;<>?@[\\]^_`{|}"},
};

TEST(Xtext, EncodesAndDecodesRows) {
  for (const auto& row : kXtextRows) {
    EXPECT_EQ(xtext_encode(row.bytes), row.text) << row.text;
    auto decoded = xtext_decode(row.text);
    ASSERT_TRUE(decoded.has_value()) << row.text;
    EXPECT_EQ(*decoded, row.bytes) << row.text;
  }
}

TEST(Xtext, DecodesNeedlessHexchars) {
  // RFC 3461 allows "+XX" for any octet; the canonical re-encoding is shorter.
  EXPECT_EQ(xtext_decode("+41+42C"), std::optional<std::string>("ABC"));
  EXPECT_EQ(xtext_encode("ABC"), "ABC");
}

TEST(Xtext, RoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  auto back = xtext_decode(xtext_encode(all));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, all);
}

TEST(Xtext, RejectsMalformed) {
  const std::string kBad[] = {
      "a=b",        // raw '='
      "+",          // truncated hexchar
      "+4",         //
      "ab+",        //
      "+4g",        // not hex
      "+2b",        // lower-case hex (RFC 3461 hexchar is upper case)
      "+zz",        //
      "a b",        // space
      "a\tb",       // control
      "a\x7f",      // DEL
      "caf\xc3\xa9",  // raw non-ASCII
      "\0"s,        // NUL
  };
  for (const auto& text : kBad) EXPECT_FALSE(xtext_decode(text).has_value()) << text;
}

}  // namespace
}  // namespace tern::smtp
