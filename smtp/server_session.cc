// ServerSession's life cycle: input routing (command lines, DATA text, BDAT
// chunks), the answers from the relay, timers, shutdown and the action queue.
// The commands themselves are in server_session_commands.cc and
// server_session_auth.cc.

#include "smtp/server_session.h"

#include <algorithm>
#include <utility>

namespace tern::smtp {

namespace {

bool waiting_on_us(ServerState s) {
  return s == ServerState::AwaitingAuth || s == ServerState::AwaitingCommit;
}

// Where a new command may start (a partial line may be buffered).
bool at_command_boundary(ServerState s) {
  return s == ServerState::Greeting || s == ServerState::Ready || s == ServerState::Mail ||
         s == ServerState::Rcpt || s == ServerState::AuthChallenge;
}

}  // namespace

std::string_view describe(ServerState state) {
  switch (state) {
    case ServerState::Greeting: return "waiting for EHLO";
    case ServerState::Ready: return "waiting for MAIL FROM";
    case ServerState::AuthChallenge: return "reading an AUTH response";
    case ServerState::AwaitingAuth: return "checking credentials";
    case ServerState::AwaitingTls: return "doing the TLS handshake";
    case ServerState::Mail: return "waiting for RCPT TO";
    case ServerState::Rcpt: return "waiting for RCPT TO, DATA or BDAT";
    case ServerState::Data: return "reading message data";
    case ServerState::Bdat: return "reading a BDAT chunk";
    case ServerState::AwaitingCommit: return "storing the message";
    case ServerState::Closing: return "closing the connection";
  }
  return "in an unknown state";
}

std::string TransactionInfo::with_keyword() const {
  if (!esmtp) return "SMTP";
  if (tls && !auth_user.empty()) return "ESMTPSA";
  if (tls) return "ESMTPS";
  if (!auth_user.empty()) return "ESMTPA";
  return "ESMTP";
}

ServerSession::ServerSession(const ServerPolicy& policy, ConnectionFacts facts)
    : policy_(policy), facts_(std::move(facts)), tls_active_(facts_.implicit_tls) {
  say("220 " + policy_.hostname + " ESMTP tern");
  finish_call();
}

bool ServerSession::wants_input() const {
  return state_ != ServerState::Closing && !waiting_on_us(state_);
}

std::optional<ServerAction> ServerSession::next_action() {
  if (actions_.empty()) return std::nullopt;
  ServerAction a = std::move(actions_.front());
  actions_.pop_front();
  return a;
}

// ---- input ----

void ServerSession::receive(std::string_view bytes) {
  // Bytes that arrive while the handshake is pending were sent in plaintext
  // after STARTTLS: never executed (CVE-2011-0411).
  if (state_ == ServerState::Closing || state_ == ServerState::AwaitingTls) return;
  consume(bytes);
  finish_call();
}

void ServerSession::consume(std::string_view bytes) {
  for (;;) {
    if (state_ == ServerState::Closing || state_ == ServerState::AwaitingTls) return;
    if (waiting_on_us(state_)) {
      stash(bytes);
      return;
    }
    if (shutting_down_ && at_command_boundary(state_)) {
      say("421 4.3.2 " + policy_.hostname + " Service shutting down");
      close();
      return;
    }
    if (bytes.empty()) return;
    switch (state_) {
      case ServerState::Data: consume_data(bytes); break;
      case ServerState::Bdat: consume_chunk(bytes); break;
      default: consume_line(bytes); break;
    }
  }
}

void ServerSession::consume_line(std::string_view& bytes) {
  const LineReader::Result r = lines_.feed(bytes);
  // Safe to drop the prefix now: r.line points either into the LineReader or
  // into the caller's buffer, which stays alive for this call.
  bytes.remove_prefix(std::min(r.consumed, bytes.size()));
  switch (r.event) {
    case LineReader::Event::NeedMore:
      bytes = {};  // all of it is held (or discarded) by the reader
      return;
    case LineReader::Event::Line:
      progress_ = true;
      if (state_ == ServerState::AuthChallenge) {
        on_auth_response(r.line);
      } else {
        on_command(r.line);
      }
      return;
    case LineReader::Event::TooLong:
      progress_ = true;
      if (state_ == ServerState::AuthChallenge) end_auth();
      protocol_error("500 5.5.2 Error: line too long", "line_length");
      return;
    case LineReader::Event::BareLf: bare_newline("LF"); return;
    case LineReader::Event::BareCr: bare_newline("CR"); return;
  }
}

void ServerSession::consume_data(std::string_view& bytes) {
  const DataReader::Progress p = data_.feed(bytes);
  bytes.remove_prefix(std::min(p.consumed, bytes.size()));
  if (p.lines > 0) progress_ = true;
  switch (p.status) {
    case DataReader::Status::NeedMore:
      bytes = {};
      return;
    case DataReader::Status::Complete:
      progress_ = true;
      finish_message();
      return;
    case DataReader::Status::BareLf: bare_newline("LF"); return;
    case DataReader::Status::BareCr: bare_newline("CR"); return;
  }
}

void ServerSession::consume_chunk(std::string_view& bytes) {
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(bytes.size(), bdat_remaining_));
  if (bdat_refusal_) {
    // Skipped octets are not scanned, but whole lines in them still show a live client.
    if (bytes.substr(0, n).find('\n') != std::string_view::npos) progress_ = true;
  } else {
    const DataReader::Progress p = data_.feed(bytes.substr(0, n));
    if (p.lines > 0) progress_ = true;
    if (p.status == DataReader::Status::BareLf) return bare_newline("LF");
    if (p.status == DataReader::Status::BareCr) return bare_newline("CR");
  }
  bytes.remove_prefix(n);
  bdat_remaining_ -= n;
  if (bdat_remaining_ == 0) {
    progress_ = true;
    finish_chunk();
  }
}

