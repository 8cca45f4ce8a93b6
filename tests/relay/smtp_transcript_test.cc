#include "relay/smtp_transcript.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "smtp/encoding.h"

namespace tern::relay {
namespace {

const std::string kPlain = smtp::base64_encode(std::string("\0app\0pa55word", 13));
const std::string kPassword64 = smtp::base64_encode("pa55word");

TEST(SmtpTranscript, ServerLinesInAnySplit) {
  const std::string wire = "220 hi\r\n250-sink\r\n250 SIZE 10\r\n";
  for (std::size_t piece : {wire.size(), std::size_t{1}, std::size_t{2}, std::size_t{5}}) {
    std::ostringstream out;
    SmtpTranscript t(out, std::nullopt, "");
    for (std::size_t i = 0; i < wire.size(); i += piece) t.received(std::string_view(wire).substr(i, piece));
    EXPECT_EQ(out.str(), "<<< 220 hi\n<<< 250-sink\n<<< 250 SIZE 10\n") << piece;
  }
  std::ostringstream out;
  SmtpTranscript t(out, std::nullopt, "");
  t.received("220 no line end yet");
  EXPECT_EQ(out.str(), "");
}

TEST(SmtpTranscript, MasksEverySecret) {
  struct Row {
    std::string bytes;
    bool in_auth;
    bool from_server;
    std::string want;
  };
  const Row rows[] = {
      {"AUTH PLAIN " + kPlain + "\r\n", true, false, ">>> AUTH PLAIN *****\n"},
      {"auth login\r\n", true, false, ">>> auth login\n"},
      {smtp::base64_encode("app") + "\r\n", true, false, ">>> *****\n"},     // LOGIN user name
      {kPassword64 + "\r\n", true, false, ">>> *****\n"},                     // LOGIN password
      {"MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n", false, false,
       ">>> MAIL FROM:<a@b.test>\n>>> RCPT TO:<c@d.test>\n>>> DATA\n"},
      {"535 5.7.8 cannot decode " + kPlain + "\r\n", false, true, "<<< 535 5.7.8 cannot decode *****\n"},
      {"535 bad password pa55word for app\r\n", false, true, "<<< 535 bad password ***** for app\n"},
      {"334 VXNlcm5hbWU6\r\n", false, true, "<<< 334 VXNlcm5hbWU6\n"},
  };
  for (const Row& r : rows) {
    std::ostringstream out;
    SmtpTranscript t(out, std::string("app"), "pa55word");
    if (r.from_server) {
      t.received(r.bytes);
    } else {
      t.sent(r.bytes, r.in_auth);
    }
    EXPECT_EQ(out.str(), r.want) << r.bytes;
    EXPECT_EQ(out.str().find("pa55word"), std::string::npos);
    EXPECT_EQ(out.str().find(kPlain), std::string::npos);
  }
}

TEST(SmtpTranscript, BodyOnceAndNotes) {
  std::ostringstream out;
  SmtpTranscript t(out, std::nullopt, "");
  t.body(1234);
  t.body(1234);
  t.note("connected");
  EXPECT_EQ(out.str(), ">>> (message: 1234 bytes, then \".\")\n*** connected\n");
}

TEST(SmtpTranscript, OverlongServerLineIsCut) {
  std::ostringstream out;
  SmtpTranscript t(out, std::nullopt, "");
  t.received("250 " + std::string(10000, 'x'));
  t.received(std::string(10000, 'y') + "\r\n250 next\r\n");
  const std::string s = out.str();
  EXPECT_LT(s.size(), 4096u + 100u);
  EXPECT_NE(s.find("<<< 250 next\n"), std::string::npos);
}

}  // namespace
}  // namespace tern::relay
