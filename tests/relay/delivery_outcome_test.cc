// build_record, make_dsn and BounceCollector: the verdicts of one attempt, the
// one DSN of a message, and the collection of a message's bounces across its
// jobs (one per domain, on whichever worker threads they ran).
#include "relay/delivery_outcome.h"

#include <gtest/gtest.h>

#include <thread>

#include "relay/delivery_worker.h"

namespace tern::relay {
namespace {

using S = smtp::RecipientResult::Status;
using Outcome = queue::AttemptRecord::Outcome;
using std::chrono::system_clock;

const system_clock::time_point kNow = system_clock::time_point(std::chrono::seconds(1704067200));

DeliveryJob job_for(std::vector<std::string> locals, const std::string& domain, bool null_sender = false) {
  DeliveryJob job;
  job.message_id = "06H48KEKFC0015K2";
  job.destination = domain;
  if (!null_sender) job.envelope.sender = smtp::Path{smtp::Mailbox{"app", "src.test"}};
  for (std::size_t i = 0; i < locals.size(); ++i) {
    job.envelope.recipients.push_back(smtp::Recipient{smtp::Mailbox{locals[i], domain}, {}});
    job.recipient_ids.push_back(static_cast<std::int64_t>(i + 1));
    job.attempts.push_back(0);
  }
  job.data = std::make_shared<const queue::MessageData>("Subject: hello\r\nFrom: app@src.test\r\n\r\nbody\r\n");
  job.received_at = kNow - std::chrono::minutes(1);
  return job;
}

RecipientOutcome outcome(S status, const std::string& detail) {
  RecipientOutcome o;
  o.status = status;
  o.detail = detail;
  return o;
}

DeliverySettings settings() {
  DeliverySettings s;
  s.hostname = "relay.test";
  return s;
}

TEST(BuildRecord, VerdictPerRecipientAndTheFailedOnesForTheDsn) {
  DeliveryJob job = job_for({"ok", "busy", "gone"}, "example.org");
  RecordBatch b = build_record(job,
                               {outcome(S::Delivered, "250 2.0.0 ok"), outcome(S::Transient, "451 4.2.1 busy"),
                                outcome(S::Permanent, "550 5.1.1 no such user")},
                               "mx.example.org[192.0.2.7]", true, settings(), 7, nullptr, kNow);
  ASSERT_EQ(b.attempts.size(), 3u);
  EXPECT_EQ(b.attempts[0].outcome, Outcome::Delivered);
  EXPECT_EQ(b.attempts[1].outcome, Outcome::Deferred);
  EXPECT_GT(b.attempts[1].next_attempt, kNow);
  EXPECT_EQ(b.attempts[2].outcome, Outcome::Bounced);
  ASSERT_EQ(b.failed.size(), 1u);
  EXPECT_EQ(b.failed[0].recipient.mailbox.local, "gone");
  EXPECT_EQ(b.failed[0].status, "5.1.1");
  EXPECT_EQ(b.failed[0].remote_mta, "mx.example.org");
}

TEST(MakeDsn, OneMessageToTheSenderFromTheNullPath) {
  DeliveryJob job = job_for({"gone"}, "example.org");
  RecordBatch b = build_record(job, {outcome(S::Permanent, "550 5.1.1 no such user")}, "", false, settings(), 1,
                               nullptr, kNow);
  auto dsn = make_dsn(job, b.failed, settings(), kNow);
  ASSERT_TRUE(dsn.has_value());
  EXPECT_TRUE(dsn->envelope.sender.is_null());
  ASSERT_EQ(dsn->envelope.recipients.size(), 1u);
  EXPECT_EQ(dsn->envelope.recipients[0].mailbox.str(), "app@src.test");
  EXPECT_NE(dsn->data.find("gone@example.org"), std::string::npos);
  EXPECT_NE(dsn->id, job.message_id);
}

TEST(MakeDsn, NoneForNoFailuresANullSenderOrBouncesOff) {
  DeliveryJob job = job_for({"gone"}, "example.org");
  RecordBatch b = build_record(job, {outcome(S::Permanent, "550 5.1.1 no")}, "", false, settings(), 1, nullptr, kNow);
  EXPECT_FALSE(make_dsn(job, {}, settings(), kNow).has_value());
  DeliveryJob from_null = job_for({"gone"}, "example.org", /*null_sender=*/true);
  EXPECT_FALSE(make_dsn(from_null, b.failed, settings(), kNow).has_value());
  DeliverySettings off = settings();
  off.delivery.bounce = false;
  EXPECT_FALSE(make_dsn(job, b.failed, off, kNow).has_value());
}

TEST(BounceCollector, TheLastJobGetsEveryBounceOfTheMessage) {
  constexpr int kJobs = 8;
  BounceCollector collector(kJobs);
  std::vector<std::thread> threads;
  std::atomic<int> lasts{0};
  std::vector<queue::AttemptRecord> all_attempts;
  std::vector<FailedRecipient> all_failed;
  for (int j = 0; j < kJobs; ++j) {
    threads.emplace_back([&, j] {
      std::vector<queue::AttemptRecord> attempts(j % 3);  // some jobs bounced nobody
      for (auto& a : attempts) a.recipient_id = j;
      std::vector<FailedRecipient> failed(j % 3);
      if (collector.finish_job(attempts, failed)) {
        ++lasts;
        all_attempts = std::move(attempts);
        all_failed = std::move(failed);
      } else {
        EXPECT_TRUE(attempts.empty());  // handed over, not kept
        EXPECT_TRUE(failed.empty());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(lasts.load(), 1);
  int want = 0;
  for (int j = 0; j < kJobs; ++j) want += j % 3;
  EXPECT_EQ(static_cast<int>(all_attempts.size()), want);
  EXPECT_EQ(static_cast<int>(all_failed.size()), want);
}

}  // namespace
}  // namespace tern::relay
