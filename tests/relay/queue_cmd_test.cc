// `tern queue ...` driven through queue_command() on a real spool while a
// Writer (the daemon's) has it open.
#include "relay/queue_cmd.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "queue/db.h"
#include "queue/reader.h"
#include "queue/schema.h"
#include "queue/writer.h"
#include "relay/exit_codes.h"
#include "tests/queue/queue_test_util.h"

namespace tern::relay {
namespace {

using namespace std::chrono_literals;
using queue::testing::at;
using queue::testing::enqueue_sync;
using queue::testing::make_message;
using queue::testing::outcome;
using queue::testing::rcpt;
using queue::testing::record_sync;
using queue::testing::ScratchDir;
using Outcome = queue::AttemptRecord::Outcome;

struct CmdResult {
  int code;
  std::string out, err;
};

class QueueCmdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = queue::Writer::start(dir_.spool(), {});
    ASSERT_TRUE(w.has_value()) << w.error().message();
    writer_ = std::move(*w);
  }

  CmdResult run(QueueOptions opts, std::chrono::system_clock::time_point now = at(2h), std::string spool = "") {
    std::istringstream in;
    std::ostringstream out, err;
    int code = queue_command(spool.empty() ? dir_.spool() : spool, opts, CliIo{in, out, err, now});
    return CmdResult{code, out.str(), err.str()};
  }

  std::string enqueue(queue::NewMessage m) {
    std::string id = m.id;
    EXPECT_TRUE(enqueue_sync(*writer_, std::move(m)).has_value());
    return id;
  }

  // Two messages: A (deferred bob, ready carol) received at t0, B (ready) at t0+30m.
  void populate() {
    queue::NewMessage a = make_message({rcpt("bob", "example.org"), rcpt("carol", "Example.NET")}, at());
    a.data = "Received: from app\r\n\tby relay\r\nSubject: \x1b[31mred\r\n\r\nbody\r\n";
    a.envelope.params.size = 64;
    a.envelope.recipients[1].params.notify_failure = true;
    a_ = enqueue(std::move(a));
    queue::NewMessage b = make_message({rcpt("dave", "example.org")}, at(30min));
    b.envelope.sender = smtp::Path{};
    b_ = enqueue(std::move(b));
    auto reader = queue::Reader::open(dir_.spool());
    ASSERT_TRUE(reader.has_value());
    bob_ = (*(*reader)->show(a_))->info.recipients[0].id;
    ASSERT_TRUE(
        record_sync(*writer_, {outcome(a_, bob_, Outcome::Deferred, at(1min), at(2h + 20min), "451 4.7.1 try later")})
            .has_value());
  }

  ScratchDir dir_;
  std::unique_ptr<queue::Writer> writer_;
  std::string a_, b_;
  std::int64_t bob_ = 0;
};

TEST_F(QueueCmdTest, ListOfAnEmptyQueue) {
  CmdResult r = run({.action = "list"});
  EXPECT_EQ(r.code, kExOk);
  EXPECT_EQ(r.out, "queue is empty\n");
  r = run({.action = "list", .json = true});
  EXPECT_EQ(r.code, kExOk);
  EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json::array());
}

TEST_F(QueueCmdTest, ListIsOneBlockPerMessage) {
  populate();
  CmdResult r = run({.action = "list"});
  EXPECT_EQ(r.code, kExOk) << r.err;
  std::string want =
      a_ + "  deferred  age 2h  58 bytes  from <alice@example.com>\n"
      "    bob@example.org  deferred, 1 attempt, next 2024-01-01T02:20:00Z (in 20m): 451 4.7.1 try later\n"
      "    carol@Example.NET  ready, next 2024-01-01T00:00:00Z (due now)\n" +
      b_ + "  ready  age 1h30m  " + std::to_string(make_message({}).data.size()) + " bytes  from <>\n"
      "    dave@example.org  ready, next 2024-01-01T00:30:00Z (due now)\n"
      "-- 2 messages, ";
  EXPECT_EQ(r.out.substr(0, want.size()), want);
}

