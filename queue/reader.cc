// Reader: the scheduler's queries (due work, next timer, counts). The CLI's
// listings are in reader_listing.cc; both share Reader::Conn (reader_conn.h).
#include "queue/reader.h"

#include <algorithm>
#include <unordered_map>
#include <utility>

#include "queue/reader_conn.h"
#include "queue/schema.h"

namespace tern::queue {
namespace {

constexpr const char* kDueScan =
    "SELECT r.rid, r.mid, r.address, r.domain, r.notify, r.orcpt, r.attempts, r.next_attempt,"
    " m.id, m.sender, m.size_param, m.body, m.smtputf8, m.ret, m.envid, m.auth_param, m.auth_user, m.received_at"
    " FROM recipients AS r INDEXED BY recipients_due JOIN messages AS m ON m.mid = r.mid"
    " WHERE r.state IN ('ready', 'deferred') AND r.next_attempt <= ?1 ORDER BY r.next_attempt";

}  // namespace

Status ReadTxn::begin(sqlite3* db) {
  if (sqlite3_get_autocommit(db) == 0) return {};  // nested: the outer transaction's snapshot already holds
  if (auto s = exec(db, "BEGIN"); !s) return s;
  db_ = db;
  return {};
}

ReadTxn::~ReadTxn() {
  // Ending a read transaction cannot lose anything; a failure here would only
  // mean it was already over.
  if (db_ != nullptr && sqlite3_get_autocommit(db_) == 0) (void)sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
}

smtp::Path path_from_text(const std::string& text) {
  if (text.empty()) return smtp::Path{};
  return smtp::Path{parse_mailbox_text(text)};
}

smtp::MailParams mail_params_from(const Stmt& s, int first) {
  smtp::MailParams p;
  if (auto size = s.opt_int64(first)) p.size = static_cast<std::uint64_t>(*size);
  p.body = body_from_code(s.int64(first + 1));
  p.smtputf8 = s.int64(first + 2) != 0;
  p.ret = ret_from_code(s.int64(first + 3));
  p.envid = s.opt_text(first + 4);
  p.auth = s.opt_text(first + 5);
  return p;
}

Result<std::unique_ptr<Reader>> Reader::open(const std::string& spool_dir, Options options) {
  auto db = open_spool(spool_dir, SpoolOpen{.create_dir = false, .busy_timeout = options.busy_timeout});
  if (!db) return db.error();
  auto conn = std::make_unique<Conn>();
  conn->spool_dir = spool_dir;
  conn->db = std::move(*db);
  sqlite3* h = conn->db.get();
  const std::pair<Stmt*, std::string> statements[] = {
      {&conn->due, kDueScan},
      {&conn->next_due,
       "SELECT r.next_attempt, m.id FROM recipients AS r INDEXED BY recipients_due JOIN messages AS m"
       " ON m.mid = r.mid WHERE r.state IN ('ready', 'deferred') ORDER BY r.next_attempt"},
      {&conn->body, "SELECT data, file_size FROM bodies WHERE mid = ?1"},
      {&conn->counts, "SELECT state, n FROM message_counts"},
      {&conn->oldest, "SELECT min(received_at) FROM messages"},
  };
  for (const auto& [stmt, sql] : statements) {
    auto p = Stmt::prepare(h, sql);
    if (!p) return p.error().prefixed(database_path(spool_dir));
    *stmt = std::move(*p);
  }
  if (auto s = prepare_listing(*conn); !s) return s.error().prefixed(database_path(spool_dir));
  return std::unique_ptr<Reader>(new Reader(std::move(conn)));
}

Reader::Reader(std::unique_ptr<Conn> conn) : conn_(std::move(conn)) {}
Reader::~Reader() = default;

Result<std::shared_ptr<const MessageData>> message_data_from(const Stmt& s, int first, const std::string& spool_dir,
                                                             const std::string& id) {
  std::optional<std::uint64_t> file_size;
  if (auto stored = s.opt_int64(first + 1)) file_size = static_cast<std::uint64_t>(*stored);
  return load_message_data(spool_dir, id, std::string(s.blob(first)), file_size);
}

Result<std::vector<DeliveryJob>> Reader::due(TimePoint now, std::size_t limit,
                                             const std::unordered_set<std::string>& in_flight, std::size_t max_bytes) {
  std::vector<DeliveryJob> jobs;
  if (limit == 0) return jobs;
  ReadTxn txn;
  if (auto s = txn.begin(conn_->db.get()); !s) return s.error();
  std::vector<std::int64_t> mids;              // parallel to jobs
  std::unordered_map<std::int64_t, std::size_t> job_of;
  {
    Stmt& s = conn_->due;
    StmtReset guard(s);
    s.bind(1, to_millis(now));
    std::size_t taken = 0;
    while (taken < limit) {
      auto row = s.step();
      if (!row) return row.error();
      if (!*row) break;
      std::int64_t mid = s.int64(1);
      auto it = job_of.find(mid);
      if (it == job_of.end()) {
        std::string id = s.text(8);
        if (in_flight.contains(id)) continue;
        DeliveryJob job;
        job.message_id = std::move(id);
        job.sender = path_from_text(s.text(9));
        job.params = mail_params_from(s, 10);
        job.auth_user = s.text(16);
        job.received_at = from_millis(s.int64(17));
        it = job_of.emplace(mid, jobs.size()).first;
        jobs.push_back(std::move(job));
        mids.push_back(mid);
      }
      DeliveryJob::Rcpt rcpt;
      rcpt.id = s.int64(0);
      rcpt.recipient.mailbox = parse_mailbox_text(s.text(2));
      rcpt.domain = s.text(3);
      set_notify_bits(s.int64(4), rcpt.recipient.params);
      rcpt.recipient.params.orcpt = s.opt_text(5);
      rcpt.attempts = static_cast<int>(s.int64(6));
      jobs[it->second].recipients.push_back(std::move(rcpt));
      ++taken;
    }
  }
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    Stmt& b = conn_->body;
    StmtReset guard(b);
    b.bind(1, mids[i]);
    auto row = b.step();
    if (!row) return row.error();
    if (!*row) return Error::permanent("queue.db: message " + jobs[i].message_id + " has no body");
    auto data = message_data_from(b, 0, conn_->spool_dir, jobs[i].message_id);
    if (!data) return data.error().prefixed("queue.db: message " + jobs[i].message_id);
    jobs[i].data = std::move(*data);
    bytes += jobs[i].data->resident();
    if (bytes >= max_bytes && i + 1 < jobs.size()) {
      jobs.resize(i + 1);  // the rest stay due: the next call takes them
      break;
    }
  }
  return jobs;
}

