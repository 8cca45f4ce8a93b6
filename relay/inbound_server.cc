// Submission listeners, I/O threads and the per-connection session driver.
// See inbound_server.h.
#include "relay/inbound_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <variant>

#include "queue/queue_id.h"
#include "relay/connection.h"
#include "relay/log.h"
#include "relay/mailbox.h"
#include "relay/uv_handle.h"

namespace tern::relay {
namespace {

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Messages to an I/O thread's loop.
struct AuthDone {
  std::uint64_t session;
  Status result;
};
struct EnqueueDone {
  std::uint64_t session;
  Result<std::string> result;
};
struct BeginShutdown {};
struct ForceClose {};
struct Exit {};
using LoopMsg = std::variant<AuthDone, EnqueueDone, BeginShutdown, ForceClose, Exit>;

// A listening socket bound in the main thread (so bind errors are reported at
// start and port 0 resolves once), opened on one I/O loop.
struct BoundSocket {
  int fd = -1;
  std::size_t listener_index = 0;
};

Result<int> bind_listener(const ListenerSpec& spec, std::uint16_t port) {
  sockaddr_storage ss{};
  if (Status st = make_sockaddr(spec.host, port, ss); !st) return st.error();
  int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error::permanent(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    int e = errno;
    ::close(fd);
    return Error::permanent(std::string("SO_REUSEPORT: ") + std::strerror(e));
  }
  if (ss.ss_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  socklen_t len = ss.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    int e = errno;
    ::close(fd);
    return Error::permanent("cannot listen on " + spec.host + ":" + std::to_string(port) + ": " + std::strerror(e));
  }
  return fd;
}

std::uint16_t socket_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

// Runs `work` on libuv's thread pool, then `after` on the loop's thread with
// Status{}, or at once with the error when the work could not be queued.
// Both share one State, which they may fill and read.
template <class State, class Work, class After>
void off_loop(uv_loop_t* loop, State state, Work work, After after) {
  struct Req {
    uv_work_t req{};
    State state;
    Work work;
    After after;
  };
  auto* r = new Req{{}, std::move(state), std::move(work), std::move(after)};
  r->req.data = r;
  int rc = uv_queue_work(
      loop, &r->req, [](uv_work_t* q) noexcept { static_cast<Req*>(q->data)->work(static_cast<Req*>(q->data)->state); },
      [](uv_work_t* q, int) noexcept {
        std::unique_ptr<Req> done(static_cast<Req*>(q->data));
        done->after(done->state, Status{});
      });
  if (rc != 0) {
    std::unique_ptr<Req> done(r);
    done->after(done->state, Error::transient(std::string("uv_queue_work: ") + uv_strerror(rc)));
  }
}

}  // namespace

struct IoThread;

// One client connection: a Connection carrying a ServerSession.
class InboundSession final : public Connection::Handler {
 public:
  InboundSession(IoThread& thread, std::uint64_t id, bool implicit_tls);
  void start(uv_stream_t* listener);
  void on_auth(Status result);
  void on_enqueued(Result<std::string> result);
  void piece_written(std::shared_ptr<queue::BodyFile> file, Status result);  // a body piece is on disk (or failed)
  void begin_shutdown();
  void force_close() { conn_.close(); }

  void on_plaintext(std::string_view bytes) override;
  void on_eof() override;
  void on_transport_error(const Error& error) override;
  void on_tls_ready() override;
  void on_timeout() override;
  void on_closed() override;

 private:
  void pump();
  void perform(smtp::ServerAction& action);
  void spill();
  void submit(smtp::server::Enqueue& message);

  // A body on its way to disk (spool/bodies/<queue id>), and the transaction
  // it belongs to; spill_error_ when writing it failed (the message gets 452).
  std::shared_ptr<queue::BodyFile> spill_;
  std::uint64_t spill_transaction_ = 0;
  std::optional<Error> spill_error_;
  bool spill_busy_ = false;                             // a piece is being written: reading is paused
  std::optional<smtp::server::Enqueue> held_enqueue_;  // the end of data, waiting for that write

  IoThread& thread_;
  std::uint64_t id_;
  bool implicit_tls_;
  Connection conn_;
  std::optional<smtp::ServerSession> session_;
  std::shared_ptr<TlsContext> tls_;
  std::string client_;
  bool counted_ = false;      // holds a slot in the connection limits
  bool tls_pending_ = false;  // implicit TLS: greet only after the handshake
  std::uint64_t messages_ = 0;  // accepted in this session, for session_end
};

struct IoThread {
  InboundServer::Impl& server;
  uv_loop_t loop{};
  std::thread thread;
  std::vector<BoundSocket> sockets;
  std::vector<UvHandle<uv_tcp_t>> listeners;
  std::shared_ptr<Mailbox<LoopMsg>> mailbox;
  UvHandle<uv_timer_t> heartbeat;
  std::unordered_map<std::uint64_t, InboundSession*> sessions;
  std::atomic<std::int64_t> last_turn{0};
  bool shutting_down = false;

