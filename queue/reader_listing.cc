// Reader: what `tern queue list|summary|show` print. Listing streams one
// message at a time; the summary reads counters (schema.cc) and one partial
// index, so neither grows with the queue beyond what it must print.
#include <utility>

#include "queue/reader.h"
#include "queue/reader_conn.h"

namespace tern::queue {
namespace {

// Message columns, in this order, starting at `first`.
constexpr const char* kMessageColumns =
    "m.id, m.sender, m.size_param, m.body, m.smtputf8, m.ret, m.envid, m.auth_param, m.auth_user,"
    " m.client_address, m.size, m.received_at, m.state";
constexpr int kMessageColumnCount = 13;
// Recipient columns, in this order.
constexpr const char* kRecipientColumns =
    "r.rid, r.address, r.domain, r.notify, r.orcpt, r.state, r.attempts, r.next_attempt, r.last_reply,"
    " r.last_attempt";

MessageInfo message_from(const Stmt& s, int first) {
  MessageInfo m;
  m.id = s.text(first);
  m.sender = path_from_text(s.text(first + 1));
  m.params = mail_params_from(s, first + 2);
  m.auth_user = s.text(first + 8);
  m.client_address = s.text(first + 9);
  m.size = s.int64(first + 10);
  m.received_at = from_millis(s.int64(first + 11));
  m.state = parse_message_state(s.text(first + 12)).value_or(MessageState::Ready);
  return m;
}

RecipientInfo recipient_from(const Stmt& s, int first) {
  RecipientInfo r;
  r.id = s.int64(first);
  r.address = s.text(first + 1);
  r.domain = s.text(first + 2);
  set_notify_bits(s.int64(first + 3), r.params);
  r.params.orcpt = s.opt_text(first + 4);
  // The CHECK constraint admits only the five known states.
  r.state = parse_recipient_state(s.text(first + 5)).value_or(RecipientState::Held);
  r.attempts = static_cast<int>(s.int64(first + 6));
  r.next_attempt = from_millis(s.int64(first + 7));
  r.last_reply = s.text(first + 8);
  if (auto at = s.opt_int64(first + 9)) r.last_attempt = from_millis(*at);
  return r;
}

}  // namespace

Status prepare_listing(Reader::Conn& conn) {
  const std::string messages = kMessageColumns;
  const std::string recipients = kRecipientColumns;
  const std::pair<Stmt*, std::string> statements[] = {
      {&conn.list, "SELECT m.mid, " + messages + ", " + recipients +
                       " FROM messages AS m JOIN recipients AS r ON r.mid = m.mid ORDER BY m.id, r.rid"},
      {&conn.summary_states,
       "SELECT state, sum(n) FROM domain_counts WHERE state IN ('ready', 'deferred', 'held') GROUP BY state"},
      {&conn.summary_domains,
       "SELECT domain, sum(CASE state WHEN 'ready' THEN n ELSE 0 END), sum(CASE state WHEN 'deferred' THEN n ELSE 0 END),"
       " sum(CASE state WHEN 'held' THEN n ELSE 0 END) FROM domain_counts"
       " WHERE state IN ('ready', 'deferred', 'held') GROUP BY domain ORDER BY sum(n) DESC, domain LIMIT ?1"},
      {&conn.summary_domain_count,
       "SELECT count(DISTINCT domain) FROM domain_counts WHERE state IN ('ready', 'deferred', 'held')"},
      {&conn.summary_errors,
       "SELECT last_reply, count(*) FROM recipients INDEXED BY recipients_errors WHERE state = 'deferred'"
       " GROUP BY last_reply ORDER BY count(*) DESC, last_reply LIMIT ?1"},
      {&conn.find, "SELECT m.mid, " + messages + " FROM messages AS m WHERE m.id = ?1"},
      {&conn.recipients, "SELECT " + recipients + " FROM recipients AS r WHERE r.mid = ?1 ORDER BY r.rid"},
      {&conn.history,
       "SELECT rid, at, outcome, host, reply FROM history WHERE rid IN (SELECT rid FROM recipients WHERE mid = ?1)"
       " ORDER BY hid"},
  };
  for (const auto& [stmt, sql] : statements) {
    auto p = Stmt::prepare(conn.db.get(), sql);
    if (!p) return p.error();
    *stmt = std::move(*p);
  }
  return {};
}

Status Reader::list(const std::function<void(const MessageInfo&)>& visit) {
  Stmt& s = conn_->list;
  StmtReset guard(s);  // one statement: one snapshot
  std::optional<MessageInfo> current;
  std::int64_t current_mid = -1;
  for (;;) {
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) break;
    std::int64_t mid = s.int64(0);
    if (!current || mid != current_mid) {
      if (current) visit(*current);
      current = message_from(s, 1);
      current_mid = mid;
    }
    current->recipients.push_back(recipient_from(s, 1 + kMessageColumnCount));
  }
  if (current) visit(*current);
  return {};
}

