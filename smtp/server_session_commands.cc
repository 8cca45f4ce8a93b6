// ServerSession's commands: the order checks and replies of EHLO/HELO, MAIL,
// RCPT, DATA, BDAT, STARTTLS and the simple verbs, and the end of a message.
// Replies follow Postfix's wording so its users recognise them.

#include <algorithm>
#include <string>
#include <utility>
#include <variant>

#include "smtp/server_session.h"

namespace tern::smtp {

namespace {

// The first word of a line is "BDAT" (case-insensitive).
bool is_bdat_line(std::string_view line) {
  constexpr std::string_view kBdat = "BDAT";
  if (line.size() < kBdat.size()) return false;
  for (std::size_t i = 0; i < kBdat.size(); ++i) {
    char c = line[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != kBdat[i]) return false;
  }
  return line.size() == kBdat.size() || line[kBdat.size()] == ' ';
}

constexpr std::string_view kSendHeloFirst = "503 5.5.1 Error: send HELO/EHLO first";

}  // namespace

bool ServerSession::may_relay() const {
  return authenticated() || facts_.client_trusted || !policy_.require_auth;
}

std::uint64_t ServerSession::reserve_hint() const {
  // At most 2 MiB: a larger message is usually taken off in pieces (take_body()).
  const auto& size = envelope_.params.size;
  return (size && *size <= policy_.max_message_size) ? std::min<std::uint64_t>(*size, 2u << 20) : 0;
}

void ServerSession::reset_transaction() {
  ++transaction_;
  have_mail_ = false;
  envelope_ = Envelope{};
  recipients_limit_reported_ = false;
  bdat_started_ = false;
  bdat_refusal_.reset();
  bdat_remaining_ = 0;
  data_.discard();
  state_ = have_helo_ ? ServerState::Ready : ServerState::Greeting;
}

void ServerSession::on_command(std::string_view line) {
  CommandSyntax syntax;
  syntax.utf8_in_transaction = have_mail_ && envelope_.params.smtputf8;
  auto parsed = parse_command(line, syntax);
  if (const Reply* bad = std::get_if<Reply>(&parsed)) {
    out_ += bad->encode();
    if (is_bdat_line(line)) {
      // The chunk that follows has an unknown length: reading it as commands
      // would execute whatever the client put in its message. Hang up.
      reject("syntax");
      close();
      return;
    }
    count_error("syntax");
    return;
  }
  Command& c = std::get<Command>(parsed);
  switch (c.verb) {
    case Verb::Ehlo:
    case Verb::Helo: return on_helo(c);
    case Verb::Mail: return on_mail(c);
    case Verb::Rcpt: return on_rcpt(c);
    case Verb::Data: return on_data();
    case Verb::Bdat: return on_bdat(c);
    case Verb::StartTls: return on_starttls(c);
    case Verb::Auth: return on_auth(c);
    case Verb::Rset:
      reset_transaction();
      return say("250 2.0.0 Ok");
    case Verb::Noop: return say("250 2.0.0 Ok");
    case Verb::Vrfy: return say("252 2.0.0 Cannot VRFY user, but will accept message");
    case Verb::Expn: return say("502 5.5.1 Error: command not implemented");
    case Verb::Help:
      return say("214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH");
    case Verb::Quit:
      say("221 2.0.0 Bye");
      return close();
  }
}

void ServerSession::on_helo(const Command& c) {
  have_helo_ = true;
  esmtp_ = c.verb == Verb::Ehlo;
  helo_ = c.argument;
  reset_transaction();
  if (!esmtp_) return say("250 " + policy_.hostname);
  std::string r = "250-" + policy_.hostname + "\r\n";
  r += "250-PIPELINING\r\n";
  r += "250-SIZE " + std::to_string(policy_.max_message_size) + "\r\n";
  r += "250-8BITMIME\r\n";
  r += "250-SMTPUTF8\r\n";
  r += "250-ENHANCEDSTATUSCODES\r\n";
  r += "250-CHUNKING\r\n";
  if (policy_.starttls_available && !tls_active_) r += "250-STARTTLS\r\n";
  if (tls_active_) r += "250-AUTH PLAIN LOGIN\r\n";
  r += "250 DSN";
  say(r);
}

void ServerSession::on_mail(const Command& c) {
  if (!have_helo_) return protocol_error(kSendHeloFirst, "sequence");
  if (have_mail_) return protocol_error("503 5.5.1 Error: nested MAIL command", "sequence");
  if (!may_relay()) {
    say("530 5.7.0 Authentication required");
    return reject("relay");
  }
  if (c.mail.size && *c.mail.size > policy_.max_message_size) {
    say("552 5.3.4 Message size exceeds fixed limit");
    return reject("size");
  }
  if (c.mail.body == BodyType::BinaryMime) {
    return protocol_error("555 5.5.4 Unsupported option: BODY=BINARYMIME", "syntax");
  }
  have_mail_ = true;
  envelope_ = Envelope{};
  envelope_.sender = c.path;
  envelope_.params = c.mail;
  recipients_limit_reported_ = false;
  state_ = ServerState::Mail;
  say("250 2.1.0 Ok");
}

void ServerSession::on_rcpt(const Command& c) {
  if (!have_helo_) return protocol_error(kSendHeloFirst, "sequence");
  if (!have_mail_) return protocol_error("503 5.5.1 Error: need MAIL command", "sequence");
  if (bdat_started_) return protocol_error("503 5.5.1 Error: RCPT after BDAT", "sequence");
  if (!may_relay()) {  // checked at MAIL already; kept in case the rules ever differ
    say("530 5.7.0 Authentication required");
    return reject("relay");
  }
  if (!c.path.mailbox) return protocol_error("501 5.1.3 Bad recipient address syntax", "syntax");
  if (envelope_.recipients.size() >= policy_.max_recipients) {
    say("452 4.5.3 Error: too many recipients");
    if (!recipients_limit_reported_) reject("recipients");
    recipients_limit_reported_ = true;
    return;
  }
  envelope_.recipients.push_back(Recipient{*c.path.mailbox, c.rcpt});
  state_ = ServerState::Rcpt;
  say("250 2.1.5 Ok");
}

void ServerSession::on_data() {
  if (!have_helo_) return protocol_error(kSendHeloFirst, "sequence");
  if (bdat_started_) return protocol_error("503 5.5.1 Error: DATA after BDAT", "sequence");
  if (envelope_.recipients.empty()) return protocol_error("554 5.5.1 Error: no valid recipients", "sequence");
  data_.start(DataReader::Framing::DotTerminated, policy_.max_message_size, reserve_hint());
  state_ = ServerState::Data;
  say("354 End data with <CR><LF>.<CR><LF>");
}

void ServerSession::on_bdat(const Command& c) {
  bdat_chunk_size_ = c.chunk_size;
  bdat_remaining_ = c.chunk_size;
  bdat_last_ = c.last_chunk;
  if (!have_helo_) {
    bdat_refusal_ = std::string(kSendHeloFirst);
  } else if (envelope_.recipients.empty()) {
    bdat_refusal_ = "503 5.5.1 Error: need RCPT command";
  }
  if (bdat_refusal_) {
    bdat_return_state_ = state_;  // the chunk's octets are skipped first (RFC 3030 §3: they are not commands)
  } else if (!bdat_started_) {
    bdat_started_ = true;
    data_.start(DataReader::Framing::Chunked, policy_.max_message_size, reserve_hint());
  }
  state_ = ServerState::Bdat;
  if (bdat_remaining_ == 0) finish_chunk();
}

void ServerSession::finish_chunk() {
  if (bdat_refusal_) {
    std::string refusal = std::move(*bdat_refusal_);
    bdat_refusal_.reset();
    state_ = bdat_return_state_;
    return protocol_error(refusal, "sequence");
  }
  if (!bdat_last_) {
    state_ = ServerState::Rcpt;
    return say("250 2.0.0 Ok: " + std::to_string(bdat_chunk_size_) + " octets received");
  }
  finish_message();
}

void ServerSession::finish_message() {
  switch (data_.finish()) {
    case DataReader::Verdict::Ok: break;
    case DataReader::Verdict::BareCr: return bare_newline("CR");
    case DataReader::Verdict::TooBig:
      say("552 5.3.4 Error: message file too big");
      reject("size");
      return reset_transaction();
    case DataReader::Verdict::LineTooLong:
      say("550 5.6.0 Error: message line longer than 1000 octets");
      reject("line_length");
      return reset_transaction();
    case DataReader::Verdict::NulCharacter:
      say("550 5.6.0 Error: message contains NUL characters");
      reject("syntax");
      return reset_transaction();
    case DataReader::Verdict::Incomplete:
      say("451 4.3.0 Error: internal error");
      return reset_transaction();
  }
  TransactionInfo info;
  info.helo = helo_;
  info.esmtp = esmtp_;
  info.tls = tls_active_;
  info.auth_user = auth_user_;
  info.has_message_id = data_.has_message_id();
  info.has_date = data_.has_date();
  emit(server::Enqueue{std::move(envelope_), data_.take_body(), std::move(info), transaction_});
  ++transaction_;
  envelope_ = Envelope{};
  state_ = ServerState::AwaitingCommit;
}

void ServerSession::on_starttls(const Command& c) {
  if (!c.argument.empty()) return protocol_error("501 5.5.4 Syntax: STARTTLS", "syntax");
  if (tls_active_) return protocol_error("503 5.5.1 Error: TLS already active", "sequence");
  if (!policy_.starttls_available) return say("454 4.7.0 TLS not available due to local problem");
  if (have_mail_) return protocol_error("503 5.5.1 Error: MAIL transaction in progress", "sequence");
  say("220 2.0.0 Ready to start TLS");
  emit(server::StartTls{});
  state_ = ServerState::AwaitingTls;
  // Whatever the client pipelined after STARTTLS is dropped, never executed
  // (CVE-2011-0411): consume() stops here and receive() ignores input until tls_ready().
  lines_.reset();
  input_ = std::string();
}

}  // namespace tern::smtp
