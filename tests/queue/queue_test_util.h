#pragma once
// Helpers for the queue tests: a scratch spool directory removed afterwards,
// message builders, fixed points in time, and waiting on callbacks with a
// deadline.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "queue/message.h"
#include "queue/queue_id.h"
#include "queue/writer.h"

namespace tern::queue::testing {

class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tern-queue-test-XXXXXX").string();
    char* made = ::mkdtemp(tmpl.data());
    if (made == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string spool() const { return path_ + "/spool"; }

 private:
  std::string path_;
};

// 2024-01-01T00:00:00Z plus an offset: tests never read the real clock for queue times.
inline std::chrono::system_clock::time_point at(std::chrono::seconds offset = std::chrono::seconds(0)) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(1704067200)) + offset;
}

inline smtp::Recipient rcpt(const std::string& local, const std::string& domain) {
  return smtp::Recipient{smtp::Mailbox{local, domain}, {}};
}

inline NewMessage make_message(std::vector<smtp::Recipient> recipients,
                               std::chrono::system_clock::time_point received = at(), std::string data = "") {
  NewMessage m;
  m.id = make_queue_id();
  m.envelope.sender = smtp::Path{smtp::Mailbox{"alice", "example.com"}};
  m.envelope.recipients = std::move(recipients);
  m.auth_user = "app";
  m.client_address = "127.0.0.1";
  m.data = data.empty() ? "Subject: test " + m.id + "\r\nFrom: alice@example.com\r\n\r\nHello.\r\n" : std::move(data);
  m.received_at = received;
  return m;
}

// Counts callbacks and lets the test wait for N of them, with a deadline.
class Latch {
 public:
  void arrive() {
    std::lock_guard lock(mu_);
    ++count_;
    cv_.notify_all();
  }
  bool wait_for(int n, std::chrono::seconds deadline = std::chrono::seconds(30)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, deadline, [&] { return count_ >= n; });
  }
  int count() {
    std::lock_guard lock(mu_);
    return count_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;
};

// enqueue() and wait for its callback (deadline 30 s; a timeout is a failure).
inline Status enqueue_sync(Writer& writer, NewMessage message) {
  auto done = std::make_shared<std::promise<Status>>();
  auto future = done->get_future();
  writer.enqueue(std::move(message), [done](Status s, NewMessage&&) { done->set_value(std::move(s)); });
  if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    return Error::permanent("test: enqueue callback never came");
  }
  return future.get();
}

inline Status record_sync(Writer& writer, std::vector<AttemptRecord> attempts, std::vector<NewMessage> also = {}) {
  auto done = std::make_shared<std::promise<Status>>();
  auto future = done->get_future();
  writer.record(std::move(attempts), std::move(also), [done](Status s) { done->set_value(std::move(s)); });
  if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    return Error::permanent("test: record callback never came");
  }
  return future.get();
}

inline AttemptRecord outcome(const std::string& message_id, std::int64_t rid, AttemptRecord::Outcome o,
                             std::chrono::system_clock::time_point when,
                             std::chrono::system_clock::time_point next = {}, std::string reply = "") {
  AttemptRecord a;
  a.message_id = message_id;
  a.recipient_id = rid;
  a.outcome = o;
  a.reply = reply.empty() ? std::string(o == AttemptRecord::Outcome::Delivered ? "250 2.0.0 ok"
                                        : o == AttemptRecord::Outcome::Deferred ? "451 4.7.1 try later"
                                                                                : "550 5.1.1 no such user")
                          : std::move(reply);
  a.host = "mx1.example.org[192.0.2.7]";
  a.attempted_at = when;
  a.next_attempt = next;
  return a;
}

}  // namespace tern::queue::testing
