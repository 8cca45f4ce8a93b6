#include "metrics/http_server.h"

#include <pthread.h>
#include <signal.h>
#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_set>
#include <vector>

#include "metrics/http_request.h"
#include "metrics/metrics.h"

namespace tern::metrics {
namespace {

constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";
constexpr std::string_view kExposition = "text/plain; version=0.0.4";
// Built ahead so that answering a failed handler cannot fail in turn.
const std::string kInternalError =
    "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 15\r\nConnection: close\r\n\r\ninternal error\n";

struct Conn;

std::string uv_error(std::string_view what, int rc) {
  return std::string(what) + ": " + uv_strerror(rc);
}

// A loop invariant broken: a handle type mismatch or a libuv misuse of ours.
[[noreturn]] void impossible(const char* what, int rc) {
  std::fprintf(stderr, "tern metrics: %s: %s\n", what, uv_strerror(rc));
  std::abort();
}

}  // namespace

// Everything the loop thread touches. It lives on the heap, at a fixed
// address, until the loop is closed: the handles below point into it.
struct HttpServer::Impl {
  Impl(Metrics& m, HealthChecks c, HttpServerOptions o) : metrics(m), checks(std::move(c)), options(o) {}

  Metrics& metrics;
  const HealthChecks checks;
  const HttpServerOptions options;

  uv_loop_t loop{};
  uv_tcp_t listener{};
  uv_async_t stop_async{};
  bool loop_initialized = false;
  std::uint16_t port = 0;

  std::thread thread;
  std::mutex stop_mu;    // guards stopped
  bool stopped = false;  // stop() has run

  // Loop thread only.
  std::unordered_set<Conn*> conns;  // open (not closing) connections
  char read_buf[16 * 1024];         // reads are consumed before the next one starts
};

namespace {

using Impl = HttpServer::Impl;

// One client connection: a socket and its deadline. Freed when the close
// callbacks of both handles have run; the write and shutdown requests are
// cancelled (their callbacks run first) when the socket closes.
struct Conn {
  explicit Conn(Impl& s) : server(s), parser(s.options.max_request_bytes) {}

  enum class Phase { Reading, Writing, Lingering };

  Impl& server;
  uv_tcp_t tcp{};
  uv_timer_t timer{};
  uv_write_t write_req{};
  uv_shutdown_t shutdown_req{};
  RequestParser parser;
  std::string out;
  Phase phase = Phase::Reading;
  int open_handles = 2;
  bool closing = false;
};

void on_conn_closed(uv_handle_t* h) noexcept {
  auto* c = static_cast<Conn*>(h->data);
  if (--c->open_handles == 0) delete c;
}

void close_conn(Conn* c) noexcept {
  if (c->closing) return;
  c->closing = true;
  c->server.conns.erase(c);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), on_conn_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), on_conn_closed);
}

// One line: the reason is peer-visible text from our own callback, but a
// stray newline must not split the body.
std::string one_line(std::string s) {
  for (char& ch : s) {
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = ' ';
  }
  if (s.empty()) s = "not ready";
  s += '\n';
  return s;
}

std::string route(const Request& r, Impl& s) {
  const bool head = r.method == "HEAD";
  const bool known = r.path == "/metrics" || r.path == "/healthz" || r.path == "/readyz";
  if (!known) return format_response(404, kTextPlain, "not found\n", head);
  if (r.method != "GET" && !head) {
    return format_response(405, kTextPlain, "method not allowed\n", false, "Allow: GET, HEAD\r\n");
  }
  if (r.path == "/metrics") return format_response(200, kExposition, s.metrics.serialize(), head);
  if (r.path == "/healthz") {
    const bool ok = !s.checks.healthy || s.checks.healthy();
    return ok ? format_response(200, kTextPlain, "ok\n", head)
              : format_response(503, kTextPlain, "unhealthy\n", head);
  }
  auto [ok, reason] = s.checks.ready ? s.checks.ready() : std::pair<bool, std::string>{true, {}};
  return ok ? format_response(200, kTextPlain, "ok\n", head)
            : format_response(503, kTextPlain, one_line(std::move(reason)), head);
}

void on_conn_timeout(uv_timer_t* t) noexcept { close_conn(static_cast<Conn*>(t->data)); }

void on_shutdown(uv_shutdown_t* req, int status) noexcept;