Result<std::optional<TimePoint>> Reader::next_due(const std::unordered_set<std::string>& in_flight) {
  Stmt& s = conn_->next_due;
  StmtReset guard(s);
  for (;;) {
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) return std::optional<TimePoint>();
    if (in_flight.contains(s.text(1))) continue;
    return std::optional<TimePoint>(from_millis(s.int64(0)));
  }
}

Result<QueueCounts> Reader::counts() {
  ReadTxn txn;
  if (auto s = txn.begin(conn_->db.get()); !s) return s.error();
  QueueCounts c;
  {
    Stmt& s = conn_->counts;
    StmtReset guard(s);
    for (;;) {
      auto row = s.step();
      if (!row) return row.error();
      if (!*row) break;
      auto state = parse_message_state(s.text(0));
      if (!state) continue;
      std::int64_t n = s.int64(1);
      switch (*state) {
        case MessageState::Ready: c.ready = n; break;
        case MessageState::Deferred: c.deferred = n; break;
        case MessageState::Held: c.held = n; break;
      }
    }
  }
  Stmt& s = conn_->oldest;
  StmtReset guard(s);
  auto row = s.step();
  if (!row) return row.error();
  if (*row && !s.is_null(0)) c.oldest_received_at = from_millis(s.int64(0));
  return c;
}

int MessageInfo::attempts() const {
  int most = 0;
  for (const auto& r : recipients) most = std::max(most, r.attempts);
  return most;
}

std::optional<TimePoint> MessageInfo::next_attempt() const {
  std::optional<TimePoint> soonest;
  for (const auto& r : recipients) {
    if (r.state != RecipientState::Ready && r.state != RecipientState::Deferred) continue;
    if (!soonest || r.next_attempt < *soonest) soonest = r.next_attempt;
  }
  return soonest;
}

std::string MessageInfo::last_reply() const {
  const RecipientInfo* latest = nullptr;
  for (const auto& r : recipients) {
    if (is_final(r.state) || !r.last_attempt) continue;
    if (latest == nullptr || *r.last_attempt > *latest->last_attempt) latest = &r;
  }
  return latest ? latest->last_reply : std::string();
}

}  // namespace tern::queue