TEST_F(QueueCmdTest, ListJsonHasExactlyTheDocumentedKeys) {
  populate();
  CmdResult r = run({.action = "list", .json = true});
  ASSERT_EQ(r.code, kExOk) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u);
  const std::set<std::string> message_keys{"id", "received_at", "size", "sender", "attempts",
                                           "next_attempt", "state", "recipients"};
  const std::set<std::string> recipient_keys{"address", "state", "attempts", "last_reply"};
  for (const auto& m : j) {
    std::set<std::string> keys;
    for (const auto& [k, v] : m.items()) keys.insert(k);
    EXPECT_EQ(keys, message_keys);
    for (const auto& rc : m["recipients"]) {
      std::set<std::string> rkeys;
      for (const auto& [k, v] : rc.items()) rkeys.insert(k);
      EXPECT_EQ(rkeys, recipient_keys);
    }
  }
  EXPECT_EQ(j[0]["id"], a_);
  EXPECT_EQ(j[0]["received_at"], "2024-01-01T00:00:00Z");
  EXPECT_EQ(j[0]["sender"], "alice@example.com");
  EXPECT_EQ(j[0]["state"], "deferred");
  EXPECT_EQ(j[0]["attempts"], 1);
  EXPECT_EQ(j[0]["next_attempt"], "2024-01-01T00:00:00Z");  // carol is due since arrival
  EXPECT_EQ(j[0]["size"], 58);
  EXPECT_EQ(j[0]["recipients"][0]["address"], "bob@example.org");
  EXPECT_EQ(j[0]["recipients"][0]["state"], "deferred");
  EXPECT_EQ(j[0]["recipients"][0]["last_reply"], "451 4.7.1 try later");
  EXPECT_EQ(j[0]["recipients"][1]["attempts"], 0);
  EXPECT_EQ(j[1]["sender"], "");  // the null reverse-path
  EXPECT_EQ(j[1]["state"], "ready");

  ASSERT_EQ(run({.action = "hold", .id = b_}).code, kExOk);
  j = nlohmann::json::parse(run({.action = "list", .json = true}).out);
  EXPECT_EQ(j[1]["state"], "held");
  EXPECT_TRUE(j[1]["next_attempt"].is_null());
}

TEST_F(QueueCmdTest, Summary) {
  populate();
  CmdResult r = run({.action = "summary"});
  ASSERT_EQ(r.code, kExOk) << r.err;
  EXPECT_EQ(r.out,
            "messages:   2 (ready 1, deferred 1, held 0)\n"
            "recipients: 3 (ready 2, deferred 1, held 0) in 2 domains\n"
            "oldest:     2h (2024-01-01T00:00:00Z)\n"
            "\n"
            "DOMAIN          TOTAL     READY  DEFERRED      HELD\n"
            "example.org         2         1         1         0\n"
            "example.net         1         1         0         0\n"
            "\n"
            "most frequent errors of deferred recipients:\n"
            "        1  451 4.7.1 try later\n");
  r = run({.action = "summary", .json = true});
  ASSERT_EQ(r.code, kExOk);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["messages"]["total"], 2);
  EXPECT_EQ(j["messages"]["deferred"], 1);
  EXPECT_EQ(j["recipients"]["ready"], 2);
  EXPECT_EQ(j["oldest_age_seconds"], 7200);
  EXPECT_EQ(j["domains"][0]["domain"], "example.org");
  EXPECT_EQ(j["errors"][0]["reply"], "451 4.7.1 try later");
}

TEST_F(QueueCmdTest, ShowPrintsEnvelopeHistoryAndSafeHeaders) {
  populate();
  CmdResult r = run({.action = "show", .id = a_});
  ASSERT_EQ(r.code, kExOk) << r.err;
  for (const std::string& want :
       {"id:          " + a_ + "\n", std::string("state:       deferred\n"),
        std::string("received:    2024-01-01T00:00:00Z (2h ago) from 127.0.0.1, authenticated as app\n"),
        std::string("sender:      <alice@example.com> SIZE=64\n"),
        std::string("  bob@example.org  deferred, 1 attempt, next 2024-01-01T02:20:00Z (in 20m): 451 4.7.1 try later\n"
                    "      2024-01-01T00:01:00Z  deferred  mx1.example.org[192.0.2.7]  451 4.7.1 try later\n"),
        std::string("  carol@Example.NET  ready, next 2024-01-01T00:00:00Z (due now)  [NOTIFY=FAILURE]\n"),
        std::string("headers:\nReceived: from app\n\tby relay\nSubject: \\x1B[31mred\n")}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << "missing: " << want << "\nin:\n" << r.out;
  }
  EXPECT_EQ(r.out.find("body"), std::string::npos);  // headers only
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);

  // Ids may be typed in lower case.
  std::string lower = a_;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(run({.action = "show", .id = lower}).code, kExOk);
}