void on_write(uv_write_t* req, int status) noexcept {
  auto* c = static_cast<Conn*>(req->handle->data);
  if (status < 0 || c->closing) return close_conn(c);
  const int rc = uv_shutdown(&c->shutdown_req, reinterpret_cast<uv_stream_t*>(&c->tcp), on_shutdown);
  if (rc < 0) close_conn(c);
}

void respond(Conn* c, std::string response) noexcept {
  c->phase = Conn::Phase::Writing;
  c->out = std::move(response);
  auto* stream = reinterpret_cast<uv_stream_t*>(&c->tcp);
  uv_read_stop(stream);  // always 0 since libuv 1.0
  uv_buf_t buf = uv_buf_init(c->out.data(), static_cast<unsigned int>(c->out.size()));
  if (uv_write(&c->write_req, stream, &buf, 1, on_write) < 0) close_conn(c);
}

void on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) noexcept {
  auto* c = static_cast<Conn*>(h->data);
  *buf = uv_buf_init(c->server.read_buf, sizeof c->server.read_buf);
}

void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept {
  auto* c = static_cast<Conn*>(stream->data);
  if (nread < 0) return close_conn(c);  // EOF, reset: nothing to answer
  if (nread == 0 || c->phase != Conn::Phase::Reading) return;  // lingering: discard
  switch (c->parser.feed(std::string_view(buf->base, static_cast<std::size_t>(nread)))) {
    case RequestParser::State::NeedMore:
      return;
    case RequestParser::State::Failed: {
      const int status = c->parser.error_status();
      std::string body = std::string(reason_phrase(status)) + "\n";
      try {
        return respond(c, format_response(status, kTextPlain, body, false));
      } catch (const std::exception&) {
        return respond(c, kInternalError);
      }
    }
    case RequestParser::State::Complete:
      // The checks and the serializer are caller code: whatever they throw
      // becomes a 500, never an exception through libuv's frames.
      try {
        return respond(c, route(c->parser.request(), c->server));
      } catch (const std::exception&) {
        return respond(c, kInternalError);
      }
  }
}

void on_shutdown(uv_shutdown_t* req, int status) noexcept {
  auto* c = static_cast<Conn*>(req->handle->data);
  if (status < 0 || c->closing) return close_conn(c);
  c->phase = Conn::Phase::Lingering;
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), on_alloc, on_read) < 0) return close_conn(c);
  if (uv_timer_start(&c->timer, on_conn_timeout, static_cast<std::uint64_t>(c->server.options.linger.count()), 0) < 0) {
    close_conn(c);
  }
}

void on_connection(uv_stream_t* listener, int status) noexcept {
  auto* s = static_cast<Impl*>(listener->data);
  if (status < 0) return;  // e.g. EMFILE: libuv retries on the next turn; nothing to answer
  auto* c = new Conn(*s);
  // Both inits only validate arguments we control.
  if (int rc = uv_tcp_init(&s->loop, &c->tcp); rc < 0) impossible("uv_tcp_init", rc);
  if (int rc = uv_timer_init(&s->loop, &c->timer); rc < 0) impossible("uv_timer_init", rc);
  c->tcp.data = c;
  c->timer.data = c;
  s->conns.insert(c);
  // Always accept, even when full: libuv stops polling a listener whose
  // pending connection is left unaccepted.
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp)) < 0 || s->conns.size() > s->options.max_connections) {
    return close_conn(c);
  }
  const auto timeout = static_cast<std::uint64_t>(s->options.request_timeout.count());
  if (uv_timer_start(&c->timer, on_conn_timeout, timeout, 0) < 0 ||
      uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), on_alloc, on_read) < 0) {
    close_conn(c);
  }
}

void on_stop(uv_async_t* a) noexcept {
  auto* s = static_cast<Impl*>(a->data);
  const std::vector<Conn*> open(s->conns.begin(), s->conns.end());
  for (Conn* c : open) close_conn(c);
  uv_close(reinterpret_cast<uv_handle_t*>(&s->listener), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&s->stop_async), nullptr);
}

// Closes whatever is still open, lets the close callbacks run, then frees the
// loop. The handles all live in Impl or in Conns freed by their callbacks.
void close_loop(Impl& s) {
  uv_walk(
      &s.loop,
      [](uv_handle_t* h, void*) noexcept {
        if (uv_is_closing(h) == 0) uv_close(h, nullptr);
      },
      nullptr);
  uv_run(&s.loop, UV_RUN_DEFAULT);
  if (int rc = uv_loop_close(&s.loop); rc < 0) impossible("uv_loop_close", rc);
  s.loop_initialized = false;
}

