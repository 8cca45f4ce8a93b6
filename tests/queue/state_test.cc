// Recipient and message state transitions through the Writer (daemon) and
// Admin (CLI), observed with the Reader.
#include <gtest/gtest.h>

#include "queue/admin.h"
#include "queue/db.h"
#include "queue/reader.h"
#include "queue/schema.h"
#include "queue/writer.h"
#include "queue_test_util.h"

namespace tern::queue {
namespace {

using namespace std::chrono_literals;
using testing::at;
using testing::enqueue_sync;
using testing::make_message;
using testing::outcome;
using testing::rcpt;
using testing::record_sync;
using testing::ScratchDir;
using Outcome = AttemptRecord::Outcome;

class StateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = Writer::start(dir_.spool(), {});
    ASSERT_TRUE(w.has_value()) << w.error().message();
    writer_ = std::move(*w);
    auto r = Reader::open(dir_.spool());
    ASSERT_TRUE(r.has_value()) << r.error().message();
    reader_ = std::move(*r);
    auto a = Admin::open(dir_.spool());
    ASSERT_TRUE(a.has_value()) << a.error().message();
    admin_ = std::move(*a);
  }

  std::string enqueue(std::vector<smtp::Recipient> recipients) {
    NewMessage m = make_message(std::move(recipients));
    std::string id = m.id;
    Status s = enqueue_sync(*writer_, std::move(m));
    EXPECT_TRUE(s.has_value()) << s.error().message();
    return id;
  }

  MessageDetail show(const std::string& id) {
    auto d = reader_->show(id);
    EXPECT_TRUE(d.has_value() && d->has_value()) << id;
    return d && *d ? **d : MessageDetail{};
  }
  bool exists(const std::string& id) {
    auto d = reader_->show(id);
    EXPECT_TRUE(d.has_value());
    return d && d->has_value();
  }
  std::string counts() {
    auto c = reader_->counts();
    EXPECT_TRUE(c.has_value());
    return "ready=" + std::to_string(c->ready) + " deferred=" + std::to_string(c->deferred) +
           " held=" + std::to_string(c->held);
  }
  std::int64_t rows(const char* table) {
    auto db = open_spool(dir_.spool(), SpoolOpen{});
    EXPECT_TRUE(db.has_value());
    auto s = Stmt::prepare(db->get(), std::string("SELECT count(*) FROM ") + table);
    EXPECT_TRUE(s.has_value());
    EXPECT_TRUE(*s->step());
    return s->int64(0);
  }
  std::size_t due_recipients(TimePoint now) {
    auto jobs = reader_->due(now, 100, {});
    EXPECT_TRUE(jobs.has_value());
    std::size_t n = 0;
    for (const auto& j : *jobs) n += j.recipients.size();
    return n;
  }

  ScratchDir dir_;
  std::unique_ptr<Writer> writer_;
  std::unique_ptr<Reader> reader_;
  std::unique_ptr<Admin> admin_;
};

TEST_F(StateTest, ReadyDeferredDeliveredThenDeleted) {
  std::string id = enqueue({rcpt("bob", "a.example"), rcpt("carol", "b.example")});
  MessageDetail d = show(id);
  ASSERT_EQ(d.info.recipients.size(), 2u);
  EXPECT_EQ(d.info.state, MessageState::Ready);
  EXPECT_EQ(d.info.recipients[0].state, RecipientState::Ready);
  EXPECT_EQ(counts(), "ready=1 deferred=0 held=0");
  std::int64_t bob = d.info.recipients[0].id, carol = d.info.recipients[1].id;

  ASSERT_TRUE(record_sync(*writer_, {outcome(id, bob, Outcome::Deferred, at(60s), at(360s))}).has_value());
  d = show(id);
  EXPECT_EQ(d.info.state, MessageState::Deferred);
  EXPECT_EQ(d.info.recipients[0].state, RecipientState::Deferred);
  EXPECT_EQ(d.info.recipients[0].attempts, 1);
  EXPECT_EQ(d.info.recipients[0].next_attempt, at(360s));
  EXPECT_EQ(d.info.recipients[0].last_reply, "451 4.7.1 try later");
  EXPECT_EQ(d.info.recipients[0].last_attempt, at(60s));
  EXPECT_EQ(d.info.recipients[1].state, RecipientState::Ready);
  ASSERT_EQ(d.history.size(), 1u);
  EXPECT_EQ(d.history[0].outcome, "deferred");
  EXPECT_EQ(d.history[0].host, "mx1.example.org[192.0.2.7]");
  EXPECT_EQ(counts(), "ready=0 deferred=1 held=0");

  ASSERT_TRUE(record_sync(*writer_, {outcome(id, carol, Outcome::Delivered, at(61s))}).has_value());
  d = show(id);
  EXPECT_EQ(d.info.recipients[1].state, RecipientState::Delivered);
  EXPECT_EQ(d.history.size(), 2u);
  EXPECT_EQ(d.info.state, MessageState::Deferred);

  ASSERT_TRUE(record_sync(*writer_, {outcome(id, bob, Outcome::Delivered, at(400s))}).has_value());
  EXPECT_FALSE(exists(id));
  EXPECT_EQ(counts(), "ready=0 deferred=0 held=0");
  for (const char* table : {"messages", "bodies", "recipients", "history", "domain_counts"}) {
    EXPECT_EQ(rows(table), 0) << table;
  }
}

