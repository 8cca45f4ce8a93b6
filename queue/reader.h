#pragma once
// Reading the spool on a connection of its own: the scheduler's due work and
// timer, the gauges' counts, and what `tern queue list|summary|show` print.
// It never writes rows (opening may create and migrate an empty spool, as any
// connection does). Each multi-statement read runs in one read transaction,
// so it sees one consistent snapshot while the writer commits. Errors are
// db_error()s; a busy database waits busy_timeout first.
// Thread-safety: a Reader belongs to one thread at a time (one connection,
// prepared statements); open one per thread. The CLI may read while the daemon
// runs: WAL readers and the writer do not block each other.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "queue/message.h"
#include "queue/message_data.h"
#include "smtp/envelope.h"
#include "smtp/result.h"

namespace tern::queue {

using TimePoint = std::chrono::system_clock::time_point;

struct DeliveryJob {
  std::string message_id;
  smtp::Path sender;
  smtp::MailParams params;
  std::string auth_user;
  struct Rcpt {
    std::int64_t id = 0;  // AttemptRecord::recipient_id
    smtp::Recipient recipient;
    std::string domain;   // lower-cased
    int attempts = 0;     // before this delivery
  };
  std::vector<Rcpt> recipients;  // only the due ones
  // Shared: several workers may deliver parts of one message at once.
  std::shared_ptr<const MessageData> data;
  TimePoint received_at;
};

struct QueueCounts {
  std::int64_t ready = 0;     // messages per message-level state (message.h)
  std::int64_t deferred = 0;
  std::int64_t held = 0;
  std::optional<TimePoint> oldest_received_at;  // nullopt: queue empty
  std::int64_t total() const { return ready + deferred + held; }
};

struct RecipientInfo {
  std::int64_t id = 0;
  std::string address;  // as on the wire, "local@domain"
  std::string domain;   // lower-cased
  smtp::RcptParams params;
  RecipientState state = RecipientState::Ready;
  int attempts = 0;
  TimePoint next_attempt;  // meaningful for ready/deferred
  std::string last_reply;  // "" before the first attempt
  std::optional<TimePoint> last_attempt;
};

struct MessageInfo {
  std::string id;
  smtp::Path sender;
  smtp::MailParams params;
  std::string auth_user;
  std::string client_address;
  std::int64_t size = 0;
  TimePoint received_at;
  MessageState state = MessageState::Ready;
  std::vector<RecipientInfo> recipients;  // all of them, final ones included, by RCPT order

  int attempts() const;                          // the most any recipient had
  std::optional<TimePoint> next_attempt() const; // earliest of the ready/deferred recipients; nullopt if none
  std::string last_reply() const;                // of the most recently attempted pending recipient
};

struct HistoryEntry {
  std::int64_t recipient_id = 0;
  TimePoint at;
  std::string outcome;  // "delivered" | "deferred" | "bounced"
  std::string host;
  std::string reply;
};

struct MessageDetail {
  MessageInfo info;
  std::vector<HistoryEntry> history;  // every attempt of every recipient, oldest first
  std::string headers;                // the header section, CRLF line ends, without the empty line
};

struct Summary {
  QueueCounts messages;
  std::int64_t recipients_ready = 0, recipients_deferred = 0, recipients_held = 0;
  struct Domain {
    std::string domain;
    std::int64_t ready = 0, deferred = 0, held = 0;
    std::int64_t total() const { return ready + deferred + held; }
  };
  std::vector<Domain> domains;      // the busiest first, at most top_domains
  std::int64_t domain_count = 0;    // domains with queued recipients, all of them
  struct ErrorCount {
    std::string reply;
    std::int64_t recipients = 0;
  };
  std::vector<ErrorCount> errors;   // last replies of deferred recipients, most frequent first
};

class Reader {
 public:
  struct Options {
    std::chrono::milliseconds busy_timeout{5000};
  };
  // The spool directory must exist; queue.db is created and migrated if needed.
  static Result<std::unique_ptr<Reader>> open(const std::string& spool_dir, Options options);
  static Result<std::unique_ptr<Reader>> open(const std::string& spool_dir) { return open(spool_dir, Options{}); }
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // Due recipients (ready/deferred, next_attempt <= now), oldest next_attempt
  // first, at most `limit` of them, grouped into one job per message (jobs in
  // order of their first due recipient), skipping messages in `in_flight`.
  // Cost: O(log n + limit + recipients of in-flight messages that are due).
  // Data held in memory (MessageData::resident) stops at `max_bytes`: the jobs
  // after the one that reaches it are left for the next call (at least one
  // job is returned). Bodies in files are mapped, not read.
  Result<std::vector<DeliveryJob>> due(TimePoint now, std::size_t limit,
                                       const std::unordered_set<std::string>& in_flight,
                                       std::size_t max_bytes = SIZE_MAX);

  // When the earliest ready/deferred recipient not in `in_flight` is due
  // (possibly already past); nullopt when nothing is pending. For the
  // scheduler's timer. Same cost as due().
  Result<std::optional<TimePoint>> next_due(const std::unordered_set<std::string>& in_flight);

  // Messages per state and the oldest arrival: O(log n), from counters kept in
  // the same transactions as the rows (schema.cc).
  Result<QueueCounts> counts();

  // Every queued message with its recipients, oldest id first, streamed to
  // `visit` one at a time (a million messages never sit in memory at once).
  Status list(const std::function<void(const MessageInfo&)>& visit);

  // Aggregates for `queue summary`: O(domains + distinct errors of deferred recipients).
  Result<Summary> summary(std::size_t top_domains, std::size_t top_errors);

  // One message in full; nullopt when no such id.
  Result<std::optional<MessageDetail>> show(std::string_view id);

 private:
  struct Conn;
  friend Status prepare_listing(Conn& conn);  // reader_conn.h
  explicit Reader(std::unique_ptr<Conn> conn);
  std::unique_ptr<Conn> conn_;
};

}  // namespace tern::queue
