#include "relay/sendmail_message.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "relay/sendmail_input.h"

namespace tern::relay {
namespace {

// ---- MessageReader: line ends and the "." rule, fed whole, byte by byte and in pairs

struct ReadRow {
  std::string input;
  bool dot_ends;
  std::string want;
  bool want_complete;
};

std::string read_in_pieces(const std::string& input, bool dot_ends, std::size_t piece, bool* complete) {
  MessageReader reader(dot_ends, 1 << 20);
  for (std::size_t i = 0; i < input.size() && !reader.complete(); i += piece) {
    EXPECT_TRUE(reader.feed(std::string_view(input).substr(i, piece)).has_value());
  }
  EXPECT_TRUE(reader.finish().has_value());
  *complete = reader.complete();
  return reader.take();
}

TEST(MessageReader, LineEndsAndDot) {
  const ReadRow rows[] = {
      {"", true, "", false},
      {"a\nb\n", true, "a\r\nb\r\n", false},                       // LF
      {"a\r\nb\r\n", true, "a\r\nb\r\n", false},                   // CRLF kept
      {"a\rb\r", true, "a\r\nb\r\n", false},                       // lone CR
      {"a\r\r\nb", true, "a\r\n\r\nb\r\n", false},                 // CR then CRLF: two line ends
      {"a\n\rb", true, "a\r\n\r\nb\r\n", false},                   // LF then CR: two line ends
      {"no newline", true, "no newline\r\n", false},               // a final line end is added
      {"\n\n", true, "\r\n\r\n", false},
      {"a\n.\nafter\n", true, "a\r\n", true},                      // "." ends input, rest ignored
      {"a\r\n.\r\nafter\r\n", true, "a\r\n", true},
      {"a\n.", true, "a\r\n", true},                               // "." at EOF without a line end
      {".\n", true, "", true},
      {"a\n.\nafter\n", false, "a\r\n.\r\nafter\r\n", false},      // -i: "." is text
      {"a\n..\n. \n.x\n", true, "a\r\n..\r\n. \r\n.x\r\n", false}, // only a lone "." counts
      {"a\n.\r", true, "a\r\n", true},                             // "." then lone CR
      {"x.\n", true, "x.\r\n", false},
      {"caf\xc3\xa9\n", true, "caf\xc3\xa9\r\n", false},           // 8-bit bytes pass unchanged
  };
  for (const ReadRow& r : rows) {
    for (std::size_t piece : {r.input.size() + 1, std::size_t{1}, std::size_t{2}, std::size_t{3}}) {
      bool complete = false;
      std::string got = read_in_pieces(r.input, r.dot_ends, piece, &complete);
      EXPECT_EQ(got, r.want) << testing::PrintToString(r.input) << " piece=" << piece << " dot=" << r.dot_ends;
      EXPECT_EQ(complete, r.want_complete) << testing::PrintToString(r.input) << " piece=" << piece;
    }
  }
}

TEST(MessageReader, RefusesMoreThanMaxBytes) {
  MessageReader reader(true, 6);
  EXPECT_TRUE(reader.feed("ab\n").has_value());      // 4 bytes
  Status st = reader.feed("cd\n");                    // 8 > 6
  ASSERT_FALSE(st.has_value());
  EXPECT_NE(st.error().message().find("too big"), std::string::npos);
  EXPECT_FALSE(reader.feed("x").has_value());         // stays failed
  EXPECT_FALSE(reader.finish().has_value());

  MessageReader fits(true, 8);
  EXPECT_TRUE(fits.feed("ab\ncd\n").has_value());
  EXPECT_TRUE(fits.finish().has_value());
  EXPECT_EQ(fits.message(), "ab\r\ncd\r\n");
  // The final line end added at EOF counts too.
  MessageReader tail(true, 3);
  EXPECT_TRUE(tail.feed("abc").has_value());
  EXPECT_FALSE(tail.finish().has_value());
}

// ---- address lists

struct ListRow {
  std::string text;
  std::vector<std::string> want;  // mailbox.str() each
};

TEST(AddressList, Parses) {
  const ListRow rows[] = {
      {"bob@example.org", {"bob@example.org"}},
      {"  bob@example.org  ", {"bob@example.org"}},
      {"a@x.test, b@y.test", {"a@x.test", "b@y.test"}},
      {"a@x.test,b@y.test,", {"a@x.test", "b@y.test"}},                       // trailing comma
      {", ,a@x.test,, ", {"a@x.test"}},                                          // obsolete empty elements
      {"Bob Smith <bob@example.org>", {"bob@example.org"}},
      {"<bob@example.org>", {"bob@example.org"}},
      {"\"Smith, Bob\" <bob@example.org>, carol@example.org", {"bob@example.org", "carol@example.org"}},
      {"\"a <weird> name: x;\" <bob@example.org>", {"bob@example.org"}},
      {"\"esc \\\" quote, still\" <bob@example.org>", {"bob@example.org"}},
      {"bob@example.org (Bob, the builder)", {"bob@example.org"}},
      {"(lead) bob@example.org (trail, with comma)", {"bob@example.org"}},
      {"Bob (nested (comment, here)) <bob@example.org>", {"bob@example.org"}},
      {"(a \\) escaped paren, still comment) bob@example.org", {"bob@example.org"}},
      {"undisclosed-recipients:;", {}},
      {"friends: a@x.test, \"B, b\" <b@y.test>; c@z.test", {"a@x.test", "b@y.test", "c@z.test"}},
      {"team: a@x.test", {"a@x.test"}},                                          // group without ';'
      {"<@route.test,@other.test:bob@example.org>", {"bob@example.org"}},       // source route dropped
      {"\"john doe\"@example.org", {"\"john doe\"@example.org"}},
      {"bob@[192.0.2.1]", {"bob@[192.0.2.1]"}},
      {"=?UTF-8?B?w6k=?= <e@example.org>", {"e@example.org"}},
      {"root", {"root@host.test"}},                                              // qualified like Postfix
      {"root, Admin <admin>", {"root@host.test", "admin@host.test"}},
      {"", {}},
      {"   ", {}},
  };
  for (const ListRow& r : rows) {
    auto got = parse_address_list(r.text, "host.test");
    ASSERT_TRUE(got.has_value()) << r.text << ": " << got.error().message();
    std::vector<std::string> strs;
    for (const auto& m : *got) strs.push_back(m.str());
    EXPECT_EQ(strs, r.want) << r.text;
  }
  // UTF-8 addresses are kept (the envelope then needs SMTPUTF8).
  auto utf8 = parse_address_list("J\xc3\xb6rg <j\xc3\xb6rg@b\xc3\xbc" "cher.test>", "host.test");
  ASSERT_TRUE(utf8.has_value()) << utf8.error().message();
  ASSERT_EQ(utf8->size(), 1u);
  EXPECT_EQ((*utf8)[0].str(), "j\xc3\xb6rg@b\xc3\xbc" "cher.test");
}

TEST(AddressList, RefusesAndNamesTheAddress) {
  struct Bad {
    std::string text;
    std::string want;  // part of the message
  };
  const Bad rows[] = {
      {"John Doe", "\"John Doe\""},
      {"bob@exa mple.org", "\"bob@exa mple.org\""},
      {"John Doe john@x.test", "John Doe john@x.test"},
      {"bob@", "\"bob@\""},
      {"@example.org", "\"@example.org\""},
      {"<bob@example.org", "missing >"},
      {"bob@example.org>", "unexpected >"},
      {"<bob@example.org> trailing", "text after <...>"},
      {"<a@x.test> <b@y.test>", "text after <...>"},
      {"<>", "empty address"},
      {"\"unterminated <bob@example.org>", "unbalanced quote"},
      {"(unterminated bob@example.org", "unbalanced parenthesis"},
      {"a@x.test; b@y.test", "';' outside a group"},
      {"g1: g2: a@x.test;;", "group inside a group"},
      {"a@x.test b: c@y.test;", "unexpected ':'"},
      {"good@x.test, bad address", "\"bad address\""},
      {"a..b@x.test", "a..b@x.test"},
  };
  for (const Bad& r : rows) {
    auto got = parse_address_list(r.text, "host.test");
    ASSERT_FALSE(got.has_value()) << r.text;
    EXPECT_NE(got.error().message().find(r.want), std::string::npos) << r.text << ": " << got.error().message();
    EXPECT_EQ(got.error().message().rfind("invalid address", 0), 0u) << got.error().message();
  }
  // Without a default domain a bare name cannot be qualified.
  EXPECT_FALSE(parse_address_list("root", "").has_value());
}

TEST(AddressList, Sender) {
  struct S {
    std::string text;
    std::optional<std::string> want;  // Path::str(); nullopt: an error
  };
  const S rows[] = {
      {"a@b.test", "<a@b.test>"},   {"<a@b.test>", "<a@b.test>"}, {" <a@b.test> ", "<a@b.test>"},
      {"<>", "<>"},                 {"", "<>"},                   {"root", "<root@host.test>"},
      {"a b@c.test", std::nullopt}, {"<a@b.test", std::nullopt},  {"a@b.test\r\nRCPT", std::nullopt},
  };
  for (const S& r : rows) {
    auto got = parse_sender(r.text, "host.test");
    if (r.want) {
      ASSERT_TRUE(got.has_value()) << r.text << ": " << got.error().message();
      EXPECT_EQ(got->str(), *r.want) << r.text;
    } else {
      EXPECT_FALSE(got.has_value()) << r.text;
    }
  }
}

TEST(AddressList, Unfold) {
  EXPECT_EQ(unfold("a,\r\n b,\r\n\tc"), "a, b,\tc");
  EXPECT_EQ(unfold("a\r\nb"), "a\r\nb");  // not a fold
  EXPECT_EQ(unfold("a\r\n"), "a\r\n");
}

// ---- From: header

TEST(FromHeader, Forms) {
  const smtp::Mailbox sender{"app", "example.org"};
  struct F {
    std::optional<std::string> name;
    std::string want;
  };
  const F rows[] = {
      {std::nullopt, "From: <app@example.org>\r\n"},
      {"", "From: <app@example.org>\r\n"},
      {"Cron Daemon", "From: Cron Daemon <app@example.org>\r\n"},
      {"Smith, Bob", "From: \"Smith, Bob\" <app@example.org>\r\n"},
      {"Say \"hi\"", "From: \"Say \\\"hi\\\"\" <app@example.org>\r\n"},
      {"J\xc3\xb6rg", "From: =?UTF-8?B?SsO2cmc=?= <app@example.org>\r\n"},
  };
  for (const F& r : rows) {
    auto got = make_from_header(r.name, sender);
    ASSERT_TRUE(got.has_value()) << got.error().message();
    EXPECT_EQ(*got, r.want);
  }
  EXPECT_FALSE(make_from_header(std::string("Evil\r\nBcc: x@y.test"), sender).has_value());
  EXPECT_FALSE(make_from_header(std::string("tab\there"), sender).has_value());
  EXPECT_FALSE(make_from_header(std::string(600, 'a'), sender).has_value());
}

TEST(FromHeader, LongNamesFoldAndStayWithinLimits) {
  const smtp::Mailbox sender{"app", "example.org"};
  std::string utf8;
  for (int i = 0; i < 40; ++i) utf8 += "\xc3\xa9t\xc3\xa9 ";  // "été " x40: several encoded words
  auto got = make_from_header(utf8, sender);
  ASSERT_TRUE(got.has_value());
  std::string_view h = *got;
  ASSERT_GE(h.size(), 2u);
  EXPECT_EQ(h.substr(h.size() - 2), "\r\n");
  std::size_t start = 0;
  int lines = 0;
  while (start < h.size()) {
    std::size_t end = h.find("\r\n", start);
    ASSERT_NE(end, std::string_view::npos);
    EXPECT_LE(end - start, 78u) << h;
    if (lines > 0) {
      EXPECT_EQ(h[start], ' ') << h;  // continuation lines start with a space
    }
    for (std::size_t i = start; i < end; ++i) EXPECT_LT(static_cast<unsigned char>(h[i]), 0x80u);
    start = end + 2;
    ++lines;
  }
  EXPECT_GT(lines, 1);
  std::string long_ascii;
  for (int i = 0; i < 30; ++i) long_ascii += "Word ";
  auto folded = make_from_header(long_ascii, sender);
  ASSERT_TRUE(folded.has_value());
  EXPECT_EQ(unfold(*folded), "From: " + std::string(long_ascii.substr(0, long_ascii.size() - 1)) +
                                 " <app@example.org>\r\n");
}

// ---- prepare_message: -t, Bcc removal, From insertion

struct PrepRow {
  std::string name;
  std::string input;
  bool extract;
  std::string want_data;
  std::vector<std::string> want_rcpts;
};

TEST(PrepareMessage, Table) {
  const std::string from = "From: <me@host.test>\r\n";
  const PrepRow rows[] = {
      {"plain with From",
       "From: a@x.test\r\nTo: b@y.test\r\nSubject: hi\r\n\r\nbody\r\n", true,
       "From: a@x.test\r\nTo: b@y.test\r\nSubject: hi\r\n\r\nbody\r\n", {"b@y.test"}},
      {"From added at the end of the header",
       "To: b@y.test\r\nSubject: hi\r\n\r\nbody\r\n", false,
       "To: b@y.test\r\nSubject: hi\r\n" + from + "\r\nbody\r\n", {}},
      {"from: in any case counts",
       "fROM: a@x.test\r\n\r\nbody\r\n", false, "fROM: a@x.test\r\n\r\nbody\r\n", {}},
      {"Resent-From is not From",
       "Resent-From: a@x.test\r\n\r\nb\r\n", false, "Resent-From: a@x.test\r\n" + from + "\r\nb\r\n", {}},
      {"To, Cc, Bcc in any case, folded",
       "From: a@x.test\r\nto: one@y.test,\r\n  \"Two, Esq\" <two@y.test>\r\nCC: three@y.test\r\n"
       "BCC: four@y.test,\r\n\tfive@y.test\r\nSubject: x\r\n\r\nbody\r\n",
       true,
       "From: a@x.test\r\nto: one@y.test,\r\n  \"Two, Esq\" <two@y.test>\r\nCC: three@y.test\r\nSubject: x\r\n"
       "\r\nbody\r\n",
       {"one@y.test", "two@y.test", "three@y.test", "four@y.test", "five@y.test"}},
      {"Bcc removed even without -t, with its continuation lines",
       "From: a@x.test\r\nBcc: hidden@y.test,\r\n other@y.test\r\nTo: b@y.test\r\n\r\nbody\r\n", false,
       "From: a@x.test\r\nTo: b@y.test\r\n\r\nbody\r\n", {}},
      {"several Bcc fields, one empty",
       "Bcc:\r\nFrom: a@x.test\r\nBcc: h@y.test\r\n\r\nb\r\n", true, "From: a@x.test\r\n\r\nb\r\n", {"h@y.test"}},
      {"Resent-To/Cc/Bcc are ignored and kept",
       "From: a@x.test\r\nResent-To: r@y.test\r\nResent-Bcc: s@y.test\r\nTo: t@y.test\r\n\r\nb\r\n", true,
       "From: a@x.test\r\nResent-To: r@y.test\r\nResent-Bcc: s@y.test\r\nTo: t@y.test\r\n\r\nb\r\n", {"t@y.test"}},
      {"group and undisclosed recipients",
       "From: a@x.test\r\nTo: undisclosed-recipients:;\r\nCc: list: m1@y.test, m2@y.test;\r\n\r\nb\r\n", true,
       "From: a@x.test\r\nTo: undisclosed-recipients:;\r\nCc: list: m1@y.test, m2@y.test;\r\n\r\nb\r\n",
       {"m1@y.test", "m2@y.test"}},
      {"a header field in the body is not a header",
       "From: a@x.test\r\n\r\nTo: not@y.test\r\nBcc: keep@y.test\r\n", true,
       "From: a@x.test\r\n\r\nTo: not@y.test\r\nBcc: keep@y.test\r\n", {}},
      {"no header at all: From and a separator are added",
       "just text\r\nmore\r\n", false, from + "\r\njust text\r\nmore\r\n", {}},
      {"header ends without an empty line: one is inserted",
       "To: b@y.test\r\nthis is body\r\n", true, "To: b@y.test\r\n" + from + "\r\nthis is body\r\n", {"b@y.test"}},
      {"header only, no body, no separator",
       "To: b@y.test\r\n", true, "To: b@y.test\r\n" + from, {"b@y.test"}},
      {"empty message", "", false, from, {}},
      {"continuation line first is body", " indented\r\n", false, from + "\r\n indented\r\n", {}},
      {"obsolete space before the colon",
       "To : b@y.test\r\nBcc : h@y.test\r\n\r\nx\r\n", true, "To : b@y.test\r\n" + from + "\r\nx\r\n",
       {"b@y.test", "h@y.test"}},
      {"unqualified header recipients get the default domain",
       "From: a@x.test\r\nTo: root\r\n\r\nx\r\n", true, "From: a@x.test\r\nTo: root\r\n\r\nx\r\n", {"root@host.test"}},
      {"dot lines in the body are left alone (the SMTP layer stuffs them)",
       "From: a@x.test\r\n\r\n.\r\n..\r\n", false, "From: a@x.test\r\n\r\n.\r\n..\r\n", {}},
  };
  for (const PrepRow& r : rows) {
    PrepareOptions options;
    options.extract_recipients = r.extract;
    options.default_domain = "host.test";
    options.from_header = from;
    auto got = prepare_message(r.input, options);
    ASSERT_TRUE(got.has_value()) << r.name << ": " << got.error().message();
    EXPECT_EQ(got->data, r.want_data) << r.name;
    std::vector<std::string> rcpts;
    for (const auto& m : got->recipients) rcpts.push_back(m.str());
    EXPECT_EQ(rcpts, r.want_rcpts) << r.name;
  }
}

TEST(PrepareMessage, BadHeaderAddressIsNamed) {
  PrepareOptions options;
  options.extract_recipients = true;
  options.default_domain = "host.test";
  auto got = prepare_message("To: ok@y.test, John Doe\r\n\r\nx\r\n", options);
  ASSERT_FALSE(got.has_value());
  EXPECT_NE(got.error().message().find("\"John Doe\" in To: header"), std::string::npos) << got.error().message();
  // Without -t the To: field is not parsed, so it cannot fail.
  options.extract_recipients = false;
  EXPECT_TRUE(prepare_message("To: ok@y.test, John Doe\r\n\r\nx\r\n", options).has_value());
}

TEST(PrepareMessage, NoFromHeaderWhenAskedForNone) {
  PrepareOptions options;
  auto got = prepare_message("Subject: x\r\n\r\nb\r\n", options);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->data, "Subject: x\r\n\r\nb\r\n");
  EXPECT_FALSE(got->had_from);
}

}  // namespace
}  // namespace tern::relay