TEST_F(StateTest, BounceAndItsDsnAreStoredTogether) {
  std::string id = enqueue({rcpt("nobody", "example.org")});
  std::int64_t r = show(id).info.recipients[0].id;
  NewMessage dsn = make_message({rcpt("alice", "example.com")});
  dsn.envelope.sender = smtp::Path{};  // MAIL FROM:<>
  std::string dsn_id = dsn.id;
  std::vector<NewMessage> also;
  also.push_back(std::move(dsn));
  ASSERT_TRUE(record_sync(*writer_, {outcome(id, r, Outcome::Bounced, at(10s))}, std::move(also)).has_value());
  EXPECT_FALSE(exists(id));
  MessageDetail d = show(dsn_id);
  EXPECT_TRUE(d.info.sender.is_null());
  EXPECT_EQ(writer_->stats().messages, 2u);
}

TEST_F(StateTest, HoldParksAndReleaseMakesDueNow) {
  std::string id = enqueue({rcpt("bob", "example.org"), rcpt("carol", "example.org")});
  std::int64_t bob = show(id).info.recipients[0].id;
  auto held = admin_->hold(id);
  ASSERT_TRUE(held.has_value() && held->has_value());
  EXPECT_EQ(**held, 2);
  EXPECT_EQ(show(id).info.state, MessageState::Held);
  EXPECT_EQ(counts(), "ready=0 deferred=0 held=1");
  EXPECT_EQ(due_recipients(at(1h)), 0u);

  // The daemon was delivering when the operator held it: a deferral keeps the hold.
  ASSERT_TRUE(record_sync(*writer_, {outcome(id, bob, Outcome::Deferred, at(60s), at(120s))}).has_value());
  MessageDetail d = show(id);
  EXPECT_EQ(d.info.recipients[0].state, RecipientState::Held);
  EXPECT_EQ(d.info.recipients[0].attempts, 1);
  EXPECT_EQ(d.info.state, MessageState::Held);
  EXPECT_EQ(due_recipients(at(1h)), 0u);

  auto released = admin_->release(id, at(2h));
  ASSERT_TRUE(released.has_value() && released->has_value());
  EXPECT_EQ(**released, 2);
  d = show(id);
  EXPECT_EQ(d.info.recipients[0].state, RecipientState::Ready);
  EXPECT_EQ(d.info.recipients[0].next_attempt, at(2h));
  EXPECT_EQ(d.info.state, MessageState::Deferred);  // bob has been attempted
  EXPECT_EQ(counts(), "ready=0 deferred=1 held=0");
  EXPECT_EQ(due_recipients(at(2h)), 2u);
  EXPECT_EQ(due_recipients(at(2h) - 1s), 0u);
}

TEST_F(StateTest, FinalOutcomeAppliesToAHeldRecipient) {
  std::string id = enqueue({rcpt("bob", "example.org")});
  std::int64_t bob = show(id).info.recipients[0].id;
  ASSERT_TRUE(admin_->hold(id).has_value());
  // The mail did get through: releasing it later would only send a duplicate.
  ASSERT_TRUE(record_sync(*writer_, {outcome(id, bob, Outcome::Delivered, at(5s))}).has_value());
  EXPECT_FALSE(exists(id));
}

