#include "queue/writer.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "queue/db.h"
#include "queue/message_data.h"
#include "queue/schema.h"
#include "queue/store.h"

namespace tern::queue {

struct Writer::Conn {
  std::string spool_dir;
  DbPtr db;
  std::optional<Store> store;
  Stmt savepoint, release, rollback_to;
  int wal_pages = 0;  // set by the WAL hook after each commit
};

namespace {

int on_wal_commit(void* arg, sqlite3*, const char*, int pages) noexcept {
  *static_cast<int*>(arg) = pages;
  return SQLITE_OK;
}

// A batch-wide failure becomes the same transient error for every item: the
// server answers 452 4.3.1 and the client tries again later.
Error as_transient(const Error& e) { return Error::transient(e.message()); }

}  // namespace

Result<std::unique_ptr<Writer>> Writer::start(const std::string& spool_dir, Options options) {
  if (options.max_batch == 0) options.max_batch = 1;
  auto db = open_spool(spool_dir, SpoolOpen{.create_dir = true, .busy_timeout = options.busy_timeout});
  if (!db) return db.error();
  auto conn = std::make_unique<Conn>();
  conn->spool_dir = spool_dir;
  conn->db = std::move(*db);
  sqlite3* h = conn->db.get();
  // We checkpoint ourselves, after the callbacks, instead of inside COMMIT;
  // after a checkpoint lets the WAL restart, its file is cut back to 64 MiB.
  // Debian builds SQLite with secure_delete on, which writes every page a
  // delivered body freed, zeroed, through the WAL and the checkpoint again:
  // FAST zeroes deleted content only where that costs no extra I/O (100 KiB
  // messages end to end: about 900 -> 1,300 msgs/s on 2 cores).
  std::string pragmas = "PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864; PRAGMA secure_delete = FAST;";
  if (options.max_page_count > 0) pragmas += "PRAGMA max_page_count = " + std::to_string(options.max_page_count) + ";";
  if (auto s = exec(h, pragmas); !s) return s.error().prefixed(database_path(spool_dir));
  // The hook's return value is the previous hook: nothing to check.
  (void)sqlite3_wal_hook(h, on_wal_commit, &conn->wal_pages);
  auto store = Store::prepare(h);
  if (!store) return store.error().prefixed(database_path(spool_dir));
  conn->store.emplace(std::move(*store));
  for (auto [stmt, sql] : {std::pair{&conn->savepoint, "SAVEPOINT item"}, std::pair{&conn->release, "RELEASE item"},
                           std::pair{&conn->rollback_to, "ROLLBACK TO item"}}) {
    auto p = Stmt::prepare(h, sql);
    if (!p) return p.error();
    *stmt = std::move(*p);
  }
  if (options.sweep_body_files) {
    auto swept = queue::sweep_body_files(h, spool_dir);
    if (!swept) return swept.error().prefixed(bodies_dir(spool_dir));
    options.swept_body_files = *swept;
  }
  std::unique_ptr<Writer> writer(new Writer(options, std::move(conn)));
  writer->thread_ = std::thread([w = writer.get()] { w->run(); });
  return writer;
}

Writer::Writer(Options options, std::unique_ptr<Conn> conn) : options_(options), conn_(std::move(conn)) {}

Writer::~Writer() { stop(); }

void Writer::enqueue(NewMessage message, EnqueueDone done) {
  submit(EnqueueItem{std::move(message), std::move(done)});
}

void Writer::record(std::vector<AttemptRecord> attempts, std::vector<NewMessage> also_enqueue,
                    std::function<void(Status)> done) {
  submit(RecordItem{std::move(attempts), std::move(also_enqueue), std::move(done)});
}

void Writer::submit(Item item) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      pending_.push_back(std::move(item));
      wake_.notify_one();
      return;
    }
  }
  Error stopped = Error::transient("queue writer stopped");
  if (auto* e = std::get_if<EnqueueItem>(&item)) {
    if (e->done) e->done(stopped, std::move(e->message));
  } else if (auto* r = std::get_if<RecordItem>(&item)) {
    if (r->done) r->done(stopped);
  }
}

void Writer::stop() {
  std::lock_guard stop_lock(stop_mu_);
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Writer::Stats Writer::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void Writer::run() noexcept {
  std::vector<Item> batch;
  for (;;) {
    batch.clear();
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) return;  // stopping, and everything submitted is done
      std::size_t n = std::min(pending_.size(), options_.max_batch);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
    }
    process(batch);
  }
}

