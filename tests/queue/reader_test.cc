#include "queue/reader.h"

#include <gtest/gtest.h>

#include "queue/admin.h"
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

class ReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = Writer::start(dir_.spool(), {});
    ASSERT_TRUE(w.has_value()) << w.error().message();
    writer_ = std::move(*w);
    auto r = Reader::open(dir_.spool());
    ASSERT_TRUE(r.has_value()) << r.error().message();
    reader_ = std::move(*r);
  }
  std::string enqueue(NewMessage m) {
    std::string id = m.id;
    Status s = enqueue_sync(*writer_, std::move(m));
    EXPECT_TRUE(s.has_value()) << s.error().message();
    return id;
  }
  std::string enqueue(std::vector<smtp::Recipient> r, TimePoint received = at()) {
    return enqueue(make_message(std::move(r), received));
  }
  std::int64_t rid(const std::string& id, std::size_t index = 0) {
    auto d = reader_->show(id);
    EXPECT_TRUE(d.has_value() && d->has_value());
    return (*d)->info.recipients.at(index).id;
  }
  void defer(const std::string& id, std::size_t index, TimePoint next, const std::string& reply = "") {
    ASSERT_TRUE(
        record_sync(*writer_, {outcome(id, rid(id, index), Outcome::Deferred, at(1s), next, reply)}).has_value());
  }
  std::vector<DeliveryJob> due(TimePoint now, std::size_t limit, const std::unordered_set<std::string>& in_flight = {}) {
    auto jobs = reader_->due(now, limit, in_flight);
    EXPECT_TRUE(jobs.has_value()) << jobs.error().message();
    return jobs ? std::move(*jobs) : std::vector<DeliveryJob>{};
  }

  ScratchDir dir_;
  std::unique_ptr<Writer> writer_;
  std::unique_ptr<Reader> reader_;
};

TEST_F(ReaderTest, DueJobCarriesTheWholeEnvelope) {
  NewMessage m = make_message({rcpt("bob", "Example.ORG"), rcpt("\"odd@local\"", "[192.0.2.1]"), rcpt("Postmaster", "")});
  m.envelope.params = smtp::MailParams{.size = 4096, .body = smtp::BodyType::BinaryMime, .smtputf8 = true,
                                       .ret = smtp::DsnRet::Hdrs, .envid = "env 1", .auth = "<app@example.com>"};
  m.envelope.recipients[0].params = smtp::RcptParams{.notify_success = true, .notify_failure = true,
                                                     .orcpt = "rfc822;bob@example.org"};
  m.envelope.recipients[1].params.notify_never = true;
  m.data = std::string("Subject: hi\r\n\r\nbody \0 with a NUL\r\n\0", 35);
  NewMessage want = m;
  enqueue(std::move(m));

  auto jobs = due(at(), 10);
  ASSERT_EQ(jobs.size(), 1u);
  const DeliveryJob& j = jobs[0];
  EXPECT_EQ(j.message_id, want.id);
  EXPECT_EQ(j.sender, want.envelope.sender);
  EXPECT_EQ(j.params, want.envelope.params);
  EXPECT_EQ(j.auth_user, "app");
  EXPECT_EQ(j.received_at, want.received_at);
  ASSERT_TRUE(j.data);
  EXPECT_EQ(j.data->str(), want.data);  // byte for byte, NULs included
  ASSERT_EQ(j.recipients.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(j.recipients[i].recipient, want.envelope.recipients[i]) << i;
    EXPECT_EQ(j.recipients[i].attempts, 0);
  }
  EXPECT_EQ(j.recipients[0].domain, "example.org");  // lower-cased key
  EXPECT_EQ(j.recipients[1].domain, "[192.0.2.1]");
  EXPECT_EQ(j.recipients[2].domain, "");
}

TEST_F(ReaderTest, NullSenderRoundTrips) {
  NewMessage m = make_message({rcpt("bob", "example.org")});
  m.envelope.sender = smtp::Path{};
  enqueue(std::move(m));
  auto jobs = due(at(), 10);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_TRUE(jobs[0].sender.is_null());
}

