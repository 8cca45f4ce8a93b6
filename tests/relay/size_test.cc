#include "relay/size.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace tern::relay {
namespace {

TEST(ParseSize, Accepts) {
  struct Case {
    std::string text;
    std::uint64_t want;
  };
  const Case cases[] = {
      {"0", 0},
      {"1024", 1024},
      {"26214400", 26'214'400},
      {"1KiB", 1024},
      {"25MiB", 26'214'400},
      {"2GiB", 2'147'483'648ULL},
      {"18446744073709551615", 18'446'744'073'709'551'615ULL},
  };
  for (const Case& c : cases) {
    Result<std::uint64_t> got = parse_size(c.text);
    ASSERT_TRUE(got) << c.text << ": " << got.error().message();
    EXPECT_EQ(*got, c.want) << c.text;
  }
}

TEST(ParseSize, Refuses) {
  struct Case {
    std::string text;
    std::string reason;
  };
  const Case cases[] = {
      {"", "write a number of bytes"},
      {"MiB", "write a number of bytes"},
      {"-1", "write a number of bytes"},
      {"+1", "write a number of bytes"},
      {"25M", "ambiguous"},
      {"25MB", "ambiguous"},
      {"25mib", "unknown unit"},
      {"25 MiB", "unknown unit"},
      {"1.5MiB", "unknown unit"},
      {"18446744073709551616", "too large"},
      {"17179869184GiB", "too large"},
  };
  for (const Case& c : cases) {
    Result<std::uint64_t> got = parse_size(c.text);
    ASSERT_FALSE(got) << "accepted \"" << c.text << "\"";
    EXPECT_NE(got.error().message().find(c.reason), std::string::npos) << c.text << " -> " << got.error().message();
  }
}

}  // namespace
}  // namespace tern::relay
