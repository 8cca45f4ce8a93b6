// ClientSession's core: events in (bytes, EOF, timer), actions out, the reply
// dispatch, and the bookkeeping of who was decided by what. The conversation
// itself is two halves (OpenSMTPD mta_session.c): functions named enter_*/
// start_*/send_* emit the command that belongs to a state, on_* functions
// read the reply to it and pick the next state; client_handshake.cc has those
// up to AUTH, client_transaction.cc those from MAIL on. Failure policy here is
// only "what did this reply decide, and for whom"; what follows (next MX,
// defer, bounce) is relay/failure_policy's job.
#include "smtp/client_session.h"

#include <cstdlib>
#include <utility>

#include "smtp/command.h"
#include "smtp/encoding.h"

namespace tern::smtp {

namespace {

using Status = RecipientResult::Status;

}  // namespace

std::string_view describe(ClientState state) {
  switch (state) {
    case ClientState::Banner: return "receiving the initial server greeting";
    case ClientState::Ehlo: return "performing the EHLO handshake";
    case ClientState::Helo: return "performing the HELO handshake";
    case ClientState::StartTls: return "performing the STARTTLS handshake";
    case ClientState::Auth: return "performing SASL authentication";
    case ClientState::Idle: return "idle between messages";
    case ClientState::Rset: return "sending RSET";
    case ClientState::Mail: return "sending MAIL FROM";
    case ClientState::Rcpt: return "sending RCPT TO";
    case ClientState::Data: return "sending DATA command";
    case ClientState::Dot: return "sending end of data -- message may be sent more than once";
    case ClientState::Quit: return "sending QUIT";
    case ClientState::Done: return "closing the connection";
  }
  return "in an unknown state";
}

ClientSession::ClientSession(ClientPolicy policy) : policy_(std::move(policy)) {
  tls_active_ = policy_.tls_active;
  if (policy_.auth_user) {
    std::string credentials;
    credentials += '\0';
    credentials += *policy_.auth_user;
    credentials += '\0';
    credentials += policy_.auth_password;
    plain_response_ = base64_encode(credentials);
    // Longest first: the PLAIN response contains base64(password) when the
    // user name's length lines up, and must be masked whole.
    secrets_ = {plain_response_};
    if (!policy_.auth_password.empty()) {
      secrets_.push_back(base64_encode(policy_.auth_password));
      secrets_.push_back(policy_.auth_password);
    }
  }
  arm();
}

// ---------------------------------------------------------------------------
// Actions

void ClientSession::push(ClientAction action) { actions_.emplace_back(std::move(action)); }

void ClientSession::send(std::string bytes) { push(client::Send{std::move(bytes)}); }

void ClientSession::arm() {
  // The reply to the final dot may take a content filter's run: Postfix waits
  // 600 s there against 300 s elsewhere.
  auto after = policy_.command_timeout;
  if (state_ == ClientState::Dot) after *= 2;
  push(client::ArmTimer{after});
  armed_in_batch_ = true;
}

bool ClientSession::awaiting_reply() const {
  return state_ != ClientState::Idle && state_ != ClientState::Done && !handshaking_;
}

std::optional<ClientAction> ClientSession::next_action() {
  while (!actions_.empty()) {
    if (auto* action = std::get_if<ClientAction>(&actions_.front())) {
      ClientAction out = std::move(*action);
      actions_.pop_front();
      return out;
    }
    auto& body = std::get<BodyStream>(actions_.front());
    if (auto piece = body.stuffer.next()) {
      if (piece->from_body) return client::SendBody{piece->bytes};
      return client::Send{std::string(piece->bytes)};
    }
    actions_.pop_front();  // the body is out
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Details

std::string_view ClientSession::peer() const {
  return policy_.peer_name.empty() ? std::string_view("the server") : std::string_view(policy_.peer_name);
}

// The command a reply in the current state answers, for "(in reply to ...)".
std::string_view ClientSession::in_reply_to() const {
  switch (state_) {
    case ClientState::Ehlo: return "EHLO";
    case ClientState::Helo: return "HELO";
    case ClientState::StartTls: return "STARTTLS";
    case ClientState::Auth: return auth_mech_ == AuthMech::Plain ? "AUTH PLAIN" : "AUTH LOGIN";
    case ClientState::Rset:
    case ClientState::Mail:
    case ClientState::Rcpt:
    case ClientState::Data:
      if (msg_ && msg_->answered < msg_->plan.size()) return step_name(msg_->plan[msg_->answered]);
      return describe(state_);
    case ClientState::Dot: return "end of DATA";
    case ClientState::Quit: return "QUIT";
    case ClientState::Banner:
    case ClientState::Idle:
    case ClientState::Done: break;
  }
  return "";
}

std::string ClientSession::said(const Reply& reply, std::string_view in_reply_to) const {
  std::string out(peer());
  out += " said: ";
  out += reply.summary();
  if (!in_reply_to.empty()) {
    out += " (in reply to ";
    out += in_reply_to;
    out += ")";
  }
  return out;
}

// A server may quote what it could not decode ("535 cannot decode
// AGJvYgBz...", or a protocol error's excerpt of it): the password, plain or
// encoded, must not reach logs or the queue's history.
void ClientSession::mask(std::string& text) const {
  for (const std::string& secret : secrets_) {
    if (secret.empty()) continue;
    for (std::size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 1)) {
      text.replace(at, secret.size(), "*");
    }
  }
}

void ClientSession::redact(Reply& reply) const {
  for (std::string& line : reply.lines) mask(line);
}

// ---------------------------------------------------------------------------
// Events from the relay

void ClientSession::send_message(const Envelope& envelope, std::string_view head, std::string_view body) {
  if (msg_) std::abort();  // our bug: one message at a time (wait for Finished)
  Message m;
  m.envelope = envelope;
  m.head = head;
  m.body = body;
  const std::size_t n = envelope.recipients.size();
  m.results.resize(n);
  m.decided.assign(n, false);
  m.accepted.assign(n, false);
  msg_ = std::move(m);

  if (dead_) {
    decide_undecided(dead_->status, dead_->reply, dead_->detail, FailureScope::Site);
    finish(false, dead_->tls_fallback_wanted);
    return;
  }
  if (state_ == ClientState::Quit || state_ == ClientState::Done) {
    decide_undecided(Status::Transient, std::nullopt,
                     "connection to " + std::string(peer()) + " was already closing", FailureScope::Site);
    finish(false);
    return;
  }
  if (state_ == ClientState::Idle) start_transaction();
}

void ClientSession::quit() {
  quit_requested_ = true;
  if (state_ == ClientState::Idle && !msg_) enter_quit();
}

void ClientSession::receive(std::string_view bytes) {
  if (state_ == ClientState::Done) return;
  // Between "220" to STARTTLS and tls_ready() nothing may be read: bytes here
  // were sent in plaintext after the 220 (CVE-2011-0411 injection) or by a
  // confused relay.
  if (handshaking_) return;
  armed_in_batch_ = false;
  bool progressed = false;
  parser_.feed(bytes);
  while (state_ != ClientState::Done && !handshaking_) {
    auto next = parser_.next();
    if (!next) break;
    if (!next->has_value()) {
      std::string_view why = next->error().message();
      if (why.starts_with("protocol error: ")) why.remove_prefix(16);
      protocol_error(why);
      return;
    }
    progressed = true;
    handle_reply(std::move(next->value()));
  }
  if (state_ == ClientState::Done || handshaking_) return;
  if (parser_.buffered() > policy_.max_reply_bytes) {
    protocol_error("reply longer than " + std::to_string(policy_.max_reply_bytes) + " bytes");
    return;
  }
  // Pipelined replies trickle in: each one that arrives restarts the clock.
  if (progressed && !armed_in_batch_ && awaiting_reply()) arm();
}

void ClientSession::receive_eof() {
  switch (state_) {
    case ClientState::Done: return;
    case ClientState::Quit:
      state_ = ClientState::Done;
      push(client::Close{});
      return;
    default: break;
  }
  site_failure({Status::Transient, std::nullopt,
                "connection closed by " + std::string(peer()) + " while " + std::string(describe(state_))},
               Ending::Close);
}

void ClientSession::timer_fired() {
  switch (state_) {
    case ClientState::Idle:
    case ClientState::Done: return;
    case ClientState::Quit:
      state_ = ClientState::Done;
      push(client::Close{});
      return;
    default: break;
  }
  // A handshake that never ends is a TLS failure like any other: under
  // Opportunistic the relay may try this host again in plaintext.
  const bool fallback = handshaking_ && policy_.tls == ClientTls::Opportunistic;
  handshaking_ = false;
  site_failure({Status::Transient, std::nullopt,
                std::string(peer()) + " timed out while " + std::string(describe(state_)), fallback},
               Ending::Close);
}

// ---------------------------------------------------------------------------
// Replies

void ClientSession::handle_reply(Reply reply) {
  redact(reply);
  if (state_ == ClientState::Quit) {
    state_ = ClientState::Done;
    push(client::Close{});
    return;
  }
  // 421: the server is going away (RFC 5321 §3.8). Whatever it answered, the
  // rest of the conversation is lost; it has or will close the connection.
  if (reply.code == 421) {
    std::string detail = state_ == ClientState::Banner
                             ? std::string(peer()) + " refused to talk to me: " + reply.summary()
                             : said(reply, in_reply_to());
    site_failure({Status::Transient, reply, std::move(detail)}, Ending::Close);
    return;
  }
  switch (state_) {
    case ClientState::Banner: on_greeting(reply); return;
    case ClientState::Ehlo: on_ehlo(reply); return;
    case ClientState::Helo: on_helo(reply); return;
    case ClientState::StartTls: on_starttls(reply); return;
    case ClientState::Auth: on_auth(reply); return;
    case ClientState::Rset:
    case ClientState::Mail:
    case ClientState::Rcpt:
    case ClientState::Data: on_step(reply); return;
    case ClientState::Dot: on_dot(reply); return;
    case ClientState::Idle:
      protocol_error("unexpected reply while idle: " + reply.summary());
      return;
    case ClientState::Quit:
    case ClientState::Done: return;
  }
}

void ClientSession::enter_idle() {
  state_ = ClientState::Idle;
  if (msg_) {
    start_transaction();
    return;
  }
  if (quit_requested_) enter_quit();
}

void ClientSession::enter_quit() {
  state_ = ClientState::Quit;
  send(encode(make_simple(Verb::Quit)));
  arm();
}

// ---------------------------------------------------------------------------
// Failure bookkeeping

void ClientSession::decide(std::size_t i, Status status, const std::optional<Reply>& reply, std::string detail) {
  if (!msg_ || i >= msg_->decided.size() || msg_->decided[i]) return;
  msg_->decided[i] = true;
  msg_->accepted[i] = false;
  RecipientResult& r = msg_->results[i];
  r.status = status;
  r.reply = reply;
  mask(detail);
  r.detail = std::move(detail);
}

void ClientSession::decide_undecided(Status status, const std::optional<Reply>& reply, const std::string& detail,
                                     FailureScope scope) {
  if (!msg_) return;
  bool any = false;
  for (std::size_t i = 0; i < msg_->decided.size(); ++i) {
    if (msg_->decided[i]) continue;
    decide(i, status, reply, detail);
    any = true;
  }
  if (!any) return;
  if (scope == FailureScope::Site || !msg_->failure) msg_->failure = scope;
}

void ClientSession::finish(bool reusable, bool tls_fallback_wanted) {
  if (!msg_) return;
  // Every recipient leaves with a verdict; reaching this is our bug, but a
  // deferral is the one answer that cannot lose or duplicate mail.
  decide_undecided(Status::Transient, std::nullopt,
                   "delivery to " + std::string(peer()) + " ended without a reply for this recipient",
                   FailureScope::Site);
  client::Finished done;
  done.recipients = std::move(msg_->results);
  done.failure = msg_->failure;
  done.reusable = reusable;
  done.tls = tls_active_;
  done.tls_fallback_wanted = tls_fallback_wanted;
  msg_.reset();
  push(std::move(done));
}

void ClientSession::site_failure(SiteFailure failure, Ending ending) {
  if (msg_) {
    decide_undecided(failure.status, failure.reply, failure.detail, FailureScope::Site);
    finish(false, failure.tls_fallback_wanted);
  }
  dead_ = std::move(failure);
  if (ending == Ending::Quit) {
    enter_quit();
  } else {
    state_ = ClientState::Done;
    push(client::Close{});
  }
}

void ClientSession::protocol_error(std::string_view what) {
  if (state_ == ClientState::Quit) {
    state_ = ClientState::Done;
    push(client::Close{});
    return;
  }
  // The stream is out of step: nothing more it says can be matched to a command.
  site_failure({Status::Transient, std::nullopt,
                "protocol error from " + std::string(peer()) + " while " + std::string(describe(state_)) + ": " +
                    std::string(what)},
               Ending::Close);
}

}  // namespace tern::smtp
