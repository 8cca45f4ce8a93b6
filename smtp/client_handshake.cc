// ClientSession's opening: the greeting, EHLO (HELO when EHLO is refused),
// STARTTLS with its policy (OpenSMTPD mta_session.c: "TLS required but not
// supported by remote host" is decided right here) and AUTH PLAIN/LOGIN. It
// ends in enter_idle(), where the transaction (client_transaction.cc) starts.
#include <string>

#include "smtp/client_session.h"
#include "smtp/command.h"
#include "smtp/encoding.h"

namespace tern::smtp {

namespace {

using Status = RecipientResult::Status;

// 5xx decides for good; anything else that is not a success (4xx, and the
// nonsense of a 3xx where none belongs) is worth another try.
Status failure_status(const Reply& reply) {
  return reply.code >= 500 ? Status::Permanent : Status::Transient;
}

bool is_2xx(const Reply& reply) { return reply.code >= 200 && reply.code < 300; }

}  // namespace

void ClientSession::on_greeting(const Reply& reply) {
  if (is_2xx(reply)) {
    state_ = ClientState::Ehlo;
    send(encode(make_ehlo(policy_.helo_name)));
    arm();
    return;
  }
  // "554 no SMTP service here" and friends speak for the whole site: 5xx is
  // permanent for every recipient, 4xx is a later try.
  site_failure({failure_status(reply), reply, std::string(peer()) + " refused to talk to me: " + reply.summary()},
               Ending::Quit);
}

void ClientSession::on_ehlo(const Reply& reply) {
  if (is_2xx(reply)) {
    caps_ = parse_capabilities(reply);
    after_hello();
    return;
  }
  if (reply.code >= 500) {  // 500/502: no ESMTP here; RFC 5321 §3.2 says try HELO
    caps_ = Capabilities{};
    state_ = ClientState::Helo;
    send(encode(make_helo(policy_.helo_name)));
    arm();
    return;
  }
  site_failure({Status::Transient, reply, said(reply, in_reply_to())}, Ending::Quit);
}

void ClientSession::on_helo(const Reply& reply) {
  if (is_2xx(reply)) {
    caps_ = Capabilities{};
    after_hello();
    return;
  }
  site_failure({failure_status(reply), reply, said(reply, in_reply_to())}, Ending::Quit);
}

void ClientSession::after_hello() {
  if (!tls_active_ && policy_.tls != ClientTls::None && !starttls_refused_) {
    if (caps_.starttls) {
      state_ = ClientState::StartTls;
      send(encode(make_simple(Verb::StartTls)));
      arm();
      return;
    }
    if (policy_.tls == ClientTls::Required) {
      site_failure({Status::Transient, std::nullopt, "TLS is required, but was not offered by " + std::string(peer())},
                   Ending::Quit);
      return;
    }
  }
  if (policy_.auth_user) {
    start_auth();
    return;
  }
  enter_idle();
}

void ClientSession::on_starttls(const Reply& reply) {
  if (is_2xx(reply)) {
    // CVE-2011-0411: anything after the 220 came in plaintext; it must not be
    // read as if it had come over TLS. The transport drops its own buffer too.
    parser_.clear();
    handshaking_ = true;
    push(client::StartTls{});
    arm();  // the handshake gets the same time as a reply
    return;
  }
  if (policy_.tls == ClientTls::Required) {
    site_failure({Status::Transient, reply, "TLS is required, but STARTTLS failed: " + said(reply, in_reply_to())},
                 Ending::Quit);
    return;
  }
  // Opportunistic: a refused STARTTLS leaves the session as it was after EHLO
  // (RFC 3207 §4), so go on in plaintext without another EHLO.
  starttls_refused_ = true;
  after_hello();
}

void ClientSession::start_auth() {
  const auto& mechs = caps_.auth_mechanisms;
  auto offered = [&](std::string_view m) {
    for (const auto& x : mechs) {
      if (x == m) return true;
    }
    return false;
  };
  if (offered("PLAIN")) {
    auth_mech_ = AuthMech::Plain;
    auth_step_ = 0;
    state_ = ClientState::Auth;
    send(encode(make_auth("PLAIN", plain_response_)));
    arm();
    return;
  }
  if (offered("LOGIN")) {
    auth_mech_ = AuthMech::Login;
    auth_step_ = 0;
    state_ = ClientState::Auth;
    send(encode(make_auth("LOGIN", std::nullopt)));
    arm();
    return;
  }
  std::string list;
  for (const auto& m : mechs) {
    if (!list.empty()) list += ' ';
    list += m;
  }
  if (list.empty()) list = "none";
  // Transient: the fix is on our side (config) or theirs, never the sender's.
  site_failure({Status::Transient, std::nullopt,
                "authentication is required but " + std::string(peer()) +
                    " offers no usable mechanism (offered: " + list + ")"},
               Ending::Quit);
}

void ClientSession::on_auth(const Reply& reply) {
  const std::string_view command = in_reply_to();
  if (is_2xx(reply)) {
    enter_idle();
    return;
  }
  if (reply.code == 334) {
    // PLAIN: a server that ignored the initial response asks for it again.
    // LOGIN: the first 334 asks for the user name, the second the password.
    std::string answer;
    if (auth_mech_ == AuthMech::Plain && auth_step_ == 0) {
      answer = plain_response_;
    } else if (auth_mech_ == AuthMech::Login && auth_step_ == 0) {
      answer = base64_encode(*policy_.auth_user);
    } else if (auth_mech_ == AuthMech::Login && auth_step_ == 1) {
      answer = base64_encode(policy_.auth_password);
    } else {
      // Out of answers: the exchange is out of step, and a QUIT now would be
      // read as one more AUTH line.
      site_failure({Status::Transient, reply, "authentication failed: " + said(reply, command)}, Ending::Close);
      return;
    }
    ++auth_step_;
    send(answer + "\r\n");
    arm();
    return;
  }
  // 535 and other 5xx stay transient: bad credentials are our configuration,
  // and bouncing the mail would punish the sender for it.
  site_failure({Status::Transient, reply, "authentication failed: " + said(reply, command)}, Ending::Quit);
}

void ClientSession::tls_ready() {
  if (state_ != ClientState::StartTls || !handshaking_) return;  // not asked for: ignore
  handshaking_ = false;
  tls_active_ = true;
  parser_.clear();
  // RFC 3207 §4.2: forget everything learnt in plaintext and ask again.
  caps_ = Capabilities{};
  state_ = ClientState::Ehlo;
  send(encode(make_ehlo(policy_.helo_name)));
  arm();
}

void ClientSession::tls_failed(std::string_view why) {
  if (state_ != ClientState::StartTls || !handshaking_) return;
  handshaking_ = false;
  // Half a handshake leaves the stream unusable either way: no QUIT.
  std::string what = "STARTTLS failed: handshake with " + std::string(peer()) + ": " + std::string(why);
  if (policy_.tls == ClientTls::Required) {
    site_failure({Status::Transient, std::nullopt, "TLS is required, but " + what}, Ending::Close);
  } else {
    site_failure({Status::Transient, std::nullopt, what, true}, Ending::Close);
  }
}

}  // namespace tern::smtp