TEST_F(ReaderTest, DueIsOrderedLimitedGroupedAndSkipsInFlight) {
  std::string a = enqueue({rcpt("a1", "x.example"), rcpt("a2", "y.example")}, at(0s));
  std::string b = enqueue({rcpt("b1", "x.example")}, at(10s));
  std::string c = enqueue({rcpt("c1", "x.example")}, at(20s));
  defer(a, 1, at(30s));   // a2 due later than b1 and c1
  std::string d = enqueue({rcpt("d1", "x.example")}, at(1h));  // not due yet

  struct Case {
    TimePoint now;
    std::size_t limit;
    std::unordered_set<std::string> in_flight;
    std::vector<std::pair<std::string, std::size_t>> want;  // job message id, recipient count
  };
  const Case cases[] = {
      {at(5s), 10, {}, {{a, 1}}},                               // only a1 (received at 0) is due
      {at(25s), 10, {}, {{a, 1}, {b, 1}, {c, 1}}},
      {at(30s), 10, {}, {{a, 2}, {b, 1}, {c, 1}}},               // a2 joins a's job
      {at(30s), 2, {}, {{a, 1}, {b, 1}}},                        // limit counts recipients
      {at(30s), 1, {}, {{a, 1}}},
      {at(30s), 10, {a}, {{b, 1}, {c, 1}}},                      // a is being delivered
      {at(30s), 1, {a, b}, {{c, 1}}},
      {at(30s), 10, {a, b, c}, {}},
      {at(2h), 10, {}, {{a, 2}, {b, 1}, {c, 1}, {d, 1}}},
      {at(2h), 0, {}, {}},
  };
  for (std::size_t i = 0; i < std::size(cases); ++i) {
    const Case& k = cases[i];
    auto jobs = due(k.now, k.limit, k.in_flight);
    std::vector<std::pair<std::string, std::size_t>> got;
    for (const auto& j : jobs) got.emplace_back(j.message_id, j.recipients.size());
    EXPECT_EQ(got, k.want) << "case " << i;
  }
}

TEST_F(ReaderTest, HeldAndFinalRecipientsAreNeverDue) {
  std::string a = enqueue({rcpt("a1", "x.example"), rcpt("a2", "x.example")});
  std::string b = enqueue({rcpt("b1", "x.example")});
  ASSERT_TRUE(record_sync(*writer_, {outcome(a, rid(a, 0), Outcome::Delivered, at(1s))}).has_value());
  auto admin = Admin::open(dir_.spool());
  ASSERT_TRUE(admin.has_value());
  ASSERT_TRUE((*admin)->hold(b).has_value());
  auto jobs = due(at(1h), 10);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].message_id, a);
  ASSERT_EQ(jobs[0].recipients.size(), 1u);
  EXPECT_EQ(jobs[0].recipients[0].recipient.mailbox.local, "a2");
}

TEST_F(ReaderTest, NextDueIsTheEarliestPendingNotInFlight) {
  auto none = reader_->next_due({});
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->has_value());

  std::string a = enqueue({rcpt("a1", "x.example")}, at(0s));
  std::string b = enqueue({rcpt("b1", "x.example")}, at(0s));
  defer(a, 0, at(10min));
  defer(b, 0, at(20min));
  EXPECT_EQ(*reader_->next_due({}), at(10min));
  EXPECT_EQ(*reader_->next_due({a}), at(20min));
  EXPECT_FALSE(reader_->next_due({a, b})->has_value());
}