void Writer::process(std::vector<Item>& batch) {
  sqlite3* db = conn_->db.get();
  Store& store = *conn_->store;
  std::vector<std::optional<Error>> failed(batch.size());
  std::optional<Error> batch_error;
  std::uint64_t messages = 0;

  auto txn = Transaction::begin(db);
  if (!txn) batch_error = txn.error();

  for (std::size_t i = 0; i < batch.size() && !batch_error; ++i) {
    // Refused before touching the database: nothing to undo.
    if (auto* e = std::get_if<EnqueueItem>(&batch[i]); e && e->message.envelope.recipients.empty()) {
      failed[i] = Error::permanent("message " + e->message.id + " has no recipients");
      continue;
    }
    if (auto s = conn_->savepoint.run(); !s) {
      batch_error = s.error();
      break;
    }
    const std::size_t files_before = store.removed_files();
    std::uint64_t stored = 0;
    Status status = std::visit(
        [&](auto& item) -> Status {
          using T = std::decay_t<decltype(item)>;
          if constexpr (std::is_same_v<T, EnqueueItem>) {
            auto mid = store.insert_message(item.message);
            if (!mid) return mid.error();
            stored = 1;
            return {};
          } else {
            std::vector<std::int64_t> touched;
            for (const AttemptRecord& a : item.attempts) {
              auto mid = store.apply(a);
              if (!mid) return mid.error();
              if (*mid && std::find(touched.begin(), touched.end(), **mid) == touched.end()) touched.push_back(**mid);
            }
            for (NewMessage& m : item.also_enqueue) {
              if (m.envelope.recipients.empty()) return Error::permanent("message " + m.id + " has no recipients");
              auto mid = store.insert_message(m);
              if (!mid) return mid.error();
              ++stored;
            }
            for (std::int64_t mid : touched) {
              if (auto s = store.settle(mid); !s) return s.error();
            }
            return {};
          }
        },
        batch[i]);
    if (status) {
      if (auto s = conn_->release.run(); !s) batch_error = s.error();
      messages += stored;
      continue;
    }
    // Disk full, I/O errors and the like (db_error makes exactly those
    // transient) doom the whole transaction, which SQLite may already have
    // rolled back; anything else (a constraint) concerns this item only.
    if (status.error().is_transient() || sqlite3_get_autocommit(db) != 0) {
      batch_error = status.error();
      break;
    }
    failed[i] = std::holds_alternative<EnqueueItem>(batch[i]) ? as_transient(status.error()) : status.error();
    store.forget_removed_files(files_before);
    auto undo = conn_->rollback_to.run();
    auto drop = undo ? conn_->release.run() : undo;
    if (!drop) batch_error = drop.error();
  }

  if (!batch_error && txn) {
    if (auto s = txn->commit(); !s) batch_error = s.error();
  }
  if (batch_error) {
    if (txn) txn->rollback();
    messages = 0;
    store.forget_removed_files();
  } else {
    store.remove_body_files(conn_->spool_dir);  // their rows are gone for good now
  }

  {
    std::lock_guard lock(mu_);
    ++stats_.transactions;
    if (batch_error) ++stats_.failed_batches;
    stats_.items += batch.size();
    stats_.messages += messages;
    stats_.largest_batch = std::max<std::uint64_t>(stats_.largest_batch, batch.size());
  }

  for (std::size_t i = 0; i < batch.size(); ++i) {
    Status status;
    if (batch_error) {
      status = failed[i] ? *failed[i] : as_transient(*batch_error);
    } else if (failed[i]) {
      status = *failed[i];
    }
    if (auto* e = std::get_if<EnqueueItem>(&batch[i])) {
      if (e->done) e->done(status, std::move(e->message));
    } else if (auto* r = std::get_if<RecordItem>(&batch[i])) {
      if (r->done) r->done(status);
    }
  }

  if (!batch_error && conn_->wal_pages >= options_.checkpoint_pages) {
    int log = 0;
    int done = 0;
    int rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    // A busy or partial checkpoint (a reader holds an old snapshot) is retried
    // after the next commit; only a complete one resets the count.
    if (rc == SQLITE_OK && log == done) {
      conn_->wal_pages = 0;
      std::lock_guard lock(mu_);
      ++stats_.checkpoints;
    }
  }
}

}  // namespace tern::queue
