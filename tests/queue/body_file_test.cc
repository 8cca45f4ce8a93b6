// Large bodies as files in spool/bodies/ (message_data.h): written, mapped for
// delivery, removed only after the deletion commits, swept when orphaned;
// and schema version 2 migrating a version 1 spool.
#include "queue/message_data.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <unordered_set>

#include "queue/admin.h"
#include "queue/reader.h"
#include "queue/schema.h"
#include "tests/queue/queue_test_util.h"

namespace tern::queue {
namespace {

using testing::at;
using testing::enqueue_sync;
using testing::make_message;
using testing::rcpt;
using testing::record_sync;
using testing::ScratchDir;

bool exists(const std::string& path) { return std::filesystem::exists(path); }

// A message whose body is a synced file of `body`, as the submission server makes it.
NewMessage file_message(const std::string& spool, const std::string& body,
                        std::vector<smtp::Recipient> rcpts = {rcpt("bob", "example.org")}) {
  NewMessage m = make_message(std::move(rcpts), at());
  auto file = BodyFile::create(spool, m.id);
  EXPECT_TRUE(file) << file.error().message();
  EXPECT_TRUE((*file)->append(body));
  EXPECT_TRUE((*file)->sync());
  m.data = "Received: from app by relay; Mon, 1 Jan 2024 00:00:00 +0000\r\n";
  m.body_file = (*file)->size();
  (*file)->keep();
  return m;
}

TEST(MessageData, InlineIsTheWholeMessage) {
  MessageData d("Subject: hi\r\n\r\nbody\r\n");
  EXPECT_EQ(d.head(), "");
  EXPECT_EQ(d.body(), "Subject: hi\r\n\r\nbody\r\n");
  EXPECT_EQ(d.size(), 21u);
  EXPECT_EQ(d.resident(), 21u);
  EXPECT_EQ(d.headers(), "Subject: hi\r\n");
}

TEST(BodyFile, WrittenMappedAndRemovedUnlessKept) {
  ScratchDir dir;
  std::filesystem::create_directories(dir.spool());
  std::string path;
  {
    auto file = BodyFile::create(dir.spool(), "ABC123");
    ASSERT_TRUE(file) << file.error().message();
    path = (*file)->path();
    EXPECT_EQ(path, body_path(dir.spool(), "ABC123"));
    ASSERT_TRUE((*file)->append("Subject: big\r\n\r\n"));
    ASSERT_TRUE((*file)->append("line\r\n"));
    ASSERT_TRUE((*file)->sync());
    EXPECT_EQ((*file)->size(), 22u);
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_FALSE(BodyFile::create(dir.spool(), "ABC123")) << "O_EXCL: never two writers of one body";

    auto mapped = MessageData::map("Received: x\r\n", path, 22);
    ASSERT_TRUE(mapped) << mapped.error().message();
    EXPECT_EQ((*mapped)->head(), "Received: x\r\n");
    EXPECT_EQ((*mapped)->body(), "Subject: big\r\n\r\nline\r\n");
    EXPECT_EQ((*mapped)->resident(), 13u);  // the mapped file is not heap
    EXPECT_EQ((*mapped)->headers(), "Received: x\r\nSubject: big\r\n");
    auto short_file = MessageData::map("", path, 23);  // never map past the end (SIGBUS)
    ASSERT_FALSE(short_file);
    EXPECT_NE(short_file.error().message().find("holds 22 octets, not 23"), std::string::npos);
  }
  EXPECT_FALSE(exists(path)) << "a body file not kept is removed with its writer";
}

TEST(BodyFile, StoredDeliveredAndRemovedAfterTheDeleteCommits) {
  ScratchDir dir;
  auto writer = Writer::start(dir.spool(), {});
  ASSERT_TRUE(writer) << writer.error().message();
  const std::string body = "Subject: big\r\n\r\n" + std::string(100000, 'x') + "\r\n";
  NewMessage m = file_message(dir.spool(), body, {rcpt("bob", "example.org"), rcpt("carol", "example.org")});
  const std::string id = m.id;
  const std::string head = m.data;
  ASSERT_TRUE(enqueue_sync(**writer, m));

  auto reader = Reader::open(dir.spool());
  ASSERT_TRUE(reader);
  auto jobs = (*reader)->due(at(std::chrono::seconds(1)), 100, {});
  ASSERT_TRUE(jobs) << jobs.error().message();
  ASSERT_EQ(jobs->size(), 1u);
  const DeliveryJob& job = jobs->front();
  EXPECT_EQ(job.data->head(), head);
  EXPECT_EQ(job.data->body(), body);
  auto shown = (*reader)->show(id);
  ASSERT_TRUE(shown && *shown);
  EXPECT_EQ((**shown).headers, head + "Subject: big\r\n");
  EXPECT_EQ((**shown).info.size, static_cast<std::int64_t>(head.size() + body.size()));

  // One recipient final: the message stays, and so does its file.
  AttemptRecord done{id, job.recipients[0].id, AttemptRecord::Outcome::Delivered, "250 ok", "mx", at(), at()};
  ASSERT_TRUE(record_sync(**writer, {done}));
  EXPECT_TRUE(exists(body_path(dir.spool(), id)));
  // The last one: the row goes, then the file.
  done.recipient_id = job.recipients[1].id;
  ASSERT_TRUE(record_sync(**writer, {done}));
  EXPECT_FALSE(exists(body_path(dir.spool(), id)));
  EXPECT_EQ(job.data->body(), body) << "a mapping in use outlives the file's name";
}

TEST(BodyFile, CliDeleteRemovesTheFile) {
  ScratchDir dir;
  auto writer = Writer::start(dir.spool(), {});
  ASSERT_TRUE(writer);
  NewMessage m = file_message(dir.spool(), "Subject: x\r\n\r\nbody\r\n");
  const std::string id = m.id;
  ASSERT_TRUE(enqueue_sync(**writer, m));
  NewMessage small = make_message({rcpt("bob", "example.org")});
  ASSERT_TRUE(enqueue_sync(**writer, small));
  auto admin = Admin::open(dir.spool());
  ASSERT_TRUE(admin);
  ASSERT_TRUE((*admin)->remove(small.id));  // an inline body: nothing to remove, nothing removed
  EXPECT_TRUE(exists(body_path(dir.spool(), id)));
  auto removed = (*admin)->remove(id);
  ASSERT_TRUE(removed && *removed);
  EXPECT_FALSE(exists(body_path(dir.spool(), id)));
}

TEST(BodyFile, SweepRemovesOnlyOrphans) {
  ScratchDir dir;
  std::string kept_id;
  {
    auto writer = Writer::start(dir.spool(), {});
    ASSERT_TRUE(writer);
    NewMessage m = file_message(dir.spool(), "Subject: x\r\n\r\nbody\r\n");
    kept_id = m.id;
    ASSERT_TRUE(enqueue_sync(**writer, m));
  }
  std::ofstream(body_path(dir.spool(), "ORPHAN0000000001")) << "no row owns this\r\n";
  auto writer = Writer::start(dir.spool(), {.sweep_body_files = true});
  ASSERT_TRUE(writer) << writer.error().message();
  EXPECT_EQ((*writer)->options().swept_body_files, 1);
  EXPECT_FALSE(exists(body_path(dir.spool(), "ORPHAN0000000001")));
  EXPECT_TRUE(exists(body_path(dir.spool(), kept_id)));
}

TEST(Schema, Version1SpoolGainsBodyFiles) {
  ScratchDir dir;
  NewMessage m = make_message({rcpt("bob", "example.org")});
  {
    auto writer = Writer::start(dir.spool(), {});
    ASSERT_TRUE(writer);
    ASSERT_TRUE(enqueue_sync(**writer, m));
  }
  {  // back to version 1 as it was: no file_size column
    auto db = open_spool(dir.spool(), {});
    ASSERT_TRUE(db);
    ASSERT_TRUE(exec(db->get(), "ALTER TABLE bodies DROP COLUMN file_size; PRAGMA user_version = 1;"));
  }
  auto db = open_spool(dir.spool(), {});  // migrates
  ASSERT_TRUE(db) << db.error().message();
  EXPECT_EQ(*schema_version(db->get()), 2);
  auto reader = Reader::open(dir.spool());
  ASSERT_TRUE(reader);
  auto jobs = (*reader)->due(at(std::chrono::seconds(1)), 10, {});
  ASSERT_TRUE(jobs && jobs->size() == 1u);
  EXPECT_EQ(jobs->front().data->str(), m.data) << "a version 1 body reads back whole";
}

TEST(Reader, DueStopsLoadingBodiesAtTheBudget) {
  ScratchDir dir;
  auto writer = Writer::start(dir.spool(), {});
  ASSERT_TRUE(writer);
  for (int i = 0; i < 5; ++i) {
    NewMessage m = make_message({rcpt("bob", "example.org")}, at(), "Subject: " + std::string(1000, 'a') + "\r\n\r\n");
    ASSERT_TRUE(enqueue_sync(**writer, m));
  }
  auto reader = Reader::open(dir.spool());
  ASSERT_TRUE(reader);
  auto two = (*reader)->due(at(std::chrono::seconds(1)), 100, {}, 1500);
  ASSERT_TRUE(two);
  EXPECT_EQ(two->size(), 2u);  // the second reaches the budget; the rest wait
  auto one = (*reader)->due(at(std::chrono::seconds(1)), 100, {}, 1);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->size(), 1u);  // always at least one
  auto all = (*reader)->due(at(std::chrono::seconds(1)), 100, {});
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 5u);
}

}  // namespace
}  // namespace tern::queue
