// parse_capabilities on EHLO replies as real servers send them. The smtp-sink
// and aiosmtpd fixtures were captured from the Debian packages on this
// machine (postfix 3.7.11, aiosmtpd 1.4.3); the others are the published
// shapes of those servers' replies, their host names and addresses changed.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "smtp/client_session.h"
#include "smtp/reply.h"

namespace tern::smtp {
namespace {

struct Row {
  const char* name;
  std::string wire;
  Capabilities want;
};

Capabilities caps(std::string server, std::optional<std::uint64_t> size, std::vector<std::string> auth,
                  std::initializer_list<bool Capabilities::*> flags) {
  Capabilities c;
  c.esmtp = true;
  c.server_name = std::move(server);
  c.size = size;
  c.auth_mechanisms = std::move(auth);
  for (auto f : flags) c.*f = true;
  return c;
}

using C = Capabilities;

const std::vector<Row>& rows() {
  static const std::vector<Row> r = {
      {"Postfix 3.7 on port 25",
       "250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n250-STARTTLS\r\n"
       "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n",
       caps("mail.example.org", 10240000, {},
            {&C::pipelining, &C::starttls, &C::enhanced_status_codes, &C::eightbitmime, &C::dsn, &C::smtputf8,
             &C::chunking})},
      {"Postfix submission after STARTTLS, with broken_sasl_auth_clients",
       "250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n"
       "250-AUTH PLAIN LOGIN\r\n250-AUTH=PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n"
       "250-SMTPUTF8\r\n250 CHUNKING\r\n",
       caps("mail.example.org", 10240000, {"PLAIN", "LOGIN"},
            {&C::pipelining, &C::enhanced_status_codes, &C::eightbitmime, &C::dsn, &C::smtputf8, &C::chunking})},
      {"Postfix smtp-sink (captured): empty last line",
       "250-smtp-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250-XCLIENT NAME HELO\r\n"
       "250-XFORWARD NAME ADDR PROTO HELO\r\n250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n250 \r\n",
       caps("smtp-sink", std::nullopt, {"PLAIN", "LOGIN"},
            {&C::pipelining, &C::eightbitmime, &C::enhanced_status_codes, &C::dsn})},
      {"aiosmtpd 1.4.3 (captured)",
       "250-localhost\r\n250-SIZE 33554432\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-AUTH LOGIN PLAIN\r\n250 HELP\r\n",
       caps("localhost", 33554432, {"LOGIN", "PLAIN"}, {&C::eightbitmime, &C::smtputf8})},
      {"Exim 4.96",
       "250-mail.example.com Hello relay.example.com [192.0.2.1]\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n"
       "250-PIPELINING\r\n250-PIPE_CONNECT\r\n250-AUTH PLAIN LOGIN\r\n250-CHUNKING\r\n250-STARTTLS\r\n"
       "250-PRDR\r\n250 HELP\r\n",
       caps("mail.example.com", 52428800, {"PLAIN", "LOGIN"},
            {&C::eightbitmime, &C::pipelining, &C::chunking, &C::starttls})},
      {"Gmail MX (mx.google.com)",
       "250-mx.google.com at your service, [192.0.2.1]\r\n250-SIZE 157286400\r\n250-8BITMIME\r\n250-STARTTLS\r\n"
       "250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n",
       caps("mx.google.com", 157286400, {},
            {&C::eightbitmime, &C::starttls, &C::enhanced_status_codes, &C::pipelining, &C::chunking,
             &C::smtputf8})},
      {"smtp.gmail.com:587 after STARTTLS",
       "250-smtp.gmail.com at your service, [192.0.2.1]\r\n250-SIZE 35882577\r\n250-8BITMIME\r\n"
       "250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH\r\n250-ENHANCEDSTATUSCODES\r\n"
       "250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n",
       caps("smtp.gmail.com", 35882577, {"LOGIN", "PLAIN", "XOAUTH2", "PLAIN-CLIENTTOKEN", "OAUTHBEARER", "XOAUTH"},
            {&C::eightbitmime, &C::enhanced_status_codes, &C::pipelining, &C::chunking, &C::smtputf8})},
      {"Microsoft 365 MX (mail.protection.outlook.com)",
       "250-AM4PEPF00027A5F.mail.protection.outlook.com Hello [192.0.2.1]\r\n250-SIZE 157286400\r\n"
       "250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n250-8BITMIME\r\n"
       "250-BINARYMIME\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n",
       caps("AM4PEPF00027A5F.mail.protection.outlook.com", 157286400, {},
            {&C::pipelining, &C::dsn, &C::enhanced_status_codes, &C::starttls, &C::eightbitmime, &C::chunking,
             &C::smtputf8})},
      {"smtp.office365.com:587 after STARTTLS",
       "250-LO4P123CA0123.outlook.office365.com Hello [192.0.2.1]\r\n250-SIZE 157286400\r\n250-PIPELINING\r\n"
       "250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-AUTH LOGIN XOAUTH2\r\n250-8BITMIME\r\n250-BINARYMIME\r\n"
       "250-CHUNKING\r\n250 SMTPUTF8\r\n",
       caps("LO4P123CA0123.outlook.office365.com", 157286400, {"LOGIN", "XOAUTH2"},
            {&C::pipelining, &C::dsn, &C::enhanced_status_codes, &C::eightbitmime, &C::chunking, &C::smtputf8})},
      {"one line: no extensions", "250 mx.example.org\r\n", caps("mx.example.org", std::nullopt, {}, {})},
      {"lower case, tabs, repeated AUTH, bad SIZE",
       "250-mx.example.org\r\n250-pipelining\r\n250-auth\tplain  cram-md5\r\n250-Auth=Login\r\n"
       "250-AUTH PLAIN\r\n250-size 99999999999999999999999\r\n250 starttls\r\n",
       caps("mx.example.org", 0, {"PLAIN", "CRAM-MD5", "LOGIN"}, {&C::pipelining, &C::starttls})},
      {"SIZE without a number", "250-mx\r\n250 SIZE\r\n", caps("mx", 0, {}, {})},
      {"SIZE with junk", "250-mx\r\n250 SIZE 10MB\r\n", caps("mx", 0, {}, {})},
      {"keywords must be whole", "250-mx\r\n250-PIPELININGX\r\n250-XSTARTTLS\r\n250 DSNX\r\n", caps("mx", std::nullopt, {}, {})},
  };
  return r;
}

void expect_caps(const Capabilities& got, const Capabilities& want) {
  EXPECT_EQ(got.server_name, want.server_name);
  EXPECT_EQ(got.esmtp, want.esmtp);
  EXPECT_EQ(got.pipelining, want.pipelining);
  EXPECT_EQ(got.starttls, want.starttls);
  EXPECT_EQ(got.eightbitmime, want.eightbitmime);
  EXPECT_EQ(got.smtputf8, want.smtputf8);
  EXPECT_EQ(got.chunking, want.chunking);
  EXPECT_EQ(got.dsn, want.dsn);
  EXPECT_EQ(got.enhanced_status_codes, want.enhanced_status_codes);
  EXPECT_EQ(got.size, want.size);
  EXPECT_EQ(got.auth_mechanisms, want.auth_mechanisms);
}

TEST(Capabilities, RealEhloReplies) {
  for (const Row& row : rows()) {
    SCOPED_TRACE(row.name);
    for (bool bytewise : {false, true}) {
      ReplyParser parser;
      std::optional<Result<Reply>> reply;
      if (bytewise) {
        for (char c : row.wire) {
          ASSERT_FALSE(reply.has_value()) << "reply complete before its last byte";
          parser.feed(std::string_view(&c, 1));
          reply = parser.next();
        }
      } else {
        parser.feed(row.wire);
        reply = parser.next();
      }
      ASSERT_TRUE(reply.has_value());
      ASSERT_TRUE(reply->has_value()) << reply->error().message();
      expect_caps(parse_capabilities(reply->value()), row.want);
    }
  }
}

// The same replies through a session: EHLO's capabilities are what it keeps.
TEST(Capabilities, SessionKeepsThem) {
  for (const Row& row : rows()) {
    SCOPED_TRACE(row.name);
    ClientPolicy policy;
    policy.tls = ClientTls::None;
    ClientSession s(policy);
    s.receive("220 mx ESMTP\r\n");
    s.receive(row.wire);
    expect_caps(s.capabilities(), row.want);
    EXPECT_EQ(s.state(), ClientState::Idle);
  }
}

}  // namespace
}  // namespace tern::smtp
