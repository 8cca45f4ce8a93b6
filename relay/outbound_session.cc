// One outbound SMTP connection carrying delivery jobs. See outbound_session.h.
#include "relay/outbound_session.h"

#include <algorithm>
#include <variant>

#include "relay/log.h"

namespace tern::relay {
namespace {

smtp::ClientPolicy client_policy(const OutboundOptions& options, const OutboundTarget& target) {
  smtp::ClientPolicy policy = options.policy;
  policy.tls_active = target.implicit_tls;
  policy.peer_name = target.host_name + "[" + target.address + "]";
  if (!options.tls) policy.tls = smtp::ClientTls::None;
  return policy;
}

}  // namespace

OutboundSession::OutboundSession(uv_loop_t* loop, OutboundTarget target, OutboundOptions options,
                                 OutboundOwner& owner)
    : target_(std::move(target)),
      options_(std::move(options)),
      owner_(owner),
      conn_(loop, *this),
      client_(client_policy(options_, target_)) {}

OutboundSession::~OutboundSession() = default;

void OutboundSession::start(std::unique_ptr<DeliveryJob> job) {
  job_ = std::move(job);
  sockaddr_storage address{};
  if (Status st = make_sockaddr(target_.address, target_.port, address); !st) {
    fail_unsent(st.error().message());
    return;
  }
  conn_.arm_timer(options_.connect_timeout);
  if (Status st = conn_.connect(reinterpret_cast<const sockaddr*>(&address)); !st) {
    fail_unsent("connect to " + target_.label() + ": " + st.error().message());
  }
}

void OutboundSession::send(std::unique_ptr<DeliveryJob> job) {
  job_ = std::move(job);
  client_.send_message(job_->envelope, job_->data->head(), job_->data->body());
  pump();
}

void OutboundSession::quit() {
  quitting_ = true;
  if (!connected_ || conn_.closing()) {
    conn_.close();
    return;
  }
  client_.quit();
  pump();
}

void OutboundSession::abort() {
  quitting_ = true;
  job_.reset();
  conn_.close();
}

void OutboundSession::on_connected(Status status) {
  if (!status) {
    fail_unsent("connect to " + target_.label() + ": " + status.error().message());
    return;
  }
  connected_ = true;
  if (target_.implicit_tls) {
    if (Status st = conn_.start_tls(options_.tls, target_.host_name); !st) {
      owner_.on_tls_handshake(false);
      fail_unsent("TLS to " + target_.label() + ": " + st.error().message());
      return;
    }
    conn_.arm_timer(options_.policy.command_timeout);
    return;  // the message goes to the client session once TLS is up
  }
  client_.send_message(job_->envelope, job_->data->head(), job_->data->body());
  pump();
}

void OutboundSession::on_plaintext(std::string_view bytes) {
  client_.receive(bytes);
  pump();
}

void OutboundSession::on_eof() {
  if (conn_.tls_active() && !conn_.tls()->handshake_done()) {
    // A server that gives up on the handshake often just hangs up, with no
    // alert: that is a failed handshake too (opportunistic TLS falls back to
    // plaintext), not a lost connection.
    on_transport_error(Error::transient("connection closed during the TLS handshake"));
    return;
  }
  client_.receive_eof();
  pump();
  conn_.close();
}

void OutboundSession::on_transport_error(const Error& error) {
  const bool in_handshake = conn_.tls_active() && !conn_.tls()->handshake_done();
  if (in_handshake) owner_.on_tls_handshake(false);
  if (target_.implicit_tls && in_handshake) {
    fail_unsent("TLS to " + target_.label() + ": " + error.message());
    return;
  }
  if (in_handshake) {
    client_.tls_failed(error.message());
  } else {
    log_debug("outbound_error", {{"host", target_.label()}, {"error", error.message()}});
    client_.receive_eof();
  }
  pump();
  conn_.close();
}

void OutboundSession::on_tls_ready() {
  const TlsSession* tls = conn_.tls();
  const bool verified = tls->peer_verified();
  owner_.on_tls_handshake(true);
  if (options_.require_verified_tls && !verified) {
    std::string why = "certificate of " + target_.host_name + " not verified: " + tls->verify_error();
    if (target_.implicit_tls) {
      fail_unsent(why);
    } else {
      client_.tls_failed(why);
      pump();
      conn_.close();
    }
    return;
  }
  if (target_.implicit_tls) {
    client_.send_message(job_->envelope, job_->data->head(), job_->data->body());
  } else {
    client_.tls_ready();
  }
  pump();
}

void OutboundSession::on_timeout() {
  if (!connected_ || (target_.implicit_tls && !conn_.tls()->handshake_done())) {
    fail_unsent((connected_ ? "TLS handshake with " : "connect to ") + target_.label() + ": timed out");
    return;
  }
  client_.timer_fired();
  pump();
}

void OutboundSession::on_closed() { owner_.on_session_closed(*this); }

void OutboundSession::on_written() {
  if (!body_rest_.empty()) pump();
}

bool OutboundSession::send_body_rest() {
  while (!body_rest_.empty()) {
    if (conn_.closing()) break;  // nobody left to send it to
    if (conn_.unsent_bytes() >= kWriteWindow) {
      conn_.flush();
      if (conn_.unsent_bytes() >= kWriteWindow) return false;
    }
    const std::size_t n = std::min(body_rest_.size(), kWriteWindow / 4);
    conn_.write_view(body_rest_.substr(0, n), body_keepalive_);
    body_rest_.remove_prefix(n);
  }
  body_rest_ = {};
  body_keepalive_.reset();
  return true;
}

void OutboundSession::pump() {
  if (!send_body_rest()) return;
  bool idle = false;
  bool blocked = false;
  while (!blocked) {
    auto action = client_.next_action();
    if (!action) break;
    std::visit(
        [&](auto& a) {
          using T = std::decay_t<decltype(a)>;
          if constexpr (std::is_same_v<T, smtp::client::Send>) {
            conn_.write(std::move(a.bytes));
          } else if constexpr (std::is_same_v<T, smtp::client::SendBody>) {
            body_rest_ = a.bytes;
            body_keepalive_ = job_ ? std::shared_ptr<const void>(job_->data) : nullptr;
            blocked = !send_body_rest();
          } else if constexpr (std::is_same_v<T, smtp::client::StartTls>) {
            conn_.flush();
            Status st = options_.tls ? conn_.start_tls(options_.tls, target_.host_name)
                                     : Status(Error::transient("no TLS client context"));
            if (!st) {
              owner_.on_tls_handshake(false);
              client_.tls_failed(st.error().message());
            }
          } else if constexpr (std::is_same_v<T, smtp::client::ArmTimer>) {
            conn_.arm_timer(a.after);
          } else if constexpr (std::is_same_v<T, smtp::client::Finished>) {
            const bool reusable = a.reusable && !quitting_;
            finish_job(std::move(a));
            idle = reusable;
          } else if constexpr (std::is_same_v<T, smtp::client::Close>) {
            conn_.close_after_writes();
          }
        },
        *action);
  }
  if (blocked) return;  // send_body_rest() flushed; on_written() resumes
  conn_.flush();
  if (idle && !conn_.closing() && !job_) owner_.on_session_idle(*this);
}

void OutboundSession::finish_job(smtp::client::Finished finished) {
  if (!job_) return;
  std::unique_ptr<DeliveryJob> job = std::move(job_);
  owner_.on_job_finished(*this, std::move(job), std::move(finished));
}

void OutboundSession::fail_unsent(std::string detail) {
  if (job_) {
    smtp::client::Finished finished;
    finished.failure = smtp::FailureScope::Site;
    finished.recipients.resize(job_->envelope.recipients.size());
    for (auto& r : finished.recipients) {
      r.status = smtp::RecipientResult::Status::Transient;
      r.detail = detail;
    }
    finish_job(std::move(finished));
  }
  conn_.close();
}

}  // namespace tern::relay