Result<Summary> Reader::summary(std::size_t top_domains, std::size_t top_errors) {
  ReadTxn txn;
  if (auto s = txn.begin(conn_->db.get()); !s) return s.error();
  Summary out;
  auto counts = this->counts();  // joins our snapshot: ReadTxn is open
  if (!counts) return counts.error();
  out.messages = *counts;
  {
    Stmt& s = conn_->summary_states;
    StmtReset guard(s);
    for (;;) {
      auto row = s.step();
      if (!row) return row.error();
      if (!*row) break;
      auto state = parse_recipient_state(s.text(0));
      std::int64_t n = s.int64(1);
      if (state == RecipientState::Ready) out.recipients_ready = n;
      if (state == RecipientState::Deferred) out.recipients_deferred = n;
      if (state == RecipientState::Held) out.recipients_held = n;
    }
  }
  {
    Stmt& s = conn_->summary_domains;
    StmtReset guard(s);
    s.bind(1, static_cast<std::int64_t>(top_domains));
    for (;;) {
      auto row = s.step();
      if (!row) return row.error();
      if (!*row) break;
      out.domains.push_back(Summary::Domain{s.text(0), s.int64(1), s.int64(2), s.int64(3)});
    }
  }
  {
    Stmt& s = conn_->summary_domain_count;
    StmtReset guard(s);
    auto row = s.step();
    if (!row) return row.error();
    if (*row) out.domain_count = s.int64(0);
  }
  {
    Stmt& s = conn_->summary_errors;
    StmtReset guard(s);
    s.bind(1, static_cast<std::int64_t>(top_errors));
    for (;;) {
      auto row = s.step();
      if (!row) return row.error();
      if (!*row) break;
      out.errors.push_back(Summary::ErrorCount{s.text(0), s.int64(1)});
    }
  }
  return out;
}

Result<std::optional<MessageDetail>> Reader::show(std::string_view id) {
  ReadTxn txn;
  if (auto s = txn.begin(conn_->db.get()); !s) return s.error();
  MessageDetail d;
  std::int64_t mid = 0;
  {
    Stmt& s = conn_->find;
    StmtReset guard(s);
    s.bind(1, id);
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) return std::optional<MessageDetail>();
    mid = s.int64(0);
    d.info = message_from(s, 1);
  }
  {
    Stmt& s = conn_->recipients;
    StmtReset guard(s);
    s.bind(1, mid);
    for (;;) {
      auto row = s.step();
      if (!row) return row.error();
      if (!*row) break;
      d.info.recipients.push_back(recipient_from(s, 0));
    }
  }
  {
    Stmt& s = conn_->history;
    StmtReset guard(s);
    s.bind(1, mid);
    for (;;) {
      auto row = s.step();
      if (!row) return row.error();
      if (!*row) break;
      d.history.push_back(HistoryEntry{s.int64(0), from_millis(s.int64(1)), s.text(2), s.text(3), s.text(4)});
    }
  }
  {
    Stmt& s = conn_->body;
    StmtReset guard(s);
    s.bind(1, mid);
    auto row = s.step();
    if (!row) return row.error();
    if (*row) {
      auto data = message_data_from(s, 0, conn_->spool_dir, d.info.id);
      if (!data) return data.error().prefixed("queue.db: message " + d.info.id);
      d.headers = (*data)->headers();
    }
  }
  return std::optional<MessageDetail>(std::move(d));
}

}  // namespace tern::queue
