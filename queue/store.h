#pragma once
// The spool's row-level writes, shared by the Writer (daemon) and Admin (CLI):
// insert a message, apply a delivery outcome, hold/release/retry, settle a
// message's state, delete a message. Each call runs inside a transaction the
// caller owns; nothing here begins or commits. Outcome updates check the
// recipient's current state, so a late outcome never resurrects a deleted
// message or overrides an operator's hold. Errors are db_error()s.
// Owned by one thread (it holds prepared statements of one connection); the
// connection must outlive it.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queue/db.h"
#include "queue/message.h"
#include "smtp/result.h"

namespace tern::queue {

class Store {
 public:
  static Result<Store> prepare(sqlite3* db);

  // Inserts the message, its body and its recipients (all 'ready', due at
  // received_at). Returns the message's rowid. A message without recipients is
  // refused (permanent).
  Result<std::int64_t> insert_message(NewMessage& message);  // fills message.recipient_ids

  // Applies one outcome to a recipient that is still pending (ready, deferred
  // or held) and belongs to attempt.message_id; appends it to the history.
  // Returns the message's rowid, or nullopt when nothing matched (message
  // deleted meanwhile, recipient already final): then nothing is written.
  // Delivered/Bounced also apply to a held recipient (the attempt happened; a
  // release would only send a duplicate); Deferred leaves a held one held.
  Result<std::optional<std::int64_t>> apply(const AttemptRecord& attempt);

  // Recomputes the message's state from its recipients, or deletes the message
  // with its history when every recipient is final. Returns true when deleted.
  Result<bool> settle(std::int64_t mid);

  Status delete_message(std::int64_t mid);
  Result<std::optional<std::int64_t>> find(std::string_view id);

  // Queue ids of deleted messages whose body is a file (message_data.h). The
  // files may go only once the deletion is committed: the caller removes
  // them after COMMIT (remove_body_files), or forgets them after a rollback
  // (to a savepoint: back to the count it noted before).
  std::size_t removed_files() const { return removed_files_.size(); }
  void forget_removed_files(std::size_t keep = 0) { removed_files_.resize(std::min(keep, removed_files_.size())); }
  void remove_body_files(const std::string& spool_dir);

  // Operator actions on one message; each returns the number of recipients changed.
  Result<int> retry(std::int64_t mid, std::chrono::system_clock::time_point now);    // pending -> due now
  Result<int> hold(std::int64_t mid);                                               // ready/deferred -> held
  Result<int> release(std::int64_t mid, std::chrono::system_clock::time_point now);  // held -> ready, due now
  // Every ready/deferred recipient due later is made due now.
  Result<int> retry_all(std::chrono::system_clock::time_point now);

 private:
  Store() = default;
  sqlite3* db_ = nullptr;
  Stmt insert_message_, insert_body_, insert_recipient_;
  Stmt apply_final_, apply_deferred_, insert_history_;
  Stmt tally_, set_state_;
  Stmt delete_history_, delete_recipients_, delete_body_, delete_message_;
  std::vector<std::string> removed_files_;
  Stmt find_, retry_, hold_, release_, retry_all_;
};

}  // namespace tern::queue
