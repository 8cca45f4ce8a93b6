#include "smtp/result.h"

#include <gtest/gtest.h>

#include <string>

namespace tern {
namespace {

Result<int> parse_digit(char c) {
  if (c < '0' || c > '9') return Error::permanent(std::string("not a digit: ") + c);
  return c - '0';
}

TEST(Result, HoldsValueOrError) {
  auto ok = parse_digit('7');
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 7);
  auto bad = parse_digit('x');
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().is_permanent());
  EXPECT_EQ(bad.error().message(), "not a digit: x");
  EXPECT_EQ(bad.value_or(-1), -1);
}

TEST(Result, VoidAndPrefix) {
  Status fine;
  EXPECT_TRUE(fine);
  Status failed = Error::transient("451 4.7.1 try later");
  ASSERT_FALSE(failed);
  EXPECT_TRUE(failed.error().is_transient());
  EXPECT_EQ(failed.error().prefixed("while sending RCPT TO").message(),
            "while sending RCPT TO: 451 4.7.1 try later");
}

}  // namespace
}  // namespace tern
