#include "relay/password.h"

#include <gtest/gtest.h>

namespace tern::relay {
namespace {

TEST(Password, HashesWithArgon2idAndVerifies) {
  auto hash = hash_password("correct horse");
  ASSERT_TRUE(hash.has_value()) << hash.error().message();
  EXPECT_EQ(hash->rfind("$argon2id$v=19$m=32768,t=2,p=1$", 0), 0u) << *hash;
  EXPECT_EQ(hash->find("correct horse"), std::string::npos);
  EXPECT_TRUE(verify_password(*hash, "correct horse"));
  EXPECT_FALSE(verify_password(*hash, "correct horse\n"));
  EXPECT_FALSE(verify_password(*hash, ""));
}

TEST(Password, SaltsDiffer) {
  auto a = hash_password("same");
  auto b = hash_password("same");
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_NE(*a, *b);
}

TEST(Password, MalformedHashesNeverVerify) {
  for (const char* bad : {"", "plain", "$argon2i$v=19$m=32768,t=2,p=1$AAAA$AAAA", "$argon2id$", "$argon2id$v=19$m=1"}) {
    EXPECT_FALSE(verify_password(bad, "plain")) << bad;
  }
  EXPECT_FALSE(verify_password(std::string("$argon2id\0x", 11), "x"));
}

}  // namespace
}  // namespace tern::relay