  explicit IoThread(InboundServer::Impl& s) : server(s) {}
  void run();
  void handle(LoopMsg&& msg);
  static void on_connection(uv_stream_t* listener, int status) noexcept;
};

struct InboundServer::Impl {
  InboundOptions options;
  InboundHooks& hooks;
  std::vector<std::uint16_t> ports;
  std::vector<std::unique_ptr<IoThread>> threads;
  std::atomic<std::uint64_t> next_session{1};
  std::atomic<std::size_t> active{0};

  mutable std::mutex mutex;  // guards the fields below
  std::shared_ptr<TlsContext> tls;
  std::shared_ptr<const smtp::ServerPolicy> policy;
  std::unordered_map<std::string, std::uint32_t> per_client;
  std::uint32_t total = 0;

  Impl(InboundOptions o, InboundHooks& h) : options(std::move(o)), hooks(h) {}

  // Takes a connection slot; false when a limit is reached.
  bool admit(const std::string& client) {
    std::lock_guard<std::mutex> lock(mutex);
    if (total >= options.max_connections) return false;
    std::uint32_t& n = per_client[client];
    if (n >= options.max_connections_per_client) {
      if (n == 0) per_client.erase(client);
      return false;
    }
    ++n;
    ++total;
    return true;
  }
  void release(const std::string& client) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = per_client.find(client);
    if (it != per_client.end() && --it->second == 0) per_client.erase(it);
    --total;
  }
  std::pair<std::shared_ptr<TlsContext>, std::shared_ptr<const smtp::ServerPolicy>> snapshot() const {
    std::lock_guard<std::mutex> lock(mutex);
    return {tls, policy};
  }
};

InboundSession::InboundSession(IoThread& thread, std::uint64_t id, bool implicit_tls)
    : thread_(thread), id_(id), implicit_tls_(implicit_tls), conn_(&thread.loop, *this) {}

void InboundSession::start(uv_stream_t* listener) {
  InboundServer::Impl& server = thread_.server;
  if (Status st = conn_.accept(listener); !st) {
    log_warn("accept_failed", {{"error", st.error().message()}});
    conn_.close();
    return;
  }
  client_ = conn_.peer_address();
  auto [tls, policy] = server.snapshot();
  tls_ = std::move(tls);
  if (!server.admit(client_)) {
    server.hooks.rejected("connections");
    log_info("session_refused", {{"session", id_}, {"client", client_}, {"reason", "too many connections"}});
    // A plaintext 421 on a TLS port would be garbage to the client; just close there.
    if (!implicit_tls_) conn_.write("421 4.7.0 " + policy->hostname + " Error: too many connections\r\n");
    conn_.close_after_writes();
    return;
  }
  counted_ = true;
  server.active.fetch_add(1);
  server.hooks.session_opened();
  smtp::ServerPolicy p = *policy;
  p.starttls_available = tls_ != nullptr && !implicit_tls_;
  smtp::ConnectionFacts facts;
  facts.client_address = client_;
  facts.implicit_tls = implicit_tls_;
  facts.client_trusted = server.options.trusted && server.options.trusted(client_);
  session_.emplace(p, std::move(facts));
  log_info("session_start", {{"session", id_}, {"client", client_}, {"tls", implicit_tls_ ? "implicit" : "none"}});
  if (implicit_tls_) {
    if (Status st = conn_.start_tls(tls_); !st) {
      server.hooks.tls_handshake(false);
      log_warn("tls_failed", {{"session", id_}, {"client", client_}, {"error", st.error().message()}});
      conn_.close();
      return;
    }
    tls_pending_ = true;
    conn_.arm_timer(p.command_timeout);
    return;
  }
  pump();
}

void InboundSession::pump() {
  if (!session_ || tls_pending_) return;
  while (auto action = session_->next_action()) {
    perform(*action);
    if (conn_.closing()) return;
  }
  spill();
  conn_.flush();
}

