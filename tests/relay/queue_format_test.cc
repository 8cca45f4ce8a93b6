#include "relay/queue_format.h"

#include <gtest/gtest.h>

namespace tern::relay {
namespace {

using namespace std::chrono_literals;

TEST(QueueFormat, Rfc3339) {
  auto t = std::chrono::system_clock::time_point(std::chrono::seconds(1704067200));
  EXPECT_EQ(rfc3339(t), "2024-01-01T00:00:00Z");
  EXPECT_EQ(rfc3339(t + 3661s + 999ms), "2024-01-01T01:01:01Z");
  EXPECT_EQ(rfc3339(std::chrono::system_clock::time_point{}), "1970-01-01T00:00:00Z");
}

TEST(QueueFormat, ShortDuration) {
  struct Case {
    std::chrono::system_clock::duration d;
    const char* want;
  };
  const Case cases[] = {
      {-5s, "0s"}, {0s, "0s"}, {45s, "45s"}, {60s, "1m"}, {200s, "3m20s"}, {3600s, "1h"},
      {2h + 13min + 59s, "2h13m"}, {24h, "1d"}, {5 * 24h + 4h + 3min, "5d4h"}, {24h + 30s, "1d"},
  };
  for (const auto& c : cases) EXPECT_EQ(short_duration(c.d), c.want);
}

TEST(QueueFormat, HumanSize) {
  EXPECT_EQ(human_size(0), "0 B");
  EXPECT_EQ(human_size(1023), "1023 B");
  EXPECT_EQ(human_size(4096), "4.0 KiB");
  EXPECT_EQ(human_size(26214400), "25.0 MiB");
}

TEST(QueueFormat, PrintableNeutralisesControlCharacters) {
  struct Case {
    std::string in, want;
  };
  const Case cases[] = {
      {"451 4.7.1 try later", "451 4.7.1 try later"},
      {"550-first\r\n550 second", "550-first / 550 second"},
      {"evil\x1b[2Jclear", "evil\\x1B[2Jclear"},
      {std::string("nul\0x", 5), "nul\\x00x"},
      {"bare\rcr\nlf\x7f", "bare\\x0Dcr\\x0Alf\\x7F"},
      {"tab\tkept", "tab\tkept"},
      {"caf\xc3\xa9", "caf\xc3\xa9"},  // UTF-8 passes
  };
  for (const auto& c : cases) EXPECT_EQ(printable(c.in), c.want);
}

TEST(QueueFormat, DescribesParameters) {
  smtp::MailParams m{.size = 10, .body = smtp::BodyType::EightBitMime, .smtputf8 = true, .ret = smtp::DsnRet::Hdrs,
                     .envid = "abc", .auth = "<>"};
  EXPECT_EQ(describe(m), "SIZE=10 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=abc AUTH=<>");
  EXPECT_EQ(describe(smtp::MailParams{}), "");
  smtp::RcptParams r{.notify_success = true, .notify_delay = true, .orcpt = "rfc822;a@b"};
  EXPECT_EQ(describe(r), "NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a@b");
  EXPECT_EQ(describe(smtp::RcptParams{}), "");
}

}  // namespace
}  // namespace tern::relay
