#pragma once
// OutboundSession: one SMTP client connection to one host address, carrying
// one or more DeliveryJobs in turn (connection reuse). It connects (with
// connect_timeout), runs smtp::ClientSession over a Connection (STARTTLS or
// implicit TLS through TlsSession, the certificate checked per policy), and
// reports each job's smtp::client::Finished to its owner. A connect failure
// is reported as a Finished with a site-scope transient failure, so the
// owner has one path for every outcome. Loop thread only; the owner keeps the
// session alive until on_session_closed().

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "relay/connection.h"
#include "relay/delivery_job.h"
#include "relay/tls.h"
#include "smtp/client_session.h"

namespace tern::relay {

struct OutboundTarget {
  std::string host_name;      // MX or relayhost name, for SNI, certificate checks and logs
  std::string address;        // IP literal
  std::uint16_t port = 25;
  bool implicit_tls = false;  // relayhost_tls = "tls" (port 465)
  std::string label() const { return host_name + "[" + address + "]:" + std::to_string(port); }
};

class OutboundSession;

class OutboundOwner {
 public:
  // A job is done (delivered, failed, or never sent because the connection failed).
  virtual void on_job_finished(OutboundSession& session, std::unique_ptr<DeliveryJob> job,
                               smtp::client::Finished finished) = 0;
  // The session went idle and may take another job: call send(), or quit().
  virtual void on_session_idle(OutboundSession& session) = 0;
  // Fully closed; the owner may destroy the session now.
  virtual void on_session_closed(OutboundSession& session) = 0;
  virtual void on_tls_handshake(bool ok) { (void)ok; }

 protected:
  ~OutboundOwner() = default;
};

struct OutboundOptions {
  smtp::ClientPolicy policy;                 // helo name, TLS wish, AUTH, command timeout
  std::chrono::milliseconds connect_timeout{30000};
  std::shared_ptr<TlsContext> tls;           // client context; null: no TLS possible
  bool require_verified_tls = false;         // "verify" / relayhost: chain + name must check out
};

class OutboundSession final : public Connection::Handler {
 public:
  OutboundSession(uv_loop_t* loop, OutboundTarget target, OutboundOptions options, OutboundOwner& owner);
  ~OutboundSession();

  // Connects and sends `job` as the first message.
  void start(std::unique_ptr<DeliveryJob> job);
  // Sends another job on this (idle, reusable) connection.
  void send(std::unique_ptr<DeliveryJob> job);
  void quit();
  // Closes the connection now, without QUIT and without reporting the job in
  // progress (it stays unrecorded, so it is due again after a restart).
  void abort();
  bool busy() const { return job_ != nullptr; }
  const OutboundTarget& target() const { return target_; }
  bool tls_used() const { return conn_.tls_active(); }

  void on_connected(Status status) override;
  void on_plaintext(std::string_view bytes) override;
  void on_eof() override;
  void on_transport_error(const Error& error) override;
  void on_tls_ready() override;
  void on_timeout() override;
  void on_closed() override;
  void on_written() override;

  // Body bytes handed to the connection ahead of what the peer has taken.
  // A large body (a mapped spool file) is fed in slices under this window,
  // so TLS encrypts it piece by piece instead of copying all of it at once.
  static constexpr std::size_t kWriteWindow = 256 * 1024;

 private:
  void pump();
  bool send_body_rest();  // false: the window is full, on_written() goes on
  void finish_job(smtp::client::Finished finished);
  void fail_unsent(std::string detail);

  OutboundTarget target_;
  OutboundOptions options_;
  OutboundOwner& owner_;
  Connection conn_;
  smtp::ClientSession client_;
  std::unique_ptr<DeliveryJob> job_;
  bool connected_ = false;
  bool quitting_ = false;
  std::string_view body_rest_;                 // of the current SendBody slice, not yet given to conn_
  std::shared_ptr<const void> body_keepalive_;  // keeps body_rest_'s memory (the message data)
};

}  // namespace tern::relay
