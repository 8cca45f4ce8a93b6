#include "smtp/received.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "smtp/mail_date.h"

namespace tern::smtp {
namespace {

using namespace std::chrono;

constexpr std::optional<long> kNoDelay = std::nullopt;

sys_seconds utc(int y, unsigned mo, unsigned d, int h, int mi, int s) {
  return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s};
}

std::string read_fixture(const std::string& name) {
  std::ifstream in(std::string(TERN_SOURCE_DIR) + "/tests/smtp/fixtures/received/" + name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string to_crlf(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) out += '\r';
    out += s[i];
  }
  return out;
}

std::string to_lf(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
    out += s[i];
  }
  return out;
}

struct WantHop {
  std::string from;
  std::string by;
  std::string with;
  std::string id;
  std::string for_rcpt;
  std::string timestamp;  // RFC 3339, "" when missing
  std::optional<long> delay;
};

void expect_hops(const std::vector<Hop>& got, const std::vector<WantHop>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(what + " hop " + std::to_string(i + 1) + ": " + got[i].raw);
    EXPECT_EQ(got[i].from, want[i].from);
    EXPECT_EQ(got[i].by, want[i].by);
    EXPECT_EQ(got[i].with, want[i].with);
    EXPECT_EQ(got[i].id, want[i].id);
    EXPECT_EQ(got[i].for_rcpt, want[i].for_rcpt);
    EXPECT_EQ(got[i].timestamp ? format_rfc3339(*got[i].timestamp) : "", want[i].timestamp);
    std::optional<long> delay;
    if (got[i].delay) delay = static_cast<long>(got[i].delay->count());
    EXPECT_EQ(delay, want[i].delay);
    EXPECT_FALSE(got[i].raw.empty() && !want[i].from.empty());
  }
}

struct FixtureCase {
  const char* file;
  std::vector<WantHop> hops;  // oldest first
};

