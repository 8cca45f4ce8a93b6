#include "queue/users.h"

#include <utility>

#include "queue/db.h"
#include "queue/schema.h"

namespace tern::queue {

struct Users::Conn {
  DbPtr db;
  Stmt exists, insert, update, remove, find, list;
};

std::optional<std::string> invalid_user_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return "user name must be 1..128 characters";
  for (unsigned char c : name) {
    if (c <= 0x20 || c >= 0x7f) return "user name must be printable ASCII without spaces";
  }
  return std::nullopt;
}

Result<std::unique_ptr<Users>> Users::open(const std::string& spool_dir, Options options) {
  auto db = open_spool(spool_dir, SpoolOpen{.create_dir = false, .busy_timeout = options.busy_timeout});
  if (!db) return db.error();
  auto conn = std::make_unique<Conn>();
  conn->db = std::move(*db);
  const std::pair<Stmt*, const char*> statements[] = {
      {&conn->exists, "SELECT 1 FROM users WHERE name = ?1"},
      {&conn->insert, "INSERT INTO users (name, hash, created_at) VALUES (?1, ?2, ?3)"},
      {&conn->update, "UPDATE users SET hash = ?2 WHERE name = ?1"},
      {&conn->remove, "DELETE FROM users WHERE name = ?1"},
      {&conn->find, "SELECT name, hash, created_at FROM users WHERE name = ?1"},
      {&conn->list, "SELECT name, hash, created_at FROM users ORDER BY name"},
  };
  for (const auto& [stmt, sql] : statements) {
    auto p = Stmt::prepare(conn->db.get(), sql);
    if (!p) return p.error().prefixed(database_path(spool_dir));
    *stmt = std::move(*p);
  }
  return std::unique_ptr<Users>(new Users(std::move(conn)));
}

Users::Users(std::unique_ptr<Conn> conn) : conn_(std::move(conn)) {}
Users::~Users() = default;

Result<bool> Users::put(std::string_view name, std::string_view hash, std::chrono::system_clock::time_point now) {
  if (auto why = invalid_user_name(name)) return Error::permanent(*why);
  if (hash.empty()) return Error::permanent("empty password hash");
  auto txn = Transaction::begin(conn_->db.get());
  if (!txn) return txn.error();
  bool existed = false;
  {
    StmtReset guard(conn_->exists);
    conn_->exists.bind(1, name);
    auto row = conn_->exists.step();
    if (!row) return row.error();
    existed = *row;
  }
  Stmt& write = existed ? conn_->update : conn_->insert;
  write.bind(1, name).bind(2, hash);
  if (!existed) write.bind(3, to_millis(now));
  if (auto s = write.run(); !s) return s.error();
  if (auto s = txn->commit(); !s) return s.error();
  return existed;
}

Result<bool> Users::remove(std::string_view name) {
  auto txn = Transaction::begin(conn_->db.get());
  if (!txn) return txn.error();
  conn_->remove.bind(1, name);
  if (auto s = conn_->remove.run(); !s) return s.error();
  bool removed = sqlite3_changes(conn_->db.get()) > 0;
  if (auto s = txn->commit(); !s) return s.error();
  return removed;
}

Result<std::optional<UserRecord>> Users::find(std::string_view name) {
  Stmt& s = conn_->find;
  StmtReset guard(s);
  s.bind(1, name);
  auto row = s.step();
  if (!row) return row.error();
  if (!*row) return std::optional<UserRecord>();
  return std::optional<UserRecord>(UserRecord{s.text(0), s.text(1), from_millis(s.int64(2))});
}

Result<std::vector<UserRecord>> Users::list() {
  Stmt& s = conn_->list;
  StmtReset guard(s);
  std::vector<UserRecord> out;
  for (;;) {
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(UserRecord{s.text(0), s.text(1), from_millis(s.int64(2))});
  }
  return out;
}

}  // namespace tern::queue
