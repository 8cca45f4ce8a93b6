#pragma once
// The spool's single writer: one thread with one SQLite connection, through
// which every write of the daemon goes. Work submitted from any thread is
// group-committed: the thread takes everything pending (up to max_batch), runs
// it in ONE transaction whose COMMIT fsyncs the WAL, then runs every callback.
// It never sleeps to gather a batch: a lone message commits at once, and under
// load the work that arrives during one commit forms the next batch. A batch
// that fails (disk full, I/O error) is rolled back whole and every callback gets
// a transient Error ("... disk full ..."); the writer carries on and later
// batches may succeed. A single item that fails on its own (e.g. a duplicate
// id) is undone alone through a savepoint and fails alone.
//
// Thread-safety: enqueue(), record(), stats() and stop() may be called from
// any thread. Callbacks run on the writer thread, in submission order, after
// the fsync; they must be quick and must not throw (post to your own loop).
// Lifetime: stop() (or the destructor) finishes everything submitted before it,
// then joins; work submitted after stop() fails at once, on the caller's
// thread, with a transient error.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "queue/message.h"
#include "smtp/result.h"

namespace tern::queue {

class Writer {
 public:
  struct Options {
    std::size_t max_batch = 512;  // items per transaction: bounds the latency one batch adds to the next
    // Checkpoint (PASSIVE, after the callbacks ran) once the WAL holds this many
    // pages: keeps the WAL, and the cost of reading through it, bounded under
    // sustained load. 4096 pages = 16 MiB with 4 KiB pages.
    int checkpoint_pages = 4096;
    std::chrono::milliseconds busy_timeout{5000};  // waiting for a CLI command's short write lock
    // Upper bound on queue.db's size in pages (PRAGMA max_page_count); 0 keeps
    // SQLite's default (practically unlimited). Hitting it behaves as disk full.
    std::uint32_t max_page_count = 0;
    // At start, remove body files no committed message owns (sweep_body_files):
    // only for the daemon, before anything is submitted.
    bool sweep_body_files = false;
    int swept_body_files = 0;  // out: how many were removed (options())
  };

  struct Stats {
    std::uint64_t transactions = 0;     // committed or attempted batches
    std::uint64_t failed_batches = 0;   // rolled back whole
    std::uint64_t items = 0;            // enqueue and record calls processed
    std::uint64_t messages = 0;         // messages stored (enqueue and also_enqueue)
    std::uint64_t largest_batch = 0;    // most items in one transaction
    std::uint64_t checkpoints = 0;
  };

  // Opens spool_dir/queue.db (creating the 0700 directory and the 0600 file if
  // needed), migrates it, and starts the thread.
  static Result<std::unique_ptr<Writer>> start(const std::string& spool_dir, Options options);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Called after the commit's fsync (or failure) with the message given back,
  // so the daemon can hand its data straight to delivery without re-reading.
  // Hazard: a scheduler reading due() on another connection may see the
  // message between COMMIT and this callback; put the id in the daemon's
  // in-flight set before enqueue() when the callback starts delivery itself.
  using EnqueueDone = std::function<void(Status status, NewMessage&& message)>;
  void enqueue(NewMessage message, EnqueueDone done);

  // Delivery outcomes, and DSNs to enqueue in the same transaction (a bounce
  // and its DSN are atomic). A message whose recipients are all final
  // (delivered/bounced) is deleted with its history in that transaction. An
  // outcome for a recipient that is gone or final is ignored (operator deleted
  // the message meanwhile); see Store::apply for held recipients.
  void record(std::vector<AttemptRecord> attempts, std::vector<NewMessage> also_enqueue = {},
              std::function<void(Status)> done = nullptr);

  // Finishes everything submitted so far, commits, joins. Idempotent.
  void stop();

  Stats stats() const;
  const Options& options() const { return options_; }

 private:
  struct EnqueueItem {
    NewMessage message;
    EnqueueDone done;
  };
  struct RecordItem {
    std::vector<AttemptRecord> attempts;
    std::vector<NewMessage> also_enqueue;
    std::function<void(Status)> done;
  };
  using Item = std::variant<EnqueueItem, RecordItem>;
  struct Conn;  // the connection and its statements: touched only by the writer thread

  Writer(Options options, std::unique_ptr<Conn> conn);
  void submit(Item item);
  void run() noexcept;
  void process(std::vector<Item>& batch);

  const Options options_;
  std::unique_ptr<Conn> conn_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Item> pending_;  // guarded by mu_
  bool stopping_ = false;     // guarded by mu_
  Stats stats_;               // guarded by mu_
  std::mutex stop_mu_;        // serialises stop() callers around join()
  std::thread thread_;
};

}  // namespace tern::queue