const std::vector<FixtureCase> kFixtures = {
    {"postfix_plain.eml",
     {{"", "client.example.org", "", "4ZxY1q0B6Kz8rSl", "", "2025-11-25T09:59:58Z", kNoDelay},
      {"client.example.org [192.0.2.7]", "mx.example.com", "ESMTP", "4ZxY1r2C7Lz9sTm", "bob@example.com",
       "2025-11-25T10:00:01Z", 3}}},
    {"postfix_tls.eml",
     {{"[10.0.0.5] (host-10-0-0-5.internal.sender.example)", "mail.sender.example", "ESMTPSA", "4ZxY2r1C7Lz9sTk", "",
       "2025-11-25T10:00:00Z", kNoDelay},
      {"mail.sender.example [198.51.100.25]", "mx.example.com", "ESMTPS", "4ZxY2s3D8Mz9tUn", "bob@example.com",
       "2025-11-25T10:00:02Z", 2}}},
    {"exim.eml",
     {{"alice", "client.example", "local", "1tFon-000ABA-0a", "b@c.example", "2025-11-25T09:59:58Z", kNoDelay},
      {"[192.0.2.1] (helo=client.example)", "mx.example", "esmtpsa", "1tFoo-000ABC-2x", "b@c.example",
       "2025-11-25T11:00:00Z", 3602},
      {"mx.example [198.51.100.9]", "store.c.example", "esmtps", "1tFop-000XYZ-1b", "b@c.example",
       "2025-11-25T11:00:03Z", 3}}},
    {"gmail.eml",
     {{"", "mail-sor-f41.google.com", "SMTP", "a1-20020a170902ee0100b001c3f0a1b2c3sor1234567plb.41.2025.11.25.02.00.03",
       "bob@gmail.com", "2025-11-25T10:00:03Z", kNoDelay},
      {"mail-sor-f41.google.com [209.85.220.41]", "mx.google.com", "SMTPS",
       "a1-20020a170902ee0100b001c3f0a1b2c3sor1234567plb.41.2025.11.25.02.00.04", "bob@gmail.com",
       "2025-11-25T10:00:04Z", 1},
      {"", "2002:a05:6a10:8e0b:b0:5c5:1a2b:3c4d", "SMTP", "x12csp1234567pxc", "", "2025-11-25T10:01:09Z", 65}}},
    {"microsoft365.eml",
     {{"mail.sender.example [198.51.100.25]", "AM4PEPF00027A5F.mail.protection.outlook.com", "Microsoft SMTP Server",
       "15.20.7316.30", "", "2025-11-25T10:01:00Z", kNoDelay},
      {"AM4PEPF00027A5F.eurprd04.prod.outlook.com [2603:10a6:20b:2ab::5]", "AM6PR04MB1234.eurprd04.prod.outlook.com",
       "Microsoft SMTP Server", "15.20.7316.30", "", "2025-11-25T10:01:01Z", 1},
      {"AM6PR04MB1234.eurprd04.prod.outlook.com [2603:10a6:20b:12::34]", "DB9PR04MB1111.eurprd04.prod.outlook.com",
       "Microsoft SMTP Server", "15.20.7316.30", "", "2025-11-25T10:01:02Z", 1},
      {"DB9PR04MB1111.eurprd04.prod.outlook.com [2603:10a6:10:2c3::9]", "AM6PR04MB9999.eurprd04.prod.outlook.com",
       "HTTPS", "", "", "2025-11-25T10:01:03Z", 1}}},
    {"qmail.eml",
     {{"unknown (helo=client.example) [192.0.2.1]", "mail.example.com", "SMTP", "", "", "2025-11-25T10:00:00Z",
       kNoDelay},
      {"", "", "", "", "", "2025-11-25T10:00:00Z", 0},
      {"", "", "", "", "", "2025-11-25T10:00:02Z", 2}}},
    {"sendmail.eml",
     {{"", "host", "", "5APA0wXs001121", "", "2025-11-25T09:59:58Z", kNoDelay},
      {"localhost [127.0.0.1]", "host", "ESMTP", "5APA0w9a001122", "x@y", "2025-11-25T09:59:59Z", 1},
      {"host [1.2.3.4]", "mx.example.com", "ESMTP", "5APA0x1q012345", "x@y", "2025-11-25T10:00:01Z", 2}}},
    {"amazon_ses.eml",
     {{"app-server.example.com (ec2-203-0-113-10.compute-1.amazonaws.com) [203.0.113.10]",
       "email-smtp.amazonaws.com", "SMTP", "0123456789abcdef-01234567-89ab-cdef-0123-456789abcdef-000000",
       "bob@example.org", "2025-11-25T09:00:01Z", kNoDelay},
      {"a8-30.smtp-out.amazonses.com [54.240.8.30]", "mx.example.org", "ESMTPS", "4Zabc12345z9", "bob@example.org",
       "2025-11-25T09:00:03Z", 2}}},
    {"tern.eml",
     {{"app.example.com [192.0.2.10]", "relay.example.com", "ESMTPSA", "01J9Z3ABCDEF", "bob@example.org",
       "2025-11-25T10:00:00Z", kNoDelay},
      {"relay.example.com [198.51.100.5]", "mx.example.org", "ESMTPS", "4ZxY9z8Y7Xz6wVu", "bob@example.org",
       "2025-11-25T10:00:01Z", 1}}},
    {"multi_hop.eml",
     {{"", "app.example.com", "", "4ZxY1q0B6Kz8rSl", "", "2025-11-25T09:59:58Z", kNoDelay},
      {"app.example.com [192.0.2.10]", "relay.example.com", "ESMTPSA", "01J9Z3ABCDEF", "bob@gmail.com",
       "2025-11-25T10:00:00Z", 2},
      {"relay.example.com [198.51.100.5]", "smarthost.example.net", "esmtps", "1tFoo-000ABC-2x", "bob@gmail.com",
       "2025-11-25T09:59:59Z", -1},  // the smarthost's clock is behind: the sign stays
      {"smarthost.example.net [203.0.113.9]", "mx.google.com", "ESMTPS",
       "5b1f17b1804b1-47a1b2c3d4esi1234567f9.55.2025.11.25.02.00.04", "bob@gmail.com", "2025-11-25T10:00:04Z", 5},
      {"", "2002:a05:6a10:8e0b:b0:5c5:1a2b:3c4d", "SMTP", "x12csp1234567pxc", "", "2025-11-25T10:01:09Z", 65}}},
    {"broken.eml",
     {{"a.example [192.0.2.1]", "b.example", "ESMTP", "ABC", "", "2025-11-25T10:00:00Z", kNoDelay},
      {"", "", "", "", "", "2025-11-25T10:00:05Z", 5},  // unclosed comment: the date is still found
      {"x.example", "y.example", "", "", "", "", kNoDelay},
      {"", "", "", "", "", "", kNoDelay},  // empty field: kept
      {"", "", "", "", "", "", kNoDelay},  // garbage: kept
      {"c.example", "d.example", "SMTP", "Z", "", "2025-11-25T10:00:09Z", kNoDelay}}},
};

