#include "smtp/command.h"

#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

namespace tern::smtp {

// Failure messages show commands in their wire form (found by ADL;
// static, so other test files may print these types their own way).
static void PrintTo(const Command& c, std::ostream* os) {
  std::string wire = encode(c);
  *os << wire.substr(0, wire.size() - 2);
}

namespace {

using namespace std::string_literals;

Path path(std::string local, std::string domain) { return Path{Mailbox{std::move(local), std::move(domain)}}; }
Path null_path() { return Path{}; }

Command cmd(Verb verb, std::string argument = "") {
  Command c = make_simple(verb);
  c.argument = std::move(argument);
  return c;
}
Command mail(Path p, MailParams params = {}) { return make_mail(p, params); }
Command rcpt(Path p, RcptParams params = {}) { return make_rcpt(p, params); }
Command bdat(std::uint64_t n, bool last) {
  Command c = make_simple(Verb::Bdat);
  c.chunk_size = n;
  c.last_chunk = last;
  return c;
}

MailParams size(std::uint64_t n) {
  MailParams m;
  m.size = n;
  return m;
}

struct Row {
  std::string line;
  std::variant<Command, std::string> want;  // a Command, or the reply's summary()
  CommandSyntax syntax = {};
};

std::string describe(const Command& c) { return encode(c); }

std::vector<Row> rows() {
  MailParams all;
  all.size = 12345;
  all.body = BodyType::EightBitMime;
  all.smtputf8 = true;
  all.ret = DsnRet::Hdrs;
  all.envid = "QQ314159 id=1";
  all.auth = "<e+mc2@example.com>";
  RcptParams dsn;
  dsn.notify_success = true;
  dsn.notify_failure = true;
  dsn.orcpt = "rfc822;Bob@Example.org";
  RcptParams never;
  never.notify_never = true;
  RcptParams delay;
  delay.notify_delay = true;
  MailParams body7;
  body7.body = BodyType::SevenBit;
  MailParams binary;
  binary.body = BodyType::BinaryMime;
  MailParams ret_full;
  ret_full.ret = DsnRet::Full;
  MailParams utf8;
  utf8.smtputf8 = true;
  MailParams auth_null;
  auth_null.auth = "<>";
  RcptParams orcpt_utf8;
  orcpt_utf8.orcpt = "utf-8;j\xc3\xb6rg@example.com";

  const std::string kNotRecognized = "500 5.5.2 Error: command not recognized";
  const std::string kControl = "501 5.5.2 Syntax error: control character in command";
  const std::string kMailSyntax = "501 5.5.4 Syntax: MAIL FROM:<address>";
  const std::string kRcptSyntax = "501 5.5.4 Syntax: RCPT TO:<address>";
  const std::string kBadSender = "501 5.1.7 Bad sender address syntax";
  const std::string kBadRcpt = "501 5.1.3 Bad recipient address syntax";
  const std::string kParamSyntax = "501 5.5.4 Syntax error in parameters";

  return {
      // Verbs, case-insensitive; unknown ones.
      {"EHLO client.example.org", cmd(Verb::Ehlo, "client.example.org")},
      {"ehlo client.example.org", cmd(Verb::Ehlo, "client.example.org")},
      {"EhLo [192.0.2.7]", cmd(Verb::Ehlo, "[192.0.2.7]")},
      {"EHLO [IPv6:2001:db8::7]", cmd(Verb::Ehlo, "[IPv6:2001:db8::7]")},
      {"HELO client", cmd(Verb::Helo, "client")},
      {"EHLO my_laptop.local", cmd(Verb::Ehlo, "my_laptop.local")},  // junk, tolerated
      {"EHLO localhost ", cmd(Verb::Ehlo, "localhost")},
      {"EHLO  two  spaces", cmd(Verb::Ehlo, "two  spaces")},
      {"EHLO " + std::string(255, 'h'), cmd(Verb::Ehlo, std::string(255, 'h'))},
      {"EHLO " + std::string(256, 'h'), "501 5.5.4 Syntax: EHLO hostname"},
      {"EHLO", "501 5.5.4 Syntax: EHLO hostname"},
      {"EHLO ", "501 5.5.4 Syntax: EHLO hostname"},
      {"HELO", "501 5.5.4 Syntax: HELO hostname"},
      {"EHLO caf\xc3\xa9", "501 5.5.4 Syntax: EHLO hostname"},
      {"EHLO\tclient", kControl},
      {"EHLOclient", kNotRecognized},
      {"", kNotRecognized},
      {" EHLO client", kNotRecognized},
      {"XCLIENT ADDR=1.2.3.4", kNotRecognized},
      {"TURN", kNotRecognized},
      {"MAILFROM:<a@b>", kNotRecognized},
      {"DAT\xc3\x80", kNotRecognized},
      {"GET / HTTP/1.1", kNotRecognized},
      // No-argument verbs.
      {"DATA", cmd(Verb::Data)},
      {"data", cmd(Verb::Data)},
      {"RSET", cmd(Verb::Rset)},
      {"QUIT", cmd(Verb::Quit)},
      {"STARTTLS", cmd(Verb::StartTls)},
      {"starttls", cmd(Verb::StartTls)},
      {"QUIT ", cmd(Verb::Quit)},
      {"DATA now", "501 5.5.4 Syntax: DATA"},
      {"RSET x", "501 5.5.4 Syntax: RSET"},
      {"QUIT bye", "501 5.5.4 Syntax: QUIT"},
      {"STARTTLS please", "501 5.5.4 Syntax: STARTTLS"},
      // Optional-text verbs.
      {"NOOP", cmd(Verb::Noop)},
      {"NOOP hello there", cmd(Verb::Noop, "hello there")},
      {"HELP", cmd(Verb::Help)},
      {"HELP MAIL", cmd(Verb::Help, "MAIL")},
      {"EXPN", cmd(Verb::Expn)},
      {"EXPN staff", cmd(Verb::Expn, "staff")},
      {"VRFY bob", cmd(Verb::Vrfy, "bob")},
      {"VRFY <bob@example.org>", cmd(Verb::Vrfy, "<bob@example.org>")},
      {"VRFY", "501 5.5.4 Syntax: VRFY address"},
      {"VRFY   ", "501 5.5.4 Syntax: VRFY address"},
      {"NOOP a\x01", kControl},
      {"NOOP a\x7f", kControl},
      {"NOOP a\0b"s, kControl},
      {"NOOP a\rb", kControl},
      {"NOOP a\nb", kControl},
      // MAIL FROM.
      {"MAIL FROM:<user@example.com>", mail(path("user", "example.com"))},
      {"mail from:<user@example.com>", mail(path("user", "example.com"))},
      {"MAIL FROM: <user@example.com>", mail(path("user", "example.com"))},
      {"MAIL FROM:   <user@example.com>", mail(path("user", "example.com"))},
      {"MAIL FROM:<user@example.com> ", mail(path("user", "example.com"))},
      {"MAIL FROM:<>", mail(null_path())},
      {"MAIL FROM:<@relay.example:user@example.com>", mail(path("user", "example.com"))},
      {"MAIL FROM:<\"a> b\"@example.com>", mail(path("\"a> b\"", "example.com"))},
      {"MAIL FROM:<u@[IPv6:::1]>", mail(path("u", "[IPv6:::1]"))},
      {"MAIL FROM:<user@example.com> SIZE=12345 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ314159+20id+3D1 "
       "AUTH=<e+2Bmc2@example.com>",
       mail(path("user", "example.com"), all)},
      {"MAIL FROM:<user@example.com> auth=<e+2Bmc2@example.com> envid=QQ314159+20id+3D1 ret=hdrs smtputf8 "
       "body=8bitmime size=12345",
       mail(path("user", "example.com"), all)},
      {"MAIL FROM:<user@example.com>  SIZE=12345   BODY=8BITMIME  SMTPUTF8 RET=HDRS ENVID=QQ314159+20id+3D1 "
       "AUTH=<e+2Bmc2@example.com>  ",
       mail(path("user", "example.com"), all)},
      {"MAIL FROM:<a@b> SIZE=0", mail(path("a", "b"), size(0))},
      {"MAIL FROM:<a@b> SIZE=007", mail(path("a", "b"), size(7))},
      {"MAIL FROM:<a@b> SIZE=18446744073709551615", mail(path("a", "b"), size(18446744073709551615u))},
      {"MAIL FROM:<a@b> SIZE=18446744073709551616", "501 5.5.4 Bad SIZE parameter"},
      {"MAIL FROM:<a@b> SIZE=99999999999999999999", "501 5.5.4 Bad SIZE parameter"},
      {"MAIL FROM:<a@b> SIZE=000000000000000000001", "501 5.5.4 Bad SIZE parameter"},  // 21 digits
      {"MAIL FROM:<a@b> SIZE=-1", "501 5.5.4 Bad SIZE parameter"},
      {"MAIL FROM:<a@b> SIZE=1k", "501 5.5.4 Bad SIZE parameter"},
      {"MAIL FROM:<a@b> SIZE=+1", "501 5.5.4 Bad SIZE parameter"},
      {"MAIL FROM:<a@b> SIZE", "501 5.5.4 Bad SIZE parameter"},
      {"MAIL FROM:<a@b> SIZE=", kParamSyntax},
      {"MAIL FROM:<a@b> SIZE=1 SIZE=1", "501 5.5.4 Duplicate SIZE parameter"},
      {"MAIL FROM:<a@b> BODY=7BIT", mail(path("a", "b"), body7)},
      {"MAIL FROM:<a@b> BODY=binarymime", mail(path("a", "b"), binary)},
      {"MAIL FROM:<a@b> BODY=8BIT", "501 5.5.4 Bad BODY parameter"},
      {"MAIL FROM:<a@b> BODY", "501 5.5.4 Bad BODY parameter"},
      {"MAIL FROM:<a@b> BODY=7BIT body=7bit", "501 5.5.4 Duplicate BODY parameter"},
      {"MAIL FROM:<a@b> SMTPUTF8", mail(path("a", "b"), utf8)},
      {"MAIL FROM:<a@b> SMTPUTF8=yes", "501 5.5.4 Bad SMTPUTF8 parameter"},
      {"MAIL FROM:<a@b> SMTPUTF8 SMTPUTF8", "501 5.5.4 Duplicate SMTPUTF8 parameter"},
      {"MAIL FROM:<a@b> RET=FULL", mail(path("a", "b"), ret_full)},
      {"MAIL FROM:<a@b> RET=BODY", "501 5.5.4 Bad RET parameter"},
      {"MAIL FROM:<a@b> RET=FULL RET=HDRS", "501 5.5.4 Duplicate RET parameter"},
      {"MAIL FROM:<a@b> ENVID=" + std::string(100, 'e'),
       mail(path("a", "b"), [] { MailParams m; m.envid = std::string(100, 'e'); return m; }())},
      {"MAIL FROM:<a@b> ENVID=" + std::string(101, 'e'), "501 5.5.4 Bad ENVID parameter"},
      {"MAIL FROM:<a@b> ENVID=a+0D+0AX-Injected:+20yes", "501 5.5.4 Bad ENVID parameter"},
      {"MAIL FROM:<a@b> ENVID=caf+C3+A9", "501 5.5.4 Bad ENVID parameter"},
      {"MAIL FROM:<a@b> ENVID=a+2", "501 5.5.4 Bad ENVID parameter"},
      {"MAIL FROM:<a@b> ENVID=a+2b", "501 5.5.4 Bad ENVID parameter"},
      {"MAIL FROM:<a@b> ENVID", "501 5.5.4 Bad ENVID parameter"},
      {"MAIL FROM:<a@b> ENVID=x ENVID=y", "501 5.5.4 Duplicate ENVID parameter"},
      {"MAIL FROM:<a@b> AUTH=<>", mail(path("a", "b"), auth_null)},
      {"MAIL FROM:<a@b> AUTH", "501 5.5.4 Bad AUTH parameter"},
      {"MAIL FROM:<a@b> AUTH=+00", "501 5.5.4 Bad AUTH parameter"},
      {"MAIL FROM:<a@b> AUTH=<> AUTH=<>", "501 5.5.4 Duplicate AUTH parameter"},
      {"MAIL FROM:<a@b> FOO=bar", "555 5.5.4 Unsupported option: FOO"},
      {"MAIL FROM:<a@b> x-Custom", "555 5.5.4 Unsupported option: x-Custom"},
      {"MAIL FROM:<a@b> NOTIFY=NEVER", "555 5.5.4 Unsupported option: NOTIFY"},  // a RCPT parameter
      {"MAIL FROM:<a@b> =x", kParamSyntax},
      {"MAIL FROM:<a@b> -X", kParamSyntax},
      {"MAIL FROM:<a@b> SIZE=1=2", kParamSyntax},
      {"MAIL FROM:<a@b> FOO=caf\xc3\xa9", kParamSyntax},
      {"MAIL FROM:<a@b>SIZE=1", kMailSyntax},
      {"MAIL FROM:<j\xc3\xb6rg@example.com> SMTPUTF8",
       mail(path("j\xc3\xb6rg", "example.com"), utf8)},
      {"MAIL FROM:<j\xc3\xb6rg@example.com>", kBadSender},
      {"MAIL FROM:<j\xc3\xb6rg@example.com>", kBadSender, CommandSyntax{.utf8_in_transaction = true}},
      {"MAIL", kMailSyntax},
      {"MAIL ", kMailSyntax},
      {"MAIL FROM:", kMailSyntax},
      {"MAIL FROM: ", kMailSyntax},
      {"MAIL FROM", kMailSyntax},
      {"MAIL TO:<a@b>", kMailSyntax},
      {"MAIL  FROM:<a@b>", kMailSyntax},
      {"MAIL FROM :<a@b>", kMailSyntax},
      {"MAIL FROM:user@example.com", kBadSender},
      {"MAIL FROM:<user@example.com", kBadSender},
      {"MAIL FROM:<user@@example.com>", kBadSender},
      {"MAIL FROM:<user@example.com.>", kBadSender},
      {"MAIL FROM:<Postmaster>", kBadSender},
      {"MAIL FROM:<\"unbalanced@example.com>", kBadSender},
      {"MAIL FROM:<a@b>\t", kControl},
      // RCPT TO.
      {"RCPT TO:<bob@example.org>", rcpt(path("bob", "example.org"))},
      {"rcpt to: <bob@example.org>", rcpt(path("bob", "example.org"))},
      {"RCPT TO:<Postmaster>", rcpt(path("Postmaster", ""))},
      {"RCPT TO:<postMASTER>", rcpt(path("Postmaster", ""))},
      {"RCPT TO:<@a,@b:bob@example.org>", rcpt(path("bob", "example.org"))},
      {"RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob@Example.org",
       rcpt(path("bob", "example.org"), dsn)},
      {"RCPT TO:<bob@example.org> orcpt=RFC822;Bob@Example.org notify=failure,success",
       rcpt(path("bob", "example.org"), dsn)},
      {"RCPT TO:<bob@example.org> NOTIFY=NEVER", rcpt(path("bob", "example.org"), never)},
      {"RCPT TO:<bob@example.org> NOTIFY=delay", rcpt(path("bob", "example.org"), delay)},
      {"RCPT TO:<bob@example.org> NOTIFY=NEVER,SUCCESS", "501 5.5.4 Bad NOTIFY parameter"},
      {"RCPT TO:<bob@example.org> NOTIFY=DELAY,NEVER", "501 5.5.4 Bad NOTIFY parameter"},
      {"RCPT TO:<bob@example.org> NOTIFY=SUCCESS,SUCCESS", "501 5.5.4 Bad NOTIFY parameter"},
      {"RCPT TO:<bob@example.org> NOTIFY=SUCCESS,", "501 5.5.4 Bad NOTIFY parameter"},
      {"RCPT TO:<bob@example.org> NOTIFY=,SUCCESS", "501 5.5.4 Bad NOTIFY parameter"},
      {"RCPT TO:<bob@example.org> NOTIFY=ALWAYS", "501 5.5.4 Bad NOTIFY parameter"},
      {"RCPT TO:<bob@example.org> NOTIFY", "501 5.5.4 Bad NOTIFY parameter"},
      {"RCPT TO:<bob@example.org> NOTIFY=DELAY NOTIFY=DELAY", "501 5.5.4 Duplicate NOTIFY parameter"},
      {"RCPT TO:<bob@example.org> ORCPT=utf-8;j+C3+B6rg@example.com", rcpt(path("bob", "example.org"), orcpt_utf8)},
      {"RCPT TO:<bob@example.org> ORCPT=rfc822", "501 5.5.4 Bad ORCPT parameter"},
      {"RCPT TO:<bob@example.org> ORCPT=;bob@example.org", "501 5.5.4 Bad ORCPT parameter"},
      {"RCPT TO:<bob@example.org> ORCPT=rfc822;", "501 5.5.4 Bad ORCPT parameter"},
      {"RCPT TO:<bob@example.org> ORCPT=rfc822;a+0D+0Ab", "501 5.5.4 Bad ORCPT parameter"},
      {"RCPT TO:<bob@example.org> ORCPT=rfc(822;a", "501 5.5.4 Bad ORCPT parameter"},
      {"RCPT TO:<bob@example.org> ORCPT=rfc822;a+zz", "501 5.5.4 Bad ORCPT parameter"},
      {"RCPT TO:<bob@example.org> ORCPT=rfc822;a ORCPT=rfc822;b", "501 5.5.4 Duplicate ORCPT parameter"},
      {"RCPT TO:<bob@example.org> SIZE=10", "555 5.5.4 Unsupported option: SIZE"},  // a MAIL parameter
      {"RCPT TO:<bob@example.org> FOO", "555 5.5.4 Unsupported option: FOO"},
      {"RCPT TO:<j\xc3\xb6rg@example.com>", kBadRcpt},
      {"RCPT TO:<j\xc3\xb6rg@example.com>", rcpt(path("j\xc3\xb6rg", "example.com")),
       CommandSyntax{.utf8_in_transaction = true}},
      {"RCPT TO:<>", kBadRcpt},
      {"RCPT TO:<bob>", kBadRcpt},
      {"RCPT TO:bob@example.org", kBadRcpt},
      {"RCPT TO:<bob@example.org", kBadRcpt},
      {"RCPT TO:<bob@-example.org>", kBadRcpt},
      {"RCPT TO:<bob@[300.1.1.1]>", kBadRcpt},
      {"RCPT", kRcptSyntax},
      {"RCPT TO:", kRcptSyntax},
      {"RCPT FROM:<bob@example.org>", kRcptSyntax},
      {"RCPT TO <bob@example.org>", kRcptSyntax},
      {"RCPT TO:<bob@example.org>x", kRcptSyntax},
      // BDAT.
      {"BDAT 0 LAST", bdat(0, true)},
      {"BDAT 1000", bdat(1000, false)},
      {"bdat 86 last", bdat(86, true)},
      {"BDAT  5   LAST ", bdat(5, true)},
      {"BDAT 18446744073709551615", bdat(18446744073709551615u, false)},
      {"BDAT 18446744073709551616", "501 5.5.4 Syntax: BDAT chunk-size [LAST]"},
      {"BDAT", "501 5.5.4 Syntax: BDAT chunk-size [LAST]"},
      {"BDAT LAST", "501 5.5.4 Syntax: BDAT chunk-size [LAST]"},
      {"BDAT -1", "501 5.5.4 Syntax: BDAT chunk-size [LAST]"},
      {"BDAT 0x10", "501 5.5.4 Syntax: BDAT chunk-size [LAST]"},
      {"BDAT 10 FIRST", "501 5.5.4 Syntax: BDAT chunk-size [LAST]"},
      {"BDAT 10 LAST now", "501 5.5.4 Syntax: BDAT chunk-size [LAST]"},
      // AUTH.
      {"AUTH PLAIN", make_auth("PLAIN", std::nullopt)},
      {"auth plain AHVzZXIAcGFzcw==", make_auth("PLAIN", "AHVzZXIAcGFzcw==")},
      {"AUTH LOGIN", make_auth("LOGIN", std::nullopt)},
      {"AUTH PLAIN =", make_auth("PLAIN", "=")},
      {"AUTH cram-md5", make_auth("CRAM-MD5", std::nullopt)},
      {"AUTH SCRAM-SHA-256-PLUS biwsbj11c2VyLHI9", make_auth("SCRAM-SHA-256-PLUS", "biwsbj11c2VyLHI9")},
      {"AUTH", "501 5.5.4 Syntax: AUTH mechanism [initial-response]"},
      {"AUTH PLAIN a b", "501 5.5.4 Syntax: AUTH mechanism [initial-response]"},
      {"AUTH PL@IN", "501 5.5.4 Syntax: AUTH mechanism [initial-response]"},
      {"AUTH ABCDEFGHIJKLMNOPQRSTU", "501 5.5.4 Syntax: AUTH mechanism [initial-response]"},  // 21 chars
      {"AUTH PLAIN dXNl*cg==", "501 5.5.4 Syntax: AUTH mechanism [initial-response]"},
  };
}

TEST(ParseCommand, Rows) {
  for (const auto& row : rows()) {
    auto got = parse_command(row.line, row.syntax);
    if (const auto* want = std::get_if<Command>(&row.want)) {
      const auto* c = std::get_if<Command>(&got);
      ASSERT_NE(c, nullptr) << row.line << " -> " << std::get<Reply>(got).summary();
      EXPECT_EQ(*c, *want) << row.line << " -> " << describe(*c);
    } else {
      const auto* r = std::get_if<Reply>(&got);
      ASSERT_NE(r, nullptr) << row.line << " parsed as " << describe(std::get<Command>(got));
      EXPECT_EQ(r->summary(), std::get<std::string>(row.want)) << row.line;
      EXPECT_TRUE(r->permanent()) << row.line;
    }
  }
}

TEST(ParseCommand, AcceptedRowsRoundTripThroughEncode) {
  for (const auto& row : rows()) {
    auto got = parse_command(row.line, row.syntax);
    const auto* c = std::get_if<Command>(&got);
    if (c == nullptr) continue;
    std::string wire = encode(*c);
    ASSERT_TRUE(wire.ends_with("\r\n")) << wire;
    std::string line = wire.substr(0, wire.size() - 2);
    EXPECT_EQ(line.find_first_of("\r\n"), std::string::npos) << wire;
    auto again = parse_command(line, row.syntax);
    ASSERT_TRUE(std::holds_alternative<Command>(again)) << wire;
    EXPECT_EQ(std::get<Command>(again), *c) << wire;
    EXPECT_EQ(encode(std::get<Command>(again)), wire);
  }
}

TEST(Encode, CanonicalWireForm) {
  MailParams mp;
  mp.size = 123;
  mp.body = BodyType::EightBitMime;
  RcptParams rp;
  rp.notify_success = true;
  rp.notify_delay = true;
  rp.orcpt = "rfc822;a+b=c@example.org";
  MailParams dsn;
  dsn.ret = DsnRet::Full;
  dsn.envid = "id 1=2";
  dsn.auth = "<>";
  dsn.smtputf8 = true;
  dsn.body = BodyType::BinaryMime;
  RcptParams bare_orcpt;
  bare_orcpt.orcpt = "x@y";  // no type: rfc822 assumed
  RcptParams never;
  never.notify_never = true;
  never.notify_failure = true;  // NEVER wins: the other flags cannot be sent with it
  struct ERow {
    Command c;
    std::string wire;
  };
  const ERow erows[] = {
      {make_ehlo("relay.example.com"), "EHLO relay.example.com\r\n"},
      {make_helo("relay.example.com"), "HELO relay.example.com\r\n"},
      {make_mail(Path{Mailbox{"a", "b"}}, mp), "MAIL FROM:<a@b> SIZE=123 BODY=8BITMIME\r\n"},
      {make_mail(Path{}), "MAIL FROM:<>\r\n"},
      {make_mail(Path{}, dsn), "MAIL FROM:<> BODY=BINARYMIME SMTPUTF8 RET=FULL ENVID=id+201+3D2 AUTH=<>\r\n"},
      {make_rcpt(Path{Mailbox{"bob", "example.org"}}, rp),
       "RCPT TO:<bob@example.org> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a+2Bb+3Dc@example.org\r\n"},
      {make_rcpt(Path{Mailbox{"Postmaster", ""}}), "RCPT TO:<Postmaster>\r\n"},
      {make_rcpt(Path{Mailbox{"b", "c"}}, bare_orcpt), "RCPT TO:<b@c> ORCPT=rfc822;x@y\r\n"},
      {make_rcpt(Path{Mailbox{"b", "c"}}, never), "RCPT TO:<b@c> NOTIFY=NEVER\r\n"},
      {make_simple(Verb::Data), "DATA\r\n"},
      {make_simple(Verb::Rset), "RSET\r\n"},
      {make_simple(Verb::Noop), "NOOP\r\n"},
      {make_simple(Verb::Quit), "QUIT\r\n"},
      {make_simple(Verb::StartTls), "STARTTLS\r\n"},
      {make_auth("plain", "AHVzZXIAcGFzcw=="), "AUTH PLAIN AHVzZXIAcGFzcw==\r\n"},
      {make_auth("login", std::nullopt), "AUTH LOGIN\r\n"},
      {make_auth("PLAIN", "="), "AUTH PLAIN =\r\n"},
      {bdat(4096, false), "BDAT 4096\r\n"},
      {bdat(0, true), "BDAT 0 LAST\r\n"},
      {cmd(Verb::Vrfy, "bob"), "VRFY bob\r\n"},
      {cmd(Verb::Help), "HELP\r\n"},
  };
  for (const auto& row : erows) EXPECT_EQ(encode(row.c), row.wire);
}

TEST(Encode, ClientCommandsParseBack) {
  // What ClientSession sends, the server side reads back unchanged.
  MailParams mp;
  mp.size = 26214400;
  mp.body = BodyType::EightBitMime;
  mp.smtputf8 = true;
  mp.ret = DsnRet::Hdrs;
  mp.envid = "01J9Z3ABCDEF";
  RcptParams rp;
  rp.notify_failure = true;
  rp.notify_delay = true;
  rp.orcpt = "rfc822;B\xc3\xb6" "b@example.org";
  const Command commands[] = {
      make_ehlo("relay.example.com"),
      make_helo("[192.0.2.1]"),
      make_mail(Path{Mailbox{"\"odd > local\"", "example.com"}}, mp),
      make_mail(Path{Mailbox{"j\xc3\xb6rg", "b\xc3\xbc\x63her.example"}}, mp),
      make_mail(Path{}, MailParams{}),
      make_rcpt(Path{Mailbox{"bob", "[IPv6:2001:db8::1]"}}, rp),
      make_rcpt(Path{Mailbox{"Postmaster", ""}}),
      make_simple(Verb::Data), make_simple(Verb::Rset), make_simple(Verb::Noop), make_simple(Verb::Quit),
      make_simple(Verb::StartTls), make_auth("PLAIN", "AHVzZXIAcGFzcw=="), make_auth("LOGIN", std::nullopt),
      bdat(123456789, true),
  };
  for (const auto& c : commands) {
    std::string wire = encode(c);
    auto got = parse_command(std::string_view(wire).substr(0, wire.size() - 2),
                             CommandSyntax{.utf8_in_transaction = true});
    ASSERT_TRUE(std::holds_alternative<Command>(got)) << wire << " -> " << std::get<Reply>(got).summary();
    EXPECT_EQ(std::get<Command>(got), c) << wire;
  }
}

TEST(VerbName, Names) {
  struct VRow {
    Verb v;
    std::string_view name;
  };
  const VRow vrows[] = {
      {Verb::Ehlo, "EHLO"}, {Verb::Helo, "HELO"}, {Verb::Mail, "MAIL"}, {Verb::Rcpt, "RCPT"},
      {Verb::Data, "DATA"}, {Verb::Bdat, "BDAT"}, {Verb::Rset, "RSET"}, {Verb::Noop, "NOOP"},
      {Verb::Quit, "QUIT"}, {Verb::Vrfy, "VRFY"}, {Verb::Expn, "EXPN"}, {Verb::Help, "HELP"},
      {Verb::StartTls, "STARTTLS"}, {Verb::Auth, "AUTH"},
  };
  for (const auto& row : vrows) {
    EXPECT_EQ(verb_name(row.v), row.name);
    // Every verb name is recognised by the parser, in any case.
    std::string lower;
    for (char ch : row.name) lower += (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
    auto got = parse_command(lower);
    if (auto* c = std::get_if<Command>(&got)) {
      EXPECT_EQ(c->verb, row.v);
    } else {
      EXPECT_NE(std::get<Reply>(got).code, 500) << lower;  // recognised, just missing an argument
    }
  }
}

TEST(ParseCommand, EveryControlCharacterIsRefused) {
  for (int ch = 0; ch < 128; ++ch) {
    if (ch >= 32 && ch != 127) continue;
    for (std::string line : {"NOOP x"s + char(ch), "MAIL FROM:<a@b>"s + char(ch), char(ch) + "QUIT"s,
                             "EHLO a"s + char(ch) + "b"}) {
      auto got = parse_command(line);
      ASSERT_TRUE(std::holds_alternative<Reply>(got)) << ch;
      EXPECT_EQ(std::get<Reply>(got).summary(), "501 5.5.2 Syntax error: control character in command") << ch;
    }
  }
}

}  // namespace
}  // namespace tern::smtp