void ServerSession::stash(std::string_view bytes) {
  if (input_overflow_ || bytes.empty()) return;
  if (input_.size() + bytes.size() > kMaxPendingInput) {
    input_overflow_ = true;
    input_ = std::string();
    return;
  }
  input_.append(bytes);
}

void ServerSession::resume() {
  if (state_ == ServerState::Closing) return;
  if (input_overflow_) {
    input_overflow_ = false;
    say("421 4.7.0 " + policy_.hostname + " Error: too much pipelined input");
    close();
    return;
  }
  std::string pending = std::move(input_);
  input_.clear();
  consume(pending);  // also where a pending shutdown takes effect
}

// ---- answers from the relay ----

void ServerSession::receive_eof() {
  if (state_ == ServerState::Closing) return;
  close();  // a message in DATA is discarded with the session
  finish_call();
}

void ServerSession::timer_fired() {
  if (state_ == ServerState::Closing || waiting_on_us(state_)) return;  // a stale timer: we are the slow one
  if (state_ != ServerState::AwaitingTls) {  // mid-handshake no plaintext reply can be sent
    say("421 4.4.2 " + policy_.hostname + " Error: timeout exceeded");
  }
  reject("timeout");
  close();
  finish_call();
}

void ServerSession::tls_ready() {
  if (state_ != ServerState::AwaitingTls) return;
  // RFC 3207 §4.2: forget everything learnt in plaintext.
  tls_active_ = true;
  have_helo_ = false;
  esmtp_ = false;
  helo_.clear();
  auth_user_.clear();
  reset_transaction();
  lines_.reset();
  input_.clear();
  state_ = ServerState::Greeting;
  progress_ = true;
  consume({});
  finish_call();
}

void ServerSession::tls_failed() {
  if (state_ == ServerState::Closing) return;
  close();
  finish_call();
}

void ServerSession::shutdown() {
  if (state_ == ServerState::Closing) return;
  shutting_down_ = true;
  consume({});  // at a command boundary now: 421 at once; otherwise when one is reached
  finish_call();
}

void ServerSession::enqueued(Result<std::string> queue_id) {
  if (state_ != ServerState::AwaitingCommit) return;
  if (queue_id) {
    std::string id;
    for (char c : *queue_id) {
      if (c > 32 && c < 127) id.push_back(c);  // our own id, but a reply line must stay one line
    }
    say("250 2.0.0 Ok: queued as " + id);
  } else if (queue_id.error().is_transient()) {
    say("452 4.3.1 Insufficient system storage");
    reject("storage");
  } else {
    say("554 5.3.0 Error: message not accepted");
    reject("storage");
  }
  reset_transaction();
  resume();
  finish_call();
}

// ---- replies and actions ----

void ServerSession::say(std::string_view line) {
  out_.append(line);
  out_.append("\r\n");
}

void ServerSession::reject(std::string_view reason) { rejects_.push_back(reason); }

void ServerSession::protocol_error(std::string_view line, std::string_view reason) {
  say(line);
  count_error(reason);
}

void ServerSession::count_error(std::string_view reason) {
  reject(reason);
  if (++error_count_ >= kMaxErrors) {
    say("421 4.7.0 " + policy_.hostname + " Error: too many errors");
    close();
  }
}

void ServerSession::bare_newline(std::string_view which) {
  say("521 5.5.2 " + policy_.hostname + " Error: bare <" + std::string(which) + "> received");
  reject("bare_newline");
  close();
}

void ServerSession::flush() {
  if (!out_.empty()) {
    actions_.push_back(server::Send{std::move(out_)});
    out_.clear();
  }
  for (std::string_view r : rejects_) actions_.push_back(server::Rejected{r});
  rejects_.clear();
}

void ServerSession::emit(ServerAction action) {
  flush();
  actions_.push_back(std::move(action));
}

void ServerSession::close() {
  emit(server::Close{});
  state_ = ServerState::Closing;
  input_ = std::string();
  lines_.reset();
  data_.discard();
  envelope_ = Envelope{};
}

void ServerSession::finish_call() {
  flush();
  if (state_ != ServerState::Closing) {
    if (waiting_on_us(state_)) {
      if (timer_armed_) actions_.push_back(server::DisarmTimer{});
      timer_armed_ = false;
    } else if (!timer_armed_ || progress_) {
      actions_.push_back(server::ArmTimer{policy_.command_timeout});
      timer_armed_ = true;
    }
  }
  progress_ = false;
}

}  // namespace tern::smtp
