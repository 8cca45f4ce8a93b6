#pragma once
// ServerSession: the submission server's side of one SMTP connection, sans
// I/O. relay/ feeds it bytes and facts (TLS is up, the password was right, the
// message is committed) and performs the actions it returns (send these bytes,
// start TLS, check this password, enqueue this message, close). It enforces the
// order of commands, the EHLO capability list, pipelining in order, RSET,
// RFC 3207's reset after STARTTLS, RFC 5321 line limits, DATA end detection
// on CRLF.CRLF only with dot-unstuffing, and BDAT (RFC 3030). A bare CR or LF
// in a command or in message data ends the session with a 5xx (SMTP smuggling
// never gets a foothold); a NUL in message text refuses the message (550).
// Peer input never throws: everything becomes a reply. Unparsed input is
// bounded (one line limit; kMaxPendingInput while an answer is pending).
//
// Usage (the relay's pump):
//   ServerSession s(policy, facts);          // queues the 220 greeting
//   s.receive(bytes);                        // any split
//   while (auto a = s.next_action()) perform(*a);
// While an answer is pending (Authenticate, Enqueue, StartTls) the session
// parses no further input; pipelined bytes stay buffered and are processed in
// order once the answer arrives.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "smtp/command.h"
#include "smtp/data_reader.h"
#include "smtp/envelope.h"
#include "smtp/line_reader.h"
#include "smtp/result.h"

namespace tern::smtp {

struct ServerPolicy {
  std::string hostname = "localhost";          // in the greeting, EHLO reply and Received:
  std::uint64_t max_message_size = 26214400;   // EHLO SIZE; 552 5.3.4 above it (at MAIL SIZE= and at end of data)
  std::size_t max_recipients = 100;            // 452 4.5.3 beyond it
  bool starttls_available = true;              // a certificate is loaded: offer STARTTLS before TLS
  bool require_auth = true;                    // MAIL refused with 530 5.7.0 unless authenticated or trusted
  std::chrono::milliseconds command_timeout{300000};   // ArmTimer value while waiting for the client (RFC 5321 §4.5.3.2.7)
  std::size_t max_auth_failures = 3;           // then 421 4.7.0 and close
};

// Facts about the connection, known when it is accepted.
struct ConnectionFacts {
  std::string client_address;   // "192.0.2.7" or "2001:db8::7", for Received: and logs
  bool implicit_tls = false;    // port 465: TLS is up from the start, no STARTTLS offered
  bool client_trusted = false;  // client address in submission.trusted_networks: may relay without AUTH
};

// What the relay needs to write the Received: header and record the message.
struct TransactionInfo {
  std::string helo;             // the EHLO/HELO argument
  bool esmtp = false;           // EHLO (not HELO) was used
  bool tls = false;             // the transaction ran under TLS
  std::string auth_user;        // empty when not authenticated
  std::string with_keyword() const;  // RFC 3848: SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA
  bool has_message_id = false;  // the header section has a Message-ID: field
  bool has_date = false;        // ... a Date: field
};

namespace server {

struct Send {                   // write these bytes (one or more replies)
  std::string bytes;
};
struct StartTls {};             // "220 Ready to start TLS" has been sent: the transport drops any bytes it
                                // buffered, handshakes, then calls tls_ready() or tls_failed()
struct Authenticate {           // check these credentials (off the loop); answer auth_result()
  std::string mechanism;        // "PLAIN" or "LOGIN"
  std::string authzid;          // PLAIN's authorization identity: empty or the user (others get 535)
  std::string user;
  std::string password;
};
struct Enqueue {                // store this message durably; answer enqueued()
  Envelope envelope;
  std::string body;             // the message as received: dot-unstuffed, CRLF line ends, no final ".\r\n";
                                // only what is left after the pieces taken with take_body()
  TransactionInfo info;
  std::uint64_t transaction = 0;  // ServerSession::transaction() while this message was read
};
struct ArmTimer {               // (re)start the idle timer; timer_fired() when it expires
  std::chrono::milliseconds after;
};
struct DisarmTimer {};          // we are waiting on ourselves (auth check, commit), not on the client
struct Rejected {               // a message or command was refused: count tern_messages_rejected_total{reason}
  std::string_view reason;      // "size", "recipients", "relay", "auth", "syntax", "bare_newline",
                                // "line_length", "storage", "timeout", "sequence"
};
struct Close {};                // flush pending sends, then close the connection

}  // namespace server

using ServerAction = std::variant<server::Send, server::StartTls, server::Authenticate, server::Enqueue,
                                  server::ArmTimer, server::DisarmTimer, server::Rejected, server::Close>;

enum class ServerState {
  Greeting,         // 220 queued, waiting for EHLO/HELO
  Ready,            // after EHLO/HELO (or RSET): waiting for MAIL
  AuthChallenge,    // AUTH in progress: waiting for a 334 response line
  AwaitingAuth,     // Authenticate emitted: waiting for auth_result()
  AwaitingTls,      // StartTls emitted: waiting for tls_ready()/tls_failed()
  Mail,             // MAIL accepted: waiting for RCPT
  Rcpt,             // at least one RCPT accepted: RCPT, DATA or BDAT
  Data,             // in DATA: reading message text until CRLF.CRLF
  Bdat,             // in a BDAT chunk: reading chunk_size octets
  AwaitingCommit,   // Enqueue emitted: waiting for enqueued()
  Closing,          // Close emitted; input ignored
};

std::string_view describe(ServerState state);  // "reading message data", "waiting for EHLO", ...

class ServerSession {
 public:
  // Queues the 220 greeting and an ArmTimer.
  ServerSession(const ServerPolicy& policy, ConnectionFacts facts);

