// TCP + optional TLS transport on a libuv loop. See connection.h.
#include "relay/connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace tern::relay {

// One uv_write: the buffers and whatever keeps their memory alive.
struct Connection::WriteReq {
  uv_write_t req{};
  Connection* connection = nullptr;
  std::vector<std::string> owned;
  std::vector<std::shared_ptr<const void>> keepalive;
  std::vector<uv_buf_t> bufs;
};

namespace {
uv_buf_t make_buf(std::string_view bytes) {
  return uv_buf_init(const_cast<char*>(bytes.data()), static_cast<unsigned>(bytes.size()));
}
std::string uv_message(const char* what, int rc) { return std::string(what) + ": " + uv_strerror(rc); }
}  // namespace

Connection::Connection(uv_loop_t* loop, Handler& handler) : handler_(handler) {
  uv_tcp_init(loop, &tcp_);
  uv_timer_init(loop, &timer_);
  tcp_.data = this;
  timer_.data = this;
  open_handles_ = 2;
}

Connection::~Connection() {
  // The owner must wait for on_closed(); destroying earlier would leave libuv
  // holding pointers into freed memory.
  if (open_handles_ != 0) std::abort();
}

Status Connection::accept(uv_stream_t* server) {
  int rc = uv_accept(server, reinterpret_cast<uv_stream_t*>(&tcp_));
  if (rc != 0) return Error::transient(uv_message("accept", rc));
  uv_tcp_nodelay(&tcp_, 1);
  rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &Connection::on_alloc, &Connection::on_read);
  if (rc != 0) return Error::transient(uv_message("read", rc));
  return {};
}

Status Connection::connect(const sockaddr* address) {
  connect_req_.data = this;
  int rc = uv_tcp_connect(&connect_req_, &tcp_, address, &Connection::on_connect);
  if (rc != 0) return Error::transient(uv_message("connect", rc));
  return {};
}

void Connection::on_connect(uv_connect_t* req, int status) noexcept {
  auto* self = static_cast<Connection*>(req->data);
  if (status == UV_ECANCELED || self->closing_) return;
  if (status != 0) {
    self->handler_.on_connected(Error::transient(uv_message("connect", status)));
    return;
  }
  uv_tcp_nodelay(&self->tcp_, 1);
  int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&self->tcp_), &Connection::on_alloc, &Connection::on_read);
  if (rc != 0) {
    self->handler_.on_connected(Error::transient(uv_message("read", rc)));
    return;
  }
  self->handler_.on_connected({});
}

Status Connection::start_tls(std::shared_ptr<TlsContext> context, const std::string& server_name) {
  auto session = TlsSession::create(std::move(context), server_name);
  if (!session) return session.error();
  tls_ = std::move(*session);
  tls_ready_notified_ = false;
  send_ciphertext();  // a client's ClientHello
  return {};
}

void Connection::on_alloc(uv_handle_t*, std::size_t, uv_buf_t* buf) noexcept {
  // One read buffer per loop thread, shared by all its connections: on_read
  // consumes every byte (the session or the TLS engine copies what it keeps)
  // before it returns, and libuv never nests one read callback in another.
  // A buffer per connection cost a 64 KiB allocation, zero-filled and freshly
  // faulted in, for every connection (apps connect once per message).
  constexpr std::size_t kReadBufferSize = 64 * 1024;
  thread_local const std::unique_ptr<char[]> shared(new char[kReadBufferSize]);
  *buf = uv_buf_init(shared.get(), static_cast<unsigned>(kReadBufferSize));
}

void Connection::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept {
  auto* self = static_cast<Connection*>(stream->data);
  if (self->closing_) return;
  if (nread == UV_EOF) {
    self->eof_ = true;
    uv_read_stop(stream);
    self->handler_.on_eof();
    return;
  }
  if (nread < 0) {
    self->fail(Error::transient(uv_message("read", static_cast<int>(nread))));
    return;
  }
  if (nread > 0) self->handle_read(buf->base, static_cast<std::size_t>(nread));
}

void Connection::handle_read(const char* data, std::size_t n) {
  if (!tls_) {
    handler_.on_plaintext(std::string_view(data, n));
    return;
  }
  tls_->feed(std::string_view(data, n));
  std::string plaintext;
  Status st = tls_->read_plaintext(plaintext);
  send_ciphertext();  // handshake messages, alerts
  if (!st) {
    fail(st.error());
    return;
  }
  if (tls_->handshake_done() && !tls_ready_notified_) {
    tls_ready_notified_ = true;
    handler_.on_tls_ready();
    if (closing_) return;
  }
  if (!plaintext.empty()) handler_.on_plaintext(plaintext);
  if (!closing_ && tls_ && tls_->peer_closed()) handler_.on_eof();
}

void Connection::write(std::string bytes) {
  if (bytes.empty()) return;
  queued_.push_back(Piece{std::move(bytes), {}, nullptr});
}

void Connection::write_view(std::string_view bytes, std::shared_ptr<const void> keepalive) {
  if (bytes.empty()) return;
  if (!keepalive) {
    write(std::string(bytes));
    return;
  }
  queued_.push_back(Piece{{}, bytes, std::move(keepalive)});
}

