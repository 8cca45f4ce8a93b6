#include "queue/writer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "queue/db.h"
#include "queue/reader.h"
#include "queue/schema.h"
#include "queue_test_util.h"

namespace tern::queue {
namespace {

using testing::at;
using testing::enqueue_sync;
using testing::Latch;
using testing::make_message;
using testing::rcpt;
using testing::ScratchDir;

std::unique_ptr<Writer> start_writer(const ScratchDir& dir, Writer::Options options = {}) {
  auto w = Writer::start(dir.spool(), options);
  EXPECT_TRUE(w.has_value()) << (w ? "" : w.error().message());
  return w ? std::move(*w) : nullptr;
}

TEST(Writer, CallbackComesAfterTheCommitAndGivesTheMessageBack) {
  ScratchDir dir;
  auto writer = start_writer(dir);
  ASSERT_TRUE(writer);
  NewMessage m = make_message({rcpt("bob", "example.org"), rcpt("carol", "Example.NET")});
  m.envelope.params.size = 1234;
  m.envelope.params.body = smtp::BodyType::EightBitMime;
  NewMessage copy = m;

  std::promise<void> called;
  bool visible = false;
  bool intact = false;
  writer->enqueue(std::move(m), [&](Status status, NewMessage&& back) {
    EXPECT_TRUE(status.has_value()) << status.error().message();
    intact = back.id == copy.id && back.data == copy.data && back.envelope == copy.envelope &&
             back.auth_user == copy.auth_user && back.received_at == copy.received_at;
    // Another connection already sees it: the commit is done.
    auto reader = Reader::open(dir.spool());
    if (reader) {
      auto shown = (*reader)->show(copy.id);
      visible = shown && shown->has_value();
    }
    called.set_value();
  });
  auto future = called.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_TRUE(intact);
  EXPECT_TRUE(visible);
}

TEST(Writer, CallbacksRunInSubmissionOrder) {
  ScratchDir dir;
  auto writer = start_writer(dir, Writer::Options{.max_batch = 16});
  ASSERT_TRUE(writer);
  constexpr int kCount = 300;
  std::mutex mu;
  std::vector<int> order;
  Latch latch;
  for (int i = 0; i < kCount; ++i) {
    writer->enqueue(make_message({rcpt("bob", "example.org")}), [&, i](Status s, NewMessage&&) {
      EXPECT_TRUE(s.has_value());
      {
        std::lock_guard lock(mu);
        order.push_back(i);
      }
      latch.arrive();
    });
    if (i % 50 == 0) {
      std::vector<AttemptRecord> none;
      writer->record(none, {}, [&, i](Status s) {
        EXPECT_TRUE(s.has_value());
        {
          std::lock_guard lock(mu);
          order.push_back(i);
        }
        latch.arrive();
      });
    }
  }
  const int total = kCount + kCount / 50;
  ASSERT_TRUE(latch.wait_for(total));
  std::lock_guard lock(mu);
  ASSERT_EQ(order.size(), static_cast<std::size_t>(total));
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  EXPECT_LE(writer->stats().largest_batch, 16u);
}

TEST(Writer, ConcurrentEnqueuesShareTransactions) {
  ScratchDir dir;
  auto writer = start_writer(dir, Writer::Options{.max_batch = 64});
  ASSERT_TRUE(writer);
  constexpr int kThreads = 8;
  constexpr int kEach = 100;
  Latch latch;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        writer->enqueue(make_message({rcpt("bob", "example.org")}), [&](Status s, NewMessage&&) {
          if (!s) failures++;
          latch.arrive();
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(latch.wait_for(kThreads * kEach));
  EXPECT_EQ(failures.load(), 0);
  Writer::Stats stats = writer->stats();
  EXPECT_EQ(stats.messages, static_cast<std::uint64_t>(kThreads * kEach));
  EXPECT_EQ(stats.failed_batches, 0u);
  EXPECT_LE(stats.largest_batch, 64u);
  // Submitting takes microseconds and a commit an fsync: most messages wait
  // for a commit in progress and share the next one.
  EXPECT_LE(stats.transactions, stats.messages / 2) << "transactions=" << stats.transactions;
  auto reader = Reader::open(dir.spool());
  ASSERT_TRUE(reader.has_value());
  auto counts = (*reader)->counts();
  ASSERT_TRUE(counts.has_value());
  EXPECT_EQ(counts->ready, kThreads * kEach);
}

TEST(Writer, StopFinishesSubmittedWorkThenRefuses) {
  ScratchDir dir;
  auto writer = start_writer(dir);
  ASSERT_TRUE(writer);
  constexpr int kCount = 100;
  std::atomic<int> ok{0};
  for (int i = 0; i < kCount; ++i) {
    writer->enqueue(make_message({rcpt("bob", "example.org")}), [&](Status s, NewMessage&&) {
      if (s) ok++;
    });
  }
  writer->stop();
  EXPECT_EQ(ok.load(), kCount);
  writer->stop();  // idempotent

  bool refused = false;
  bool returned = false;
  NewMessage late = make_message({rcpt("bob", "example.org")});
  std::string late_id = late.id;
  writer->enqueue(std::move(late), [&](Status s, NewMessage&& back) {
    refused = !s && s.error().is_transient();
    returned = back.id == late_id;
  });
  EXPECT_TRUE(refused);  // called at once, on this thread
  EXPECT_TRUE(returned);
  bool record_refused = false;
  writer->record({}, {}, [&](Status s) { record_refused = !s; });
  EXPECT_TRUE(record_refused);
  writer.reset();

  auto reader = Reader::open(dir.spool());
  ASSERT_TRUE(reader.has_value());
  EXPECT_EQ((*reader)->counts()->ready, kCount);
}

TEST(Writer, BadItemsFailAloneAndTheRestIsStored) {
  ScratchDir dir;
  auto writer = start_writer(dir);
  ASSERT_TRUE(writer);
  NewMessage first = make_message({rcpt("bob", "example.org")});
  NewMessage duplicate = make_message({rcpt("carol", "example.org")});
  duplicate.id = first.id;
  NewMessage empty = make_message({});
  NewMessage last = make_message({rcpt("dave", "example.org")});
  std::string first_id = first.id, last_id = last.id;

  std::vector<Status> results(4);
  Latch latch;
  int i = 0;
  for (NewMessage* m : {&first, &duplicate, &empty, &last}) {
    writer->enqueue(std::move(*m), [&results, &latch, i](Status s, NewMessage&&) {
      results[i] = std::move(s);
      latch.arrive();
    });
    ++i;
  }
  ASSERT_TRUE(latch.wait_for(4));
  EXPECT_TRUE(results[0].has_value());
  ASSERT_FALSE(results[1].has_value());
  EXPECT_TRUE(results[1].error().is_transient());  // the client tries again, with a fresh id
  EXPECT_NE(results[1].error().message().find("UNIQUE"), std::string::npos) << results[1].error().message();
  ASSERT_FALSE(results[2].has_value());
  EXPECT_TRUE(results[2].error().is_permanent());
  EXPECT_TRUE(results[3].has_value());

  auto reader = Reader::open(dir.spool());
  ASSERT_TRUE(reader.has_value());
  auto shown = (*reader)->show(first_id);
  ASSERT_TRUE(shown.has_value() && shown->has_value());
  ASSERT_EQ((*shown)->info.recipients.size(), 1u);
  EXPECT_EQ((*shown)->info.recipients[0].address, "bob@example.org");  // the duplicate left no trace
  EXPECT_TRUE((*reader)->show(last_id)->has_value());
  EXPECT_EQ((*reader)->counts()->ready, 2);
}

TEST(Writer, DiskFullFailsTransientlyStoresNothingAndRecovers) {
  ScratchDir dir;
  // 64 pages of 4 KiB: room for the schema and small messages, not for 1 MiB.
  auto writer = start_writer(dir, Writer::Options{.max_page_count = 64});
  ASSERT_TRUE(writer);
  ASSERT_TRUE(enqueue_sync(*writer, make_message({rcpt("bob", "example.org")})).has_value());

  NewMessage big = make_message({rcpt("carol", "example.org")}, at(), std::string(1 << 20, 'x'));
  std::string big_id = big.id;
  Status full = enqueue_sync(*writer, std::move(big));
  ASSERT_FALSE(full.has_value());
  EXPECT_TRUE(full.error().is_transient());
  EXPECT_NE(full.error().message().find("disk full"), std::string::npos) << full.error().message();
  EXPECT_GE(writer->stats().failed_batches, 1u);

  // The writer carries on: the next batch that fits commits.
  NewMessage small = make_message({rcpt("dave", "example.org")});
  std::string small_id = small.id;
  ASSERT_TRUE(enqueue_sync(*writer, std::move(small)).has_value());

  auto reader = Reader::open(dir.spool());
  ASSERT_TRUE(reader.has_value());
  EXPECT_FALSE((*reader)->show(big_id)->has_value());
  EXPECT_TRUE((*reader)->show(small_id)->has_value());
  EXPECT_EQ((*reader)->counts()->ready, 2);
  // No half-stored rows anywhere.
  auto db = open_spool(dir.spool(), SpoolOpen{});
  ASSERT_TRUE(db.has_value());
  auto rows = Stmt::prepare(db->get(), "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM bodies),"
                                       " (SELECT count(*) FROM recipients)");
  ASSERT_TRUE(rows.has_value());
  ASSERT_TRUE(*rows->step());
  EXPECT_EQ(rows->int64(0), 2);
  EXPECT_EQ(rows->int64(1), 2);
  EXPECT_EQ(rows->int64(2), 2);
}

TEST(WriterCheckpoint, KeepsTheWalBoundedUnderSustainedLoad) {
  ScratchDir dir;
  auto writer = start_writer(dir, Writer::Options{.checkpoint_pages = 32});
  ASSERT_TRUE(writer);
  constexpr int kCount = 600;  // 600 x 4 KiB: about 2.4 MiB through the WAL
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(
        enqueue_sync(*writer, make_message({rcpt("bob", "example.org")}, at(), std::string(4000, 'x'))).has_value());
  }
  EXPECT_GT(writer->stats().checkpoints, 0u);
  // Without checkpoints the WAL would hold every page written so far.
  auto wal = std::filesystem::file_size(dir.spool() + "/queue.db-wal");
  EXPECT_LT(wal, 1u << 20) << wal;
}

}  // namespace
}  // namespace tern::queue
