#pragma once
// Connection: one TCP connection on a libuv loop, with optional TLS (OpenSSL
// over memory BIOs, see tls.h) and one timer. It hands plaintext to its
// Handler and takes plaintext to send; the SMTP sessions above never see
// sockets or TLS. STARTTLS is start_tls(): from then on bytes are TLS records.
// Lifetime: the owner embeds the Connection and must stay alive until
// Handler::on_closed(), which runs from the last libuv close callback; only
// then may the owner be destroyed. Loop thread only.

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "relay/tls.h"
#include "smtp/result.h"

namespace tern::relay {

class Connection {
 public:
  class Handler {
   public:
    virtual void on_connected(Status status) { (void)status; }  // outbound connect() finished
    virtual void on_plaintext(std::string_view bytes) = 0;
    virtual void on_eof() = 0;                             // the peer closed its side
    virtual void on_transport_error(const Error& error) = 0;  // read, write or TLS failure
    virtual void on_tls_ready() {}                         // handshake completed
    virtual void on_timeout() = 0;                         // the armed timer expired
    virtual void on_written() {}                           // a write completed: see unsent_bytes()
    virtual void on_closed() = 0;                          // fully closed; the owner may now be destroyed

   protected:
    ~Handler() = default;
  };

  Connection(uv_loop_t* loop, Handler& handler);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  uv_tcp_t* tcp() { return &tcp_; }
  // Accepts a pending connection from `server` and starts reading.
  Status accept(uv_stream_t* server);
  // Connects to `address` (timeout via the timer: arm it before, on_timeout fires).
  Status connect(const sockaddr* address);

  // Switches to TLS. Bytes already delivered as plaintext are the session's
  // business (it must drop them: CVE-2011-0411); everything after is TLS.
  Status start_tls(std::shared_ptr<TlsContext> context, const std::string& server_name = "");
  bool tls_active() const { return tls_ != nullptr; }
  const TlsSession* tls() const { return tls_.get(); }

  // Queue plaintext; flush() sends everything queued in one write.
  void write(std::string bytes);
  // Queue a view into memory kept alive by `keepalive` until written.
  void write_view(std::string_view bytes, std::shared_ptr<const void> keepalive);
  void flush();
  std::size_t write_queue_size() const;
  // Bytes given to write()/write_view() and not yet taken by the kernel
  // (queued plaintext, then ciphertext or views waiting in libuv). A sender
  // of a large body keeps this under a window and goes on from on_written().
  std::size_t unsent_bytes() const;

  void arm_timer(std::chrono::milliseconds after);
  void disarm_timer();

  // Back-pressure: stop reading from the peer until resume_reading() (e.g.
  // while a body piece is being written to disk). Idempotent; resuming after
  // EOF or once closing does nothing.
  void pause_reading();
  void resume_reading();

  // Flushes queued writes, waits for them, then closes. on_closed() follows.
  void close_after_writes();
  // Closes now; pending writes are cancelled. on_closed() follows. Idempotent.
  void close();
  bool closing() const { return closing_; }

  std::string peer_address() const;  // "192.0.2.7" / "2001:db8::7", "" if unknown
  std::string local_address() const;

 private:
  struct WriteReq;
  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf) noexcept;
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void on_write(uv_write_t* req, int status) noexcept;
  static void on_connect(uv_connect_t* req, int status) noexcept;
  static void on_timer(uv_timer_t* timer) noexcept;
  static void on_handle_closed(uv_handle_t* handle) noexcept;
  void handle_read(const char* data, std::size_t n);
  void fail(const Error& error);
  void send_ciphertext();

  uv_tcp_t tcp_{};
  uv_timer_t timer_{};
  uv_connect_t connect_req_{};
  Handler& handler_;
  std::unique_ptr<TlsSession> tls_;
  bool tls_ready_notified_ = false;
  bool closing_ = false;
  bool paused_ = false;  // pause_reading() in effect
  bool eof_ = false;     // the peer closed its side: reading has ended for good
  bool close_when_drained_ = false;
  int open_handles_ = 0;
  int pending_writes_ = 0;
  struct Piece {                     // plaintext waiting for flush(): owned bytes or a kept-alive view
    std::string owned;
    std::string_view view;
    std::shared_ptr<const void> keepalive;
    std::string_view bytes() const { return keepalive ? view : std::string_view(owned); }
  };
  std::vector<Piece> queued_;
};

// "127.0.0.1" / "::1" from a sockaddr; "" on failure.
std::string address_to_string(const sockaddr* address);
// Parses an IPv4 or IPv6 literal and port into `out`.
Status make_sockaddr(const std::string& host, std::uint16_t port, sockaddr_storage& out);

}  // namespace tern::relay