// The address to bind: an IP literal, or the first address `host` resolves to.
Result<sockaddr_storage> resolve(uv_loop_t* loop, std::string host, std::uint16_t port) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  sockaddr_storage addr{};
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) == 0) return addr;
  if (uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) == 0) return addr;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  uv_getaddrinfo_t req{};
  // No callback: libuv resolves synchronously, which is fine at start-up.
  if (int rc = uv_getaddrinfo(loop, &req, nullptr, host.c_str(), nullptr, &hints); rc < 0) {
    return Error::permanent(uv_error("cannot resolve " + host, rc));
  }
  if (req.addrinfo == nullptr) return Error::permanent("cannot resolve " + host + ": no address");
  std::memcpy(&addr, req.addrinfo->ai_addr, req.addrinfo->ai_addrlen);
  uv_freeaddrinfo(req.addrinfo);
  if (addr.ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(&addr)->sin_port = htons(port);
  else reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = htons(port);
  return addr;
}

Status listen_on(Impl& s, const std::string& host, std::uint16_t port) {
  const std::string where = "metrics listener " + host + ":" + std::to_string(port);
  auto addr = resolve(&s.loop, host, port);
  if (!addr) return addr.error().prefixed(where);
  if (int rc = uv_tcp_init(&s.loop, &s.listener); rc < 0) return Error::permanent(uv_error(where + ": socket", rc));
  s.listener.data = &s;
  // libuv reports some bind errors (EADDRINUSE) only at listen().
  if (int rc = uv_tcp_bind(&s.listener, reinterpret_cast<const sockaddr*>(&*addr), 0); rc < 0) {
    return Error::permanent(uv_error(where + ": bind", rc));
  }
  if (int rc = uv_listen(reinterpret_cast<uv_stream_t*>(&s.listener), 128, on_connection); rc < 0) {
    return Error::permanent(uv_error(where + ": listen", rc));
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  if (int rc = uv_tcp_getsockname(&s.listener, reinterpret_cast<sockaddr*>(&bound), &len); rc < 0) {
    return Error::permanent(uv_error(where + ": getsockname", rc));
  }
  s.port = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                            : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  if (int rc = uv_async_init(&s.loop, &s.stop_async, on_stop); rc < 0) {
    return Error::permanent(uv_error(where + ": async", rc));
  }
  s.stop_async.data = &s;
  return {};
}

void run_loop(Impl* s) noexcept {
  // A client that resets while we write must cost an EPIPE, not the
  // process: libuv writes without MSG_NOSIGNAL, and SIGPIPE from a write is
  // delivered to the writing thread, so blocking it here is enough.
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  if (int rc = pthread_sigmask(SIG_BLOCK, &pipe, nullptr); rc != 0) impossible("pthread_sigmask", -rc);
  uv_run(&s->loop, UV_RUN_DEFAULT);  // returns once on_stop has closed every handle
}

}  // namespace

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<HttpServer>> HttpServer::start(std::string host, std::uint16_t port, Metrics& metrics,
                                                      HealthChecks checks, HttpServerOptions options) {
  auto impl = std::make_unique<Impl>(metrics, std::move(checks), options);
  if (int rc = uv_loop_init(&impl->loop); rc < 0) return Error::permanent(uv_error("metrics listener: loop", rc));
  impl->loop_initialized = true;
  if (Status st = listen_on(*impl, host, port); !st) {
    close_loop(*impl);
    return st.error();
  }
  // The loop was set up on this thread; starting the thread publishes it.
  try {
    impl->thread = std::thread(run_loop, impl.get());
  } catch (const std::system_error& e) {
    close_loop(*impl);
    return Error::transient(std::string("metrics listener: thread: ") + e.what());
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

std::uint16_t HttpServer::port() const { return impl_->port; }

void HttpServer::stop() {
  std::lock_guard lock(impl_->stop_mu);
  if (impl_->stopped) return;
  if (std::this_thread::get_id() == impl_->thread.get_id()) std::abort();  // our bug: would join itself
  impl_->stopped = true;
  if (int rc = uv_async_send(&impl_->stop_async); rc < 0) impossible("uv_async_send", rc);
  impl_->thread.join();
  close_loop(*impl_);
}

HttpServer::~HttpServer() { stop(); }

}  // namespace tern::metrics
