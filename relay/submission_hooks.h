#pragma once
// SubmissionHooks: what the submission listeners need from the daemon. An
// accepted message gets its trace header fields (Received:, and Message-ID:
// and Date: when missing), a queue id, and goes to the queue writer; the 250
// is answered only from the writer's callback, after the fsync. The committed
// message is then handed straight to the scheduler for delivery. AUTH checks
// go to the Authenticator. Counts the inbound metrics. Thread-safe.

#include <mutex>
#include <string>

#include "relay/inbound_server.h"
#include "smtp/envelope.h"

namespace tern::queue {
class Writer;
}
namespace tern::metrics {
class Metrics;
}

namespace tern::relay {

class Scheduler;
class Authenticator;

class SubmissionHooks final : public InboundHooks {
 public:
  SubmissionHooks(std::string hostname, queue::Writer& writer, Scheduler& scheduler, Authenticator& authenticator,
                  metrics::Metrics& metrics);

  void submit(Submission submission, std::function<void(Result<std::string>)> done) override;
  void authenticate(std::string user, std::string password, std::string client_address,
                    std::function<void(Status)> done) override;
  void session_opened() override;
  void session_closed() override;
  void rejected(std::string_view reason) override;
  void tls_handshake(bool ok) override;

  void set_hostname(std::string hostname);  // SIGHUP

 private:
  std::string hostname() const;

  mutable std::mutex mutex_;  // guards hostname_
  std::string hostname_;
  queue::Writer& writer_;
  Scheduler& scheduler_;
  Authenticator& authenticator_;
  metrics::Metrics& metrics_;
};

// The header fields tern puts in front of a submitted message: Received:,
// plus Message-ID: and Date: when the message has none (RFC 6409 §8).
std::string trace_fields(const Submission& submission, const std::string& hostname, const std::string& queue_id,
                         std::chrono::system_clock::time_point now);

}  // namespace tern::relay
