#include "smtp/mail_date.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace tern::smtp {
namespace {

using namespace std::chrono;

// A UTC instant written as RFC 3339, for readable table rows.
sys_seconds utc(int y, unsigned mo, unsigned d, int h, int mi, int s) {
  return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s};
}

struct ParseCase {
  const char* text;
  const char* want;  // RFC 3339 UTC, or nullptr: must not parse
};

const std::vector<ParseCase> kParseCases = {
    // RFC 5322 §3.3 canonical forms
    {"Tue, 25 Nov 2025 04:29:44 +0000", "2025-11-25T04:29:44Z"},
    {"Tue, 25 Nov 2025 04:29:44 -0000", "2025-11-25T04:29:44Z"},
    {"25 Nov 2025 04:29:44 +0000", "2025-11-25T04:29:44Z"},
    {"Tue, 4 Nov 2025 04:29:44 +0000", "2025-11-04T04:29:44Z"},
    {"Tue, 04 Nov 2025 04:29:44 +0000", "2025-11-04T04:29:44Z"},
    {"Tue, 25 Nov 2025 04:29 +0000", "2025-11-25T04:29:00Z"},
    {"Tue, 25 Nov 2025 11:00:01 +0100", "2025-11-25T10:00:01Z"},
    {"Tue, 25 Nov 2025 02:00:04 -0800", "2025-11-25T10:00:04Z"},
    {"Tue, 25 Nov 2025 10:00:00 +0530", "2025-11-25T04:30:00Z"},
    {"Tue, 25 Nov 2025 23:30:00 -0100", "2025-11-26T00:30:00Z"},  // crosses midnight
    {"Wed, 31 Dec 2025 23:59:59 -1200", "2026-01-01T11:59:59Z"},  // crosses the year
    {"Sat, 29 Feb 2020 12:00:00 +0000", "2020-02-29T12:00:00Z"},  // leap day
    {"Tue, 30 Jun 2015 23:59:60 +0000", "2015-07-01T00:00:00Z"},  // leap second
    {"Thu, 01 Jan 1970 00:00:00 +0000", "1970-01-01T00:00:00Z"},
    {"Mon, 01 Jan 1900 00:00:00 +0000", "1900-01-01T00:00:00Z"},
    {"Fri, 31 Dec 9999 23:59:59 +0000", "9999-12-31T23:59:59Z"},
    // comments, as Gmail, Postfix and others append them
    {"Tue, 25 Nov 2025 02:00:04 -0800 (PST)", "2025-11-25T10:00:04Z"},
    {"Tue, 25 Nov 2025 10:00:04 +0000 (UTC)", "2025-11-25T10:00:04Z"},
    {"25 Nov 2025 10:00:00 -0000 (UTC)", "2025-11-25T10:00:00Z"},
    {"Tue, 25 Nov 2025 10:00:04 +0000 (GMT+00:00)", "2025-11-25T10:00:04Z"},
    {"(Tue) 25 (day) Nov (month (nested)) 2025 10:00:04 +0000", "2025-11-25T10:00:04Z"},
    {"Tue, 25 Nov 2025 10:00:04 +0000 (unclosed", "2025-11-25T10:00:04Z"},
    {"Tue, 25 Nov 2025 10:00:04 +0000 (a \\) quoted pair)", "2025-11-25T10:00:04Z"},
    // whitespace and folding
    {"  Tue,   25  Nov   2025   10:00:04   +0000  ", "2025-11-25T10:00:04Z"},
    {"Tue, 25 Nov\r\n 2025 10:01:02 +0000", "2025-11-25T10:01:02Z"},
    {"\r\n\tTue, 25 Nov 2025 10:01:02\r\n +0000\r\n", "2025-11-25T10:01:02Z"},
    {"Tue, 25 Nov 2025 10 : 01 : 02 +0000", "2025-11-25T10:01:02Z"},
    {"Tue,25 Nov 2025 10:01:02 +0000", "2025-11-25T10:01:02Z"},
    {"Tue 25 Nov 2025 10:01:02 +0000", "2025-11-25T10:01:02Z"},
    // names in any case, full or abbreviated
    {"tue, 25 nov 2025 10:00:00 +0000", "2025-11-25T10:00:00Z"},
    {"TUESDAY, 25 NOVEMBER 2025 10:00:00 +0000", "2025-11-25T10:00:00Z"},
    {"Tue, 25 Sept 2025 10:00:00 +0000", "2025-09-25T10:00:00Z"},
    {"Thurs, 27 Nov 2025 10:00:00 +0000", "2025-11-27T10:00:00Z"},
    // a day-of-week that contradicts the date is ignored
    {"Mon, 25 Nov 2025 10:00:00 +0000", "2025-11-25T10:00:00Z"},
    // obsolete years (RFC 5322 §4.3)
    {"Tue, 25 Nov 25 10:00:00 +0000", "2025-11-25T10:00:00Z"},
    {"Wed, 25 Nov 98 10:00:00 +0000", "1998-11-25T10:00:00Z"},
    {"25 Nov 49 10:00:00 +0000", "2049-11-25T10:00:00Z"},
    {"25 Nov 50 10:00:00 +0000", "1950-11-25T10:00:00Z"},
    {"25 Nov 125 10:00:00 +0000", "2025-11-25T10:00:00Z"},
    // obsolete zones
    {"Tue, 25 Nov 2025 10:00:00 UT", "2025-11-25T10:00:00Z"},
    {"Tue, 25 Nov 2025 10:00:00 GMT", "2025-11-25T10:00:00Z"},
    {"Tue, 25 Nov 2025 10:00:00 UTC", "2025-11-25T10:00:00Z"},
    {"Tue, 25 Nov 2025 10:00:00 Z", "2025-11-25T10:00:00Z"},
    {"Tue, 25 Nov 2025 05:00:00 EST", "2025-11-25T10:00:00Z"},
    {"Tue, 25 Nov 2025 06:00:00 EDT", "2025-11-25T10:00:00Z"},
    {"Tue, 25 Nov 2025 04:00:00 CST", "2025-11-25T10:00:00Z"},
    {"Tue, 25 Nov 2025 05:00:00 CDT", "2025-11-25T10:00:00Z"},
    {"Tue, 25 Nov 2025 03:00:00 MST", "2025-11-25T10:00:00Z"},
    {"Tue, 25 Nov 2025 04:00:00 MDT", "2025-11-25T10:00:00Z"},
    {"Tue, 25 Nov 2025 02:00:00 PST", "2025-11-25T10:00:00Z"},
    {"Tue, 25 Nov 2025 03:00:00 pdt", "2025-11-25T10:00:00Z"},
    {"Tue, 25 Nov 2025 10:00:00 A", "2025-11-25T10:00:00Z"},    // military: -0000
    {"Tue, 25 Nov 2025 10:00:00 M", "2025-11-25T10:00:00Z"},
    {"Tue, 25 Nov 2025 10:00:00 CET", "2025-11-25T10:00:00Z"},  // unknown name: -0000
    // off-standard forms real MTAs write
    {"Tue, 25 Nov 2025 10:00:00", "2025-11-25T10:00:00Z"},            // no zone
    {"Tue, 25 Nov 2025 11:00:00 +01:00", "2025-11-25T10:00:00Z"},     // colon in the zone
    {"Tue, 25 Nov 2025 10:00:00.123 +0000", "2025-11-25T10:00:00Z"},  // fractional seconds
    {"Tue, 25 Nov 2025 9:05:00 +0000", "2025-11-25T09:05:00Z"},       // 1-digit hour
    {"25-Nov-2025 10:00:00 +0000", "2025-11-25T10:00:00Z"},
    {"Tue Nov 25 10:00:00 2025", "2025-11-25T10:00:00Z"},             // asctime
    {"Nov 25 10:00:00 2025", "2025-11-25T10:00:00Z"},
    {"Tue Nov 25 02:00:00 PST 2025", "2025-11-25T10:00:00Z"},         // date(1)
    {"Tue Nov 25 11:00:00 2025 +0100", "2025-11-25T10:00:00Z"},
    // rejected
    {"", nullptr},
    {"   ", nullptr},
    {"(only a comment)", nullptr},
    {"Tue, 25 Nov 2025", nullptr},
    {"Tue, 25 Nov 2025 10", nullptr},
    {"Tue, 25 Nov 2025 10: +0000", nullptr},
    {"Tue, 31 Nov 2025 10:00:00 +0000", nullptr},  // November has 30 days
    {"Wed, 29 Feb 2025 10:00:00 +0000", nullptr},  // not a leap year
    {"Tue, 0 Nov 2025 10:00:00 +0000", nullptr},
    {"Tue, 125 Nov 2025 10:00:00 +0000", nullptr},
    {"Tue, 25 Foo 2025 10:00:00 +0000", nullptr},
    {"Tue, 25 No 2025 10:00:00 +0000", nullptr},
    {"Tue, 25 Nov 1899 10:00:00 +0000", nullptr},  // before 1900
    {"Tue, 25 Nov 12025 10:00:00 +0000", nullptr},
    {"Tue, 25 Nov 5 10:00:00 +0000", nullptr},
    {"Tue, 25 Nov 2025 24:00:00 +0000", nullptr},
    {"Tue, 25 Nov 2025 10:60:00 +0000", nullptr},
    {"Tue, 25 Nov 2025 10:00:61 +0000", nullptr},
    {"Tue, 25 Nov 2025 100:00:00 +0000", nullptr},
    {"Tue, 25 Nov 2025 10:00:00 +000", nullptr},
    {"Tue, 25 Nov 2025 10:00:00 +00000", nullptr},
    {"Tue, 25 Nov 2025 10:00:00 +0060", nullptr},
    {"Tue, 25 Nov 2025 10:00:00 +0000 trailing", nullptr},
    {"Tue, 25 Nov 2025 10:00:00 ABCDEF", nullptr},
    {"Foo, 25 Nov 2025 10:00:00 +0000", nullptr},
    {"2025-11-25T10:00:00Z", nullptr},  // ISO 8601 is not a mail date
    {"1764064800", nullptr},
};