TEST_F(ReaderTest, ListStreamsMessagesInIdOrderWithAllRecipients) {
  std::string a = enqueue({rcpt("a1", "x.example"), rcpt("a2", "y.example")}, at(0s));
  std::string b = enqueue({rcpt("b1", "x.example")}, at(5s));
  defer(a, 1, at(1h), "452 4.2.2 mailbox full");
  std::vector<MessageInfo> seen;
  ASSERT_TRUE(reader_->list([&](const MessageInfo& m) { seen.push_back(m); }).has_value());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].id, a);
  EXPECT_EQ(seen[1].id, b);
  ASSERT_EQ(seen[0].recipients.size(), 2u);
  EXPECT_EQ(seen[0].recipients[0].address, "a1@x.example");
  EXPECT_EQ(seen[0].recipients[1].state, RecipientState::Deferred);
  EXPECT_EQ(seen[0].state, MessageState::Deferred);
  EXPECT_EQ(seen[0].attempts(), 1);
  EXPECT_EQ(seen[0].next_attempt(), at(0s));  // a1 is still due since arrival
  EXPECT_EQ(seen[0].last_reply(), "452 4.2.2 mailbox full");
  EXPECT_EQ(seen[1].state, MessageState::Ready);
  EXPECT_EQ(seen[0].size, static_cast<std::int64_t>(make_message({}).data.size()));
}

TEST_F(ReaderTest, SummaryCountsDomainsAndErrors) {
  std::string a = enqueue({rcpt("1", "big.example"), rcpt("2", "big.example"), rcpt("3", "Big.Example")});
  std::string b = enqueue({rcpt("4", "small.example"), rcpt("5", "big.example")});
  std::string c = enqueue({rcpt("6", "tiny.example")});
  defer(a, 0, at(1h), "451 4.7.1 greylisted");
  defer(a, 1, at(1h), "451 4.7.1 greylisted");
  defer(b, 0, at(1h), "421 4.4.2 timeout");
  auto admin = Admin::open(dir_.spool());
  ASSERT_TRUE(admin.has_value());
  ASSERT_TRUE((*admin)->hold(c).has_value());

  auto s = reader_->summary(2, 10);
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_EQ(s->messages.ready, 0);
  EXPECT_EQ(s->messages.deferred, 2);
  EXPECT_EQ(s->messages.held, 1);
  EXPECT_EQ(s->recipients_ready, 2);
  EXPECT_EQ(s->recipients_deferred, 3);
  EXPECT_EQ(s->recipients_held, 1);
  EXPECT_EQ(s->domain_count, 3);
  ASSERT_EQ(s->domains.size(), 2u);  // top 2
  EXPECT_EQ(s->domains[0].domain, "big.example");
  EXPECT_EQ(s->domains[0].ready, 2);
  EXPECT_EQ(s->domains[0].deferred, 2);
  EXPECT_EQ(s->domains[1].total(), 1);
  EXPECT_EQ(s->domains[1].domain, "small.example");  // ties by name
  ASSERT_EQ(s->errors.size(), 2u);
  EXPECT_EQ(s->errors[0].reply, "451 4.7.1 greylisted");
  EXPECT_EQ(s->errors[0].recipients, 2);
  EXPECT_EQ(s->errors[1].reply, "421 4.4.2 timeout");
  EXPECT_EQ(s->messages.oldest_received_at, at());
}

TEST_F(ReaderTest, ShowGivesHistoryAndTheHeaderSection) {
  NewMessage m = make_message({rcpt("bob", "example.org")});
  m.data = "Received: from a\r\n\tby b\r\nSubject: hi\r\n\r\nbody line\r\n\r\nmore\r\n";
  std::string id = enqueue(std::move(m));
  defer(id, 0, at(1h), "451 first");
  defer(id, 0, at(2h), "451 second");
  auto d = reader_->show(id);
  ASSERT_TRUE(d.has_value() && d->has_value());
  EXPECT_EQ((*d)->headers, "Received: from a\r\n\tby b\r\nSubject: hi\r\n");
  ASSERT_EQ((*d)->history.size(), 2u);
  EXPECT_EQ((*d)->history[0].reply, "451 first");
  EXPECT_EQ((*d)->history[1].reply, "451 second");
  EXPECT_EQ((*d)->info.recipients[0].attempts, 2);
  EXPECT_FALSE(reader_->show("0000000000000000")->has_value());
}

}  // namespace
}  // namespace tern::queue