TEST(ReceivedChain, FixturesEveryFieldOfEveryHop) {
  for (const FixtureCase& c : kFixtures) {
    std::string message = read_fixture(c.file);
    expect_hops(received_chain(message), c.hops, c.file);
  }
}

// The same hops whatever the line ends, with more bytes after the message,
// and with the body cut off.
TEST(ReceivedChain, LineEndsAndTrailingBytes) {
  for (const FixtureCase& c : kFixtures) {
    std::string message = read_fixture(c.file);
    expect_hops(received_chain(to_crlf(message)), c.hops, std::string(c.file) + " (CRLF)");
    expect_hops(received_chain(to_lf(message)), c.hops, std::string(c.file) + " (LF)");
    expect_hops(received_chain(message + "Received: from late.example by x; Tue, 25 Nov 2025 12:00:00 +0000\r\n"),
                c.hops, std::string(c.file) + " (trailing bytes)");
    size_t header_end = to_lf(message).find("\n\n");
    ASSERT_NE(header_end, std::string::npos) << c.file;
    expect_hops(received_chain(to_lf(message).substr(0, header_end + 1)), c.hops,
                std::string(c.file) + " (header only)");
  }
}

// Every prefix of every fixture (a message cut off anywhere) parses without
// crashing and never yields more hops than the whole message.
TEST(ReceivedChain, EveryPrefix) {
  for (const FixtureCase& c : kFixtures) {
    std::string message = read_fixture(c.file);
    for (size_t n = 0; n <= message.size(); ++n) {
      std::vector<Hop> hops = received_chain(std::string_view(message).substr(0, n));
      ASSERT_LE(hops.size(), c.hops.size()) << c.file << " cut at " << n;
    }
  }
}

TEST(ReceivedChain, FindsFieldsUnfoldedInHeaderOrder) {
  std::string message =
      "X-Received: by a; Tue, 25 Nov 2025 10:00:00 +0000\r\n"
      "Received: from one\r\n"
      "\tby two;\r\n"
      " Tue, 25 Nov 2025 10:00:01 +0000\r\n"
      "Received-SPF: pass\r\n"
      "received : from three by four; Tue, 25 Nov 2025 10:00:00 +0000\r\n"
      "RECEIVED:from five by six\r\n"
      "Subject: x\r\n"
      "\r\n"
      "Received: from body by body\r\n";
  std::vector<std::string> fields = find_received_fields(message);
  std::vector<std::string> want = {"from one\tby two; Tue, 25 Nov 2025 10:00:01 +0000",
                                   "from three by four; Tue, 25 Nov 2025 10:00:00 +0000", "from five by six"};
  EXPECT_EQ(fields, want);
  EXPECT_TRUE(find_received_fields("").empty());
  EXPECT_TRUE(find_received_fields("\r\nReceived: from a by b\r\n").empty());  // no header section at all
  EXPECT_EQ(find_received_fields("Received: from a by b").size(), 1u);         // no final line end
  EXPECT_EQ(find_received_fields("Received: from a\n by b\n").front(), "from a by b");
}

struct ParseCase {
  const char* body;
  WantHop want;
};

