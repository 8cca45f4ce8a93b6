#pragma once
// TLS for the relay, with OpenSSL over memory BIOs so that no TLS call ever
// blocks a loop: the transport feeds ciphertext in and sends what comes out.
// TlsContext is an SSL_CTX (server: our certificate, or a self-signed one made
// at start; client: the system CA store plus an optional CA file). TlsSession
// is one connection's engine. Neither knows about sockets or SMTP. OpenSSL
// errors are drained into the Error's sentence, never left on the queue.

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>

#include "smtp/result.h"

namespace tern::relay {

template <auto Fn>
struct CFree {
  template <class T>
  void operator()(T* p) const noexcept { Fn(p); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, CFree<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, CFree<SSL_free>>;

// Everything OpenSSL has queued for this thread, as one sentence; clears the queue.
std::string drain_openssl_errors();

enum class PeerVerify {
  None,      // encrypt, accept any certificate (opportunistic MX delivery); the result is still recorded
  Chain,     // chain must verify against the CA store
  Hostname,  // chain and the host name (SAN/CN) must match
};

// Shared by every session made from it: sessions keep the context alive with a
// shared_ptr, so a SIGHUP reload can swap contexts while old sessions finish.
class TlsContext {
 public:
  // Server context from PEM files. TLS 1.2+, modern ciphers, no renegotiation.
  static Result<std::shared_ptr<TlsContext>> server(const std::string& cert_file, const std::string& key_file);
  // Server context with a fresh self-signed certificate for `hostname` (P-256, 1 year).
  static Result<std::shared_ptr<TlsContext>> self_signed(const std::string& hostname);
  // Client context; `ca_file` (optional) is trusted in addition to the system store
  // (OpenSSL's SSL_CERT_FILE / SSL_CERT_DIR are honoured).
  static Result<std::shared_ptr<TlsContext>> client(PeerVerify verify, const std::string& ca_file = "");

  SSL_CTX* get() const { return ctx_.get(); }
  PeerVerify verify() const { return verify_; }
  bool is_server() const { return server_; }

  explicit TlsContext(SslCtxPtr ctx, bool server, PeerVerify verify)
      : ctx_(std::move(ctx)), server_(server), verify_(verify) {}

 private:
  SslCtxPtr ctx_;
  bool server_;
  PeerVerify verify_;
};

// One TLS connection over memory BIOs. Use: feed() ciphertext from the socket,
// then read_plaintext(); write_plaintext() to send; after either, send
// take_ciphertext() to the socket. Not thread-safe; owned by one loop.
class TlsSession {
 public:
  // For a client, `server_name` is sent as SNI and, with PeerVerify::Hostname,
  // checked against the certificate.
  static Result<std::unique_ptr<TlsSession>> create(std::shared_ptr<TlsContext> context,
                                                    const std::string& server_name = "");
  ~TlsSession();

  void feed(std::string_view ciphertext);
  // Advances the handshake and decrypts what it can, appending to `out`.
  // An Error: the handshake failed or the peer sent garbage; the connection is done.
  Status read_plaintext(std::string& out);
  Status write_plaintext(std::string_view plaintext);
  std::string take_ciphertext();
  bool has_ciphertext() const;

  bool handshake_done() const { return handshake_done_; }
  bool peer_closed() const { return peer_closed_; }
  std::string version() const;      // "TLSv1.3"
  std::string cipher() const;       // "TLS_AES_256_GCM_SHA384"
  bool peer_verified() const;       // chain (and host name when asked) verified
  std::string verify_error() const;  // why not, in words

  TlsSession(std::shared_ptr<TlsContext> context, SslPtr ssl, BIO* network_in, BIO* network_out)
      : context_(std::move(context)), ssl_(std::move(ssl)), in_(network_in), out_(network_out) {}

 private:
  Status advance();

  std::shared_ptr<TlsContext> context_;
  SslPtr ssl_;
  BIO* in_;   // owned by ssl_: ciphertext we received
  BIO* out_;  // owned by ssl_: ciphertext to send
  bool handshake_done_ = false;
  bool peer_closed_ = false;
};

}  // namespace tern::relay