  void receive(std::string_view bytes);
  void receive_eof();                       // the client closed: no reply, Close
  void timer_fired();                       // 421 4.4.2 timeout, Close
  void tls_ready();                         // handshake done: back to Greeting, EHLO required (RFC 3207 §4.2)
  void tls_failed();                        // handshake failed: Close (nothing can be sent in plaintext)
  // Answer to Authenticate: ok → 235 2.7.0; a permanent error → 535 5.7.8; a
  // transient error (account store unavailable) → 454 4.7.0.
  void auth_result(Status result);
  // Answer to Enqueue: the queue id → "250 2.0.0 Ok: queued as <id>"; a
  // transient error → 452 4.3.1 (disk full / database error); permanent → 554 5.3.0.
  void enqueued(Result<std::string> queue_id);
  // Shutting down (SIGTERM): 421 4.3.2 at the next command boundary, then Close.
  void shutdown();

  std::optional<ServerAction> next_action();

  ServerState state() const { return state_; }
  bool authenticated() const { return !auth_user_.empty(); }
  const std::string& auth_user() const { return auth_user_; }
  bool tls_active() const { return tls_active_; }
  // False while the session parses nothing (an answer is pending, or it is
  // closing): the relay may stop reading until it turns true again. Bytes given
  // meanwhile are kept, up to kMaxPendingInput; a client that pipelines more
  // than that without waiting gets 421 4.7.0 once the answer is out.
  bool wants_input() const;
  // Unparsed input held: pipelined bytes kept while waiting plus a partial
  // command line (at most one line limit). Message data is not counted: it
  // goes to the body as it arrives.
  std::size_t buffered_input() const { return input_.size() + lines_.buffered(); }

  // Message data read and kept so far in the transaction in progress. The
  // relay may take it in pieces to keep a large message out of memory (on
  // disk): Enqueue's body is then only the rest after the last piece taken.
  // Taken pieces belong to transaction(); once that number has moved on
  // without an Enqueue carrying it, the message was refused or abandoned and
  // the pieces are to be thrown away.
  std::size_t body_buffered() const { return data_.stored(); }
  std::string take_body() { return data_.take_body(); }
  std::uint64_t transaction() const { return transaction_; }

  static constexpr std::size_t kMaxErrors = 10;              // syntax/sequence errors, then 421 (Postfix smtpd_hard_error_limit)
  static constexpr std::size_t kMaxPendingInput = 64 * 1024;  // pipelined bytes kept while an answer is pending

 private:
  enum class AuthStep { None, PlainResponse, LoginUser, LoginPassword };

  // Input.
  void consume(std::string_view bytes);
  void consume_line(std::string_view& bytes);
  void consume_data(std::string_view& bytes);
  void consume_chunk(std::string_view& bytes);
  void stash(std::string_view bytes);
  void resume();

  // Commands (server_session_commands.cc, server_session_auth.cc).
  void on_command(std::string_view line);
  void on_helo(const Command& c);
  void on_mail(const Command& c);
  void on_rcpt(const Command& c);
  void on_data();
  void on_bdat(const Command& c);
  void on_starttls(const Command& c);
  void on_auth(Command& c);
  void on_auth_response(std::string_view line);
  void auth_plain(std::string decoded);
  void auth_login_user(std::string decoded);
  void challenge(std::string_view reply_line, AuthStep step);
  void end_auth();
  void auth_failed(std::string_view reply_line);
  void finish_chunk();
  void finish_message();
  void reset_transaction();
  bool may_relay() const;
  std::uint64_t reserve_hint() const;

  // Replies and actions.
  void say(std::string_view line);  // one reply line, CRLF added
  void reject(std::string_view reason);
  void protocol_error(std::string_view line, std::string_view reason);  // say() then count_error()
  void count_error(std::string_view reason);  // Rejected{reason}; the kMaxErrors-th closes with 421
  void bare_newline(std::string_view which);
  void emit(ServerAction action);
  void close();
  void flush();
  void finish_call();

  ServerPolicy policy_;
  ConnectionFacts facts_;
  ServerState state_ = ServerState::Greeting;
  bool tls_active_ = false;
  std::string auth_user_;
  std::deque<ServerAction> actions_;
  std::string input_;            // pipelined bytes kept while waiting on an answer
  bool input_overflow_ = false;  // more than kMaxPendingInput arrived while waiting
  LineReader lines_;
  DataReader data_;

  std::string out_;                          // replies not yet handed out as one Send
  std::deque<std::string_view> rejects_;     // Rejected reasons to hand out after that Send
  bool timer_armed_ = false;
  bool progress_ = false;                    // a complete line arrived (or a wait ended) in this call
  bool shutting_down_ = false;
  std::size_t error_count_ = 0;
  std::size_t auth_failures_ = 0;

  bool have_helo_ = false;
  bool esmtp_ = false;
  std::string helo_;

  bool have_mail_ = false;
  std::uint64_t transaction_ = 0;            // moves on when a transaction ends (Enqueue) or is reset
  Envelope envelope_;
  bool recipients_limit_reported_ = false;
  bool bdat_started_ = false;                // this transaction uses BDAT: DATA is refused
  std::uint64_t bdat_chunk_size_ = 0;
  std::uint64_t bdat_remaining_ = 0;
  bool bdat_last_ = false;
  std::optional<std::string> bdat_refusal_;  // a refused BDAT: its octets are skipped, then this reply
  ServerState bdat_return_state_ = ServerState::Greeting;

  AuthStep auth_step_ = AuthStep::None;
  std::string login_user_;
  std::string pending_auth_user_;
};

}  // namespace tern::smtp