// Single fields: clause order, missing clauses, comments, unknown clauses.
const std::vector<ParseCase> kParseCases = {
    {"by b.example from a.example; Tue, 25 Nov 2025 10:00:00 +0000",
     {"a.example", "b.example", "", "", "", "2025-11-25T10:00:00Z", kNoDelay}},
    {"for <r@x> id 42 with LMTP by b from a; Tue, 25 Nov 2025 10:00:00 +0000",
     {"a", "b", "LMTP", "42", "r@x", "2025-11-25T10:00:00Z", kNoDelay}},
    {"FROM a BY b WITH esmtp ID 7 FOR <r@x>; Tue, 25 Nov 2025 10:00:00 +0000",
     {"a", "b", "esmtp", "7", "r@x", "2025-11-25T10:00:00Z", kNoDelay}},
    {"from a by b via c with d id e for f; Tue, 25 Nov 2025 10:00:00 +0000",
     {"a", "b", "d", "e", "f", "2025-11-25T10:00:00Z", kNoDelay}},
    {"from a", {"a", "", "", "", "", "", kNoDelay}},
    {"by b", {"", "b", "", "", "", "", kNoDelay}},
    {"; Tue, 25 Nov 2025 10:00:00 +0000", {"", "", "", "", "", "2025-11-25T10:00:00Z", kNoDelay}},
    {"", {"", "", "", "", "", "", kNoDelay}},
    {";;;", {"", "", "", "", "", "", kNoDelay}},
    {"((((", {"", "", "", "", "", "", kNoDelay}},
    {")))) from a", {"a", "", "", "", "", "", kNoDelay}},
    // nested comments and quoted pairs never leak clauses
    {"from a (b (by evil) [192.0.2.1]) by c (x \\) by evil2) with SMTP; Tue, 25 Nov 2025 10:00:00 +0000",
     {"a (b) [192.0.2.1]", "c", "SMTP", "", "", "2025-11-25T10:00:00Z", kNoDelay}},
    // a ';' inside a comment does not start the date
    {"from a by b (x; y) id 1; Tue, 25 Nov 2025 10:00:00 +0000",
     {"a", "b", "", "1", "", "2025-11-25T10:00:00Z", kNoDelay}},
    // the date is after the LAST ';'
    {"from a by b; junk; Tue, 25 Nov 2025 10:00:00 +0000",
     {"a", "b", "", "", "", "2025-11-25T10:00:00Z", kNoDelay}},
    // a value that reads like a keyword is still the value
    {"from by (by [192.0.2.1]) by with with id id for; Tue, 25 Nov 2025 10:00:00 +0000",
     {"by [192.0.2.1]", "with", "id", "for", "", "2025-11-25T10:00:00Z", kNoDelay}},
    // the first of a repeated clause wins
    {"from a by b by c id 1 id 2", {"a", "b", "", "1", "", "", kNoDelay}},
    // unknown clauses and comments in between
    {"from a (a [192.0.2.1]) (envelope-from <x@y>) (using TLSv1.2 with cipher X) by b (Postfix) with ESMTPS "
     "(version=TLS1_2 cipher=ECDHE-RSA-AES256-GCM-SHA384 bits=256/256) id Q for <r@x> (Google Transport Security);"
     " Tue, 25 Nov 2025 10:00:00 +0000",
     {"a [192.0.2.1]", "b", "ESMTPS", "Q", "r@x", "2025-11-25T10:00:00Z", kNoDelay}},
    // reverse name, "unknown", forged marks, trailing dots
    {"from helo.example (rdns.example [192.0.2.7] (may be forged)) by b",
     {"helo.example (rdns.example) [192.0.2.7]", "b", "", "", "", "", kNoDelay}},
    {"from helo.example (unknown [192.0.2.7]) by b", {"helo.example [192.0.2.7]", "b", "", "", "", "", kNoDelay}},
    {"from Helo.Example (helo.example. [192.0.2.7]) by b", {"Helo.Example [192.0.2.7]", "b", "", "", "", "", kNoDelay}},
    // only the TCP-info comment describes the host; qmail's (HELO x) may come first
    {"from a (a [192.0.2.1]) (using 10.0.0.1 helo=x [10.0.0.2]) by b", {"a [192.0.2.1]", "b", "", "", "", "", kNoDelay}},
    {"from a (unknown) (using [10.0.0.1]) by b", {"a", "b", "", "", "", "", kNoDelay}},
    {"from a (HELO b) (c 192.0.2.1) (HELO d) by e", {"a (c) [192.0.2.1]", "e", "", "", "", "", kNoDelay}},
    // IPv6 literal and bare forms
    {"from h ([IPv6:2001:db8::1]) by b", {"h [2001:db8::1]", "b", "", "", "", "", kNoDelay}},
    {"from h (ipv6:2001:db8::1 2001:db8::2) by b", {"h [2001:db8::2]", "b", "", "", "", "", kNoDelay}},
    {"from [IPv6:2001:db8::1] by b", {"[IPv6:2001:db8::1]", "b", "", "", "", "", kNoDelay}},
    {"from [IPv6:2001:db8::1] ([IPv6:2001:db8::1]) by b", {"[IPv6:2001:db8::1]", "b", "", "", "", "", kNoDelay}},
    // Exim's HELO report, with and without the reverse name
    {"from h.example ([192.0.2.1]:54321 helo=other.example) by b",
     {"h.example (helo=other.example) [192.0.2.1]", "b", "", "", "", "", kNoDelay}},
    {"from [192.0.2.1] (port=5000 helo=[192.0.2.1]) by b", {"[192.0.2.1]", "b", "", "", "", "", kNoDelay}},
    {"from [192.0.2.1] (port=5000 helo=[192.0.2.9]) by b",
     {"[192.0.2.1] (helo=[192.0.2.9])", "b", "", "", "", "", kNoDelay}},
    // "with" keeps its words up to a comment or a clause
    {"from a by b with Microsoft SMTP Server id 15.20", {"a", "b", "Microsoft SMTP Server", "15.20", "", "", kNoDelay}},
    // a quoted local part with spaces stays one word inside <>; a ';' ends
    // the <> (format_received never writes one there), and the date is still found
    {"from a by b for <\"x; y\"@z>; Tue, 25 Nov 2025 10:00:00 +0000",
     {"a", "b", "", "", "<\"x", "2025-11-25T10:00:00Z", kNoDelay}},
    {"from a by b for <\"x y\"@z>; Tue, 25 Nov 2025 10:00:00 +0000",
     {"a", "b", "", "", "\"x y\"@z", "2025-11-25T10:00:00Z", kNoDelay}},
    // an unclosed '<' or '"' is an ordinary character
    {"from a<b by c; Tue, 25 Nov 2025 10:00:00 +0000", {"a<b", "c", "", "", "", "2025-11-25T10:00:00Z", kNoDelay}},
    {"from a\"b by c; Tue, 25 Nov 2025 10:00:00 +0000", {"a\"b", "c", "", "", "", "2025-11-25T10:00:00Z", kNoDelay}},
    // a bad date leaves the timestamp empty, the clauses intact
    {"from a by b; yesterday", {"a", "b", "", "", "", "", kNoDelay}},
};