// Keeps a large message out of memory: once the session holds more than
// kSpillThreshold of its body, that piece goes to the body file, and so on
// until the end of data. The file is created, written and finally synced on
// libuv's thread pool, never on the loop; while a piece is being written the
// connection stops reading, so a session holds at most about one threshold
// of body plus one read, however slow the disk.
void InboundSession::spill() {
  if (spill_busy_) return;
  if ((spill_ || spill_error_) && spill_transaction_ != session_->transaction()) {
    spill_.reset();  // refused or reset: the file goes
    spill_error_.reset();
  }
  const std::string& spool = thread_.server.options.spool_dir;
  if (spool.empty() || session_->body_buffered() < queue::kSpillThreshold) return;
  std::string piece = session_->take_body();
  if (spill_error_) return;  // keep reading to the end of data, then answer 452
  spill_transaction_ = session_->transaction();
  struct Piece {
    std::string spool;
    std::shared_ptr<queue::BodyFile> file;  // null: create it first
    std::string bytes;
    Status result;
  };
  spill_busy_ = true;
  conn_.pause_reading();
  off_loop(
      &thread_.loop, Piece{spool, spill_, std::move(piece), {}},
      [](Piece& p) {
        if (!p.file) {
          auto created = queue::BodyFile::create(p.spool, queue::make_queue_id());
          if (!created) {
            p.result = created.error();
            return;
          }
          p.file = std::move(*created);
        }
        p.result = p.file->append(p.bytes);
        std::string().swap(p.bytes);
      },
      [thread = &thread_, session = id_](Piece& p, Status queued) {
        auto it = thread->sessions.find(session);
        if (it == thread->sessions.end()) return;  // the session is gone: so is the file, with p
        it->second->piece_written(std::move(p.file), queued ? std::move(p.result) : queued);
      });
}

void InboundSession::piece_written(std::shared_ptr<queue::BodyFile> file, Status result) {
  spill_busy_ = false;
  if (result) {
    spill_ = std::move(file);
  } else {
    spill_error_ = result.error();
    spill_.reset();
  }
  if (!session_ || conn_.closing()) return;
  conn_.resume_reading();
  if (held_enqueue_) {  // the end of data came while the last piece was on its way
    smtp::server::Enqueue message = std::move(*held_enqueue_);
    held_enqueue_.reset();
    submit(message);
  }
  pump();
}

void InboundSession::submit(smtp::server::Enqueue& message) {
  InboundServer::Impl& server = thread_.server;
  std::weak_ptr<Mailbox<LoopMsg>> box = thread_.mailbox;
  const std::uint64_t id = id_;
  auto done = [box, id](Result<std::string> result) {
    if (auto mb = box.lock()) mb->post(EnqueueDone{id, std::move(result)});
  };
  const bool ours = message.transaction == spill_transaction_;
  if (ours && spill_busy_) {
    held_enqueue_ = std::move(message);  // piece_written() submits it
    return;
  }
  if (ours && spill_error_) {
    Error error = *spill_error_;
    spill_error_.reset();
    log_warn("enqueue_failed", {{"session", id_}, {"client", client_}, {"error", error.message()}});
    session_->enqueued(Error::transient(error.message()));
    return;
  }
  Submission submission{std::move(message), client_, implicit_tls_, {}, id_, nullptr};
  if (const TlsSession* tls = conn_.tls(); tls != nullptr && tls->handshake_done()) {
    submission.tls_description = tls->version() + " with cipher " + tls->cipher();
  }
  if (!ours || !spill_) {
    server.hooks.submit(std::move(submission), std::move(done));
    return;
  }
  // The rest of the body joins the file, which is synced (file and
  // directory) before the message is committed: a 250 means the body is
  // on disk too. Both on the thread pool.
  submission.body_file = std::move(spill_);
  struct Sync {
    Submission submission;
    Status synced;
  };
  off_loop(
      &thread_.loop, Sync{std::move(submission), {}},
      [](Sync& s) {
        queue::BodyFile& file = *s.submission.body_file;
        s.synced = file.append(s.submission.message.body);
        std::string().swap(s.submission.message.body);
        if (s.synced) s.synced = file.sync();
      },
      [hooks = &server.hooks, done = std::move(done)](Sync& s, Status queued) mutable {
        Status status = queued ? std::move(s.synced) : queued;
        if (!status) {
          log_warn("enqueue_failed", {{"session", s.submission.session_id}, {"error", status.error().message()}});
          done(Error::transient(status.error().message()));
          return;
        }
        hooks->submit(std::move(s.submission), std::move(done));
      });
}

