#pragma once
// DeliveryWorker: one delivery thread with its own libuv loop, c-ares
// resolver and SMTP client connections. Jobs arrive through a mailbox, are
// grouped by destination (a recipient domain, or the relayhost), and each
// destination gets at most its share of connections, reused for job after job
// (RSET between, PIPELINING when offered). MX hosts are tried in order; the
// failure policy (failure_policy.h) decides per recipient; outcomes, and the
// DSNs for bounces, are committed through the queue's writer in one record()
// call per job. A job in flight when the worker stops is simply not recorded,
// so it is due again after a restart (at-least-once).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "dns/resolver.h"
#include "relay/config.h"
#include "relay/delivery_job.h"
#include "relay/tls.h"

namespace tern::queue {
class Writer;
}
namespace tern::metrics {
class Metrics;
}

namespace tern::relay {

// What a worker needs from the configuration, with secrets and TLS loaded.
// Immutable; replaced whole on SIGHUP.
struct DeliverySettings {
  std::string hostname;                // EHLO name, MAILER-DAEMON@hostname
  DeliveryConfig delivery;
  dns::ResolverOptions dns;
  std::string relayhost_password;      // read from delivery.relayhost_password_file
  std::shared_ptr<TlsContext> tls;     // client context (verification per delivery.tls / relayhost)
  unsigned worker_count = 1;           // to share a relayhost's connection limit between workers
};

// Builds the settings from a config: reads the password file, makes the TLS
// client context. A Permanent error names what failed.
Result<std::shared_ptr<const DeliverySettings>> make_delivery_settings(const Config& config);

class DeliveryWorker {
 public:
  struct Services {
    queue::Writer* writer = nullptr;        // thread-safe
    metrics::Metrics* metrics = nullptr;    // thread-safe
    // Called (from the writer thread) once a job's outcome is committed.
    std::function<void(const std::string& message_id)> job_recorded;
    // Called (from the writer thread) when a committed record enqueued a DSN,
    // so it is attempted now rather than at the next poll of the queue.
    std::function<void()> dsn_enqueued;
  };

  DeliveryWorker(unsigned index, Services services, std::shared_ptr<const DeliverySettings> settings);
  ~DeliveryWorker();
  DeliveryWorker(const DeliveryWorker&) = delete;
  DeliveryWorker& operator=(const DeliveryWorker&) = delete;

  Status start();
  // Any thread.
  void submit(std::unique_ptr<DeliveryJob> job);
  void reload(std::shared_ptr<const DeliverySettings> settings);
  // Lets running deliveries finish for up to `grace`, then closes everything
  // and joins. Jobs not finished are not recorded (due again after restart).
  void stop(std::chrono::milliseconds grace);
  // stop() in two halves, so several workers drain at the same time:
  // begin_stop() asks, finish_stop() waits until `deadline` and joins.
  void begin_stop();
  void finish_stop(std::chrono::steady_clock::time_point deadline);
  bool loop_alive(std::chrono::milliseconds staleness) const;
  std::size_t jobs_in_progress() const { return in_progress_.load(); }

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  std::atomic<std::size_t> in_progress_{0};
};

}  // namespace tern::relay