TEST(ParseReceived, Table) {
  for (const ParseCase& c : kParseCases) {
    Hop hop = parse_received(c.body);
    expect_hops({hop}, {c.want}, std::string("\"") + c.body + "\"");
  }
}

TEST(ParseReceived, RawIsUnfoldedAndTrimmed) {
  EXPECT_EQ(parse_received("  from a\r\n\tby b;\r\n Tue, 25 Nov 2025 10:00:00 +0000\r\n").raw,
            "from a\tby b; Tue, 25 Nov 2025 10:00:00 +0000");
}

struct FormatCase {
  const char* what;
  ReceivedFields fields;
  const char* want;
};

ReceivedFields base_fields() {
  ReceivedFields f;
  f.helo = "helo";
  f.client_ip = "192.0.2.7";
  f.by = "relay.example.com";
  f.protocol = ReceivedProtocol::Esmtpsa;
  f.id = "01J9Z3";
  f.for_rcpt = "bob@example.org";
  f.time = utc(2025, 11, 25, 4, 29, 44);
  return f;
}

template <class Fn>
ReceivedFields with(Fn fn) {
  ReceivedFields f = base_fields();
  fn(f);
  return f;
}

const std::vector<FormatCase> kFormatCases = {
    {"the brief's example", base_fields(),
     "Received: from helo ([192.0.2.7])\r\n"
     "\tby relay.example.com (tern) with ESMTPSA id 01J9Z3\r\n"
     "\tfor <bob@example.org>; Tue, 25 Nov 2025 04:29:44 +0000\r\n"},
    {"reverse name and TLS", with([](ReceivedFields& f) {
       f.helo = "app.example.com";
       f.reverse_name = "app.example.com";
       f.client_ip = "192.0.2.10";
       f.tls = ReceivedTls{"TLSv1.3", "TLS_AES_256_GCM_SHA384"};
       f.id = "01J9Z3ABCDEF";
       f.time = utc(2025, 11, 25, 10, 0, 0);
     }),
     "Received: from app.example.com (app.example.com [192.0.2.10])\r\n"
     "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)\r\n"
     "\tby relay.example.com (tern) with ESMTPSA id 01J9Z3ABCDEF\r\n"
     "\tfor <bob@example.org>; Tue, 25 Nov 2025 10:00:00 +0000\r\n"},
    {"IPv6, no recipient: the date gets its own line", with([](ReceivedFields& f) {
       f.client_ip = "2001:db8::1";
       f.protocol = ReceivedProtocol::Esmtp;
       f.for_rcpt.reset();
     }),
     "Received: from helo ([IPv6:2001:db8::1])\r\n"
     "\tby relay.example.com (tern) with ESMTP id 01J9Z3;\r\n"
     "\tTue, 25 Nov 2025 04:29:44 +0000\r\n"},
    {"no client address (tern always has one)", with([](ReceivedFields& f) {
       f.client_ip.clear();
       f.reverse_name = "rdns.example";
       f.tls = ReceivedTls{"1.2.3.4", "[5.6.7.8]"};
     }),
     "Received: from helo (unknown)\r\n"
     "\t(using 1.2.3.4 with cipher [5.6.7.8])\r\n"
     "\tby relay.example.com (tern) with ESMTPSA id 01J9Z3\r\n"
     "\tfor <bob@example.org>; Tue, 25 Nov 2025 04:29:44 +0000\r\n"},
    {"Postfix's 'unknown' is no reverse name, in any case", with([](ReceivedFields& f) {
       f.reverse_name = "UNKNOWN.";
       f.for_rcpt.reset();
       f.id.clear();
     }),
     "Received: from helo ([192.0.2.7])\r\n"
     "\tby relay.example.com (tern) with ESMTPSA;\r\n"
     "\tTue, 25 Nov 2025 04:29:44 +0000\r\n"},
    {"no id, no recipient, HELO", with([](ReceivedFields& f) {
       f.id.clear();
       f.for_rcpt = "";
       f.protocol = ReceivedProtocol::Smtp;
     }),
     "Received: from helo ([192.0.2.7])\r\n"
     "\tby relay.example.com (tern) with SMTP;\r\n"
     "\tTue, 25 Nov 2025 04:29:44 +0000\r\n"},
    {"hostile HELO, empty names, unknown or unusable reverse name", with([](ReceivedFields& f) {
       f.helo = "evil (by x; Tue) <a>\r\n\"q\"\\";
       f.reverse_name = "unknown";
       f.by = "";
       f.id = "a b";
       f.for_rcpt = "<x;y>\r\n";
       f.tls = ReceivedTls{"TLS(1)", ""};
     }),
     "Received: from evil??by?x??Tue???a????q?? ([192.0.2.7])\r\n"
     "\t(using TLS?1? with cipher unknown)\r\n"
     "\tby unknown (tern) with ESMTPSA id a?b\r\n"
     "\tfor <?x?y??" "?>; Tue, 25 Nov 2025 04:29:44 +0000\r\n"},
    {"long names fold between clauses", with([](ReceivedFields& f) {
       f.helo = "a-very-long-client-name.with.many.labels.department.example.com";
       f.reverse_name = "a-very-long-reverse-name.with.many.labels.isp.example.net";
       f.client_ip = "2001:db8:1234:5678:9abc:def0:1234:5678";
       f.by = "relay-with-a-long-name.datacenter-one.region-two.example.com";
       f.id = "01J9Z3ABCDEFGHJKMNPQRSTVWXYZ";
       f.for_rcpt = "someone.with.a.long.address@subdomain.example.org";
     }),
     "Received: from a-very-long-client-name.with.many.labels.department.example.com\r\n"
     "\t(a-very-long-reverse-name.with.many.labels.isp.example.net\r\n"
     "\t[IPv6:2001:db8:1234:5678:9abc:def0:1234:5678])\r\n"
     "\tby relay-with-a-long-name.datacenter-one.region-two.example.com (tern)\r\n"
     "\twith ESMTPSA id 01J9Z3ABCDEFGHJKMNPQRSTVWXYZ\r\n"
     "\tfor <someone.with.a.long.address@subdomain.example.org>;\r\n"
     "\tTue, 25 Nov 2025 04:29:44 +0000\r\n"},
};