void InboundSession::perform(smtp::ServerAction& action) {
  InboundServer::Impl& server = thread_.server;
  std::visit(
      [&](auto& a) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, smtp::server::Send>) {
          conn_.write(std::move(a.bytes));
        } else if constexpr (std::is_same_v<T, smtp::server::StartTls>) {
          conn_.flush();  // the 220 goes out in plaintext, then the handshake
          if (!tls_) {
            conn_.close();
            return;
          }
          if (Status st = conn_.start_tls(tls_); !st) {
            server.hooks.tls_handshake(false);
            conn_.close();
          }
        } else if constexpr (std::is_same_v<T, smtp::server::Authenticate>) {
          std::weak_ptr<Mailbox<LoopMsg>> box = thread_.mailbox;
          std::uint64_t id = id_;
          server.hooks.authenticate(std::move(a.user), std::move(a.password), client_, [box, id](Status result) {
            if (auto mb = box.lock()) mb->post(AuthDone{id, std::move(result)});
          });
        } else if constexpr (std::is_same_v<T, smtp::server::Enqueue>) {
          submit(a);
        } else if constexpr (std::is_same_v<T, smtp::server::ArmTimer>) {
          conn_.arm_timer(a.after);
        } else if constexpr (std::is_same_v<T, smtp::server::DisarmTimer>) {
          conn_.disarm_timer();
        } else if constexpr (std::is_same_v<T, smtp::server::Rejected>) {
          server.hooks.rejected(a.reason);
        } else if constexpr (std::is_same_v<T, smtp::server::Close>) {
          conn_.close_after_writes();
        }
      },
      action);
}

void InboundSession::on_auth(Status result) {
  if (!session_ || conn_.closing()) return;
  session_->auth_result(std::move(result));
  pump();
}

void InboundSession::on_enqueued(Result<std::string> result) {
  if (!session_ || conn_.closing()) return;
  if (result) ++messages_;
  session_->enqueued(std::move(result));
  pump();
}

void InboundSession::begin_shutdown() {
  if (!session_ || conn_.closing()) {
    conn_.close();
    return;
  }
  session_->shutdown();
  pump();
}

void InboundSession::on_plaintext(std::string_view bytes) {
  if (!session_) return;
  session_->receive(bytes);
  pump();
}

void InboundSession::on_eof() {
  if (session_) {
    session_->receive_eof();
    pump();
  }
  conn_.close_after_writes();
}

void InboundSession::on_transport_error(const Error& error) {
  if (conn_.tls_active() && !conn_.tls()->handshake_done()) thread_.server.hooks.tls_handshake(false);
  log_info("session_error", {{"session", id_}, {"client", client_}, {"error", error.message()}});
  conn_.close();
}

void InboundSession::on_tls_ready() {
  thread_.server.hooks.tls_handshake(true);
  if (tls_pending_) {
    tls_pending_ = false;
  } else if (session_) {
    session_->tls_ready();
  }
  pump();
}

void InboundSession::on_timeout() {
  if (!session_ || tls_pending_) {
    conn_.close();
    return;
  }
  session_->timer_fired();
  pump();
}

void InboundSession::on_closed() {
  InboundServer::Impl& server = thread_.server;
  if (counted_) {
    server.release(client_);
    server.active.fetch_sub(1);
    server.hooks.session_closed();
    log_info("session_end", {{"session", id_}, {"client", client_}, {"messages", messages_}});
  }
  thread_.sessions.erase(id_);
  delete this;
}

void IoThread::on_connection(uv_stream_t* listener, int status) noexcept {
  auto* self = static_cast<IoThread*>(listener->loop->data);
  if (status != 0 || self->shutting_down) return;
  bool implicit_tls = listener->data != nullptr;
  std::uint64_t id = self->server.next_session.fetch_add(1);
  auto* session = new InboundSession(*self, id, implicit_tls);
  self->sessions.emplace(id, session);
  session->start(listener);
}

void IoThread::handle(LoopMsg&& msg) {
  std::visit(
      [&](auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, AuthDone>) {
          if (auto it = sessions.find(m.session); it != sessions.end()) it->second->on_auth(std::move(m.result));
        } else if constexpr (std::is_same_v<T, EnqueueDone>) {
          if (auto it = sessions.find(m.session); it != sessions.end()) it->second->on_enqueued(std::move(m.result));
        } else if constexpr (std::is_same_v<T, BeginShutdown>) {
          shutting_down = true;
          listeners.clear();
          std::vector<InboundSession*> all;
          for (auto& [id, s] : sessions) all.push_back(s);
          for (InboundSession* s : all) s->begin_shutdown();
        } else if constexpr (std::is_same_v<T, ForceClose>) {
          std::vector<InboundSession*> all;
          for (auto& [id, s] : sessions) all.push_back(s);
          for (InboundSession* s : all) s->force_close();
        } else if constexpr (std::is_same_v<T, Exit>) {
          listeners.clear();
          heartbeat.reset();
          mailbox->close();
        }
      },
      msg);
}