TEST_F(QueueCmdTest, UnknownIdIsNoInput) {
  for (const char* action : {"show", "retry", "hold", "release", "delete"}) {
    CmdResult r = run({.action = action, .id = "0000000000000000"});
    EXPECT_EQ(r.code, kExNoInput) << action;
    EXPECT_EQ(r.err, "tern queue: no such message: 0000000000000000\n") << action;
  }
}

TEST_F(QueueCmdTest, RetryHoldReleaseDelete) {
  populate();
  auto reader = queue::Reader::open(dir_.spool());
  ASSERT_TRUE(reader.has_value());
  auto due_at = [&](std::chrono::system_clock::time_point now) {
    std::size_t n = 0;
    auto jobs = (*reader)->due(now, 100, {});
    EXPECT_TRUE(jobs.has_value());
    for (const auto& j : *jobs) n += j.recipients.size();
    return n;
  };
  EXPECT_EQ(due_at(at(2h)), 2u);  // carol and dave; bob waits until 02:20

  CmdResult r = run({.action = "retry", .id = a_}, at(2h));
  EXPECT_EQ(r.code, kExOk) << r.err;
  EXPECT_EQ(r.out, "tern queue: " + a_ + ": 1 recipient due now\n");  // bob; carol already was
  EXPECT_EQ(due_at(at(2h)), 3u);

  r = run({.action = "hold", .id = a_});
  EXPECT_EQ(r.out, "tern queue: " + a_ + ": 2 recipients held\n");
  EXPECT_EQ(due_at(at(2h)), 1u);
  r = run({.action = "release", .id = a_}, at(3h));
  EXPECT_EQ(r.out, "tern queue: " + a_ + ": 2 recipients released, due now\n");
  EXPECT_EQ(due_at(at(3h)), 3u);

  // retry --all on deferred recipients due later.
  ASSERT_TRUE(record_sync(*writer_, {outcome(a_, bob_, Outcome::Deferred, at(3h), at(5h))}).has_value());
  EXPECT_EQ(due_at(at(3h)), 2u);
  r = run({.action = "retry", .all = true}, at(3h));
  EXPECT_EQ(r.out, "tern queue: 1 recipient due now\n");
  EXPECT_EQ(due_at(at(3h)), 3u);

  r = run({.action = "delete", .id = b_});
  EXPECT_EQ(r.code, kExOk);
  EXPECT_EQ(r.out, "tern queue: " + b_ + ": deleted\n");
  EXPECT_FALSE((*reader)->show(b_)->has_value());
  // The daemon reports an outcome for the deleted message afterwards: ignored.
  ASSERT_TRUE(record_sync(*writer_, {outcome(b_, bob_ + 2, Outcome::Deferred, at(4h), at(5h))}).has_value());
  EXPECT_FALSE((*reader)->show(b_)->has_value());
}

TEST_F(QueueCmdTest, SpoolProblemsNameThePath) {
  CmdResult r = run({.action = "list"}, at(), dir_.path() + "/nowhere");
  EXPECT_EQ(r.code, kExCantCreat);
  EXPECT_NE(r.err.find(dir_.path() + "/nowhere"), std::string::npos) << r.err;
  { std::ofstream(dir_.path() + "/file") << "x"; }
  r = run({.action = "summary"}, at(), dir_.path() + "/file");
  EXPECT_EQ(r.code, kExCantCreat);
  EXPECT_NE(r.err.find("is not a directory"), std::string::npos) << r.err;
}

TEST_F(QueueCmdTest, BadUsage) {
  EXPECT_EQ(run({.action = "frobnicate"}).code, kExUsage);
  EXPECT_EQ(run({.action = "show"}).code, kExUsage);
}

TEST_F(QueueCmdTest, BusyDatabaseIsTempFail) {
  populate();
  auto other = queue::open_spool(dir_.spool(), queue::SpoolOpen{});
  ASSERT_TRUE(other.has_value());
  ASSERT_TRUE(queue::exec(other->get(), "BEGIN IMMEDIATE").has_value());  // hold the write lock past 5 s
  CmdResult r = run({.action = "hold", .id = a_});
  EXPECT_EQ(r.code, kExTempFail) << r.err;
  EXPECT_NE(r.err.find("busy"), std::string::npos) << r.err;
  // Readers are not blocked by a writer.
  EXPECT_EQ(run({.action = "list"}).code, kExOk);
  ASSERT_TRUE(queue::exec(other->get(), "ROLLBACK").has_value());
  EXPECT_EQ(run({.action = "hold", .id = a_}).code, kExOk);
}

}  // namespace
}  // namespace tern::relay
