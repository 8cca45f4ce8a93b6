// OpenSSL contexts and memory-BIO sessions. See tls.h.
#include "relay/tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/auxv.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>

namespace tern::relay {
namespace {

using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, CFree<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, CFree<X509_free>>;

// TLS 1.2 suites: forward secret AEAD only. TLS 1.3 suites are OpenSSL's defaults.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";

Error tls_error(std::string_view what) {
  return Error::transient(std::string(what) + ": " + drain_openssl_errors());
}

bool is_ip_literal(const std::string& name) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

Result<SslCtxPtr> base_context(bool server) {
  SslCtxPtr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  if (!ctx) return tls_error("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                     (server ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
  if (SSL_CTX_set_cipher_list(ctx.get(), kTls12Ciphers) != 1) return tls_error("SSL_CTX_set_cipher_list");
  // Partial writes would let a write callback see half a record's plaintext consumed.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

}  // namespace

std::string drain_openssl_errors() {
  std::string out;
  unsigned long code;
  while ((code = ERR_get_error()) != 0) {
    std::array<char, 256> buf{};
    ERR_error_string_n(code, buf.data(), buf.size());
    if (!out.empty()) out += "; ";
    out += buf.data();
  }
  return out.empty() ? "unknown TLS error" : out;
}

Result<std::shared_ptr<TlsContext>> TlsContext::server(const std::string& cert_file, const std::string& key_file) {
  auto ctx = base_context(true);
  if (!ctx) return ctx.error();
  if (SSL_CTX_use_certificate_chain_file(ctx->get(), cert_file.c_str()) != 1) {
    return Error::permanent("cannot load certificate " + cert_file + ": " + drain_openssl_errors());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx->get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Error::permanent("cannot load private key " + key_file + ": " + drain_openssl_errors());
  }
  if (SSL_CTX_check_private_key(ctx->get()) != 1) {
    return Error::permanent("private key " + key_file + " does not match certificate " + cert_file + ": " +
                            drain_openssl_errors());
  }
  return std::make_shared<TlsContext>(std::move(*ctx), true, PeerVerify::None);
}

Result<std::shared_ptr<TlsContext>> TlsContext::self_signed(const std::string& hostname) {
  auto ctx = base_context(true);
  if (!ctx) return ctx.error();
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return tls_error("generating a P-256 key");
  X509Ptr cert(X509_new());
  if (!cert) return tls_error("X509_new");
  X509_set_version(cert.get(), 2);
  std::array<unsigned char, 16> serial{};
  if (RAND_bytes(serial.data(), serial.size()) != 1) return tls_error("RAND_bytes");
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial.data(), serial.size(), nullptr);
  ASN1_INTEGER* asn_serial = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  if (asn_serial == nullptr) return tls_error("serial number");
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(hostname.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  std::string san = "DNS:" + hostname;
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str());
  if (ext == nullptr) return tls_error("subjectAltName");
  X509_add_ext(cert.get(), ext, -1);
  X509_EXTENSION_free(ext);
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return tls_error("signing the self-signed certificate");
  if (SSL_CTX_use_certificate(ctx->get(), cert.get()) != 1 || SSL_CTX_use_PrivateKey(ctx->get(), key.get()) != 1) {
    return tls_error("installing the self-signed certificate");
  }
  return std::make_shared<TlsContext>(std::move(*ctx), true, PeerVerify::None);
}

Result<std::shared_ptr<TlsContext>> TlsContext::client(PeerVerify verify, const std::string& ca_file) {
  auto ctx = base_context(false);
  if (!ctx) return ctx.error();
  if (SSL_CTX_set_default_verify_paths(ctx->get()) != 1) return tls_error("loading the system CA store");
  // OpenSSL reads SSL_CERT_FILE / SSL_CERT_DIR with secure_getenv(), which
  // yields nothing when the binary has file capabilities, as in the image
  // (cap_net_bind_service, so the unprivileged user can listen on 587). That
  // capability has nothing to do with whom we trust, so honour the variables
  // here when OpenSSL would not; they add to the system store in that case.
  if (getauxval(AT_SECURE) != 0) {
    const char* file = std::getenv("SSL_CERT_FILE");
    const char* dir = std::getenv("SSL_CERT_DIR");
    if (file != nullptr && *file == '\0') file = nullptr;
    if (dir != nullptr && *dir == '\0') dir = nullptr;
    if ((file != nullptr || dir != nullptr) && SSL_CTX_load_verify_locations(ctx->get(), file, dir) != 1) {
      return Error::permanent(std::string("cannot load SSL_CERT_FILE/SSL_CERT_DIR (") + (file ? file : "") + ", " +
                              (dir ? dir : "") + "): " + drain_openssl_errors());
    }
  }
  if (!ca_file.empty() && SSL_CTX_load_verify_locations(ctx->get(), ca_file.c_str(), nullptr) != 1) {
    return Error::permanent("cannot load CA file " + ca_file + ": " + drain_openssl_errors());
  }
  // Verification never aborts the handshake here: the session reads the result
  // and the caller decides (opportunistic delivery records it; verify mode fails).
  SSL_CTX_set_verify(ctx->get(), SSL_VERIFY_NONE, nullptr);
  return std::make_shared<TlsContext>(std::move(*ctx), false, verify);
}

Result<std::unique_ptr<TlsSession>> TlsSession::create(std::shared_ptr<TlsContext> context,
                                                       const std::string& server_name) {
  SslPtr ssl(SSL_new(context->get()));
  if (!ssl) return tls_error("SSL_new");
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  if (in == nullptr || out == nullptr) {
    BIO_free(in);
    BIO_free(out);
    return tls_error("BIO_new");
  }
  BIO_set_mem_eof_return(in, -1);  // an empty input BIO means "need more", not EOF
  BIO_set_mem_eof_return(out, -1);
  SSL_set_bio(ssl.get(), in, out);
  if (context->is_server()) {
    SSL_set_accept_state(ssl.get());
  } else {
    SSL_set_connect_state(ssl.get());
    if (!server_name.empty()) {
      // An IP literal is checked against the certificate's IP addresses and
      // never sent as SNI (RFC 6066 §3 allows host names only).
      if (is_ip_literal(server_name)) {
        if (context->verify() == PeerVerify::Hostname &&
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), server_name.c_str()) != 1) {
          return tls_error("X509_VERIFY_PARAM_set1_ip_asc");
        }
      } else {
        SSL_set_tlsext_host_name(ssl.get(), server_name.c_str());
        if (context->verify() == PeerVerify::Hostname && SSL_set1_host(ssl.get(), server_name.c_str()) != 1) {
          return tls_error("SSL_set1_host");
        }
      }
    }
  }
  auto session = std::make_unique<TlsSession>(std::move(context), std::move(ssl), in, out);
  if (!session->context_->is_server()) {
    // The client speaks first: produce the ClientHello now.
    if (auto st = session->advance(); !st) return st.error();
  }
  return session;
}

