#pragma once
// ClientSession: the sending side of one SMTP connection, sans I/O, used by
// delivery workers and by `tern sendmail`. It reads the greeting, sends EHLO
// (HELO when EHLO is refused), parses the capabilities, runs STARTTLS and EHLO
// again when the policy asks, authenticates (PLAIN, else LOGIN), then carries
// messages: MAIL, RCPT..., DATA pipelined when PIPELINING is offered (RFC 2920),
// the body dot-stuffed, per-recipient results, RSET before each further message
// on a reused connection, QUIT. Every reply is classified (2xx/4xx/5xx) and kept
// with its enhanced code and text for the queue's history; every failure says
// what the client was doing (describe(state), as Postfix's xfer_states[]).
//
// Usage:
//   ClientSession c(policy);
//   c.send_message(envelope, body);          // body must stay alive until Finished
//   feed c.receive(bytes) / receive_eof() / tls_ready() / timer_fired();
//   while (auto a = c.next_action()) perform(*a);
//   on Finished: c.send_message(next...) if reusable, else c.quit();

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "smtp/dot_stuffer.h"
#include "smtp/envelope.h"
#include "smtp/reply.h"
#include "smtp/result.h"

namespace tern::smtp {

enum class ClientTls {
  None,           // never STARTTLS (or TLS is already up: implicit TLS, see ClientPolicy::tls_active)
  Opportunistic,  // STARTTLS when offered; if not offered, go on in plaintext
  Required,       // STARTTLS must be offered, else the delivery is deferred (transient, site scope)
};

struct ClientPolicy {
  std::string helo_name = "localhost";
  ClientTls tls = ClientTls::Opportunistic;
  bool tls_active = false;                     // implicit TLS (port 465): TLS is up before the greeting
  std::optional<std::string> auth_user;        // set: AUTH is required (relayhost); not offered → transient error
  std::string auth_password;
  std::chrono::milliseconds command_timeout{300000};   // every reply; the reply to the final dot waits 2× this
  std::size_t max_reply_bytes = 64 * 1024;     // buffered reply bytes beyond this: protocol error
  std::string peer_name;                       // for details: "mx1.example.org[192.0.2.7]"; set by the relay
};

struct Capabilities {
  std::string server_name;   // first word of the EHLO reply ("mx1.example.org"), as the server said it
  bool esmtp = false;        // EHLO accepted
  bool pipelining = false;
  bool starttls = false;
  bool eightbitmime = false;
  bool smtputf8 = false;
  bool chunking = false;
  bool dsn = false;
  bool enhanced_status_codes = false;
  std::optional<std::uint64_t> size;             // SIZE n (0 means no limit announced)
  std::vector<std::string> auth_mechanisms;      // upper-cased
};

// Reads a positive EHLO reply: the first line names the server, each further
// line starts with a keyword (case-insensitive; unknown ones are ignored).
// "AUTH=PLAIN LOGIN" (pre-RFC 4954 servers) counts as AUTH. A SIZE whose
// argument is missing or not a number is "SIZE 0", no limit. Never fails.
Capabilities parse_capabilities(const Reply& ehlo_reply);

// Where a failure applies (Postfix smtp_trouble.c): the whole site (try the
// next MX host or defer everything), this message, or one recipient.
enum class FailureScope { Site, Message, Recipient };

struct RecipientResult {
  enum class Status { Delivered, Transient, Permanent };
  Status status = Status::Transient;
  std::optional<Reply> reply;   // the server's reply that decided it, when there was one
  std::string detail;           // one sentence for logs and history:
                                // "mx1.example.org said: 550 5.1.1 no such user (while sending RCPT TO)"
};

namespace client {

struct Send {                   // write these bytes
  std::string bytes;
};
struct SendBody {               // write this slice of the caller's body unchanged (no copy)
  std::string_view bytes;
};
struct StartTls {};             // "220" to STARTTLS received: drop buffered input, handshake, tls_ready()/tls_failed()
struct ArmTimer {               // (re)start the reply timer
  std::chrono::milliseconds after;
};
struct Finished {               // the message given to send_message() is done
  std::vector<RecipientResult> recipients;  // one per envelope recipient, in envelope order
  std::optional<FailureScope> failure;      // set when not every recipient was decided by its own reply
  bool reusable = false;                    // the connection may carry another message (call send_message)
  bool tls = false;                         // the transaction ran under TLS
  bool tls_fallback_wanted = false;         // STARTTLS failed under Opportunistic: retry this host without TLS
};
struct Close {};                // close the connection (after QUIT, or on a fatal error)

}  // namespace client

using ClientAction = std::variant<client::Send, client::SendBody, client::StartTls, client::ArmTimer,
                                  client::Finished, client::Close>;

enum class ClientState {
  Banner,     // waiting for the 220 greeting
  Ehlo,       // EHLO sent
  Helo,       // HELO sent after EHLO was refused
  StartTls,   // STARTTLS sent, or handshake running
  Auth,       // AUTH exchange
  Idle,       // ready for a message (or waiting for one)
  Rset,       // RSET sent before a further message
  Mail,       // MAIL FROM sent
  Rcpt,       // RCPT TO sent
  Data,       // DATA sent, waiting for 354
  Dot,        // body and final dot sent, waiting for the final reply
  Quit,       // QUIT sent
  Done,       // closed
};

// Plain words for logs: "sending MAIL FROM", "sending end of data -- message may be sent more than once".
std::string_view describe(ClientState state);

class ClientSession {
 public:
  explicit ClientSession(ClientPolicy policy);  // first action: ArmTimer for the greeting

