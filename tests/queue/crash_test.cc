// The spool's promise, tested by crashing it: a child process enqueues from
// several threads and reports each id through a pipe once its callback said
// "committed"; the parent kills it with SIGKILL at a random moment, reopens
// the spool, and every reported id must be there, intact, in a database that
// passes PRAGMA integrity_check. Several rounds on the same spool, so recovery
// of a killed writer (WAL tail, interrupted checkpoint) is itself exercised.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "queue/db.h"
#include "queue/reader.h"
#include "queue/schema.h"
#include "queue/writer.h"
#include "queue_test_util.h"

namespace tern::queue {
namespace {

using testing::make_message;
using testing::rcpt;
using testing::ScratchDir;

// The body is a function of the id, so the parent can check it byte for byte.
std::string body_for(const std::string& id) {
  std::string data = "Subject: " + id + "\r\n\r\n";
  while (data.size() < 4096) data += id + "\r\n";
  return data;
}

[[noreturn]] void child_main(const std::string& spool, int out_fd) {
  auto writer = Writer::start(spool, Writer::Options{.checkpoint_pages = 64});
  if (!writer) _exit(3);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&writer, out_fd] {
      for (int i = 0; i < 100000; ++i) {  // bounded; the parent kills us long before
        NewMessage m = make_message({rcpt("bob", "example.org"), rcpt("carol", "example.net")});
        m.data = body_for(m.id);
        std::string line = m.id + "\n";
        if (!testing::enqueue_sync(**writer, std::move(m))) _exit(4);
        // One write of 17 bytes: atomic on a pipe.
        if (::write(out_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(5);
      }
    });
  }
  for (auto& t : threads) t.join();
  _exit(0);
}

// Reads whole lines from fd into ids until `want` ids arrived, EOF, or the deadline.
bool read_ids(int fd, std::string& buffer, std::vector<std::string>& ids, std::size_t want,
              std::chrono::steady_clock::time_point deadline) {
  while (ids.size() < want) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    char chunk[4096];
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;  // EOF
    buffer.append(chunk, static_cast<std::size_t>(n));
    std::size_t nl;
    while ((nl = buffer.find('\n')) != std::string::npos) {
      ids.push_back(buffer.substr(0, nl));
      buffer.erase(0, nl + 1);
    }
  }
  return true;
}

TEST(Crash, KillNineLosesNoCommittedMessage) {
  ScratchDir dir;
  std::random_device device;
  const unsigned seed = device();
  std::mt19937 random(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));

  std::vector<std::string> reported;
  for (int round = 0; round < 3; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(fds[0]);
      child_main(dir.spool(), fds[1]);
    }
    ::close(fds[1]);
    std::size_t wait_for = std::uniform_int_distribution<std::size_t>(1, 400)(random);
    std::string buffer;
    std::vector<std::string> ids;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    bool got = read_ids(fds[0], buffer, ids, wait_for, deadline);
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(got) << "round " << round << ": child reported " << ids.size() << " ids before the deadline";
    EXPECT_TRUE(WIFSIGNALED(status)) << "child exited early with status " << status;
    // What the child wrote before dying was committed too.
    read_ids(fds[0], buffer, ids, SIZE_MAX, std::chrono::steady_clock::now() + std::chrono::seconds(10));
    ::close(fds[0]);
    reported.insert(reported.end(), ids.begin(), ids.end());

    auto db = open_spool(dir.spool(), SpoolOpen{});
    ASSERT_TRUE(db.has_value()) << db.error().message();
    auto check = Stmt::prepare(db->get(), "PRAGMA integrity_check");
    ASSERT_TRUE(check.has_value());
    ASSERT_TRUE(*check->step());
    EXPECT_EQ(check->text(0), "ok") << "round " << round;

    auto reader = Reader::open(dir.spool());
    ASSERT_TRUE(reader.has_value()) << reader.error().message();
    std::set<std::string> stored;
    std::size_t intact = 0;
    ASSERT_TRUE((*reader)->list([&](const MessageInfo& m) {
                  stored.insert(m.id);
                  if (m.recipients.size() == 2 && m.size == static_cast<std::int64_t>(body_for(m.id).size())) ++intact;
                }).has_value());
    EXPECT_EQ(intact, stored.size());
    std::size_t missing = 0;
    for (const auto& id : reported) missing += stored.contains(id) ? 0 : 1;
    EXPECT_EQ(missing, 0u) << "round " << round << ": " << reported.size() << " reported";
    // Spot-check bodies byte for byte through due().
    auto jobs = (*reader)->due(testing::at(std::chrono::hours(24 * 365 * 10)), 50, {});
    ASSERT_TRUE(jobs.has_value());
    for (const auto& job : *jobs) EXPECT_EQ(job.data->str(), body_for(job.message_id));
  }
  EXPECT_GE(reported.size(), 3u);
}

}  // namespace
}  // namespace tern::queue
