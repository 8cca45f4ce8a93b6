#include "relay/user_cmd.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "queue/schema.h"
#include "queue/users.h"
#include "relay/exit_codes.h"
#include "relay/password.h"
#include "tests/queue/queue_test_util.h"

namespace tern::relay {
namespace {

using queue::testing::at;
using queue::testing::ScratchDir;

struct CmdResult {
  int code;
  std::string out, err;
};

class UserCmdTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(queue::check_spool_dir(dir_.spool(), true).has_value()); }

  CmdResult run(UserOptions opts, const std::string& stdin_text = "", std::string spool = "") {
    std::istringstream in(stdin_text);
    std::ostringstream out, err;
    int code = user_command(spool.empty() ? dir_.spool() : spool, opts, CliIo{in, out, err, at()});
    return CmdResult{code, out.str(), err.str()};
  }
  std::string hash_of(const std::string& name) {
    auto users = queue::Users::open(dir_.spool());
    EXPECT_TRUE(users.has_value());
    auto u = (*users)->find(name);
    EXPECT_TRUE(u.has_value() && u->has_value()) << name;
    return u && *u ? (*u)->hash : "";
  }
  std::string write_file(const std::string& name, const std::string& content) {
    std::string path = dir_.path() + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  ScratchDir dir_;
};

TEST_F(UserCmdTest, AddFromStdinLosesOneNewline) {
  CmdResult r = run({.action = "add", .name = "app"}, "s3cret\n");
  EXPECT_EQ(r.code, kExOk) << r.err;
  EXPECT_EQ(r.out, "tern user: added app\n");
  std::string hash = hash_of("app");
  EXPECT_EQ(hash.rfind("$argon2id$", 0), 0u);
  EXPECT_TRUE(verify_password(hash, "s3cret"));
  EXPECT_FALSE(verify_password(hash, "s3cret\n"));
}

TEST_F(UserCmdTest, AddFromFileLosesExactlyOneNewline) {
  std::string path = write_file("pw", "two\n\n");
  CmdResult r = run({.action = "add", .name = "app", .password_file = path});
  EXPECT_EQ(r.code, kExOk) << r.err;
  EXPECT_TRUE(verify_password(hash_of("app"), "two\n"));
  path = write_file("pw2", "no-newline");
  ASSERT_EQ(run({.action = "add", .name = "b", .password_file = path}).code, kExOk);
  EXPECT_TRUE(verify_password(hash_of("b"), "no-newline"));
}

TEST_F(UserCmdTest, AddingAgainReplacesAndSaysSo) {
  ASSERT_EQ(run({.action = "add", .name = "app"}, "one").code, kExOk);
  CmdResult r = run({.action = "add", .name = "app"}, "two");
  EXPECT_EQ(r.code, kExOk);
  EXPECT_EQ(r.out, "tern user: replaced the password of app\n");
  EXPECT_TRUE(verify_password(hash_of("app"), "two"));
  EXPECT_FALSE(verify_password(hash_of("app"), "one"));
}

TEST_F(UserCmdTest, RefusesEmptyPasswordsAndBadNames) {
  struct Case {
    UserOptions opts;
    std::string in;
    int code;
    std::string err;
  };
  const Case cases[] = {
      {{.action = "add", .name = "app"}, "", kExDataErr, "tern user: empty password refused\n"},
      {{.action = "add", .name = "app"}, "\n", kExDataErr, "tern user: empty password refused\n"},
      {{.action = "add", .name = "two words"}, "pw", kExDataErr,
       "tern user: user name must be printable ASCII without spaces\n"},
      {{.action = "add", .name = ""}, "pw", kExDataErr, "tern user: user name must be 1..128 characters\n"},
      {{.action = "add", .name = "app", .password_file = "/nonexistent/pw"}, "", kExNoInput,
       "tern user: password file: cannot read /nonexistent/pw: No such file or directory\n"},
      {{.action = "delete", .name = "ghost"}, "", kExNoUser, "tern user: no such user: ghost\n"},
      {{.action = "rename", .name = "x"}, "", kExUsage, "tern user: unknown action: rename\n"},
  };
  for (const auto& c : cases) {
    CmdResult r = run(c.opts, c.in);
    EXPECT_EQ(r.code, c.code) << c.opts.action << " " << c.opts.name;
    EXPECT_EQ(r.err, c.err);
  }
  auto users = queue::Users::open(dir_.spool());
  ASSERT_TRUE(users.has_value());
  EXPECT_TRUE((*users)->list()->empty());
}

TEST_F(UserCmdTest, ListAndDelete) {
  EXPECT_EQ(run({.action = "list"}).out, "no users\n");
  ASSERT_EQ(run({.action = "add", .name = "zed"}, "pw").code, kExOk);
  ASSERT_EQ(run({.action = "add", .name = "app@example.com"}, "pw").code, kExOk);
  CmdResult r = run({.action = "list"});
  EXPECT_EQ(r.code, kExOk);
  EXPECT_EQ(r.out,
            "NAME             CREATED\n"
            "app@example.com  2024-01-01T00:00:00Z\n"
            "zed              2024-01-01T00:00:00Z\n");
  EXPECT_EQ(r.out.find("argon2"), std::string::npos);
  r = run({.action = "delete", .name = "zed"});
  EXPECT_EQ(r.code, kExOk);
  EXPECT_EQ(r.out, "tern user: deleted zed\n");
  EXPECT_EQ(run({.action = "delete", .name = "zed"}).code, kExNoUser);
}

TEST_F(UserCmdTest, MissingSpool) {
  CmdResult r = run({.action = "list"}, "", dir_.path() + "/missing");
  EXPECT_EQ(r.code, kExCantCreat);
  EXPECT_NE(r.err.find(dir_.path() + "/missing"), std::string::npos);
}

TEST_F(UserCmdTest, AddBeforeTheFirstServeMakesTheSpool) {
  CmdResult r = run({.action = "add", .name = "alice"}, "secret\n", dir_.path() + "/new");
  EXPECT_EQ(r.code, kExOk) << r.err;
  EXPECT_NE(run({.action = "list"}, "", dir_.path() + "/new").out.find("alice"), std::string::npos);
}

}  // namespace
}  // namespace tern::relay
