// One message over one SMTP connection for `tern sendmail`. See sendmail_submit.h.
//
// The ClientSession is driven as the relay's outbound sessions drive it
// (pump() carries out its actions); what differs is policy: TLS, when asked
// for, is required and verified, and every failure ends the program instead
// of being retried, so the outcome keeps the first decisive event.
#include "relay/sendmail_submit.h"

#include <netdb.h>
#include <sys/socket.h>
#include <uv.h>

#include <cstring>
#include <ostream>
#include <variant>
#include <vector>

#include "relay/connection.h"
#include "relay/smtp_transcript.h"
#include "relay/tls.h"
#include "smtp/client_session.h"

namespace tern::relay {
namespace {

using Kind = SubmitOutcome::Kind;

std::string seconds_text(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

class Submission final : public Connection::Handler {
 public:
  Submission(uv_loop_t* loop, const SubmitRequest& request, const smtp::Envelope& envelope,
             std::shared_ptr<const std::string> body, std::vector<sockaddr_storage> addresses,
             std::shared_ptr<TlsContext> tls)
      : loop_(loop),
        req_(request),
        envelope_(envelope),
        body_(std::move(body)),
        addresses_(std::move(addresses)),
        tls_(std::move(tls)) {
    if (req_.transcript != nullptr) transcript_.emplace(*req_.transcript, req_.user, req_.password);
  }

  void start() { try_next_address(); }
  // Closes whatever is still open (nothing, unless a path above forgot): the
  // loop must see every handle closed before the connections are destroyed.
  bool close_all() {
    bool any = false;
    for (auto& c : connections_) {
      if (!c->closing()) {
        c->close();
        any = true;
      }
    }
    return any;
  }
  SubmitOutcome outcome();

  // Connection::Handler
  void on_connected(Status status) override;
  void on_plaintext(std::string_view bytes) override;
  void on_eof() override;
  void on_transport_error(const Error& error) override;
  void on_tls_ready() override;
  void on_timeout() override;
  void on_closed() override {}

 private:
  void try_next_address();
  void start_session();
  void pump();
  void fail(Kind kind, std::string error);
  void note(std::string_view line) {
    if (transcript_) transcript_->note(line);
  }
  void trace_sent(std::string_view bytes);
  std::string peer() const;

  uv_loop_t* loop_;
  const SubmitRequest& req_;
  const smtp::Envelope& envelope_;
  std::shared_ptr<const std::string> body_;
  std::vector<sockaddr_storage> addresses_;
  std::shared_ptr<TlsContext> tls_;
  std::size_t next_address_ = 0;
  std::string last_connect_error_;
  // Every connection tried stays here until the loop has closed it.
  std::vector<std::unique_ptr<Connection>> connections_;
  Connection* conn_ = nullptr;
  std::string address_;          // the connected address, "192.0.2.7"
  bool connected_ = false;
  std::optional<smtp::ClientSession> client_;
  std::optional<smtp::client::Finished> finished_;
  smtp::ClientState stage_ = smtp::ClientState::Banner;       // before the event being handled
  smtp::ClientState finished_stage_ = smtp::ClientState::Banner;
  std::optional<SubmitOutcome> failure_;                      // a decisive failure outside the session
  std::optional<SmtpTranscript> transcript_;   // -v
};

std::string Submission::peer() const {
  std::string host = req_.host.find(':') != std::string::npos ? "[" + req_.host + "]" : req_.host;
  if (!address_.empty() && address_ != req_.host) host += "[" + address_ + "]";
  return host + ":" + std::to_string(req_.port);
}

void Submission::trace_sent(std::string_view bytes) {
  if (!transcript_ || !client_) return;
  if (client_->state() == smtp::ClientState::Dot) {
    transcript_->body(body_->size());
  } else {
    transcript_->sent(bytes, client_->state() == smtp::ClientState::Auth);
  }
}

void Submission::fail(Kind kind, std::string error) {
  if (!failure_) {
    SubmitOutcome o;
    o.kind = kind;
    o.error = std::move(error);
    failure_ = std::move(o);
  }
}

void Submission::try_next_address() {
  while (next_address_ < addresses_.size()) {
    const sockaddr_storage& address = addresses_[next_address_++];
    address_ = address_to_string(reinterpret_cast<const sockaddr*>(&address));
    connections_.push_back(std::make_unique<Connection>(loop_, *this));
    conn_ = connections_.back().get();
    note("connecting to " + peer());
    conn_->arm_timer(req_.connect_timeout);
    Status st = conn_->connect(reinterpret_cast<const sockaddr*>(&address));
    if (st) return;  // on_connected or on_timeout comes next
    last_connect_error_ = st.error().message();
    conn_->close();
  }
  std::string why = last_connect_error_;
  if (why.starts_with("connect: ")) why.erase(0, 9);
  address_.clear();
  fail(Kind::ConnectFailed, "cannot connect to " + peer() + ": " + why);
}

void Submission::on_connected(Status status) {
  if (!status) {
    last_connect_error_ = status.error().message();
    note(peer() + ": " + last_connect_error_);
    conn_->close();
    try_next_address();
    return;
  }
  connected_ = true;
  conn_->disarm_timer();
  note("connected to " + peer());
  if (req_.tls == SendmailTls::Implicit) {
    if (Status st = conn_->start_tls(tls_, req_.host); !st) {
      fail(Kind::TlsHandshakeFailed, "TLS with " + peer() + ": " + st.error().message());
      conn_->close();
      return;
    }
    conn_->arm_timer(req_.command_timeout);
    conn_->flush();
    return;  // the session starts once TLS is up
  }
  start_session();
}

void Submission::start_session() {
  smtp::ClientPolicy policy;
  policy.helo_name = req_.helo_name;
  policy.tls = req_.tls == SendmailTls::StartTls ? smtp::ClientTls::Required : smtp::ClientTls::None;
  policy.tls_active = req_.tls == SendmailTls::Implicit;
  policy.auth_user = req_.user;
  policy.auth_password = req_.password;
  policy.command_timeout = req_.command_timeout;
  policy.peer_name = peer();
  client_.emplace(std::move(policy));
  client_->send_message(envelope_, *body_);
  pump();
}

void Submission::on_plaintext(std::string_view bytes) {
  if (transcript_) transcript_->received(bytes);
  if (!client_) return;
  stage_ = client_->state();
  client_->receive(bytes);
  pump();
}

void Submission::on_eof() {
  if (!client_) {
    fail(Kind::TlsHandshakeFailed, "TLS handshake with " + peer() + " failed: connection closed");
  } else {
    stage_ = client_->state();
    client_->receive_eof();
    pump();
  }
  conn_->close();
}

void Submission::on_transport_error(const Error& error) {
  note(peer() + ": " + error.message());
  const bool in_handshake = conn_->tls_active() && !conn_->tls()->handshake_done();
  if (!client_) {
    fail(Kind::TlsHandshakeFailed, "TLS handshake with " + peer() + " failed: " + error.message());
  } else if (in_handshake) {
    stage_ = client_->state();
    client_->tls_failed(error.message());
    pump();
  } else {
    stage_ = client_->state();
    client_->receive_eof();
    pump();
  }
  conn_->close();
}

void Submission::on_tls_ready() {
  const TlsSession* tls = conn_->tls();
  const bool verified = tls->peer_verified();
  note("TLS " + tls->version() + " " + tls->cipher() + ", certificate " +
       (verified ? std::string("verified") : "not verified: " + tls->verify_error()));
  if (req_.verify && !verified) {
    std::string why = "certificate of " + req_.host + " not verified: " + tls->verify_error() +
                      " (--cafile FILE trusts its CA; --insecure skips the check)";
    fail(Kind::TlsNotVerified, why);
    if (client_) {
      stage_ = client_->state();
      client_->tls_failed(why);
      pump();
    }
    conn_->close();
    return;
  }
  if (!client_) {
    conn_->disarm_timer();
    start_session();
    return;
  }
  stage_ = client_->state();
  client_->tls_ready();
  pump();
}

void Submission::on_timeout() {
  if (!connected_) {
    last_connect_error_ = "timed out after " + seconds_text(req_.connect_timeout);
    note(peer() + ": " + last_connect_error_);
    conn_->close();
    try_next_address();
    return;
  }
  if (!client_) {
    fail(Kind::TlsHandshakeFailed, "TLS handshake with " + peer() + " timed out");
    conn_->close();
    return;
  }
  stage_ = client_->state();
  client_->timer_fired();
  pump();
}

void Submission::pump() {
  while (auto action = client_->next_action()) {
    std::visit(
        [&](auto& a) {
          using T = std::decay_t<decltype(a)>;
          if constexpr (std::is_same_v<T, smtp::client::Send>) {
            trace_sent(a.bytes);
            conn_->write(std::move(a.bytes));
          } else if constexpr (std::is_same_v<T, smtp::client::SendBody>) {
            trace_sent(a.bytes);
            conn_->write_view(a.bytes, body_);
          } else if constexpr (std::is_same_v<T, smtp::client::StartTls>) {
            conn_->flush();
            note("starting TLS");
            if (Status st = conn_->start_tls(tls_, req_.host); !st) client_->tls_failed(st.error().message());
          } else if constexpr (std::is_same_v<T, smtp::client::ArmTimer>) {
            conn_->arm_timer(a.after);
          } else if constexpr (std::is_same_v<T, smtp::client::Finished>) {
            if (!finished_) {
              finished_ = std::move(a);
              finished_stage_ = stage_;
            }
            client_->quit();
          } else if constexpr (std::is_same_v<T, smtp::client::Close>) {
            conn_->close_after_writes();
          }
        },
        *action);
  }
  conn_->flush();
}

SubmitOutcome Submission::outcome() {
  if (failure_) return *failure_;
  SubmitOutcome o;
  if (!finished_) {
    o.kind = Kind::LocalError;
    o.error = "the connection to " + peer() + " ended without a result";
    return o;
  }
  // --starttls and no STARTTLS in the EHLO reply: the session decided every
  // recipient without a reply, right after EHLO (or HELO), in plaintext.
  bool no_reply = true;
  for (const auto& r : finished_->recipients) no_reply = no_reply && !r.reply.has_value();
  if (req_.tls == SendmailTls::StartTls && client_ && !client_->tls_active() && !client_->capabilities().starttls &&
      no_reply && !finished_->recipients.empty() &&
      (finished_stage_ == smtp::ClientState::Ehlo || finished_stage_ == smtp::ClientState::Helo)) {
    o.kind = Kind::StartTlsMissing;
    o.error = peer() + " does not offer STARTTLS, which --starttls requires";
    return o;
  }
  o.kind = Kind::Finished;
  o.finished = std::move(finished_);
  o.stage = finished_stage_;
  return o;
}

// IP literals directly; names through getaddrinfo.
Result<std::vector<sockaddr_storage>> resolve(const std::string& host, std::uint16_t port, Kind& kind) {
  sockaddr_storage literal{};
  if (make_sockaddr(host, port, literal)) return std::vector<sockaddr_storage>{literal};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* list = nullptr;
  const std::string service = std::to_string(port);
  int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
  if (rc != 0) {
    kind = (rc == EAI_NONAME || rc == EAI_FAIL) ? Kind::UnknownHost : Kind::ConnectFailed;
    return Error::transient("cannot resolve " + host + ": " + gai_strerror(rc));
  }
  std::vector<sockaddr_storage> out;
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    sockaddr_storage ss{};
    std::memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    out.push_back(ss);
  }
  freeaddrinfo(list);
  if (out.empty()) {
    kind = Kind::UnknownHost;
    return Error::permanent("cannot resolve " + host + ": no address");
  }
  return out;
}

SubmitOutcome local_error(Kind kind, std::string error) {
  SubmitOutcome o;
  o.kind = kind;
  o.error = std::move(error);
  return o;
}

}  // namespace

SubmitOutcome submit_message(const SubmitRequest& request, const smtp::Envelope& envelope,
                             std::shared_ptr<const std::string> body) {
  Kind resolve_kind = Kind::LocalError;
  auto addresses = resolve(request.host, request.port, resolve_kind);
  if (!addresses) return local_error(resolve_kind, addresses.error().message());

  std::shared_ptr<TlsContext> tls;
  if (request.tls != SendmailTls::None) {
    auto ctx = TlsContext::client(request.verify ? PeerVerify::Hostname : PeerVerify::None, request.ca_file);
    if (!ctx) return local_error(Kind::LocalError, ctx.error().message());
    tls = std::move(*ctx);
  }

  uv_loop_t loop;
  if (int rc = uv_loop_init(&loop); rc != 0) {
    return local_error(Kind::LocalError, std::string("cannot start the event loop: ") + uv_strerror(rc));
  }
  SubmitOutcome result;
  {
    Submission submission(&loop, request, envelope, std::move(body), std::move(*addresses), std::move(tls));
    submission.start();
    // Ends when every handle is closed: after QUIT, or a failure's close().
    uv_run(&loop, UV_RUN_DEFAULT);
    result = submission.outcome();
    if (submission.close_all()) uv_run(&loop, UV_RUN_DEFAULT);
  }
  if (int rc = uv_loop_close(&loop); rc != 0 && result.kind != Kind::LocalError) {
    result = local_error(Kind::LocalError, std::string("closing the event loop: ") + uv_strerror(rc));
  }
  return result;
}

}  // namespace tern::relay
