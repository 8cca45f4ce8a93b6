#include "relay/duration.h"

#include <gtest/gtest.h>

#include <string>

namespace tern::relay {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(ParseDuration, Accepts) {
  struct Case {
    std::string text;
    milliseconds want;
  };
  const Case cases[] = {
      {"0s", milliseconds{0}},
      {"500ms", milliseconds{500}},
      {"30s", seconds{30}},
      {"5m", minutes{5}},
      {"4h", hours{4}},
      {"5d", days{5}},
      {"1h20m", minutes{80}},
      {"2h40m", minutes{160}},
      {"1d12h", hours{36}},
      {"1m30s", seconds{90}},
      {"1s500ms", milliseconds{1500}},
      {"1d2h3m4s5ms", days{1} + hours{2} + minutes{3} + seconds{4} + milliseconds{5}},
      {"90m", minutes{90}},     // not normalised: any amount per unit
      {"007s", seconds{7}},     // leading zeros are harmless in a decimal count
      {"3600000ms", hours{1}},
  };
  for (const Case& c : cases) {
    Result<milliseconds> got = parse_duration(c.text);
    ASSERT_TRUE(got) << c.text << ": " << got.error().message();
    EXPECT_EQ(*got, c.want) << c.text;
  }
}

TEST(ParseDuration, RefusesWithAReason) {
  struct Case {
    std::string text;
    std::string reason;  // a substring of the error
  };
  const Case cases[] = {
      {"", "empty"},
      {"300", "bare number is ambiguous"},
      {"5", "bare number is ambiguous"},
      {"1h20", "bare number is ambiguous"},
      {"1h 20m", "remove the spaces"},
      {" 5m", "remove the spaces"},
      {"5m ", "remove the spaces"},
      {"-5m", "signs"},
      {"+5m", "signs"},
      {"1.5h", "fractions"},
      {"5x", "unknown unit \"x\""},
      {"5M", "unknown unit \"M\""},
      {"5min", "unknown unit \"min\""},
      {"5sec", "unknown unit \"sec\""},
      {"m", "expected a number"},
      {"20m1h", "largest to smallest"},
      {"1m1m", "largest to smallest"},
      {"99999999999999999999s", "too large"},
      {"9223372036854775807d", "too large"},
      {"106751991168d", "too large"},  // just past what int64 milliseconds hold
  };
  for (const Case& c : cases) {
    Result<milliseconds> got = parse_duration(c.text);
    ASSERT_FALSE(got) << "accepted \"" << c.text << "\"";
    EXPECT_NE(got.error().message().find(c.reason), std::string::npos)
        << c.text << " -> " << got.error().message();
    EXPECT_NE(got.error().message().find("\"" + c.text + "\""), std::string::npos) << "quotes the input";
  }
}

TEST(FormatDuration, LargestUnitsFirst) {
  struct Case {
    milliseconds d;
    std::string want;
  };
  const Case cases[] = {
      {milliseconds{0}, "0s"},     {milliseconds{500}, "500ms"}, {seconds{30}, "30s"},
      {minutes{5}, "5m"},          {minutes{80}, "1h20m"},       {minutes{160}, "2h40m"},
      {hours{4}, "4h"},            {days{5}, "5d"},              {hours{36}, "1d12h"},
      {milliseconds{1500}, "1s500ms"}, {milliseconds{-1500}, "-1s500ms"},
  };
  for (const Case& c : cases) EXPECT_EQ(format_duration(c.d), c.want) << c.d.count();
}

TEST(FormatDuration, RoundTrips) {
  // A bounded sweep across unit boundaries plus some large values.
  std::vector<milliseconds> values;
  for (long long ms : {0LL, 1LL, 999LL, 1000LL, 1001LL, 59'999LL, 60'000LL, 3'599'999LL, 3'600'000LL,
                       86'399'999LL, 86'400'000LL, 86'400'001LL, 9'223'372'036'854'775'807LL}) {
    values.emplace_back(ms);
  }
  for (long long i = 0; i < 2000; ++i) values.emplace_back(i * 7'919'113LL);  // a prime stride hits every unit
  for (milliseconds d : values) {
    const std::string text = format_duration(d);
    Result<milliseconds> back = parse_duration(text);
    ASSERT_TRUE(back) << text << ": " << back.error().message();
    EXPECT_EQ(*back, d) << text;
  }
}

}  // namespace
}  // namespace tern::relay