TEST(FormatReceived, Table) {
  for (const FormatCase& c : kFormatCases) EXPECT_EQ(format_received(c.fields), c.want) << c.what;
}

TEST(FormatReceived, LinesStayUnder78WhenNamesAreShort) {
  for (const FormatCase& c : kFormatCases) {
    std::string field = format_received(c.fields);
    size_t start = 0;
    while (start < field.size()) {
      size_t end = field.find("\r\n", start);
      ASSERT_NE(end, std::string::npos) << c.what;
      EXPECT_LE(end - start, 78u) << c.what << ": " << field.substr(start, end - start);
      start = end + 2;
    }
  }
}

// The fixture's tern field is exactly what format_received writes.
TEST(FormatReceived, MatchesTheTernFixture) {
  ReceivedFields f = base_fields();
  f.helo = "app.example.com";
  f.reverse_name = "app.example.com";
  f.client_ip = "192.0.2.10";
  f.tls = ReceivedTls{"TLSv1.3", "TLS_AES_256_GCM_SHA384"};
  f.id = "01J9Z3ABCDEF";
  f.time = utc(2025, 11, 25, 10, 0, 0) + milliseconds{999};  // whole seconds are written
  std::string fixture = read_fixture("tern.eml");
  EXPECT_NE(fixture.find(format_received(f)), std::string::npos) << format_received(f);
}

