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
};

struct Capabilities {
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

  // Queue a message. Allowed when no message is in progress; if the greeting,
  // EHLO, TLS and AUTH are not done yet it starts once they are. `body` is the
  // message with CRLF line ends (not yet dot-stuffed); it must stay alive
  // until this message's Finished has been taken.
  void send_message(const Envelope& envelope, std::string_view body);
  void quit();                    // QUIT (when idle), then Close

  void receive(std::string_view bytes);
  void receive_eof();             // connection lost: fails the message in progress (site scope)
  void tls_ready();               // handshake done: EHLO again
  void tls_failed(std::string_view why);
  void timer_fired();             // no reply in time: fails the message (after the dot: transient, may be duplicated)

  std::optional<ClientAction> next_action();

  ClientState state() const { return state_; }
  const Capabilities& capabilities() const { return caps_; }
  bool tls_active() const { return tls_active_; }

 private:
  ClientPolicy policy_;
  ClientState state_ = ClientState::Banner;
  Capabilities caps_;
  bool tls_active_ = false;
  std::deque<ClientAction> actions_;
  // (the implementer adds members as needed)
};

}  // namespace tern::smtp