TlsSession::~TlsSession() = default;

void TlsSession::feed(std::string_view ciphertext) {
  if (!ciphertext.empty()) BIO_write(in_, ciphertext.data(), static_cast<int>(ciphertext.size()));
}

Status TlsSession::advance() {
  if (handshake_done_) return {};
  int rc = SSL_do_handshake(ssl_.get());
  if (rc == 1) {
    handshake_done_ = true;
    return {};
  }
  int err = SSL_get_error(ssl_.get(), rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return {};
  return Error::transient("TLS handshake failed: " + drain_openssl_errors());
}

Status TlsSession::read_plaintext(std::string& out) {
  if (auto st = advance(); !st) return st;
  if (!handshake_done_) return {};
  std::array<char, 16384> buf;
  for (;;) {
    int n = SSL_read(ssl_.get(), buf.data(), static_cast<int>(buf.size()));
    if (n > 0) {
      out.append(buf.data(), static_cast<std::size_t>(n));
      continue;
    }
    int err = SSL_get_error(ssl_.get(), n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return {};
    if (err == SSL_ERROR_ZERO_RETURN) {
      peer_closed_ = true;
      return {};
    }
    return Error::transient("TLS read failed: " + drain_openssl_errors());
  }
}

Status TlsSession::write_plaintext(std::string_view plaintext) {
  while (!plaintext.empty()) {
    int n = SSL_write(ssl_.get(), plaintext.data(), static_cast<int>(std::min<std::size_t>(plaintext.size(), 1 << 30)));
    if (n <= 0) {
      int err = SSL_get_error(ssl_.get(), n);
      return Error::transient("TLS write failed (" + std::to_string(err) + "): " + drain_openssl_errors());
    }
    plaintext.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

std::string TlsSession::take_ciphertext() {
  std::string out;
  std::size_t pending = BIO_ctrl_pending(out_);
  if (pending == 0) return out;
  out.resize(pending);
  int n = BIO_read(out_, out.data(), static_cast<int>(pending));
  out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return out;
}

bool TlsSession::has_ciphertext() const { return BIO_ctrl_pending(out_) > 0; }

std::string TlsSession::version() const { return SSL_get_version(ssl_.get()); }

std::string TlsSession::cipher() const {
  const char* name = SSL_get_cipher_name(ssl_.get());
  return name ? name : "";
}

bool TlsSession::peer_verified() const {
  return SSL_get0_peer_certificate(ssl_.get()) != nullptr && SSL_get_verify_result(ssl_.get()) == X509_V_OK;
}

std::string TlsSession::verify_error() const {
  if (SSL_get0_peer_certificate(ssl_.get()) == nullptr) return "no peer certificate";
  long rc = SSL_get_verify_result(ssl_.get());
  return rc == X509_V_OK ? "" : X509_verify_cert_error_string(rc);
}

}  // namespace tern::relay
