// The parameter helpers on their own; the full grammar, with every parameter
// row in context, is in command_test.cc.
#include "smtp/command_params.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace tern::smtp {
namespace {

TEST(ParseDecimal, Rows) {
  struct Row {
    std::string text;
    std::size_t max_digits;
    std::optional<std::uint64_t> want;
  };
  const Row rows[] = {
      {"0", 20, 0},
      {"42", 20, 42},
      {"0042", 20, 42},
      {"18446744073709551615", 20, UINT64_MAX},
      {"18446744073709551616", 20, std::nullopt},
      {"99999999999999999999", 20, std::nullopt},
      {"000000000000000000001", 20, std::nullopt},  // 21 digits
      {"000000000000000000001", 21, 1},
      {"", 20, std::nullopt},
      {"-1", 20, std::nullopt},
      {"+1", 20, std::nullopt},
      {"1 ", 20, std::nullopt},
      {"1e3", 20, std::nullopt},
      {"\xd9\xa1", 20, std::nullopt},  // ARABIC-INDIC DIGIT ONE
  };
  for (const auto& row : rows) EXPECT_EQ(parse_decimal(row.text, row.max_digits), row.want) << row.text;
}

TEST(ParseMailParam, DuplicatesAreTrackedAcrossCalls) {
  MailParams params;
  ParamsSeen seen = 0;
  EXPECT_EQ(parse_mail_param("SIZE=10", params, seen), std::nullopt);
  EXPECT_EQ(parse_mail_param("BODY=8BITMIME", params, seen), std::nullopt);
  auto dup = parse_mail_param("size=11", params, seen);
  ASSERT_TRUE(dup.has_value());
  EXPECT_EQ(dup->summary(), "501 5.5.4 Duplicate SIZE parameter");
  EXPECT_EQ(params.size, 10u);
  // A fresh command starts with nothing seen.
  ParamsSeen fresh = 0;
  EXPECT_EQ(parse_mail_param("SIZE=11", params, fresh), std::nullopt);
  EXPECT_EQ(params.size, 11u);
}

TEST(ParseRcptParam, Rows) {
  struct Row {
    std::string token;
    std::string reply;  // empty: accepted
  };
  const Row rows[] = {
      {"NOTIFY=FAILURE", ""},
      {"ORCPT=rfc822;a+40b", ""},
      {"NOTIFY=", "501 5.5.4 Syntax error in parameters"},
      {"=1", "501 5.5.4 Syntax error in parameters"},
      {"NOTIFY=A=B", "501 5.5.4 Syntax error in parameters"},
      {"RET=FULL", "555 5.5.4 Unsupported option: RET"},
      {"ORCPT=rfc822", "501 5.5.4 Bad ORCPT parameter"},
  };
  for (const auto& row : rows) {
    RcptParams params;
    ParamsSeen seen = 0;
    auto got = parse_rcpt_param(row.token, params, seen);
    EXPECT_EQ(got ? got->summary() : "", row.reply) << row.token;
  }
  RcptParams params;
  ParamsSeen seen = 0;
  ASSERT_EQ(parse_rcpt_param("ORCPT=RFC822;a+40b", params, seen), std::nullopt);
  EXPECT_EQ(params.orcpt, "rfc822;a@b");
}

TEST(EncodeParams, Rows) {
  EXPECT_EQ(encode_params(MailParams{}), "");
  EXPECT_EQ(encode_params(RcptParams{}), "");
  MailParams m;
  m.auth = "a b";
  m.envid = "x=y";
  m.ret = DsnRet::Full;
  m.smtputf8 = true;
  m.body = BodyType::SevenBit;
  m.size = 1;
  EXPECT_EQ(encode_params(m), " SIZE=1 BODY=7BIT SMTPUTF8 RET=FULL ENVID=x+3Dy AUTH=a+20b");
  RcptParams r;
  r.notify_delay = true;
  r.notify_failure = true;
  r.orcpt = "utf-8;a;b c";
  EXPECT_EQ(encode_params(r), " NOTIFY=FAILURE,DELAY ORCPT=utf-8;a;b+20c");
}

}  // namespace
}  // namespace tern::smtp
