#pragma once
// InboundServer: the submission listeners (587 plain + STARTTLS, 465 implicit
// TLS). N I/O threads each run a libuv loop with their own SO_REUSEPORT
// listening sockets, so the kernel spreads connections; each connection is a
// smtp::ServerSession driven over a Connection. Slow work (password checks,
// durable enqueue) goes to InboundHooks, whose answers come back to the
// session's loop through a Mailbox, by session id. Connection limits (overall
// and per client address) are enforced at accept with 421 4.7.0.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "queue/message_data.h"
#include "relay/tls.h"
#include "smtp/result.h"
#include "smtp/server_session.h"

namespace tern::relay {

struct ListenerSpec {
  std::string host;          // IPv4 or IPv6 literal
  std::uint16_t port = 0;    // 0: any free port (tests); see InboundServer::bound_ports()
  bool implicit_tls = false; // submissions (465)
};

struct InboundOptions {
  std::vector<ListenerSpec> listeners;
  unsigned io_threads = 1;
  std::uint32_t max_connections = 1000;
  std::uint32_t max_connections_per_client = 50;
  smtp::ServerPolicy policy;                              // starttls_available is set from the TLS context
  std::function<bool(std::string_view address)> trusted;  // in submission.trusted_networks; may be empty
  // Where a message body over queue::kSpillThreshold is written while it
  // arrives (spool/bodies/); empty: every body stays in memory.
  std::string spool_dir;
};

// One accepted message, as the hooks receive it.
struct Submission {
  smtp::server::Enqueue message;
  std::string client_address;
  bool implicit_tls_listener = false;  // arrived on a listen_tls (465) listener
  std::string tls_description;         // "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384", "" without TLS
  std::uint64_t session_id = 0;        // the session= of its session_start/session_end log lines
  // A large message: its body is this file, whole and synced (message.body is
  // then empty), and the file's name is the message's queue id.
  std::shared_ptr<queue::BodyFile> body_file;
};

// What the server needs from the rest of the daemon. Callbacks may be invoked
// from any thread; the server posts them back to the right loop.
class InboundHooks {
 public:
  virtual ~InboundHooks() = default;
  virtual void submit(Submission submission, std::function<void(Result<std::string>)> done) = 0;
  virtual void authenticate(std::string user, std::string password, std::string client_address,
                            std::function<void(Status)> done) = 0;
  virtual void session_opened() {}
  virtual void session_closed() {}
  virtual void rejected(std::string_view reason) { (void)reason; }
  virtual void tls_handshake(bool ok) { (void)ok; }
};

class InboundServer {
 public:
  // Binds every listener (synchronously, so a bind error is returned here) and
  // starts the I/O threads. `tls` may be null: then no STARTTLS and no 465.
  static Result<std::unique_ptr<InboundServer>> start(InboundOptions options, std::shared_ptr<TlsContext> tls,
                                                      InboundHooks& hooks);
  ~InboundServer();

  // The actual ports, in the order of options.listeners (port 0 resolved).
  std::vector<std::uint16_t> bound_ports() const;
  // New sessions use this context; running sessions keep theirs (SIGHUP).
  void reload_tls(std::shared_ptr<TlsContext> tls);
  // New sessions use this policy (SIGHUP); hostname, limits, timeouts.
  void reload_policy(smtp::ServerPolicy policy);
  // New connections are admitted against these limits (SIGHUP).
  void reload_limits(std::uint32_t max_connections, std::uint32_t max_connections_per_client);
  // Stops accepting, asks every session to finish (421 at the next command
  // boundary, messages in DATA or being committed finish first), and waits
  // up to `grace` for them; then closes what is left and joins the threads.
  void shutdown(std::chrono::milliseconds grace);
  std::size_t active_sessions() const;
  // True while every I/O loop turned within `staleness` (for /healthz).
  bool loops_alive(std::chrono::milliseconds staleness) const;

  struct Impl;
  explicit InboundServer(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tern::relay
