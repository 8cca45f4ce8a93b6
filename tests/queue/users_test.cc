#include "queue/users.h"

#include <gtest/gtest.h>

#include "queue/schema.h"
#include "queue_test_util.h"

namespace tern::queue {
namespace {

using namespace std::chrono_literals;
using testing::at;
using testing::ScratchDir;

TEST(UserName, Validation) {
  struct Case {
    std::string name;
    bool valid;
  };
  const Case cases[] = {
      {"app", true},
      {"app@example.com", true},
      {std::string(128, 'a'), true},
      {std::string(129, 'a'), false},
      {"", false},
      {"two words", false},
      {"tab\there", false},
      {"new\nline", false},
      {"del\x7f", false},
      {"caf\xc3\xa9", false},  // printable ASCII only
  };
  for (const auto& c : cases) EXPECT_EQ(!invalid_user_name(c.name).has_value(), c.valid) << c.name;
}

TEST(Users, AddReplaceListDelete) {
  ScratchDir dir;
  ASSERT_TRUE(check_spool_dir(dir.spool(), true).has_value());
  auto users = Users::open(dir.spool());
  ASSERT_TRUE(users.has_value()) << users.error().message();
  Users& u = **users;

  auto added = u.put("zed", "$argon2id$one", at());
  ASSERT_TRUE(added.has_value());
  EXPECT_FALSE(*added);
  ASSERT_TRUE(u.put("amy", "$argon2id$two", at(1s)).has_value());
  auto replaced = u.put("zed", "$argon2id$three", at(2s));
  ASSERT_TRUE(replaced.has_value());
  EXPECT_TRUE(*replaced);

  auto zed = u.find("zed");
  ASSERT_TRUE(zed.has_value() && zed->has_value());
  EXPECT_EQ((*zed)->hash, "$argon2id$three");
  EXPECT_EQ((*zed)->created_at, at());  // replacing keeps the creation time

  auto all = u.list();
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "amy");
  EXPECT_EQ((*all)[1].name, "zed");

  EXPECT_TRUE(*u.remove("zed"));
  EXPECT_FALSE(*u.remove("zed"));
  EXPECT_FALSE(u.find("zed")->has_value());

  auto bad = u.put("two words", "$argon2id$x", at());
  ASSERT_FALSE(bad.has_value());
  EXPECT_TRUE(bad.error().is_permanent());
  EXPECT_FALSE(u.put("ok", "", at()).has_value());
}

}  // namespace
}  // namespace tern::queue
