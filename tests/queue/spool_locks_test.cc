// The daemon keeps its hold on queue.db while other handles come and go.
//
// In WAL mode every open connection holds a SHARED lock on the database file;
// that lock is what tells another process's connection, when it closes, that
// it is not the last one and must leave the WAL alone. POSIX locks belong to
// the process, and close() on any descriptor of the file drops all of them,
// so opening a second handle on the spool (the scheduler's reader, the
// authenticator's user table) must never close a descriptor of queue.db
// behind SQLite's back. If it did, the next `tern queue ...` command would
// checkpoint and delete the WAL under the running daemon, whose later commits
// would then go to an unlinked file and be lost at restart.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "queue/reader.h"
#include "queue/schema.h"
#include "queue/users.h"
#include "queue/writer.h"
#include "queue_test_util.h"

namespace tern::queue {
namespace {

using testing::make_message;
using testing::rcpt;
using testing::ScratchDir;

// SQLite's lock bytes in the database file (the file format's "lock-byte
// page"): readers hold a read lock on some byte of the SHARED range, which
// starts two bytes past the PENDING byte at 1 GiB and is 510 bytes long.
constexpr off_t kPendingByte = 0x40000000;
constexpr off_t kSharedFirst = kPendingByte + 2;
constexpr off_t kSharedSize = 510;
constexpr const char* kSqliteShell = "/usr/bin/sqlite3";

// Asks, from a child process (F_GETLK ignores the caller's own locks),
// whether another process could take the exclusive lock a closing connection
// takes before it checkpoints and deletes the WAL. Returns true when some
// lock of ours stands in the way.
bool another_process_is_kept_out(const std::string& db_path) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(db_path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) _exit(2);
    struct flock probe {};
    probe.l_type = F_WRLCK;
    probe.l_whence = SEEK_SET;
    probe.l_start = kSharedFirst;
    probe.l_len = kSharedSize;
    if (::fcntl(fd, F_GETLK, &probe) != 0) _exit(3);
    _exit(probe.l_type == F_UNLCK ? 1 : 0);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return false;
  EXPECT_NE(WEXITSTATUS(status), 2) << "child could not open " << db_path;
  EXPECT_NE(WEXITSTATUS(status), 3) << "F_GETLK failed";
  return WEXITSTATUS(status) == 0;
}

TEST(SpoolLocks, OpeningMoreHandlesKeepsTheWritersSharedLock) {
  ScratchDir dir;
  auto writer = Writer::start(dir.spool(), {});
  ASSERT_TRUE(writer) << writer.error().message();
  ASSERT_TRUE(testing::enqueue_sync(**writer, make_message({rcpt("bob", "example.org")})));
  const std::string db = database_path(dir.spool());
  ASSERT_TRUE(another_process_is_kept_out(db)) << "the writer alone does not hold its SHARED lock";

  auto reader = Reader::open(dir.spool());
  ASSERT_TRUE(reader) << reader.error().message();
  EXPECT_TRUE(another_process_is_kept_out(db)) << "opening a Reader dropped the writer's lock";
  auto users = Users::open(dir.spool());
  ASSERT_TRUE(users) << users.error().message();
  EXPECT_TRUE(another_process_is_kept_out(db)) << "opening Users dropped the writer's lock";
  reader->reset();
  users->reset();
  EXPECT_TRUE(another_process_is_kept_out(db)) << "closing the other handles dropped the writer's lock";
}

// The consequence, end to end: a short-lived connection of another process
// (what every `tern queue` command is) opens and closes while the writer
// runs; the writer's later commits are still in the spool afterwards.
TEST(SpoolLocks, AnotherProcessClosingLeavesTheWalAlone) {
  ScratchDir dir;
  auto writer = Writer::start(dir.spool(), {});
  ASSERT_TRUE(writer) << writer.error().message();
  auto reader = Reader::open(dir.spool());
  ASSERT_TRUE(reader) << reader.error().message();
  ASSERT_TRUE(testing::enqueue_sync(**writer, make_message({rcpt("bob", "example.org")})));

  // Another process, as a `tern queue` command is: the sqlite3 shell (a
  // forked child would inherit SQLite's per-process lock bookkeeping and
  // behave unlike a separate program).
  const std::string db = database_path(dir.spool());
  ASSERT_EQ(::access(kSqliteShell, X_OK), 0) << kSqliteShell << " is missing (scripts/install-deps.sh installs it)";
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) ::dup2(null, STDOUT_FILENO);
    ::execl(kSqliteShell, kSqliteShell, db.c_str(), "SELECT count(*) FROM messages;", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(std::filesystem::exists(db + "-wal")) << "another process deleted the WAL the writer still uses";

  NewMessage later = make_message({rcpt("carol", "example.net")});
  const std::string later_id = later.id;
  ASSERT_TRUE(testing::enqueue_sync(**writer, std::move(later)));
  (*writer)->stop();
  writer->reset();
  reader->reset();

  auto fresh = Reader::open(dir.spool());
  ASSERT_TRUE(fresh) << fresh.error().message();
  auto shown = (*fresh)->show(later_id);
  ASSERT_TRUE(shown) << shown.error().message();
  EXPECT_TRUE(shown->has_value()) << "a message committed after the other process closed is lost";
}

}  // namespace
}  // namespace tern::queue
