#include "smtp/reply.h"

#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace tern::smtp {

// Failure messages show replies in their wire form (found by ADL;
// static, so other test files may print these types their own way).
static void PrintTo(const Reply& r, std::ostream* os) { *os << r.encode(); }

namespace {

using namespace std::string_literals;

EnhancedCode ec(int k, int s, int d) { return EnhancedCode{k, s, d}; }

// ---- EnhancedCode ---------------------------------------------------------

TEST(EnhancedCode, ParsesExactly) {
  struct Row {
    std::string text;
    std::optional<EnhancedCode> want;
  };
  const Row rows[] = {
      {"2.0.0", ec(2, 0, 0)},
      {"5.1.1", ec(5, 1, 1)},
      {"4.7.1", ec(4, 7, 1)},
      {"5.123.999", ec(5, 123, 999)},
      {"4.010.07", ec(4, 10, 7)},
      {"3.0.0", std::nullopt},     // class 2, 4 or 5 only
      {"1.0.0", std::nullopt},
      {"6.0.0", std::nullopt},
      {"22.0.0", std::nullopt},
      {"2.1234.0", std::nullopt},  // 1..3 digits
      {"2.0.1234", std::nullopt},
      {"2..0", std::nullopt},
      {"2.0.", std::nullopt},
      {"2.0", std::nullopt},
      {"2.0.0 ", std::nullopt},    // no trailing text
      {" 2.0.0", std::nullopt},
      {"2.0.0.0", std::nullopt},
      {"2.a.0", std::nullopt},
      {"", std::nullopt},
  };
  for (const auto& row : rows) EXPECT_EQ(EnhancedCode::parse(row.text), row.want) << row.text;
}

TEST(EnhancedCode, Str) {
  EXPECT_EQ(ec(5, 1, 1).str(), "5.1.1");
  EXPECT_EQ(ec(4, 123, 45).str(), "4.123.45");
  EXPECT_EQ(EnhancedCode::parse("2.00.000")->str(), "2.0.0");
}

// ---- Reply values -----------------------------------------------------------

TEST(Reply, EncodeRows) {
  struct Row {
    Reply reply;
    std::string wire;
  };
  const Row rows[] = {
      {make_reply(250, "", "OK"), "250 OK\r\n"},
      {make_reply(250, "2.0.0", "Ok"), "250 2.0.0 Ok\r\n"},
      {make_reply(354, "", "End data with <CR><LF>.<CR><LF>"), "354 End data with <CR><LF>.<CR><LF>\r\n"},
      {make_reply(250, "", "relay.example.com\nPIPELINING\nSIZE 26214400"),
       "250-relay.example.com\r\n250-PIPELINING\r\n250 SIZE 26214400\r\n"},
      {make_reply(550, "5.1.1", "no such user\nreally"), "550-5.1.1 no such user\r\n550 5.1.1 really\r\n"},
      {make_reply(250, "", ""), "250\r\n"},
      {make_reply(250, "2.0.0", ""), "250 2.0.0\r\n"},
      {make_reply(250, "", "a\n\nb"), "250-a\r\n250-\r\n250 b\r\n"},
      {make_reply(250, "2.0.0", "\nb"), "250-2.0.0\r\n250 2.0.0 b\r\n"},
      {make_reply(334, "", ""), "334\r\n"},
      {Reply{221, std::nullopt, {}}, "221\r\n"},  // no lines: one empty line
  };
  for (const auto& row : rows) EXPECT_EQ(row.reply.encode(), row.wire) << row.wire;
}

TEST(Reply, MakeReplySplitsLines) {
  Reply r = make_reply(451, "4.7.1", "try later\nplease");
  EXPECT_EQ(r.code, 451);
  EXPECT_EQ(r.enhanced, ec(4, 7, 1));
  EXPECT_EQ(r.lines, (std::vector<std::string>{"try later", "please"}));
}

TEST(Reply, SummaryAndClass) {
  struct Row {
    Reply reply;
    std::string summary;
    ReplyClass klass;
    bool positive, transient, permanent;
  };
  const Row rows[] = {
      {make_reply(451, "4.7.1", "try later"), "451 4.7.1 try later", ReplyClass::Transient, false, true, false},
      {make_reply(250, "", "a\nb\nc"), "250 a b c", ReplyClass::Positive, true, false, false},
      {make_reply(354, "", "go"), "354 go", ReplyClass::Intermediate, true, false, false},
      {make_reply(550, "5.1.1", "bad\tuser\x7f"), "550 5.1.1 bad?user?", ReplyClass::Permanent, false, false, true},
      {make_reply(250, "2.0.0", ""), "250 2.0.0", ReplyClass::Positive, true, false, false},
      {make_reply(221, "", ""), "221", ReplyClass::Positive, true, false, false},
      {Reply{550, std::nullopt, {"a\rb", "", "c"}}, "550 a?b c", ReplyClass::Permanent, false, false, true},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(row.reply.summary(), row.summary);
    EXPECT_EQ(row.reply.klass(), row.klass) << row.summary;
    EXPECT_EQ(row.reply.positive(), row.positive) << row.summary;
    EXPECT_EQ(row.reply.transient(), row.transient) << row.summary;
    EXPECT_EQ(row.reply.permanent(), row.permanent) << row.summary;
  }
}

TEST(ReplyDeathTest, MakeReplyAbortsOnOurBugs) {
  EXPECT_DEATH(make_reply(250, "2.0", "x"), "");
  EXPECT_DEATH(make_reply(250, "5.0.0", "x"), "");  // class disagrees with the code
  EXPECT_DEATH(make_reply(199, "", "x"), "");
  EXPECT_DEATH(make_reply(600, "", "x"), "");
}

// ---- ReplyParser ------------------------------------------------------------

// What feeding one input yields: the replies in order, then either nothing
// more (need_more) or an error whose message contains `error`.
struct Outcome {
  std::vector<Reply> replies;
  std::string error;  // empty: no error
  std::size_t buffered = 0;
};

Outcome drain(ReplyParser& p, Outcome out) {
  while (auto r = p.next()) {
    if (!*r) {
      out.error = r->error().message();
      EXPECT_TRUE(r->error().is_transient()) << out.error;
      // The parser stays failed, even when fed more.
      p.feed("250 OK\r\n");
      auto again = p.next();
      EXPECT_TRUE(again.has_value() && !*again && again->error() == r->error());
      break;
    }
    out.replies.push_back(**r);
  }
  out.buffered = p.buffered();
  return out;
}

Outcome feed_whole(std::string_view input) {
  ReplyParser p;
  p.feed(input);
  return drain(p, {});
}

Outcome feed_bytewise(std::string_view input) {
  ReplyParser p;
  Outcome out;
  for (char c : input) {
    p.feed(std::string_view(&c, 1));
    while (auto r = p.next()) {
      if (!*r) {
        out.error = r->error().message();
        out.buffered = p.buffered();
        return out;
      }
      out.replies.push_back(**r);
    }
  }
  out.buffered = p.buffered();
  return out;
}

Reply R(int code, std::optional<EnhancedCode> e, std::vector<std::string> lines) {
  return Reply{code, e, std::move(lines)};
}

struct ParseRow {
  std::string name;
  std::string input;
  std::vector<Reply> want;
  std::string error;  // substring of the error message; empty: must not fail
};

const std::vector<ParseRow>& parse_rows() {
  static const std::vector<ParseRow> rows = {
      {"simple", "250 OK\r\n", {R(250, std::nullopt, {"OK"})}, ""},
      {"greeting", "220 mx.example.org ESMTP Postfix\r\n",
       {R(220, std::nullopt, {"mx.example.org ESMTP Postfix"})}, ""},
      {"enhanced", "250 2.1.0 Ok\r\n", {R(250, ec(2, 1, 0), {"Ok"})}, ""},
      {"enhanced alone", "250 2.0.0\r\n", {R(250, ec(2, 0, 0), {""})}, ""},
      {"enhanced then space", "250 2.0.0 \r\n", {R(250, ec(2, 0, 0), {""})}, ""},
      {"enhanced leading zeros", "550 5.01.001 x\r\n", {R(550, ec(5, 1, 1), {"x"})}, ""},
      {"enhanced class mismatch kept as text", "250 5.1.1 odd\r\n", {R(250, std::nullopt, {"5.1.1 odd"})}, ""},
      {"enhanced without space is text", "250 2.0.0Ok\r\n", {R(250, std::nullopt, {"2.0.0Ok"})}, ""},
      {"3xx has no enhanced code", "354 3.0.0 go\r\n", {R(354, std::nullopt, {"3.0.0 go"})}, ""},
      {"bare code", "250\r\n", {R(250, std::nullopt, {""})}, ""},
      {"code and space", "250 \r\n", {R(250, std::nullopt, {""})}, ""},
      {"extra spaces kept", "250  two\r\n", {R(250, std::nullopt, {" two"})}, ""},
      {"bare LF accepted", "250 OK\n", {R(250, std::nullopt, {"OK"})}, ""},
      {"bare CR is not a line end", "250 a\rb\r\n", {R(250, std::nullopt, {"a\rb"})}, ""},
      {"CR CR LF keeps one CR", "250 a\r\r\n", {R(250, std::nullopt, {"a\r"})}, ""},
      {"ehlo multi-line",
       "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n"
       "250 8BITMIME\r\n",
       {R(250, std::nullopt, {"mx.example.org", "PIPELINING", "SIZE 10240000", "STARTTLS", "ENHANCEDSTATUSCODES",
                              "8BITMIME"})},
       ""},
      {"multi-line enhanced", "550-5.1.1 no such user\r\n550 5.1.1 here\r\n",
       {R(550, ec(5, 1, 1), {"no such user", "here"})}, ""},
      {"multi-line enhanced only on first", "451-4.7.1 greylisted\r\n451 come back later\r\n",
       {R(451, ec(4, 7, 1), {"greylisted", "come back later"})}, ""},
      {"multi-line other enhanced kept", "550-5.7.1 a\r\n550 5.7.2 b\r\n", {R(550, ec(5, 7, 1), {"a", "5.7.2 b"})},
       ""},
      {"multi-line enhanced only later", "250-x\r\n250 2.0.0 y\r\n", {R(250, std::nullopt, {"x", "2.0.0 y"})}, ""},
      {"empty continuation", "250-\r\n250 end\r\n", {R(250, std::nullopt, {"", "end"})}, ""},
      {"mixed line ends", "250-a\n250-b\r\n250 c\n", {R(250, std::nullopt, {"a", "b", "c"})}, ""},
      {"two replies", "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n",
       {R(250, ec(2, 1, 0), {"Ok"}), R(250, ec(2, 1, 5), {"Ok"})}, ""},
      {"pipelined replies differ", "250 Ok\r\n550 5.1.1 nope\r\n354 go\r\n",
       {R(250, std::nullopt, {"Ok"}), R(550, ec(5, 1, 1), {"nope"}), R(354, std::nullopt, {"go"})}, ""},
      {"lowest code", "200 x\r\n", {R(200, std::nullopt, {"x"})}, ""},
      {"highest code", "599 x\r\n", {R(599, std::nullopt, {"x"})}, ""},
      {"8-bit text kept", "250 caf\xc3\xa9\r\n", {R(250, std::nullopt, {"caf\xc3\xa9"})}, ""},
      {"incomplete line waits", "250 OK", {}, ""},
      {"incomplete multi-line waits", "250-a\r\n250-b\r\n", {}, ""},
      {"CR without LF waits", "250 OK\r", {}, ""},

      {"code too low", "199 x\r\n", {}, "protocol error: reply code 199 out of range"},
      {"code zero", "000 x\r\n", {}, "out of range"},
      {"code too high", "600 x\r\n", {}, "out of range"},
      {"code 999", "999\r\n", {}, "out of range"},
      {"two digits", "25 x\r\n", {}, "protocol error: malformed reply line \"25 x\""},
      {"letters", "abc\r\n", {}, "malformed reply line"},
      {"empty line", "\r\n", {}, "malformed reply line"},
      {"four digits", "2500 x\r\n", {}, "malformed reply line"},
      {"bad separator", "250_x\r\n", {}, "malformed reply line"},
      {"tab separator", "250\tx\r\n", {}, "malformed reply line"},
      {"leading space", " 250 x\r\n", {}, "malformed reply line"},
      {"html", "<html>\r\n", {}, "malformed reply line"},
      {"code changes", "250-a\r\n251 b\r\n", {}, "reply code 251 in a multi-line 250 reply"},
      {"class changes", "250-a\r\n550 b\r\n", {}, "in a multi-line 250 reply"},
      {"garbage continuation", "250-a\r\nxyz\r\n", {}, "malformed reply line"},
      {"good then bad", "250 ok\r\n5xx\r\n", {R(250, std::nullopt, {"ok"})}, "malformed reply line"},
  };
  return rows;
}

void expect_outcome(const ParseRow& row, const Outcome& got, std::string_view how) {
  EXPECT_EQ(got.replies, row.want) << row.name << " (" << how << ")";
  if (row.error.empty()) {
    EXPECT_EQ(got.error, "") << row.name << " (" << how << ")";
  } else {
    EXPECT_NE(got.error.find(row.error), std::string::npos)
        << row.name << " (" << how << "): got \"" << got.error << "\"";
  }
}

TEST(ReplyParser, RowsWholeAndBytewise) {
  for (const auto& row : parse_rows()) {
    expect_outcome(row, feed_whole(row.input), "whole");
    expect_outcome(row, feed_bytewise(row.input), "byte by byte");
  }
}

TEST(ReplyParser, BareCrNeverEndsALine) {
  // A server that ends lines with a bare CR gets its lines run together: the
  // parser never splits there, so "250-a\r250 b\r\n" is one continuation line
  // that never ends the reply.
  for (const Outcome& out : {feed_whole("250-a\r250 b\r\n"), feed_bytewise("250-a\r250 b\r\n")}) {
    EXPECT_TRUE(out.replies.empty());
    EXPECT_EQ(out.error, "");
  }
  Outcome one = feed_whole("250 a\r250 b\r\n");
  ASSERT_EQ(one.replies.size(), 1u);
  EXPECT_EQ(one.replies[0].lines, (std::vector<std::string>{"a\r250 b"}));
}

TEST(ReplyParser, TrailingBytesOfTheNextReplyStayBuffered) {
  for (const auto& row : parse_rows()) {
    if (!row.error.empty() || row.want.empty()) continue;
    std::string next = "221 2.0.0 Bye\r\n";
    for (std::size_t cut = 0; cut <= next.size(); ++cut) {
      ReplyParser p;
      p.feed(row.input + next.substr(0, cut));
      std::vector<Reply> got;
      for (std::size_t i = 0; i < row.want.size(); ++i) {
        auto r = p.next();
        ASSERT_TRUE(r.has_value() && *r) << row.name << " cut " << cut;
        got.push_back(**r);
      }
      EXPECT_EQ(got, row.want) << row.name;
      if (cut < next.size()) {
        EXPECT_FALSE(p.next().has_value()) << row.name << " cut " << cut;
        EXPECT_EQ(p.buffered(), cut) << row.name;
        p.feed(next.substr(cut));
      }
      auto last = p.next();
      ASSERT_TRUE(last.has_value() && *last) << row.name << " cut " << cut;
      EXPECT_EQ(**last, R(221, ec(2, 0, 0), {"Bye"}));
      EXPECT_EQ(p.buffered(), 0u);
      EXPECT_FALSE(p.next().has_value());
    }
  }
}

TEST(ReplyParser, BufferedCountsThePartialReply) {
  ReplyParser p;
  p.feed("250-a\r\n250-b");
  EXPECT_FALSE(p.next().has_value());
  EXPECT_EQ(p.buffered(), 12u);
  p.feed("\r\n250 c\r\n");
  auto r = p.next();
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->lines, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(ReplyParser, ClearDropsBufferedBytes) {
  // STARTTLS: a plaintext reply injected after "220" must never be read.
  ReplyParser p;
  p.feed("220 2.0.0 Ready to start TLS\r\n250-injected\r\n250 x");
  auto r = p.next();
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->code, 220);
  EXPECT_FALSE(p.next().has_value());
  p.clear();
  EXPECT_EQ(p.buffered(), 0u);
  p.feed("250 2.0.0 real\r\n");
  r = p.next();
  ASSERT_TRUE(r && *r);
  EXPECT_EQ(**r, R(250, ec(2, 0, 0), {"real"}));
}

TEST(ReplyParser, LineLengthLimit) {
  std::string max(kMaxReplyLine, 'x');
  struct Row {
    std::string input;
    bool ok;
  };
  const Row rows[] = {
      {"250 " + max + "\r\n", true},
      {"250 " + max + "x\r\n", false},
      {"250 2.0.0 " + max + "\r\n", true},  // the limit is on the text
      {"250 2.0.0 " + max + "x\r\n", false},
      {"250-" + max + "\r\n250 x\r\n", true},
      {"250-" + max + "x\r\n250 x\r\n", false},
      {"250 " + max + "xxxxxxxxxxxxxxxxxxxxxxxxxxx", false},  // no line end yet: fails early
      {"250 " + std::string(10 * kMaxReplyLine, 'x'), false},
      // Malformed *and* too long: the same error however the bytes arrive.
      {"xyz" + std::string(2 * kMaxReplyLine, 'x') + "\r\n", false},
      {"250-ok\r\n251 " + std::string(2 * kMaxReplyLine, 'x') + "\r\n", false},
  };
  for (const auto& row : rows) {
    for (bool bytewise : {false, true}) {
      Outcome out = bytewise ? feed_bytewise(row.input) : feed_whole(row.input);
      if (row.ok) {
        EXPECT_EQ(out.error, "") << row.input.size();
        EXPECT_EQ(out.replies.size(), 1u) << row.input.size();
      } else {
        EXPECT_NE(out.error.find("longer than 4096 bytes"), std::string::npos) << out.error;
      }
    }
  }
}

TEST(ReplyParser, LineCountLimit) {
  std::string ok, too_many;
  for (std::size_t i = 0; i + 1 < kMaxReplyLines; ++i) ok += "250-line\r\n";
  too_many = ok + "250-line\r\n250 last\r\n";
  ok += "250 last\r\n";
  Outcome good = feed_whole(ok);
  ASSERT_EQ(good.replies.size(), 1u);
  EXPECT_EQ(good.replies[0].lines.size(), kMaxReplyLines);
  for (const Outcome& bad : {feed_whole(too_many), feed_bytewise(too_many)}) {
    EXPECT_TRUE(bad.replies.empty());
    EXPECT_NE(bad.error.find("more than 100 lines"), std::string::npos) << bad.error;
  }
  // An endless stream of continuation lines fails before the end arrives.
  ReplyParser p;
  std::optional<Result<Reply>> r;
  std::size_t fed = 0;
  for (; fed < 1000 && !r; ++fed) {
    p.feed("250-more\r\n");
    r = p.next();
  }
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(*r);
  EXPECT_EQ(fed, kMaxReplyLines + 1);
}

TEST(ReplyParser, RoundTripsEncodedReplies) {
  const Reply replies[] = {
      make_reply(250, "", "OK"),
      make_reply(250, "2.0.0", "Ok: queued as 01J9Z3"),
      make_reply(250, "", "relay.example.com\nPIPELINING\nSIZE 26214400\nSTARTTLS\nAUTH PLAIN LOGIN"),
      make_reply(550, "5.1.1", "<bob@example.org>: Recipient address rejected\nUser unknown"),
      make_reply(421, "4.4.2", "timeout"),
      make_reply(334, "", "VXNlcm5hbWU6"),
      make_reply(334, "", ""),
      make_reply(250, "2.0.0", ""),
      make_reply(250, "", "\n\n"),
      make_reply(250, "2.0.0", " leading space\n2.0.0 looks enhanced"),
  };
  for (const auto& reply : replies) {
    for (bool bytewise : {false, true}) {
      Outcome out = bytewise ? feed_bytewise(reply.encode()) : feed_whole(reply.encode());
      EXPECT_EQ(out.error, "");
      ASSERT_EQ(out.replies.size(), 1u) << reply.encode();
      EXPECT_EQ(out.replies[0], reply) << reply.encode();
      EXPECT_EQ(out.replies[0].encode(), reply.encode());
    }
  }
}

TEST(ReplyParser, FirstLineThatLooksEnhancedIsEnhanced) {
  // The one ambiguity of the wire form: text that starts with an enhanced
  // code of the reply's class reads back as one.
  Reply plain = make_reply(451, "", "4.7.1 try later");
  Outcome out = feed_whole(plain.encode());
  ASSERT_EQ(out.replies.size(), 1u);
  EXPECT_EQ(out.replies[0], R(451, ec(4, 7, 1), {"try later"}));
  EXPECT_EQ(out.replies[0].encode(), plain.encode());
}

TEST(ReplyParser, ParsedRepliesReencodeToThemselves) {
  for (const auto& row : parse_rows()) {
    for (const auto& reply : feed_whole(row.input).replies) {
      ReplyParser p;
      p.feed(reply.encode());
      auto r = p.next();
      ASSERT_TRUE(r && *r) << row.name;
      EXPECT_EQ(**r, reply) << row.name;
    }
  }
}

}  // namespace
}  // namespace tern::smtp
