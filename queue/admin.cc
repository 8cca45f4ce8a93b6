#include "queue/admin.h"

#include <utility>

#include "queue/db.h"
#include "queue/schema.h"
#include "queue/store.h"

namespace tern::queue {

struct Admin::Conn {
  std::string spool_dir;
  DbPtr db;
  std::optional<Store> store;
};

Result<std::unique_ptr<Admin>> Admin::open(const std::string& spool_dir, Options options) {
  auto db = open_spool(spool_dir, SpoolOpen{.create_dir = false, .busy_timeout = options.busy_timeout});
  if (!db) return db.error();
  auto conn = std::make_unique<Conn>();
  conn->spool_dir = spool_dir;
  conn->db = std::move(*db);
  auto store = Store::prepare(conn->db.get());
  if (!store) return store.error().prefixed(database_path(spool_dir));
  conn->store.emplace(std::move(*store));
  return std::unique_ptr<Admin>(new Admin(std::move(conn)));
}

Admin::Admin(std::unique_ptr<Conn> conn) : conn_(std::move(conn)) {}
Admin::~Admin() = default;

template <class Fn>
Result<std::optional<int>> Admin::on_message(std::string_view id, Fn&& fn) {
  auto txn = Transaction::begin(conn_->db.get());
  if (!txn) return txn.error();
  auto mid = conn_->store->find(id);
  if (!mid) return mid.error();
  if (!*mid) return std::optional<int>();
  Result<int> changed = fn(**mid);
  Status committed = changed ? txn->commit() : Status(changed.error());
  if (!committed) {
    conn_->store->forget_removed_files();  // rolled back: the message, and its body file, stay
    return committed.error();
  }
  conn_->store->remove_body_files(conn_->spool_dir);
  return std::optional<int>(*changed);
}

Result<std::optional<int>> Admin::retry(std::string_view id, TimePoint now) {
  return on_message(id, [&](std::int64_t mid) { return conn_->store->retry(mid, now); });
}

Result<std::optional<int>> Admin::hold(std::string_view id) {
  return on_message(id, [&](std::int64_t mid) { return conn_->store->hold(mid); });
}

Result<std::optional<int>> Admin::release(std::string_view id, TimePoint now) {
  return on_message(id, [&](std::int64_t mid) { return conn_->store->release(mid, now); });
}

Result<std::optional<int>> Admin::remove(std::string_view id) {
  return on_message(id, [&](std::int64_t mid) -> Result<int> {
    auto ok = conn_->store->delete_message(mid);
    if (!ok) return ok.error();
    return 1;
  });
}

Result<int> Admin::retry_all(TimePoint now) {
  auto txn = Transaction::begin(conn_->db.get());
  if (!txn) return txn.error();
  auto changed = conn_->store->retry_all(now);
  if (!changed) return changed.error();
  if (auto s = txn->commit(); !s) return s.error();
  return *changed;
}

}  // namespace tern::queue