  // Queue a message. Allowed when no message is in progress (calling it while
  // one is in progress is our bug: abort); if the greeting, EHLO, TLS and AUTH
  // are not done yet it starts once they are; if the connection has already
  // failed or closed, Finished comes at once. `body` is the message with CRLF
  // line ends (not yet dot-stuffed); it must stay alive until this message's
  // Finished has been taken. The envelope is copied. With `head` (whole lines,
  // ending with CRLF) the message is head then body, sent without joining them.
  void send_message(const Envelope& envelope, std::string_view body) { send_message(envelope, {}, body); }
  void send_message(const Envelope& envelope, std::string_view head, std::string_view body);
  // QUIT as soon as the session is idle (after the message in progress, if
  // any), then Close once the reply, EOF or a timeout comes.
  void quit();

  void receive(std::string_view bytes);
  void receive_eof();             // connection lost: fails the message in progress (site scope)
  void tls_ready();               // handshake done: EHLO again
  void tls_failed(std::string_view why);
  // No reply in time: fails the message (after the dot: transient, may be
  // duplicated). Ignored while no reply is awaited (idle between messages:
  // idle connections are the relay's business).
  void timer_fired();

  std::optional<ClientAction> next_action();

  ClientState state() const { return state_; }
  const Capabilities& capabilities() const { return caps_; }
  bool tls_active() const { return tls_active_; }

 private:
  ClientPolicy policy_;
  ClientState state_ = ClientState::Banner;
  Capabilities caps_;
  bool tls_active_ = false;

  // One command of a transaction, in the order sent and answered.
  enum class Step { Rset, Mail, Rcpt, Data };
  struct Message {
    Envelope envelope;
    std::string_view head;
    std::string_view body;
    std::vector<RecipientResult> results;
    std::vector<bool> decided;
    std::vector<bool> accepted;            // RCPT got 2xx; waits for DATA and the final reply
    std::optional<FailureScope> failure;
    std::vector<Step> plan;                // RSET?, MAIL, RCPT..., DATA
    std::vector<std::string> commands;     // wire form of each plan step
    std::size_t sent = 0;                  // plan steps sent
    std::size_t answered = 0;              // plan steps whose reply was read
    std::size_t first_rcpt = 0;            // plan index of the first RCPT
    bool mail_failed = false;              // MAIL refused: RCPT/DATA replies are only consumed
    bool lone_dot = false;                 // 354 with no recipient accepted: only "." was sent
  };
  // A failure of the connection remembered for send_message() calls that come
  // after it (greeting refused before any message was queued, EOF while idle).
  struct SiteFailure {
    RecipientResult::Status status = RecipientResult::Status::Transient;
    std::optional<Reply> reply;
    std::string detail;
    bool tls_fallback_wanted = false;
  };
  enum class AuthMech { Plain, Login };
  enum class Ending { Quit, Close };
  struct BodyStream {    // in the queue: the dot-stuffed body goes out here, piece by piece
    DotStuffer stuffer;
  };
  using Queued = std::variant<ClientAction, BodyStream>;

  void push(ClientAction action);
  void send(std::string bytes);
  void arm();
  bool awaiting_reply() const;
  std::string_view peer() const;
  std::string_view in_reply_to() const;
  std::string said(const Reply& reply, std::string_view in_reply_to) const;
  void mask(std::string& text) const;
  void redact(Reply& reply) const;

  void handle_reply(Reply reply);
  void on_greeting(const Reply& reply);
  void on_ehlo(const Reply& reply);
  void on_helo(const Reply& reply);
  void on_starttls(const Reply& reply);
  void on_auth(const Reply& reply);
  void on_step(const Reply& reply);
  void on_dot(const Reply& reply);

  void after_hello();
  void start_auth();
  void enter_idle();
  void start_transaction();
  void send_next_step();
  void start_body();
  void enter_quit();

  void decide(std::size_t i, RecipientResult::Status status, const std::optional<Reply>& reply, std::string detail);
  void decide_undecided(RecipientResult::Status status, const std::optional<Reply>& reply, const std::string& detail,
                        FailureScope scope);
  void finish(bool reusable, bool tls_fallback_wanted = false);
  void finish_transaction();
  void site_failure(SiteFailure failure, Ending ending);
  void protocol_error(std::string_view what);

  ClientState step_state(Step step) const;
  std::string_view step_name(Step step) const;

  ReplyParser parser_;
  std::deque<Queued> actions_;
  std::optional<Message> msg_;
  std::optional<SiteFailure> dead_;
  bool handshaking_ = false;         // StartTls emitted, waiting for tls_ready()/tls_failed()
  bool starttls_refused_ = false;    // Opportunistic and the server refused STARTTLS: stay in plaintext
  bool need_rset_ = false;           // a transaction ran on this connection: RSET before the next
  bool quit_requested_ = false;
  bool armed_in_batch_ = false;
  AuthMech auth_mech_ = AuthMech::Plain;
  int auth_step_ = 0;                // 334 challenges answered
  std::string plain_response_;       // base64("\0user\0password")
  std::vector<std::string> secrets_; // password and the base64 we sent: masked in AUTH replies
};

}  // namespace tern::smtp
