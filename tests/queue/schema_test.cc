#include "queue/schema.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <set>
#include <string>

#include "queue/db.h"
#include "queue_test_util.h"

namespace tern::queue {
namespace {

using testing::ScratchDir;

std::set<std::string> object_names(sqlite3* db) {
  std::set<std::string> names;
  auto s = Stmt::prepare(db, "SELECT name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'");
  EXPECT_TRUE(s.has_value());
  if (!s) return names;
  for (;;) {
    auto row = s->step();
    EXPECT_TRUE(row.has_value());
    if (!row || !*row) break;
    names.insert(s->text(0));
  }
  return names;
}

std::string pragma_text(sqlite3* db, const char* pragma) {
  auto s = Stmt::prepare(db, std::string("PRAGMA ") + pragma);
  if (!s) return "prepare failed";
  auto row = s->step();
  if (!row || !*row) return "no row";
  return s->text(0);
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

TEST(Schema, CreatesSpoolDirectoryAndDatabase) {
  ScratchDir dir;
  mode_t old_mask = ::umask(0);  // the modes must not depend on the umask
  auto db = open_spool(dir.spool(), SpoolOpen{.create_dir = true});
  ::umask(old_mask);
  ASSERT_TRUE(db.has_value()) << db.error().message();
  EXPECT_EQ(mode_of(dir.spool()), 0700u);
  EXPECT_EQ(mode_of(database_path(dir.spool())), 0600u);
  EXPECT_EQ(*schema_version(db->get()), kSchemaVersion);
  EXPECT_EQ(pragma_text(db->get(), "journal_mode"), "wal");
  EXPECT_EQ(pragma_text(db->get(), "synchronous"), "2");  // FULL
  auto names = object_names(db->get());
  for (const char* want : {"messages", "bodies", "recipients", "history", "users", "message_counts",
                           "domain_counts", "recipients_due", "recipients_message", "recipients_errors",
                           "messages_received", "history_recipient"}) {
    EXPECT_TRUE(names.contains(want)) << want;
  }
  EXPECT_EQ(pragma_text(db->get(), "integrity_check"), "ok");
}

TEST(Schema, MigratesAnEmptyExistingFile) {
  ScratchDir dir;
  ASSERT_TRUE(check_spool_dir(dir.spool(), true).has_value());
  { std::ofstream(database_path(dir.spool())); }  // zero bytes: what a crashed first start could leave
  auto db = open_spool(dir.spool(), SpoolOpen{});
  ASSERT_TRUE(db.has_value()) << db.error().message();
  EXPECT_EQ(*schema_version(db->get()), kSchemaVersion);
}

TEST(Schema, ReopeningIsIdempotent) {
  ScratchDir dir;
  {
    auto db = open_spool(dir.spool(), SpoolOpen{.create_dir = true});
    ASSERT_TRUE(db.has_value());
    ASSERT_TRUE(exec(db->get(), "INSERT INTO users (name, hash, created_at) VALUES ('u', 'h', 1)").has_value());
  }
  auto again = open_spool(dir.spool(), SpoolOpen{});
  ASSERT_TRUE(again.has_value()) << again.error().message();
  auto second = open_spool(dir.spool(), SpoolOpen{});  // two connections at once
  ASSERT_TRUE(second.has_value()) << second.error().message();
  auto s = Stmt::prepare(again->get(), "SELECT count(*) FROM users");
  ASSERT_TRUE(s.has_value());
  ASSERT_TRUE(*s->step());
  EXPECT_EQ(s->int64(0), 1);
}

TEST(Schema, RefusesANewerSchema) {
  ScratchDir dir;
  {
    auto db = open_spool(dir.spool(), SpoolOpen{.create_dir = true});
    ASSERT_TRUE(db.has_value());
    ASSERT_TRUE(exec(db->get(), "PRAGMA user_version = " + std::to_string(kSchemaVersion + 1)).has_value());
  }
  auto db = open_spool(dir.spool(), SpoolOpen{});
  ASSERT_FALSE(db.has_value());
  EXPECT_NE(db.error().message().find("newer than this tern"), std::string::npos) << db.error().message();
}

TEST(Schema, MissingSpoolIsAnErrorNamingThePath) {
  ScratchDir dir;
  auto db = open_spool(dir.spool(), SpoolOpen{.create_dir = false});
  ASSERT_FALSE(db.has_value());
  EXPECT_NE(db.error().message().find(dir.spool()), std::string::npos) << db.error().message();
  EXPECT_FALSE(std::filesystem::exists(dir.spool()));
}

TEST(Schema, SpoolThatIsAFileIsAnError) {
  ScratchDir dir;
  { std::ofstream(dir.spool()) << "not a directory"; }
  auto s = check_spool_dir(dir.spool(), true);
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message().find("is not a directory"), std::string::npos) << s.error().message();
}

TEST(Schema, MessageCountTriggersFollowStateChanges) {
  ScratchDir dir;
  auto db = open_spool(dir.spool(), SpoolOpen{.create_dir = true});
  ASSERT_TRUE(db.has_value());
  sqlite3* h = db->get();
  ASSERT_TRUE(exec(h, "INSERT INTO messages (id, sender, size, received_at) VALUES ('A', '', 1, 1), ('B', '', 1, 1);"
                      "UPDATE messages SET state = 'held' WHERE id = 'A';"
                      "UPDATE messages SET state = 'held' WHERE id = 'A';"  // no change: no double count
                      "INSERT INTO recipients (mid, address, domain, state, next_attempt)"
                      " VALUES (1, 'x@a', 'a', 'ready', 1), (1, 'y@a', 'a', 'ready', 1), (2, 'z@b', 'b', 'held', 1);"
                      "UPDATE recipients SET state = 'deferred' WHERE address = 'x@a';"
                      "DELETE FROM recipients WHERE address = 'z@b';"
                      "DELETE FROM messages WHERE id = 'B';")
                  .has_value());
  auto counts = Stmt::prepare(h, "SELECT group_concat(state || '=' || n, ' ') FROM"
                                 " (SELECT * FROM message_counts ORDER BY state)");
  ASSERT_TRUE(counts.has_value());
  ASSERT_TRUE(*counts->step());
  EXPECT_EQ(counts->text(0), "deferred=0 held=1 ready=0");
  auto domains = Stmt::prepare(h, "SELECT group_concat(domain || '/' || state || '=' || n, ' ') FROM"
                                  " (SELECT * FROM domain_counts ORDER BY domain, state)");
  ASSERT_TRUE(domains.has_value());
  ASSERT_TRUE(*domains->step());
  EXPECT_EQ(domains->text(0), "a/deferred=1 a/ready=1");  // b's row went away at zero
}

}  // namespace
}  // namespace tern::queue