// Round trip: what tern writes, tern reads back field for field.
TEST(FormatReceived, ParsesBack) {
  for (const FormatCase& c : kFormatCases) {
    std::string field = format_received(c.fields);
    std::vector<Hop> hops = received_chain(field + "Subject: x\r\n\r\nbody\r\n");
    ASSERT_EQ(hops.size(), 1u) << c.what;
    const Hop& hop = hops[0];
    const ReceivedFields& f = c.fields;
    std::string helo = received_token(f.helo);
    std::string want_from = helo;
    bool reverse_written =
        !f.client_ip.empty() && f.reverse_name && *f.reverse_name != "unknown" && *f.reverse_name != "UNKNOWN." &&
        *f.reverse_name != helo;
    if (reverse_written) want_from += " (" + *f.reverse_name + ")";
    if (!f.client_ip.empty()) want_from += " [" + f.client_ip + "]";
    EXPECT_EQ(hop.from, want_from) << c.what;
    EXPECT_EQ(hop.by, received_token(f.by)) << c.what;
    EXPECT_EQ(hop.with, to_string(f.protocol)) << c.what;
    EXPECT_EQ(hop.id, f.id.empty() ? "" : received_token(f.id)) << c.what;
    EXPECT_EQ(hop.timestamp, floor<seconds>(f.time)) << c.what;
  }
}

TEST(FormatReceived, ReceivedTokenKeepsGoodNamesAndNeutralisesTheRest) {
  struct Row {
    const char* in;
    const char* want;
  };
  const Row rows[] = {
      {"mail.example.com", "mail.example.com"},
      {"[192.0.2.1]", "[192.0.2.1]"},
      {"[IPv6:2001:db8::1]", "[IPv6:2001:db8::1]"},
      {"xn--bcher-kva.example", "xn--bcher-kva.example"},
      {"", "unknown"},
      {"a b", "a?b"},
      {"a\tb\r\nc", "a?b??c"},
      {"a(b)c", "a?b?c"},
      {"<a>;\"\\", "?a????"},
      {"\x7f", "?"},
      {"caf\xc3\xa9", "caf\xc3\xa9"},  // UTF-8 (SMTPUTF8) passes
  };
  for (const Row& r : rows) EXPECT_EQ(received_token(r.in), r.want) << r.in;
}

TEST(FormatReceived, ProtocolKeywords) {
  struct Row {
    bool ehlo, tls, auth;
    const char* want;
  };
  const Row rows[] = {{false, false, false, "SMTP"},  {false, true, true, "SMTP"},
                      {true, false, false, "ESMTP"},  {true, true, false, "ESMTPS"},
                      {true, false, true, "ESMTPA"},  {true, true, true, "ESMTPSA"}};
  for (const Row& r : rows) EXPECT_EQ(to_string(received_protocol(r.ehlo, r.tls, r.auth)), r.want);
}

}  // namespace
}  // namespace tern::smtp