std::string show(const std::optional<sys_seconds>& t) { return t ? format_rfc3339(*t) : "nullopt"; }

TEST(MailDate, ParsesTable) {
  for (const ParseCase& c : kParseCases) {
    std::optional<sys_seconds> got = parse_mail_date(c.text);
    std::string want = c.want ? c.want : "nullopt";
    EXPECT_EQ(show(got), want) << "input: \"" << c.text << "\"";
  }
}

// Trailing bytes: an accepted date followed by a stray token is rejected,
// followed by a comment still accepted. Every prefix parses or fails without
// crashing (the byte-by-byte feed of a whole-input parser).
TEST(MailDate, PrefixesAndTrailingBytes) {
  for (const ParseCase& c : kParseCases) {
    std::string text = c.text;
    for (size_t n = 0; n <= text.size(); ++n) (void)parse_mail_date(std::string_view(text).substr(0, n));
    if (c.want) {
      if (text.find("(unclosed") == std::string::npos) {
        EXPECT_FALSE(parse_mail_date(text + " 1")) << text;
      }
      EXPECT_TRUE(parse_mail_date(text + " (trailing comment)")) << text;
    }
  }
}

struct FormatCase {
  sys_seconds t;
  const char* mail;
  const char* rfc3339;
};

const std::vector<FormatCase> kFormatCases = {
    {utc(2025, 11, 25, 4, 29, 44), "Tue, 25 Nov 2025 04:29:44 +0000", "2025-11-25T04:29:44Z"},
    {utc(2026, 11, 25, 4, 29, 44), "Wed, 25 Nov 2026 04:29:44 +0000", "2026-11-25T04:29:44Z"},
    {utc(2025, 1, 4, 0, 0, 0), "Sat, 4 Jan 2025 00:00:00 +0000", "2025-01-04T00:00:00Z"},
    {utc(1970, 1, 1, 0, 0, 0), "Thu, 1 Jan 1970 00:00:00 +0000", "1970-01-01T00:00:00Z"},
    {utc(1969, 12, 31, 23, 59, 59), "Wed, 31 Dec 1969 23:59:59 +0000", "1969-12-31T23:59:59Z"},
    {utc(1900, 1, 1, 0, 0, 0), "Mon, 1 Jan 1900 00:00:00 +0000", "1900-01-01T00:00:00Z"},
    {utc(2000, 2, 29, 12, 0, 0), "Tue, 29 Feb 2000 12:00:00 +0000", "2000-02-29T12:00:00Z"},
    {utc(9999, 12, 31, 23, 59, 59), "Fri, 31 Dec 9999 23:59:59 +0000", "9999-12-31T23:59:59Z"},
};

TEST(MailDate, FormatsTableAndParsesBack) {
  for (const FormatCase& c : kFormatCases) {
    EXPECT_EQ(format_mail_date(c.t), c.mail);
    EXPECT_EQ(format_rfc3339(c.t), c.rfc3339);
    std::optional<sys_seconds> back = parse_mail_date(format_mail_date(c.t));
    ASSERT_TRUE(back) << c.mail;
    EXPECT_EQ(*back, c.t) << c.mail;
  }
}

// Every hour of two years, and odd seconds, round-trip.
TEST(MailDate, RoundTripsAcrossYears) {
  sys_seconds t = utc(2023, 12, 31, 0, 0, 7);
  for (int i = 0; i < 2 * 366 * 24; ++i, t += hours{1} + seconds{13}) {
    std::optional<sys_seconds> back = parse_mail_date(format_mail_date(t));
    ASSERT_TRUE(back) << format_mail_date(t);
    ASSERT_EQ(*back, t) << format_mail_date(t);
  }
}

}  // namespace
}  // namespace tern::smtp