TEST_F(StateTest, RetryMakesDeferredRecipientsDueNow) {
  std::string a = enqueue({rcpt("bob", "example.org")});
  std::string b = enqueue({rcpt("carol", "example.org")});
  ASSERT_TRUE(record_sync(*writer_, {outcome(a, show(a).info.recipients[0].id, Outcome::Deferred, at(10s), at(1h)),
                                     outcome(b, show(b).info.recipients[0].id, Outcome::Deferred, at(10s), at(2h))})
                  .has_value());
  EXPECT_EQ(due_recipients(at(60s)), 0u);

  auto one = admin_->retry(a, at(60s));
  ASSERT_TRUE(one.has_value() && one->has_value());
  EXPECT_EQ(**one, 1);
  EXPECT_EQ(due_recipients(at(60s)), 1u);
  EXPECT_EQ(show(a).info.state, MessageState::Deferred);  // still deferred, just due

  auto all = admin_->retry_all(at(60s));
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(*all, 1);  // only b was still due later
  EXPECT_EQ(due_recipients(at(60s)), 2u);

  auto unknown = admin_->retry("0000000000000000", at(60s));
  ASSERT_TRUE(unknown.has_value());
  EXPECT_FALSE(unknown->has_value());
}

TEST_F(StateTest, LateOutcomeNeverResurrectsADeletedMessage) {
  std::string id = enqueue({rcpt("bob", "example.org")});
  std::int64_t bob = show(id).info.recipients[0].id;
  auto removed = admin_->remove(id);
  ASSERT_TRUE(removed.has_value() && removed->has_value());
  EXPECT_FALSE(exists(id));
  ASSERT_TRUE(record_sync(*writer_, {outcome(id, bob, Outcome::Deferred, at(5s), at(60s))}).has_value());
  ASSERT_TRUE(record_sync(*writer_, {outcome(id, bob, Outcome::Delivered, at(6s))}).has_value());
  EXPECT_FALSE(exists(id));
  EXPECT_EQ(rows("history"), 0);
  EXPECT_EQ(counts(), "ready=0 deferred=0 held=0");
  auto again = admin_->remove(id);
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(again->has_value());
}

TEST_F(StateTest, StaleOutcomeCannotHitARecycledRecipientId) {
  std::string first = enqueue({rcpt("bob", "example.org")});
  std::int64_t rid = show(first).info.recipients[0].id;
  ASSERT_TRUE(record_sync(*writer_, {outcome(first, rid, Outcome::Delivered, at(1s))}).has_value());
  std::string second = enqueue({rcpt("carol", "example.org")});
  ASSERT_EQ(show(second).info.recipients[0].id, rid);  // SQLite reuses the largest deleted rowid
  // A duplicate report for the first message must not touch the second.
  ASSERT_TRUE(record_sync(*writer_, {outcome(first, rid, Outcome::Bounced, at(2s))}).has_value());
  MessageDetail d = show(second);
  EXPECT_EQ(d.info.recipients[0].state, RecipientState::Ready);
  EXPECT_TRUE(d.history.empty());
}

TEST_F(StateTest, MessageStatesAreCountedAcrossManyMessages) {
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(enqueue({rcpt("u" + std::to_string(i), "example.org")}));
  ASSERT_TRUE(admin_->hold(ids[0]).has_value());
  ASSERT_TRUE(admin_->hold(ids[1]).has_value());
  ASSERT_TRUE(record_sync(*writer_, {outcome(ids[2], show(ids[2]).info.recipients[0].id, Outcome::Deferred, at(1s),
                                             at(1h))})
                  .has_value());
  ASSERT_TRUE(
      record_sync(*writer_, {outcome(ids[3], show(ids[3]).info.recipients[0].id, Outcome::Delivered, at(1s))})
          .has_value());
  EXPECT_EQ(counts(), "ready=2 deferred=1 held=2");
  auto c = reader_->counts();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->oldest_received_at, at());
}

}  // namespace
}  // namespace tern::queue
