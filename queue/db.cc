#include "queue/db.h"

#include <string>

namespace tern::queue {
namespace {

// The start of a statement, quoted, for error messages. (Built by append:
// "literal" + std::string trips GCC 12's -Wrestrict false positive at -O2.)
std::string quoted_head(std::string_view sql) {
  std::string out;
  out.reserve(64);
  out.push_back('"');
  out.append(sql.substr(0, 60));
  out.push_back('"');
  return out;
}

const char* sql_of(sqlite3_stmt* stmt) {
  const char* sql = sqlite3_sql(stmt);
  return sql != nullptr ? sql : "";
}

}  // namespace

bool is_environmental(int rc) {
  switch (rc & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
    case SQLITE_NOLFS:
    case SQLITE_INTERRUPT:
      return true;
    default:
      return false;
  }
}

Error db_error(sqlite3* db, int rc, std::string_view context) {
  std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string what;
  switch (rc & 0xff) {
    case SQLITE_FULL: what = "disk full: "; break;
    case SQLITE_IOERR: what = "I/O error: "; break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: what = "database busy: "; break;
    case SQLITE_READONLY: what = "spool not writable: "; break;
    default: break;
  }
  std::string message = std::string(context) + ": " + what + detail + " (sqlite code " + std::to_string(rc) + ")";
  return is_environmental(rc) ? Error::transient(std::move(message)) : Error::permanent(std::move(message));
}

bool is_busy_error(const Error& error) {
  return error.is_transient() && error.message().find(": database busy: ") != std::string::npos;
}

Result<DbPtr> open_db(const std::string& path, bool create, std::chrono::milliseconds busy_timeout) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DbPtr db(raw);  // sqlite3_open_v2 may return a handle even on failure: always own it
  if (rc != SQLITE_OK) return db_error(db.get(), rc, "open " + path);
  rc = sqlite3_extended_result_codes(db.get(), 1);
  if (rc != SQLITE_OK) return db_error(db.get(), rc, "open " + path);
  rc = sqlite3_busy_timeout(db.get(), static_cast<int>(busy_timeout.count()));
  if (rc != SQLITE_OK) return db_error(db.get(), rc, "busy_timeout " + path);
  return db;
}

Status exec(sqlite3* db, std::string_view sql) {
  std::string owned(sql);
  char* message = nullptr;
  int rc = sqlite3_exec(db, owned.c_str(), nullptr, nullptr, &message);
  sqlite3_free(message);  // the same text stays available from sqlite3_errmsg
  if (rc != SQLITE_OK) return db_error(db, rc, quoted_head(owned));
  return {};
}

Result<Stmt> Stmt::prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  StmtPtr stmt(raw);
  if (rc != SQLITE_OK) return db_error(db, rc, "prepare " + quoted_head(sql));
  if (!stmt) return Error::permanent("prepare: empty statement");
  return Stmt(db, std::move(stmt));
}

void Stmt::note_bind(int rc) {
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

Stmt& Stmt::bind(int index, std::int64_t value) {
  note_bind(sqlite3_bind_int64(stmt_.get(), index, value));
  return *this;
}

Stmt& Stmt::bind(int index, std::string_view text) {
  // A zero-length text must not be bound from a null pointer: SQLite would store NULL.
  note_bind(sqlite3_bind_text(stmt_.get(), index, text.empty() ? "" : text.data(), static_cast<int>(text.size()),
                              SQLITE_STATIC));
  return *this;
}

Stmt& Stmt::bind_blob(int index, std::string_view bytes) {
  if (bytes.size() > static_cast<std::size_t>(INT32_MAX)) {
    note_bind(SQLITE_TOOBIG);
    return *this;
  }
  note_bind(sqlite3_bind_blob(stmt_.get(), index, bytes.empty() ? "" : bytes.data(), static_cast<int>(bytes.size()),
                              SQLITE_STATIC));
  return *this;
}

Stmt& Stmt::bind_null(int index) {
  note_bind(sqlite3_bind_null(stmt_.get(), index));
  return *this;
}

Stmt& Stmt::bind(int index, std::optional<std::int64_t> value) {
  return value ? bind(index, *value) : bind_null(index);
}

Stmt& Stmt::bind(int index, const std::optional<std::string>& text) {
  return text ? bind(index, std::string_view(*text)) : bind_null(index);
}

Result<bool> Stmt::step() {
  if (bind_rc_ != SQLITE_OK) {
    int rc = bind_rc_;
    bind_rc_ = SQLITE_OK;
    return db_error(db_, rc, "bind for " + quoted_head(sql_of(stmt_.get())));
  }
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_error(db_, rc, quoted_head(sql_of(stmt_.get())));
}

Status Stmt::run() {
  for (;;) {
    auto r = step();
    if (!r) {
      reset();
      return r.error();
    }
    if (!*r) break;
  }
  reset();
  return {};
}

void Stmt::reset() {
  // sqlite3_reset repeats the last step's error code; that error was already
  // reported by step(), so it is deliberately not checked again here.
  (void)sqlite3_reset(stmt_.get());
  (void)sqlite3_clear_bindings(stmt_.get());
  bind_rc_ = SQLITE_OK;
}

std::int64_t Stmt::int64(int column) const { return sqlite3_column_int64(stmt_.get(), column); }

bool Stmt::is_null(int column) const { return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL; }

std::string Stmt::text(int column) const {
  const unsigned char* p = sqlite3_column_text(stmt_.get(), column);
  int n = sqlite3_column_bytes(stmt_.get(), column);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}

std::optional<std::string> Stmt::opt_text(int column) const {
  if (is_null(column)) return std::nullopt;
  return text(column);
}

std::optional<std::int64_t> Stmt::opt_int64(int column) const {
  if (is_null(column)) return std::nullopt;
  return int64(column);
}

std::string_view Stmt::blob(int column) const {
  const void* p = sqlite3_column_blob(stmt_.get(), column);
  int n = sqlite3_column_bytes(stmt_.get(), column);
  if (p == nullptr) return {};
  return std::string_view(static_cast<const char*>(p), static_cast<std::size_t>(n));
}

Result<Transaction> Transaction::begin(sqlite3* db) {
  int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return db_error(db, rc, "BEGIN IMMEDIATE");
  return Transaction(db);
}

Status Transaction::commit() {
  if (db_ == nullptr) return Error::permanent("COMMIT: no transaction");
  int rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    Error error = db_error(db_, rc, "COMMIT");
    rollback();
    return error;
  }
  db_ = nullptr;
  return {};
}

void Transaction::rollback() noexcept {
  if (db_ == nullptr) return;
  // After some errors (disk full, I/O) SQLite has already rolled back; the
  // explicit ROLLBACK then fails harmlessly, so only issue it when needed.
  if (sqlite3_get_autocommit(db_) == 0) (void)sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  db_ = nullptr;
}

std::int64_t to_millis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::chrono::system_clock::time_point from_millis(std::int64_t ms) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::milliseconds(ms)));
}

}  // namespace tern::queue
