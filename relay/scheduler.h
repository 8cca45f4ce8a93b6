#pragma once
// Scheduler: decides what is delivered when, on a thread of its own with its
// own queue Reader. New messages come straight from the writer's commit
// callback (their data still in memory: attempted at once, no re-read);
// everything else (deferred, released, retried, or left over from before a
// restart) comes from polling the queue for due recipients. It cuts each
// message into one DeliveryJob per destination and hands jobs to workers: a
// domain always to the same worker (so its connection limit and reuse live
// in one place), the relayhost's jobs round robin. A message stays "in
// flight" (excluded from polling) until every job of it is recorded. It also
// refreshes the queue gauges.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "queue/message.h"
#include "relay/config.h"
#include "smtp/result.h"

namespace tern::metrics {
class Metrics;
}

namespace tern::relay {

class DeliveryWorker;

struct SchedulerOptions {
  std::chrono::milliseconds poll_interval{1000};   // how often due work is looked for
  std::size_t batch = 1000;                         // recipients per poll
  std::size_t max_in_flight_bytes = 64u << 20;      // message data held by deliveries; beyond, new mail waits in the queue
  std::chrono::milliseconds gauge_interval{5000};   // tern_queue_messages / tern_queue_oldest_age_seconds
};

class Scheduler {
 public:
  Scheduler(std::string spool_dir, DeliveryMode mode, std::vector<DeliveryWorker*> workers,
            metrics::Metrics* metrics, SchedulerOptions options = {});
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  Status start();
  void stop();

  // Any thread. Before enqueueing a message whose commit callback will call
  // submit_new(): keeps a poll from taking it between COMMIT and callback.
  void reserve(const std::string& message_id);
  void unreserve(const std::string& message_id);
  // Any thread (the writer's callback): deliver a just-committed message now.
  void submit_new(queue::NewMessage&& message);  // uses message.recipient_ids set by the writer
  // Any thread (the writer's callback): one job of this message is recorded.
  void job_recorded(const std::string& message_id);
  // Any thread: look for due work now (queue retry/release from the CLI are
  // seen at the next poll anyway).
  void wake();
  bool loop_alive(std::chrono::milliseconds staleness) const;
  std::size_t in_flight() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace tern::relay
