#pragma once
// Thin RAII over the SQLite C API: owned connections and statements, bind and
// column helpers, and errors that carry sqlite3_errmsg. It does no SQL of its
// own beyond exec(); schema, pragmas and queries live with their users. A
// failing call becomes an Error (transient for busy/full/I/O, permanent for
// the rest); nothing here throws. A connection and its statements belong to
// one thread at a time (SQLite's "multi-thread" mode).

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "smtp/result.h"

namespace tern::queue {

template <auto Fn>
struct CFree {
  template <class T>
  void operator()(T* p) const noexcept {
    Fn(p);
  }
};
using DbPtr = std::unique_ptr<sqlite3, CFree<sqlite3_close_v2>>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, CFree<sqlite3_finalize>>;

// True for result codes that say "the environment failed, try later": disk
// full, I/O error, busy/locked, out of memory, read-only file. These abort a
// whole transaction; other codes (constraint, mismatch) concern one statement.
bool is_environmental(int rc);

// An Error for the connection's last failure: "CONTEXT: MESSAGE (code N)".
// Environmental codes are transient (disk full reads "disk full"), others permanent.
Error db_error(sqlite3* db, int rc, std::string_view context);

// True for an Error made by db_error from SQLITE_BUSY/SQLITE_LOCKED: another
// process held the lock past busy_timeout (the CLI answers EX_TEMPFAIL).
bool is_busy_error(const Error& error);

// Opens (and with create, creates) the database file at path with the given
// extra SQLITE_OPEN_* flags; sets busy_timeout. The handle is usable from any
// one thread at a time.
Result<DbPtr> open_db(const std::string& path, bool create, std::chrono::milliseconds busy_timeout);

// Runs one or more SQL statements without results.
Status exec(sqlite3* db, std::string_view sql);

// A prepared statement, prepared once and reused: bind, step, read columns,
// and reset() before the next use. Text and blob binds are SQLITE_STATIC: the
// bound bytes must outlive the step (callers bind strings they own).
class Stmt {
 public:
  Stmt() = default;
  static Result<Stmt> prepare(sqlite3* db, std::string_view sql);

  Stmt& bind(int index, std::int64_t value);
  Stmt& bind(int index, std::string_view text);  // SQLITE_STATIC
  Stmt& bind_blob(int index, std::string_view bytes);  // SQLITE_STATIC
  Stmt& bind_null(int index);
  Stmt& bind(int index, std::optional<std::int64_t> value);
  Stmt& bind(int index, const std::optional<std::string>& text);  // SQLITE_STATIC

  // One step: true when a row is ready, false when done; Error otherwise.
  // Bind errors (only possible on our own bugs: bad index) surface here too.
  Result<bool> step();
  // Steps to the end, ignoring rows, then resets.
  Status run();
  void reset();  // resets and clears bindings

  std::int64_t int64(int column) const;
  bool is_null(int column) const;
  std::string text(int column) const;  // NULL reads as ""
  std::optional<std::string> opt_text(int column) const;
  std::optional<std::int64_t> opt_int64(int column) const;
  std::string_view blob(int column) const;  // valid until the next step/reset

  sqlite3_stmt* get() const { return stmt_.get(); }

 private:
  Stmt(sqlite3* db, StmtPtr stmt) : db_(db), stmt_(std::move(stmt)) {}
  void note_bind(int rc);
  sqlite3* db_ = nullptr;
  StmtPtr stmt_;
  int bind_rc_ = SQLITE_OK;
};

// Resets a statement when the scope ends, so an early return never leaves a
// read transaction open.
class StmtReset {
 public:
  explicit StmtReset(Stmt& stmt) : stmt_(stmt) {}
  ~StmtReset() { stmt_.reset(); }
  StmtReset(const StmtReset&) = delete;
  StmtReset& operator=(const StmtReset&) = delete;

 private:
  Stmt& stmt_;
};

// A write transaction (BEGIN IMMEDIATE: takes the write lock up front, so a
// busy database fails here, within busy_timeout, and never half-way through).
// Rolls back on destruction unless committed.
class Transaction {
 public:
  static Result<Transaction> begin(sqlite3* db);
  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction() { rollback(); }
  Status commit();
  void rollback() noexcept;  // no-op when committed or already rolled back

 private:
  explicit Transaction(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// Times are stored as integer milliseconds since the Unix epoch (UTC).
std::int64_t to_millis(std::chrono::system_clock::time_point t);
std::chrono::system_clock::time_point from_millis(std::int64_t ms);

}  // namespace tern::queue