void IoThread::run() {
  last_turn.store(steady_ms());
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
}

Result<std::unique_ptr<InboundServer>> InboundServer::start(InboundOptions options, std::shared_ptr<TlsContext> tls,
                                                            InboundHooks& hooks) {
  auto impl = std::make_unique<Impl>(std::move(options), hooks);
  impl->tls = tls;
  impl->policy = std::make_shared<const smtp::ServerPolicy>(impl->options.policy);
  unsigned n_threads = std::max(1u, impl->options.io_threads);
  for (unsigned i = 0; i < n_threads; ++i) impl->threads.push_back(std::make_unique<IoThread>(*impl));

  // Bind every listener once per thread; port 0 resolves on the first bind.
  for (std::size_t li = 0; li < impl->options.listeners.size(); ++li) {
    const ListenerSpec& spec = impl->options.listeners[li];
    if (spec.implicit_tls && !tls) return Error::permanent("implicit TLS listener without a TLS context");
    std::uint16_t port = spec.port;
    for (auto& t : impl->threads) {
      auto fd = bind_listener(spec, port);
      if (!fd) {
        for (auto& tt : impl->threads)
          for (auto& s : tt->sockets) ::close(s.fd);
        return fd.error();
      }
      if (port == 0) port = socket_port(*fd);
      t->sockets.push_back(BoundSocket{*fd, li});
    }
    impl->ports.push_back(port);
  }

  for (auto& t : impl->threads) {
    IoThread* thread = t.get();
    uv_loop_init(&thread->loop);
    thread->loop.data = thread;
    thread->mailbox = std::make_shared<Mailbox<LoopMsg>>(&thread->loop, [thread](LoopMsg&& m) { thread->handle(std::move(m)); });
    uv_timer_init(&thread->loop, thread->heartbeat.get());
    thread->heartbeat->data = thread;
    uv_timer_start(
        thread->heartbeat.get(),
        [](uv_timer_t* timer) noexcept { static_cast<IoThread*>(timer->data)->last_turn.store(steady_ms()); }, 1000,
        1000);
    for (BoundSocket& s : thread->sockets) {
      UvHandle<uv_tcp_t> listener;
      uv_tcp_init(&thread->loop, listener.get());
      // data marks implicit-TLS listeners (non-null) for on_connection.
      listener->data = impl->options.listeners[s.listener_index].implicit_tls ? thread : nullptr;
      int rc = uv_tcp_open(listener.get(), s.fd);
      if (rc == 0) rc = uv_listen(listener.stream(), 1024, &IoThread::on_connection);
      if (rc != 0) return Error::permanent(std::string("listen: ") + uv_strerror(rc));
      thread->listeners.push_back(std::move(listener));
    }
  }
  for (auto& t : impl->threads) {
    IoThread* thread = t.get();
    thread->thread = std::thread([thread] { thread->run(); });
  }
  return std::make_unique<InboundServer>(std::move(impl));
}

InboundServer::InboundServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

InboundServer::~InboundServer() { shutdown(std::chrono::milliseconds(0)); }

std::vector<std::uint16_t> InboundServer::bound_ports() const { return impl_->ports; }

void InboundServer::reload_tls(std::shared_ptr<TlsContext> tls) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->tls = std::move(tls);
}

void InboundServer::reload_policy(smtp::ServerPolicy policy) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->policy = std::make_shared<const smtp::ServerPolicy>(std::move(policy));
}

void InboundServer::reload_limits(std::uint32_t max_connections, std::uint32_t max_connections_per_client) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->options.max_connections = max_connections;
  impl_->options.max_connections_per_client = max_connections_per_client;
}

std::size_t InboundServer::active_sessions() const { return impl_->active.load(); }

bool InboundServer::loops_alive(std::chrono::milliseconds staleness) const {
  std::int64_t now = steady_ms();
  for (const auto& t : impl_->threads) {
    if (now - t->last_turn.load() > staleness.count()) return false;
  }
  return true;
}

void InboundServer::shutdown(std::chrono::milliseconds grace) {
  bool any_running = false;
  for (auto& t : impl_->threads) any_running = any_running || t->thread.joinable();
  if (!any_running) return;
  for (auto& t : impl_->threads) t->mailbox->post(BeginShutdown{});
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (impl_->active.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (auto& t : impl_->threads) t->mailbox->post(ForceClose{});
  for (auto& t : impl_->threads) t->mailbox->post(Exit{});
  for (auto& t : impl_->threads) {
    if (t->thread.joinable()) t->thread.join();
  }
}

}  // namespace tern::relay