void Connection::flush() {
  if (closing_ || queued_.empty()) return;
  if (tls_) {
    for (const Piece& piece : queued_) {
      if (Status st = tls_->write_plaintext(piece.bytes()); !st) {
        queued_.clear();
        fail(st.error());
        return;
      }
    }
    queued_.clear();
    send_ciphertext();
    return;
  }
  auto* req = new WriteReq;
  req->connection = this;
  std::size_t owned_count = 0;
  for (const Piece& piece : queued_) owned_count += piece.keepalive ? 0 : 1;
  req->owned.reserve(owned_count);  // no reallocation: the buffers below point into these strings
  req->bufs.reserve(queued_.size());
  for (Piece& piece : queued_) {
    if (piece.keepalive) {
      req->bufs.push_back(make_buf(piece.view));
      req->keepalive.push_back(std::move(piece.keepalive));
    } else {
      req->owned.push_back(std::move(piece.owned));
      req->bufs.push_back(make_buf(req->owned.back()));
    }
  }
  queued_.clear();
  req->req.data = req;
  int rc = uv_write(&req->req, reinterpret_cast<uv_stream_t*>(&tcp_), req->bufs.data(),
                    static_cast<unsigned>(req->bufs.size()), &Connection::on_write);
  if (rc != 0) {
    delete req;
    fail(Error::transient(uv_message("write", rc)));
    return;
  }
  ++pending_writes_;
}

void Connection::send_ciphertext() {
  if (!tls_ || closing_) return;
  std::string bytes = tls_->take_ciphertext();
  if (bytes.empty()) return;
  auto* req = new WriteReq;
  req->connection = this;
  req->owned.push_back(std::move(bytes));
  req->bufs.push_back(make_buf(req->owned.back()));
  req->req.data = req;
  int rc = uv_write(&req->req, reinterpret_cast<uv_stream_t*>(&tcp_), req->bufs.data(), 1, &Connection::on_write);
  if (rc != 0) {
    delete req;
    fail(Error::transient(uv_message("write", rc)));
    return;
  }
  ++pending_writes_;
}

void Connection::on_write(uv_write_t* req, int status) noexcept {
  auto* write = static_cast<WriteReq*>(req->data);
  Connection* self = write->connection;
  delete write;
  --self->pending_writes_;
  if (status == UV_ECANCELED) return;
  if (status != 0) {
    self->fail(Error::transient(uv_message("write", status)));
    return;
  }
  if (self->close_when_drained_ && self->pending_writes_ == 0) {
    self->close();
    return;
  }
  if (!self->closing_) self->handler_.on_written();
}

std::size_t Connection::unsent_bytes() const {
  std::size_t queued = 0;  // pieces since the last flush: commands, at most a window of body slices
  for (const Piece& piece : queued_) queued += piece.bytes().size();
  return queued + write_queue_size();
}

std::size_t Connection::write_queue_size() const {
  return uv_stream_get_write_queue_size(reinterpret_cast<const uv_stream_t*>(&tcp_));
}

void Connection::arm_timer(std::chrono::milliseconds after) {
  if (closing_) return;
  uv_timer_start(&timer_, &Connection::on_timer, static_cast<std::uint64_t>(after.count()), 0);
}

void Connection::disarm_timer() {
  if (!closing_) uv_timer_stop(&timer_);
}

void Connection::on_timer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<Connection*>(timer->data);
  if (!self->closing_) self->handler_.on_timeout();
}

void Connection::fail(const Error& error) {
  if (closing_) return;
  handler_.on_transport_error(error);
}

void Connection::close_after_writes() {
  if (closing_) return;
  flush();
  if (closing_) return;
  if (pending_writes_ == 0) {
    close();
  } else {
    close_when_drained_ = true;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  }
}

void Connection::pause_reading() {
  if (closing_ || paused_) return;
  paused_ = true;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
}

void Connection::resume_reading() {
  if (!paused_) return;
  paused_ = false;
  if (closing_ || close_when_drained_ || eof_) return;
  int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &Connection::on_alloc, &Connection::on_read);
  if (rc != 0) fail(Error::transient(uv_message("read", rc)));
}

void Connection::close() {
  if (closing_) return;
  closing_ = true;
  queued_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &Connection::on_handle_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &Connection::on_handle_closed);
}

void Connection::on_handle_closed(uv_handle_t* handle) noexcept {
  auto* self = static_cast<Connection*>(handle->data);
  if (--self->open_handles_ == 0) self->handler_.on_closed();
}

std::string Connection::peer_address() const {
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
  return address_to_string(reinterpret_cast<sockaddr*>(&ss));
}

std::string Connection::local_address() const {
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getsockname(&tcp_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
  return address_to_string(reinterpret_cast<sockaddr*>(&ss));
}

std::string address_to_string(const sockaddr* address) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (address->sa_family == AF_INET) {
    uv_ip4_name(reinterpret_cast<const sockaddr_in*>(address), buf, sizeof buf);
  } else if (address->sa_family == AF_INET6) {
    uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(address), buf, sizeof buf);
  }
  return buf;
}

Status make_sockaddr(const std::string& host, std::uint16_t port, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  std::string bare = host;
  if (bare.size() >= 2 && bare.front() == '[' && bare.back() == ']') bare = bare.substr(1, bare.size() - 2);
  if (uv_ip4_addr(bare.c_str(), port, reinterpret_cast<sockaddr_in*>(&out)) == 0) return {};
  if (uv_ip6_addr(bare.c_str(), port, reinterpret_cast<sockaddr_in6*>(&out)) == 0) return {};
  return Error::permanent("not an IP address: " + host);
}

}  // namespace tern::relay
