#include "queue/store.h"

#include <unistd.h>

#include <string>
#include <utility>

#include "queue/message_data.h"

namespace tern::queue {
namespace {

constexpr const char* kPending = "('ready', 'deferred', 'held')";

// Prepares sql into *out, or records the first failure.
void prep(sqlite3* db, Stmt& out, const std::string& sql, std::optional<Error>& failure) {
  if (failure) return;
  auto s = Stmt::prepare(db, sql);
  if (!s) {
    failure = s.error();
    return;
  }
  out = std::move(*s);
}

// Steps an UPDATE ... RETURNING mid to its end; the mid of the (single) row, if any.
Result<std::optional<std::int64_t>> returning_mid(Stmt& stmt) {
  StmtReset guard(stmt);
  std::optional<std::int64_t> mid;
  for (;;) {
    auto row = stmt.step();
    if (!row) return row.error();
    if (!*row) break;
    mid = stmt.int64(0);
  }
  return mid;
}

}  // namespace

Result<Store> Store::prepare(sqlite3* db) {
  Store s;
  s.db_ = db;
  std::optional<Error> failure;
  const std::string pending = kPending;
  prep(db, s.insert_message_,
       "INSERT INTO messages (id, sender, size_param, body, smtputf8, ret, envid, auth_param, auth_user,"
       " client_address, size, received_at, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'ready')",
       failure);
  prep(db, s.insert_body_, "INSERT INTO bodies (mid, data, file_size) VALUES (?1, ?2, ?3)", failure);
  prep(db, s.insert_recipient_,
       "INSERT INTO recipients (mid, address, domain, notify, orcpt, state, attempts, next_attempt)"
       " VALUES (?1, ?2, ?3, ?4, ?5, 'ready', 0, ?6)",
       failure);
  // ?1 rid, ?2 message id, ?3 state, ?4 reply, ?5 attempted_at. Matching the
  // message id as well guards against a recycled rid: rowids of deleted rows
  // can be handed out again, queue ids never are.
  prep(db, s.apply_final_,
       "UPDATE recipients SET state = ?3, attempts = attempts + 1, last_reply = ?4, last_attempt = ?5"
       " WHERE rid = ?1 AND mid = (SELECT mid FROM messages WHERE id = ?2) AND state IN " + pending +
           " RETURNING mid",
       failure);
  // ?1 rid, ?2 message id, ?3 reply, ?4 attempted_at, ?5 next_attempt.
  prep(db, s.apply_deferred_,
       "UPDATE recipients SET attempts = attempts + 1, last_reply = ?3, last_attempt = ?4,"
       " next_attempt = CASE WHEN state = 'held' THEN next_attempt ELSE ?5 END,"
       " state = CASE WHEN state = 'held' THEN 'held' ELSE 'deferred' END"
       " WHERE rid = ?1 AND mid = (SELECT mid FROM messages WHERE id = ?2) AND state IN " + pending +
           " RETURNING mid",
       failure);
  prep(db, s.insert_history_, "INSERT INTO history (rid, at, outcome, host, reply) VALUES (?1, ?2, ?3, ?4, ?5)",
       failure);
  prep(db, s.tally_,
       "SELECT count(*), coalesce(max(state = 'held'), 0), coalesce(max(state <> 'held' AND attempts > 0), 0)"
       " FROM recipients WHERE mid = ?1 AND state IN " + pending,
       failure);
  prep(db, s.set_state_, "UPDATE messages SET state = ?2 WHERE mid = ?1 AND state <> ?2", failure);
  prep(db, s.delete_history_, "DELETE FROM history WHERE rid IN (SELECT rid FROM recipients WHERE mid = ?1)",
       failure);
  prep(db, s.delete_recipients_, "DELETE FROM recipients WHERE mid = ?1", failure);
  // Returns the queue id when the body is a file (to unlink after COMMIT), else NULL.
  prep(db, s.delete_body_,
       "DELETE FROM bodies WHERE mid = ?1"
       " RETURNING CASE WHEN file_size IS NOT NULL THEN (SELECT id FROM messages WHERE mid = ?1) END",
       failure);
  prep(db, s.delete_message_, "DELETE FROM messages WHERE mid = ?1", failure);
  prep(db, s.find_, "SELECT mid FROM messages WHERE id = ?1", failure);
  prep(db, s.retry_,
       "UPDATE recipients SET next_attempt = ?2 WHERE mid = ?1 AND state IN ('ready', 'deferred')"
       " AND next_attempt > ?2",
       failure);
  prep(db, s.hold_, "UPDATE recipients SET state = 'held' WHERE mid = ?1 AND state IN ('ready', 'deferred')",
       failure);
  prep(db, s.release_, "UPDATE recipients SET state = 'ready', next_attempt = ?2 WHERE mid = ?1 AND state = 'held'",
       failure);
  prep(db, s.retry_all_,
       "UPDATE recipients SET next_attempt = ?1 WHERE state IN ('ready', 'deferred') AND next_attempt > ?1",
       failure);
  if (failure) return *failure;
  return s;
}

Result<std::int64_t> Store::insert_message(NewMessage& m) {
  if (m.envelope.recipients.empty()) return Error::permanent("message " + m.id + " has no recipients");
  const smtp::Envelope& env = m.envelope;
  // Bound as SQLITE_STATIC: every string must live until its statement has stepped.
  std::string sender = env.sender.mailbox ? mailbox_text(*env.sender.mailbox) : std::string();
  std::optional<std::int64_t> size_param;
  if (env.params.size) size_param = static_cast<std::int64_t>(*env.params.size);
  std::int64_t received = to_millis(m.received_at);
  insert_message_.bind(1, std::string_view(m.id))
      .bind(2, std::string_view(sender))
      .bind(3, size_param)
      .bind(4, std::int64_t{body_code(env.params.body)})
      .bind(5, std::int64_t{env.params.smtputf8 ? 1 : 0})
      .bind(6, std::int64_t{ret_code(env.params.ret)})
      .bind(7, env.params.envid)
      .bind(8, env.params.auth)
      .bind(9, std::string_view(m.auth_user))
      .bind(10, std::string_view(m.client_address))
      .bind(11, static_cast<std::int64_t>(m.data.size() + m.body_file.value_or(0)))
      .bind(12, received);
  if (auto s = insert_message_.run(); !s) return s.error().prefixed("storing message " + m.id);
  std::int64_t mid = sqlite3_last_insert_rowid(db_);

  // The body is bound without a copy: it lives in the NewMessage until the callback.
  std::optional<std::int64_t> file_size;
  if (m.body_file) file_size = static_cast<std::int64_t>(*m.body_file);
  insert_body_.bind(1, mid).bind_blob(2, m.data).bind(3, file_size);
  if (auto s = insert_body_.run(); !s) return s.error().prefixed("storing message " + m.id);

  m.recipient_ids.clear();
  m.recipient_ids.reserve(env.recipients.size());
  for (const smtp::Recipient& r : env.recipients) {
    std::string address = mailbox_text(r.mailbox);
    std::string domain = domain_key(r.mailbox.domain);
    insert_recipient_.bind(1, mid)
        .bind(2, std::string_view(address))
        .bind(3, std::string_view(domain))
        .bind(4, std::int64_t{notify_bits(r.params)})
        .bind(5, r.params.orcpt)
        .bind(6, received);
    if (auto s = insert_recipient_.run(); !s) return s.error().prefixed("storing message " + m.id);
    m.recipient_ids.push_back(sqlite3_last_insert_rowid(db_));
  }
  return mid;
}

Result<std::optional<std::int64_t>> Store::apply(const AttemptRecord& a) {
  std::int64_t at = to_millis(a.attempted_at);
  Result<std::optional<std::int64_t>> mid = std::optional<std::int64_t>();
  if (a.outcome == AttemptRecord::Outcome::Deferred) {
    apply_deferred_.bind(1, a.recipient_id)
        .bind(2, std::string_view(a.message_id))
        .bind(3, std::string_view(a.reply))
        .bind(4, at)
        .bind(5, to_millis(a.next_attempt));
    mid = returning_mid(apply_deferred_);
  } else {
    std::string_view state = to_string(a.outcome == AttemptRecord::Outcome::Delivered ? RecipientState::Delivered
                                                                                       : RecipientState::Bounced);
    apply_final_.bind(1, a.recipient_id)
        .bind(2, std::string_view(a.message_id))
        .bind(3, state)
        .bind(4, std::string_view(a.reply))
        .bind(5, at);
    mid = returning_mid(apply_final_);
  }
  if (!mid) return mid.error().prefixed("recording attempt for message " + a.message_id);
  if (!*mid) return mid;
  insert_history_.bind(1, a.recipient_id)
      .bind(2, at)
      .bind(3, to_string(a.outcome))
      .bind(4, std::string_view(a.host))
      .bind(5, std::string_view(a.reply));
  if (auto s = insert_history_.run(); !s) return s.error().prefixed("recording attempt for message " + a.message_id);
  return mid;
}

Result<bool> Store::settle(std::int64_t mid) {
  std::int64_t pending = 0;
  bool held = false;
  bool attempted = false;
  {
    StmtReset guard(tally_);
    tally_.bind(1, mid);
    auto row = tally_.step();
    if (!row) return row.error();
    if (!*row) return Error::permanent("settle: no tally row");
    pending = tally_.int64(0);
    held = tally_.int64(1) != 0;
    attempted = tally_.int64(2) != 0;
  }
  if (pending == 0) {
    if (auto s = delete_message(mid); !s) return s.error();
    return true;
  }
  MessageState state = held ? MessageState::Held : attempted ? MessageState::Deferred : MessageState::Ready;
  set_state_.bind(1, mid).bind(2, to_string(state));
  if (auto s = set_state_.run(); !s) return s.error();
  return false;
}

Status Store::delete_message(std::int64_t mid) {
  {
    StmtReset guard(delete_body_);
    delete_body_.bind(1, mid);
    auto row = delete_body_.step();
    if (!row) return row.error().prefixed("deleting message");
    if (*row) {
      if (!delete_body_.is_null(0)) removed_files_.push_back(delete_body_.text(0));
      if (auto done = delete_body_.step(); !done) return done.error().prefixed("deleting message");
    }
  }
  for (Stmt* stmt : {&delete_history_, &delete_recipients_, &delete_message_}) {
    stmt->bind(1, mid);
    if (auto s = stmt->run(); !s) return s.error().prefixed("deleting message");
  }
  return {};
}

Result<std::optional<std::int64_t>> Store::find(std::string_view id) {
  StmtReset guard(find_);
  find_.bind(1, id);
  auto row = find_.step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(find_.int64(0));
}

Result<int> Store::retry(std::int64_t mid, std::chrono::system_clock::time_point now) {
  retry_.bind(1, mid).bind(2, to_millis(now));
  if (auto s = retry_.run(); !s) return s.error();
  return sqlite3_changes(db_);
}

Result<int> Store::hold(std::int64_t mid) {
  hold_.bind(1, mid);
  if (auto s = hold_.run(); !s) return s.error();
  int changed = sqlite3_changes(db_);
  if (auto s = settle(mid); !s) return s.error();
  return changed;
}

Result<int> Store::release(std::int64_t mid, std::chrono::system_clock::time_point now) {
  release_.bind(1, mid).bind(2, to_millis(now));
  if (auto s = release_.run(); !s) return s.error();
  int changed = sqlite3_changes(db_);
  if (auto s = settle(mid); !s) return s.error();
  return changed;
}

Result<int> Store::retry_all(std::chrono::system_clock::time_point now) {
  retry_all_.bind(1, to_millis(now));
  if (auto s = retry_all_.run(); !s) return s.error();
  return sqlite3_changes(db_);
}

void Store::remove_body_files(const std::string& spool_dir) {
  // A file left behind (unlink failed, or a crash right here) is an orphan
  // that sweep_body_files() removes at the next start.
  for (const std::string& id : removed_files_) ::unlink(body_path(spool_dir, id).c_str());
  removed_files_.clear();
}

}  // namespace tern::queue
