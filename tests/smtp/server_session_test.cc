#include "smtp/server_session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "smtp/encoding.h"

namespace tern::smtp {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kHost = "mail.example.org";

enum class Answer { Ok, Transient, Permanent, Manual };

// Drives one ServerSession and records what it asks for. Answers Authenticate
// and Enqueue by itself unless told Manual, as the relay would, later.
struct Harness {
  explicit Harness(ServerPolicy p = policy(), ConnectionFacts f = {}) : s(p, std::move(f)) { pump(); }

  static ServerPolicy policy() {
    ServerPolicy p;
    p.hostname = std::string(kHost);
    p.command_timeout = 300s;
    return p;
  }

  void pump() {
    while (auto a = s.next_action()) {
      ASSERT_FALSE(closed) << "an action after Close";
      if (auto* send = std::get_if<server::Send>(&*a)) {
        ASSERT_FALSE(send->bytes.empty()) << "empty Send";
        sent += send->bytes;
        ++sends;
        kinds.emplace_back("Send");
      } else if (std::get_if<server::StartTls>(&*a)) {
        ++start_tls;
        kinds.emplace_back("StartTls");
      } else if (auto* auth = std::get_if<server::Authenticate>(&*a)) {
        auths.push_back(*auth);
        kinds.emplace_back("Authenticate");
        answer_auth();
      } else if (auto* enq = std::get_if<server::Enqueue>(&*a)) {
        messages.push_back(std::move(*enq));
        kinds.emplace_back("Enqueue");
        answer_enqueue();
      } else if (auto* arm = std::get_if<server::ArmTimer>(&*a)) {
        EXPECT_EQ(arm->after, 300000ms);
        ++arms;
        kinds.emplace_back("ArmTimer");
      } else if (std::get_if<server::DisarmTimer>(&*a)) {
        ++disarms;
        kinds.emplace_back("DisarmTimer");
      } else if (auto* rej = std::get_if<server::Rejected>(&*a)) {
        rejected.emplace_back(rej->reason);
        kinds.emplace_back("Rejected");
      } else if (std::get_if<server::Close>(&*a)) {
        closed = true;
        kinds.emplace_back("Close");
      }
    }
  }

  void answer_auth() {
    switch (auth_answer) {
      case Answer::Ok: s.auth_result(Status{}); break;
      case Answer::Transient: s.auth_result(Error::transient("account store down")); break;
      case Answer::Permanent: s.auth_result(Error::permanent("bad password")); break;
      case Answer::Manual: break;
    }
  }
  void answer_enqueue() {
    switch (store_answer) {
      case Answer::Ok: s.enqueued(std::string("Q") + std::to_string(messages.size())); break;
      case Answer::Transient: s.enqueued(Error::transient("disk full")); break;
      case Answer::Permanent: s.enqueued(Error::permanent("corrupt")); break;
      case Answer::Manual: break;
    }
  }

  void feed(std::string_view bytes) {
    s.receive(bytes);
    pump();
  }
  void feed_bytewise(std::string_view bytes) {
    for (char c : bytes) feed(std::string_view(&c, 1));
  }
  // Forget what was seen so far (after a prologue).
  void clear() {
    sent.clear();
    sends = 0;
    rejected.clear();
    kinds.clear();
  }

  ServerSession s;
  Answer auth_answer = Answer::Ok;
  Answer store_answer = Answer::Ok;
  std::string sent;
  int sends = 0;
  std::vector<std::string> kinds;
  std::vector<std::string> rejected;
  std::vector<server::Authenticate> auths;
  std::vector<server::Enqueue> messages;
  int start_tls = 0;
  int arms = 0;
  int disarms = 0;
  bool closed = false;
};

std::string plain(std::string_view user, std::string_view pass, std::string_view authzid = "") {
  std::string raw(authzid);
  raw.push_back('\0');
  raw.append(user);
  raw.push_back('\0');
  raw.append(pass);
  return base64_encode(raw);
}

std::string ehlo_reply(bool starttls, bool auth) {
  std::string r = "250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 26214400\r\n250-8BITMIME\r\n"
                  "250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250-CHUNKING\r\n";
  if (starttls) r += "250-STARTTLS\r\n";
  if (auth) r += "250-AUTH PLAIN LOGIN\r\n";
  return r + "250 DSN\r\n";
}

// ---- the table ----

enum class Start { Fresh, Ehlo, Authed, Mail, Rcpt };

struct Row {
  const char* name;
  Start start;
  std::string input;
  std::string replies;                 // everything sent after the prologue
  std::vector<std::string> rejected = {};
  bool closed = false;
  ServerState state = ServerState::Ready;
  std::size_t enqueued = 0;
  // Setup.
  bool implicit_tls = false;           // forced for Authed, Mail, Rcpt
  bool trusted = false;
  bool starttls_available = true;
  bool require_auth = true;
  std::size_t max_recipients = 100;
  std::uint64_t max_message_size = 26214400;
  Answer auth = Answer::Ok;
  Answer store = Answer::Ok;
};

const std::string kMail = "MAIL FROM:<alice@example.org>\r\n";
const std::string kRcpt = "RCPT TO:<bob@example.net>\r\n";
const std::string kQueued1 = "250 2.0.0 Ok: queued as Q1\r\n";
const std::string kHeloFirst = "503 5.5.1 Error: send HELO/EHLO first\r\n";

std::vector<Row> rows() {
  std::vector<Row> r = {
      // Before EHLO.
      {.name = "MAIL before EHLO", .start = Start::Fresh, .input = kMail, .replies = kHeloFirst,
       .rejected = {"sequence"}, .state = ServerState::Greeting},
      {.name = "RCPT before EHLO", .start = Start::Fresh, .input = kRcpt, .replies = kHeloFirst,
       .rejected = {"sequence"}, .state = ServerState::Greeting},
      {.name = "DATA before EHLO", .start = Start::Fresh, .input = "DATA\r\n", .replies = kHeloFirst,
       .rejected = {"sequence"}, .state = ServerState::Greeting},
      {.name = "NOOP before EHLO", .start = Start::Fresh, .input = "NOOP\r\n", .replies = "250 2.0.0 Ok\r\n",
       .state = ServerState::Greeting},
      {.name = "RSET before EHLO", .start = Start::Fresh, .input = "RSET\r\n", .replies = "250 2.0.0 Ok\r\n",
       .state = ServerState::Greeting},
      {.name = "HELP", .start = Start::Fresh, .input = "HELP\r\n",
       .replies = "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH\r\n",
       .state = ServerState::Greeting},
      {.name = "VRFY", .start = Start::Fresh, .input = "VRFY bob\r\n",
       .replies = "252 2.0.0 Cannot VRFY user, but will accept message\r\n", .state = ServerState::Greeting},
      {.name = "EXPN", .start = Start::Ehlo, .input = "EXPN staff\r\n",
       .replies = "502 5.5.1 Error: command not implemented\r\n"},
      {.name = "QUIT", .start = Start::Fresh, .input = "QUIT\r\n", .replies = "221 2.0.0 Bye\r\n", .closed = true,
       .state = ServerState::Closing},
      {.name = "unknown command", .start = Start::Ehlo, .input = "FOO bar\r\n",
       .replies = "500 5.5.2 Error: command not recognized\r\n", .rejected = {"syntax"}},
      {.name = "AUTH before EHLO", .start = Start::Fresh, .input = "AUTH PLAIN " + plain("u", "p") + "\r\n",
       .replies = kHeloFirst, .rejected = {"sequence"}, .state = ServerState::Greeting, .implicit_tls = true},
      {.name = "BDAT before EHLO skips its octets", .start = Start::Fresh, .input = "BDAT 6\r\nQUIT\r\n",
       .replies = kHeloFirst, .rejected = {"sequence"}, .state = ServerState::Greeting},

      // EHLO / HELO.
      {.name = "HELO", .start = Start::Fresh, .input = "HELO client.example\r\n",
       .replies = "250 mail.example.org\r\n"},
      {.name = "EHLO in plaintext", .start = Start::Fresh, .input = "EHLO client.example\r\n",
       .replies = ehlo_reply(true, false)},
      {.name = "EHLO under implicit TLS", .start = Start::Fresh, .input = "EHLO client.example\r\n",
       .replies = ehlo_reply(false, true), .implicit_tls = true},
      {.name = "EHLO without a certificate", .start = Start::Fresh, .input = "EHLO client.example\r\n",
       .replies = ehlo_reply(false, false), .starttls_available = false},
      {.name = "EHLO again resets the transaction", .start = Start::Rcpt, .input = "EHLO c\r\nDATA\r\n",
       .replies = ehlo_reply(false, true) + "554 5.5.1 Error: no valid recipients\r\n", .rejected = {"sequence"}},

      // MAIL.
      {.name = "MAIL without AUTH", .start = Start::Ehlo, .input = kMail,
       .replies = "530 5.7.0 Authentication required\r\n", .rejected = {"relay"}},
      {.name = "MAIL from a trusted network", .start = Start::Ehlo, .input = kMail,
       .replies = "250 2.1.0 Ok\r\n", .state = ServerState::Mail, .trusted = true},
      {.name = "MAIL when AUTH is not required", .start = Start::Ehlo, .input = kMail,
       .replies = "250 2.1.0 Ok\r\n", .state = ServerState::Mail, .require_auth = false},
      {.name = "MAIL after AUTH", .start = Start::Authed, .input = kMail, .replies = "250 2.1.0 Ok\r\n",
       .state = ServerState::Mail},
      {.name = "null sender", .start = Start::Authed, .input = "MAIL FROM:<>\r\n", .replies = "250 2.1.0 Ok\r\n",
       .state = ServerState::Mail},
      {.name = "nested MAIL", .start = Start::Mail, .input = kMail,
       .replies = "503 5.5.1 Error: nested MAIL command\r\n", .rejected = {"sequence"}, .state = ServerState::Mail},
      {.name = "SIZE over the limit", .start = Start::Authed, .input = "MAIL FROM:<a@example.org> SIZE=26214401\r\n",
       .replies = "552 5.3.4 Message size exceeds fixed limit\r\n", .rejected = {"size"}},
      {.name = "SIZE at the limit", .start = Start::Authed, .input = "MAIL FROM:<a@example.org> SIZE=26214400\r\n",
       .replies = "250 2.1.0 Ok\r\n", .state = ServerState::Mail},
      {.name = "BODY=BINARYMIME", .start = Start::Authed, .input = "MAIL FROM:<a@example.org> BODY=BINARYMIME\r\n",
       .replies = "555 5.5.4 Unsupported option: BODY=BINARYMIME\r\n", .rejected = {"syntax"}},
      {.name = "BODY=8BITMIME", .start = Start::Authed, .input = "MAIL FROM:<a@example.org> BODY=8BITMIME\r\n",
       .replies = "250 2.1.0 Ok\r\n", .state = ServerState::Mail},
      {.name = "UTF-8 sender without SMTPUTF8", .start = Start::Authed, .input = "MAIL FROM:<j\xc3\xb6rg@example.org>\r\n",
       .replies = "501 5.1.7 Bad sender address syntax\r\n", .rejected = {"syntax"}},
      {.name = "UTF-8 recipient without SMTPUTF8", .start = Start::Mail, .input = "RCPT TO:<j\xc3\xb6rg@example.org>\r\n",
       .replies = "501 5.1.3 Bad recipient address syntax\r\n", .rejected = {"syntax"}, .state = ServerState::Mail},
      {.name = "UTF-8 sender with SMTPUTF8", .start = Start::Authed,
       .input = "MAIL FROM:<j\xc3\xb6rg@example.org> SMTPUTF8\r\n", .replies = "250 2.1.0 Ok\r\n",
       .state = ServerState::Mail},

      // RCPT.
      {.name = "RCPT before MAIL", .start = Start::Authed, .input = kRcpt,
       .replies = "503 5.5.1 Error: need MAIL command\r\n", .rejected = {"sequence"}},
      {.name = "RCPT", .start = Start::Mail, .input = kRcpt, .replies = "250 2.1.5 Ok\r\n",
       .state = ServerState::Rcpt},
      {.name = "RCPT Postmaster", .start = Start::Mail, .input = "RCPT TO:<Postmaster>\r\n",
       .replies = "250 2.1.5 Ok\r\n", .state = ServerState::Rcpt},
      {.name = "UTF-8 recipient in an SMTPUTF8 transaction", .start = Start::Authed,
       .input = "MAIL FROM:<a@example.org> SMTPUTF8\r\nRCPT TO:<j\xc3\xb6rg@b\xc3\xbc" "cher.example>\r\n",
       .replies = "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n", .state = ServerState::Rcpt},
      {.name = "too many recipients", .start = Start::Mail,
       .input = "RCPT TO:<a@x.example>\r\nRCPT TO:<b@x.example>\r\nRCPT TO:<c@x.example>\r\nRCPT TO:<d@x.example>\r\n",
       .replies = "250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n452 4.5.3 Error: too many recipients\r\n"
                  "452 4.5.3 Error: too many recipients\r\n",
       .rejected = {"recipients"}, .state = ServerState::Rcpt, .max_recipients = 2},

      // DATA.
      {.name = "DATA without MAIL", .start = Start::Authed, .input = "DATA\r\n",
       .replies = "554 5.5.1 Error: no valid recipients\r\n", .rejected = {"sequence"}},
      {.name = "DATA without RCPT", .start = Start::Mail, .input = "DATA\r\n",
       .replies = "554 5.5.1 Error: no valid recipients\r\n", .rejected = {"sequence"}, .state = ServerState::Mail},
      {.name = "DATA with an argument", .start = Start::Rcpt, .input = "DATA now\r\n",
       .replies = "501 5.5.4 Syntax: DATA\r\n", .rejected = {"syntax"}, .state = ServerState::Rcpt},
      {.name = "control character in a command", .start = Start::Ehlo, .input = std::string("NOOP\0\r\n", 7),
       .replies = "501 5.5.2 Syntax error: control character in command\r\n", .rejected = {"syntax"}},
      {.name = "DATA", .start = Start::Rcpt, .input = "DATA\r\n",
       .replies = "354 End data with <CR><LF>.<CR><LF>\r\n", .state = ServerState::Data},
      {.name = "a message", .start = Start::Rcpt, .input = "DATA\r\nSubject: hi\r\n\r\nhello\r\n.\r\n",
       .replies = "354 End data with <CR><LF>.<CR><LF>\r\n" + kQueued1, .enqueued = 1},
      {.name = "storage full", .start = Start::Rcpt, .input = "DATA\r\nhello\r\n.\r\n",
       .replies = "354 End data with <CR><LF>.<CR><LF>\r\n452 4.3.1 Insufficient system storage\r\n",
       .rejected = {"storage"}, .enqueued = 1, .store = Answer::Transient},
      {.name = "storage refuses", .start = Start::Rcpt, .input = "DATA\r\nhello\r\n.\r\n",
       .replies = "354 End data with <CR><LF>.<CR><LF>\r\n554 5.3.0 Error: message not accepted\r\n",
       .rejected = {"storage"}, .enqueued = 1, .store = Answer::Permanent},
      {.name = "bare LF in DATA", .start = Start::Rcpt, .input = "DATA\r\nhello\nworld\r\n.\r\n",
       .replies = "354 End data with <CR><LF>.<CR><LF>\r\n521 5.5.2 mail.example.org Error: bare <LF> received\r\n",
       .rejected = {"bare_newline"}, .closed = true, .state = ServerState::Closing},
      {.name = "bare CR in DATA", .start = Start::Rcpt, .input = "DATA\r\nhello\rworld\r\n.\r\n",
       .replies = "354 End data with <CR><LF>.<CR><LF>\r\n521 5.5.2 mail.example.org Error: bare <CR> received\r\n",
       .rejected = {"bare_newline"}, .closed = true, .state = ServerState::Closing},
      {.name = "text line too long", .start = Start::Rcpt,
       .input = "DATA\r\n" + std::string(1200, 'x') + "\r\nmore\r\n.\r\nNOOP\r\n",
       .replies = "354 End data with <CR><LF>.<CR><LF>\r\n550 5.6.0 Error: message line longer than 1000 octets\r\n"
                  "250 2.0.0 Ok\r\n",
       .rejected = {"line_length"}},
      {.name = "message too big", .start = Start::Rcpt,
       .input = "DATA\r\n" + std::string(80, 'x') + "\r\n" + std::string(80, 'y') + "\r\n.\r\nNOOP\r\n",
       .replies = "354 End data with <CR><LF>.<CR><LF>\r\n552 5.3.4 Error: message file too big\r\n250 2.0.0 Ok\r\n",
       .rejected = {"size"}, .max_message_size = 100},
      {.name = "NUL in DATA", .start = Start::Rcpt, .input = std::string("DATA\r\na\0b\r\n.\r\n", 14),
       .replies = "354 End data with <CR><LF>.<CR><LF>\r\n550 5.6.0 Error: message contains NUL characters\r\n",
       .rejected = {"syntax"}},

      // BDAT.
      {.name = "BDAT LAST", .start = Start::Rcpt, .input = "BDAT 7 LAST\r\nhello\r\n", .replies = kQueued1,
       .enqueued = 1},
      {.name = "BDAT chunks", .start = Start::Rcpt, .input = "BDAT 3\r\nabcBDAT 4 LAST\r\nde\r\n",
       .replies = "250 2.0.0 Ok: 3 octets received\r\n" + kQueued1, .enqueued = 1},
      {.name = "BDAT 0 LAST", .start = Start::Rcpt, .input = "BDAT 0 LAST\r\n", .replies = kQueued1, .enqueued = 1},
      {.name = "BDAT then BDAT 0 LAST", .start = Start::Rcpt, .input = "BDAT 4\r\nab\r\nBDAT 0 LAST\r\n",
       .replies = "250 2.0.0 Ok: 4 octets received\r\n" + kQueued1, .enqueued = 1},
      {.name = "BDAT without RCPT consumes its octets", .start = Start::Mail, .input = "BDAT 6\r\nRSET\r\nNOOP\r\n",
       .replies = "503 5.5.1 Error: need RCPT command\r\n250 2.0.0 Ok\r\n", .rejected = {"sequence"},
       .state = ServerState::Mail},
      {.name = "DATA after BDAT", .start = Start::Rcpt, .input = "BDAT 2\r\nabDATA\r\n",
       .replies = "250 2.0.0 Ok: 2 octets received\r\n503 5.5.1 Error: DATA after BDAT\r\n",
       .rejected = {"sequence"}, .state = ServerState::Rcpt},
      {.name = "RCPT after BDAT", .start = Start::Rcpt, .input = "BDAT 2\r\nab" + kRcpt,
       .replies = "250 2.0.0 Ok: 2 octets received\r\n503 5.5.1 Error: RCPT after BDAT\r\n",
       .rejected = {"sequence"}, .state = ServerState::Rcpt},
      {.name = "CRLF split across chunks", .start = Start::Rcpt, .input = "BDAT 2\r\na\rBDAT 4 LAST\r\n\nb\r\n",
       .replies = "250 2.0.0 Ok: 2 octets received\r\n" + kQueued1, .enqueued = 1},
      {.name = "bare LF in a later chunk", .start = Start::Rcpt, .input = "BDAT 2\r\na\rBDAT 3 LAST\r\n\nb\n",
       .replies = "250 2.0.0 Ok: 2 octets received\r\n521 5.5.2 mail.example.org Error: bare <LF> received\r\n",
       .rejected = {"bare_newline"}, .closed = true, .state = ServerState::Closing},
      {.name = "bare CR ends the last chunk", .start = Start::Rcpt, .input = "BDAT 2 LAST\r\na\r",
       .replies = "521 5.5.2 mail.example.org Error: bare <CR> received\r\n", .rejected = {"bare_newline"},
       .closed = true, .state = ServerState::Closing},
      {.name = "BDAT over the size limit", .start = Start::Rcpt,
       .input = "BDAT 82\r\n" + std::string(80, 'x') + "\r\nBDAT 82 LAST\r\n" + std::string(80, 'x') + "\r\n",
       .replies = "250 2.0.0 Ok: 82 octets received\r\n552 5.3.4 Error: message file too big\r\n",
       .rejected = {"size"}, .max_message_size = 100},
      {.name = "malformed BDAT hangs up", .start = Start::Rcpt, .input = "BDAT lots\r\nMAIL FROM:<x@y.example>\r\n",
       .replies = "501 5.5.4 Syntax: BDAT chunk-size [LAST]\r\n", .rejected = {"syntax"}, .closed = true,
       .state = ServerState::Closing},

      // RSET.
      {.name = "RSET clears the transaction", .start = Start::Rcpt, .input = "RSET\r\n" + kMail,
       .replies = "250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n", .state = ServerState::Mail},

      // STARTTLS.
      {.name = "STARTTLS", .start = Start::Ehlo, .input = "STARTTLS\r\n",
       .replies = "220 2.0.0 Ready to start TLS\r\n", .state = ServerState::AwaitingTls},
      {.name = "STARTTLS under TLS", .start = Start::Ehlo, .input = "STARTTLS\r\n",
       .replies = "503 5.5.1 Error: TLS already active\r\n", .rejected = {"sequence"}, .implicit_tls = true},
      {.name = "STARTTLS without a certificate", .start = Start::Ehlo, .input = "STARTTLS\r\n",
       .replies = "454 4.7.0 TLS not available due to local problem\r\n", .starttls_available = false},
      {.name = "STARTTLS with an argument", .start = Start::Ehlo, .input = "STARTTLS now\r\n",
       .replies = "501 5.5.4 Syntax: STARTTLS\r\n", .rejected = {"syntax"}},
      {.name = "STARTTLS in a transaction", .start = Start::Ehlo, .input = kMail + "STARTTLS\r\n",
       .replies = "250 2.1.0 Ok\r\n503 5.5.1 Error: MAIL transaction in progress\r\n", .rejected = {"sequence"},
       .state = ServerState::Mail, .trusted = true},

      // AUTH.
      {.name = "AUTH in plaintext", .start = Start::Ehlo, .input = "AUTH PLAIN " + plain("u", "p") + "\r\n",
       .replies = "538 5.7.11 Encryption required for requested authentication mechanism\r\n",
       .rejected = {"auth"}},
      {.name = "AUTH unknown mechanism", .start = Start::Ehlo, .input = "AUTH CRAM-MD5\r\n",
       .replies = "504 5.5.4 Unrecognized authentication type\r\n", .rejected = {"syntax"}, .implicit_tls = true},
      {.name = "AUTH twice", .start = Start::Authed, .input = "AUTH PLAIN " + plain("u", "p") + "\r\n",
       .replies = "503 5.5.1 Error: already authenticated\r\n", .rejected = {"sequence"}},
      {.name = "AUTH in a transaction", .start = Start::Ehlo, .input = kMail + "AUTH LOGIN\r\n",
       .replies = "250 2.1.0 Ok\r\n503 5.5.1 Error: MAIL transaction in progress\r\n", .rejected = {"sequence"},
       .state = ServerState::Mail, .implicit_tls = true, .trusted = true},
      {.name = "AUTH PLAIN initial response", .start = Start::Ehlo,
       .input = "AUTH PLAIN " + plain("alice", "secret") + "\r\n",
       .replies = "235 2.7.0 Authentication successful\r\n", .implicit_tls = true},
      {.name = "AUTH PLAIN challenge", .start = Start::Ehlo, .input = "AUTH PLAIN\r\n" + plain("alice", "s") + "\r\n",
       .replies = "334 \r\n235 2.7.0 Authentication successful\r\n", .implicit_tls = true},
      {.name = "AUTH LOGIN", .start = Start::Ehlo, .input = "AUTH LOGIN\r\nYWxpY2U=\r\nc2VjcmV0\r\n",
       .replies = "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 2.7.0 Authentication successful\r\n",
       .implicit_tls = true},
      {.name = "AUTH LOGIN with the user name", .start = Start::Ehlo, .input = "AUTH LOGIN YWxpY2U=\r\nc2VjcmV0\r\n",
       .replies = "334 UGFzc3dvcmQ6\r\n235 2.7.0 Authentication successful\r\n", .implicit_tls = true},
      {.name = "AUTH cancelled", .start = Start::Ehlo, .input = "AUTH PLAIN\r\n*\r\n",
       .replies = "334 \r\n501 5.7.0 Authentication aborted\r\n", .rejected = {"auth"}, .implicit_tls = true},
      {.name = "AUTH LOGIN cancelled at the password", .start = Start::Ehlo, .input = "AUTH LOGIN YWxpY2U=\r\n*\r\n",
       .replies = "334 UGFzc3dvcmQ6\r\n501 5.7.0 Authentication aborted\r\n", .rejected = {"auth"},
       .implicit_tls = true},
      {.name = "AUTH bad base64", .start = Start::Ehlo, .input = "AUTH PLAIN\r\n!!!!\r\n",
       .replies = "334 \r\n501 5.5.2 Cannot decode response\r\n", .rejected = {"syntax"}, .implicit_tls = true},
      {.name = "AUTH bad base64 initial response", .start = Start::Ehlo, .input = "AUTH LOGIN a\r\n",
       .replies = "501 5.5.2 Cannot decode response\r\n", .rejected = {"syntax"}, .implicit_tls = true},
      {.name = "AUTH PLAIN as the user itself", .start = Start::Ehlo,
       .input = "AUTH PLAIN " + plain("alice", "secret", "alice") + "\r\n",
       .replies = "235 2.7.0 Authentication successful\r\n", .implicit_tls = true},
      {.name = "AUTH PLAIN as someone else", .start = Start::Ehlo,
       .input = "AUTH PLAIN " + plain("alice", "secret", "bob") + "\r\nNOOP\r\n",
       .replies = "535 5.7.8 Error: authorization identity must be empty or the user name\r\n250 2.0.0 Ok\r\n",
       .rejected = {"auth"}, .implicit_tls = true},
      {.name = "AUTH PLAIN with one NUL", .start = Start::Ehlo,
       .input = "AUTH PLAIN " + base64_encode(std::string("alice\0secret", 12)) + "\r\n",
       .replies = "501 5.5.2 Error: malformed PLAIN response\r\n", .rejected = {"syntax"}, .implicit_tls = true},
      {.name = "AUTH PLAIN empty initial response", .start = Start::Ehlo, .input = "AUTH PLAIN =\r\n",
       .replies = "501 5.5.2 Error: malformed PLAIN response\r\n", .rejected = {"syntax"}, .implicit_tls = true},
      {.name = "AUTH failed", .start = Start::Ehlo, .input = "AUTH PLAIN " + plain("alice", "wrong") + "\r\n",
       .replies = "535 5.7.8 Error: authentication failed\r\n", .rejected = {"auth"}, .implicit_tls = true,
       .auth = Answer::Permanent},
      {.name = "AUTH store unavailable", .start = Start::Ehlo, .input = "AUTH PLAIN " + plain("alice", "x") + "\r\n",
       .replies = "454 4.7.0 Temporary authentication failure\r\n", .implicit_tls = true,
       .auth = Answer::Transient},
      {.name = "too many AUTH failures", .start = Start::Ehlo,
       .input = "AUTH PLAIN " + plain("a", "1") + "\r\nAUTH PLAIN " + plain("a", "2") + "\r\nAUTH PLAIN " +
                plain("a", "3") + "\r\nNOOP\r\n",
       .replies = "535 5.7.8 Error: authentication failed\r\n535 5.7.8 Error: authentication failed\r\n"
                  "535 5.7.8 Error: authentication failed\r\n"
                  "421 4.7.0 mail.example.org Error: too many authentication failures\r\n",
       .rejected = {"auth", "auth", "auth"}, .closed = true, .state = ServerState::Closing, .implicit_tls = true,
       .auth = Answer::Permanent},
      {.name = "long AUTH line", .start = Start::Ehlo,
       .input = "AUTH PLAIN " + plain("alice", std::string(3000, 'p')) + "\r\n",
       .replies = "235 2.7.0 Authentication successful\r\n", .implicit_tls = true},

      // Limits.
      {.name = "command line too long", .start = Start::Ehlo, .input = std::string(600, 'x') + "\r\nNOOP\r\n",
       .replies = "500 5.5.2 Error: line too long\r\n250 2.0.0 Ok\r\n", .rejected = {"line_length"}},
      {.name = "command line of 512", .start = Start::Ehlo, .input = "NOOP " + std::string(505, 'x') + "\r\n",
       .replies = "250 2.0.0 Ok\r\n"},
      {.name = "long AUTH response line", .start = Start::Ehlo,
       .input = "AUTH PLAIN\r\n" + plain("alice", std::string(3000, 'p')) + "\r\n",
       .replies = "334 \r\n235 2.7.0 Authentication successful\r\n", .implicit_tls = true},
      {.name = "bare LF in a command", .start = Start::Ehlo, .input = "NOOP\nNOOP\r\n",
       .replies = "521 5.5.2 mail.example.org Error: bare <LF> received\r\n", .rejected = {"bare_newline"},
       .closed = true, .state = ServerState::Closing},
      {.name = "bare CR in a command", .start = Start::Ehlo, .input = "NOOP\rNOOP\r\n",
       .replies = "521 5.5.2 mail.example.org Error: bare <CR> received\r\n", .rejected = {"bare_newline"},
       .closed = true, .state = ServerState::Closing},

      // Pipelining.
      {.name = "pipelined transaction", .start = Start::Authed,
       .input = kMail + kRcpt + "RCPT TO:<carol@example.net>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n",
       .replies = "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n" +
                  kQueued1 + "221 2.0.0 Bye\r\n",
       .closed = true, .state = ServerState::Closing, .enqueued = 1},
      {.name = "two pipelined messages", .start = Start::Authed,
       .input = kMail + kRcpt + "DATA\r\none\r\n.\r\n" + kMail + kRcpt + "BDAT 5 LAST\r\ntwo\r\n",
       .replies = "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n" + kQueued1 +
                  "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: queued as Q2\r\n",
       .enqueued = 2},
  };
  std::string ten_errors;
  std::string ten_replies;
  for (int i = 0; i < 10; ++i) {
    ten_errors += "FOO\r\n";
    ten_replies += "500 5.5.2 Error: command not recognized\r\n";
  }
  r.push_back({.name = "too many errors", .start = Start::Ehlo, .input = ten_errors + "NOOP\r\n",
               .replies = ten_replies + "421 4.7.0 mail.example.org Error: too many errors\r\n",
               .rejected = std::vector<std::string>(10, "syntax"), .closed = true, .state = ServerState::Closing});
  return r;
}

enum class Mode { Whole, Bytewise, Split };

// Runs a row's prologue; returns the harness ready for the row's input.
std::unique_ptr<Harness> start(const Row& row) {
  ServerPolicy p = Harness::policy();
  p.starttls_available = row.starttls_available;
  p.require_auth = row.require_auth;
  p.max_recipients = row.max_recipients;
  p.max_message_size = row.max_message_size;
  ConnectionFacts f;
  f.client_address = "192.0.2.7";
  f.implicit_tls = row.implicit_tls || row.start >= Start::Authed;
  f.client_trusted = row.trusted;
  auto h = std::make_unique<Harness>(p, f);
  std::string prologue;
  if (row.start >= Start::Ehlo) prologue += "EHLO client.example\r\n";
  if (row.start >= Start::Authed) prologue += "AUTH PLAIN " + plain("alice", "secret") + "\r\n";
  if (row.start >= Start::Mail) prologue += kMail;
  if (row.start >= Start::Rcpt) prologue += kRcpt;
  h->feed(prologue);
  EXPECT_FALSE(h->closed);
  h->clear();
  h->messages.clear();
  h->auth_answer = row.auth;
  h->store_answer = row.store;
  return h;
}

void check(const Row& row, Harness& h, const std::string& how) {
  SCOPED_TRACE(std::string(row.name) + " fed " + how);
  EXPECT_EQ(h.sent, row.replies);
  EXPECT_EQ(h.rejected, row.rejected);
  EXPECT_EQ(h.closed, row.closed);
  EXPECT_EQ(h.s.state(), row.state) << describe(h.s.state());
  EXPECT_EQ(h.messages.size(), row.enqueued);
}

TEST(ServerSession, TableWhole) {
  for (const Row& row : rows()) {
    auto h = start(row);
    h->feed(row.input);
    check(row, *h, "whole");
  }
}

TEST(ServerSession, TableBytewise) {
  for (const Row& row : rows()) {
    auto h = start(row);
    h->feed_bytewise(row.input);
    check(row, *h, "byte by byte");
  }
}

TEST(ServerSession, TableEverySplit) {
  for (const Row& row : rows()) {
    if (row.input.size() > 400) continue;  // the long-line rows are covered whole and byte by byte
    for (std::size_t cut = 1; cut < row.input.size(); ++cut) {
      auto h = start(row);
      h->feed(std::string_view(row.input).substr(0, cut));
      h->feed(std::string_view(row.input).substr(cut));
      check(row, *h, "split at " + std::to_string(cut));
    }
  }
}

TEST(ServerSession, TableWithTrailingCommand) {
  // h11's "with trailing data": a pipelined NOOP after the row still works.
  for (const Row& row : rows()) {
    if (row.closed || row.state == ServerState::Data || row.state == ServerState::AwaitingTls) continue;
    auto h = start(row);
    h->feed(row.input + "NOOP\r\n");
    EXPECT_EQ(h->sent, row.replies + "250 2.0.0 Ok\r\n") << row.name;
    EXPECT_EQ(h->s.state(), row.state) << row.name;
  }
}

// ---- whole sessions ----

ConnectionFacts plaintext_facts() {
  ConnectionFacts f;
  f.client_address = "192.0.2.7";
  return f;
}

TEST(ServerSession, GreetingAndTimer) {
  Harness h;
  EXPECT_EQ(h.sent, "220 mail.example.org ESMTP tern\r\n");
  EXPECT_EQ(h.kinds, (std::vector<std::string>{"Send", "ArmTimer"}));
  EXPECT_EQ(h.s.state(), ServerState::Greeting);
  EXPECT_FALSE(h.s.tls_active());
  EXPECT_TRUE(h.s.wants_input());
}

TEST(ServerSession, FullSubmissionWithStartTls) {
  Harness h(Harness::policy(), plaintext_facts());
  h.auth_answer = Answer::Manual;
  h.store_answer = Answer::Manual;
  h.clear();
  h.feed("EHLO client.example\r\n");
  EXPECT_EQ(h.sent, ehlo_reply(true, false));
  h.clear();
  h.feed("STARTTLS\r\n");
  EXPECT_EQ(h.sent, "220 2.0.0 Ready to start TLS\r\n");
  EXPECT_EQ(h.kinds, (std::vector<std::string>{"Send", "StartTls", "ArmTimer"}));
  EXPECT_EQ(h.s.state(), ServerState::AwaitingTls);
  h.clear();
  h.s.tls_ready();
  h.pump();
  EXPECT_TRUE(h.s.tls_active());
  EXPECT_EQ(h.s.state(), ServerState::Greeting);
  EXPECT_EQ(h.sent, "");  // RFC 3207: no new greeting; the client speaks first
  h.feed("EHLO client.example\r\n");
  EXPECT_EQ(h.sent, ehlo_reply(false, true));
  h.clear();

  h.feed("AUTH PLAIN " + plain("alice", "s3cret") + "\r\n");
  ASSERT_EQ(h.auths.size(), 1u);
  EXPECT_EQ(h.auths[0].mechanism, "PLAIN");
  EXPECT_EQ(h.auths[0].authzid, "");
  EXPECT_EQ(h.auths[0].user, "alice");
  EXPECT_EQ(h.auths[0].password, "s3cret");
  EXPECT_EQ(h.s.state(), ServerState::AwaitingAuth);
  EXPECT_EQ(h.kinds, (std::vector<std::string>{"Authenticate", "DisarmTimer"}));
  EXPECT_FALSE(h.s.wants_input());
  h.clear();
  h.s.auth_result(Status{});
  h.pump();
  EXPECT_EQ(h.sent, "235 2.7.0 Authentication successful\r\n");
  EXPECT_EQ(h.kinds, (std::vector<std::string>{"Send", "ArmTimer"}));
  EXPECT_TRUE(h.s.authenticated());
  EXPECT_EQ(h.s.auth_user(), "alice");
  h.clear();

  h.feed("MAIL FROM:<alice@example.org> SIZE=40 BODY=8BITMIME\r\nRCPT TO:<bob@example.net> NOTIFY=FAILURE\r\n"
         "RCPT TO:<carol@example.com>\r\nDATA\r\n");
  EXPECT_EQ(h.sent, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
  EXPECT_EQ(h.sends, 1) << "pipelined replies go out in one Send";
  h.clear();
  h.feed("Message-ID: <1@example.org>\r\nSubject: hi\r\n\r\n..leading dot\r\nbody\r\n.\r\n");
  ASSERT_EQ(h.messages.size(), 1u);
  EXPECT_EQ(h.s.state(), ServerState::AwaitingCommit);
  EXPECT_EQ(h.sent, "");  // 250 only after the commit
  const server::Enqueue& m = h.messages[0];
  EXPECT_EQ(m.envelope.sender.str(), "<alice@example.org>");
  EXPECT_EQ(m.envelope.params.size, std::optional<std::uint64_t>(40));
  EXPECT_EQ(m.envelope.params.body, BodyType::EightBitMime);
  ASSERT_EQ(m.envelope.recipients.size(), 2u);
  EXPECT_EQ(m.envelope.recipients[0].mailbox.str(), "bob@example.net");
  EXPECT_TRUE(m.envelope.recipients[0].params.notify_failure);
  EXPECT_EQ(m.envelope.recipients[1].mailbox.str(), "carol@example.com");
  EXPECT_EQ(m.body, "Message-ID: <1@example.org>\r\nSubject: hi\r\n\r\n.leading dot\r\nbody\r\n");
  EXPECT_GE(m.body.capacity(), 40u) << "reserved from SIZE=";
  EXPECT_EQ(m.info.helo, "client.example");
  EXPECT_TRUE(m.info.esmtp);
  EXPECT_TRUE(m.info.tls);
  EXPECT_EQ(m.info.auth_user, "alice");
  EXPECT_EQ(m.info.with_keyword(), "ESMTPSA");
  EXPECT_TRUE(m.info.has_message_id);
  EXPECT_FALSE(m.info.has_date);
  h.clear();
  h.s.enqueued(std::string("01J9Z3"));
  h.pump();
  EXPECT_EQ(h.sent, "250 2.0.0 Ok: queued as 01J9Z3\r\n");
  EXPECT_EQ(h.s.state(), ServerState::Ready);
  h.clear();
  h.feed("QUIT\r\n");
  EXPECT_EQ(h.sent, "221 2.0.0 Bye\r\n");
  EXPECT_TRUE(h.closed);
  EXPECT_EQ(h.s.state(), ServerState::Closing);
}

TEST(ServerSession, StartTlsInjectionIsDropped) {
  // CVE-2011-0411: commands pipelined after STARTTLS in plaintext must not run
  // after the handshake. Fed whole and split at every byte.
  const std::string evil = "STARTTLS\r\nMAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@example.net>\r\n";
  for (std::size_t cut = 1; cut <= evil.size(); ++cut) {
    Harness h(Harness::policy(), plaintext_facts());
    h.feed("EHLO client.example\r\n");
    h.clear();
    h.feed(std::string_view(evil).substr(0, cut));
    h.feed(std::string_view(evil).substr(cut));
    EXPECT_EQ(h.sent, "220 2.0.0 Ready to start TLS\r\n") << cut;
    EXPECT_EQ(h.start_tls, 1);
    EXPECT_EQ(h.s.buffered_input(), 0u) << cut;
    h.feed("RSET\r\n");  // more plaintext while the handshake runs
    h.s.tls_ready();
    h.pump();
    EXPECT_EQ(h.sent, "220 2.0.0 Ready to start TLS\r\n") << cut;
    h.clear();
    h.feed("MAIL FROM:<alice@example.org>\r\n");
    EXPECT_EQ(h.sent, kHeloFirst) << "EHLO is required again after TLS";
  }
}

TEST(ServerSession, TlsResetsEverything) {
  ConnectionFacts f = plaintext_facts();
  f.client_trusted = true;
  Harness h(Harness::policy(), f);
  h.feed("EHLO a\r\nSTARTTLS\r\n");
  h.s.tls_ready();
  h.pump();
  h.clear();
  h.feed("HELO b\r\n" + kMail + kRcpt + "DATA\r\nx\r\n.\r\n");
  ASSERT_EQ(h.messages.size(), 1u);
  EXPECT_EQ(h.messages[0].info.helo, "b");
  EXPECT_FALSE(h.messages[0].info.esmtp);
  EXPECT_TRUE(h.messages[0].info.tls);
  EXPECT_EQ(h.messages[0].info.with_keyword(), "SMTP");
}

TEST(ServerSession, TlsFailedCloses) {
  Harness h(Harness::policy(), plaintext_facts());
  h.feed("EHLO a\r\nSTARTTLS\r\n");
  h.clear();
  h.s.tls_failed();
  h.pump();
  EXPECT_EQ(h.sent, "");
  EXPECT_TRUE(h.closed);
}

TEST(ServerSession, TimeoutDuringHandshakeSendsNothing) {
  Harness h(Harness::policy(), plaintext_facts());
  h.feed("EHLO a\r\nSTARTTLS\r\n");
  h.clear();
  h.s.timer_fired();
  h.pump();
  EXPECT_EQ(h.sent, "");
  EXPECT_EQ(h.rejected, (std::vector<std::string>{"timeout"}));
  EXPECT_TRUE(h.closed);
}

// ---- SMTP smuggling ----

struct Smuggle {
  const char* name;
  std::string end;  // what the attacker hopes ends the first message
};

const std::string kSmuggled =
    "MAIL FROM:<ceo@victim.example>\r\nRCPT TO:<target@example.net>\r\nDATA\r\nFrom: ceo@victim.example\r\n\r\n"
    "smuggled\r\n.\r\n";

std::unique_ptr<Harness> smuggle_session() {
  Row row{.name = "smuggling", .start = Start::Rcpt};
  return start(row);
}

void expect_no_smuggled_command(const Harness& h) {
  // After the 354 no command may have been accepted.
  const std::size_t data = h.sent.find("354 ");
  ASSERT_NE(data, std::string::npos);
  const std::string after = h.sent.substr(data);
  EXPECT_EQ(after.find("250 2.1.0"), std::string::npos) << after;
  EXPECT_EQ(after.find("250 2.1.5"), std::string::npos) << after;
  EXPECT_EQ(after.find("354 ", 4), std::string::npos) << after;
}

TEST(ServerSession, SmugglingWithBareNewlinesIsRefused) {
  const std::vector<Smuggle> variants = {
      {"LF.LF", "\n.\n"},       {"LF.CRLF", "\n.\r\n"},   {"CR.LF", "\r.\n"},   {"CR.CRLF", "\r.\r\n"},
      {"CRLF.CR", "\r\n.\r"},   {"CRLF.LF", "\r\n.\n"},   {"LF.CR", "\n.\r"},   {"CR.CR", "\r.\r"},
      {"LF only", "\n"},        {"CR LF.CRLF", "\r\r\n.\r\n"},
  };
  for (const Smuggle& v : variants) {
    const std::string input = "DATA\r\nSubject: hi\r\n\r\nhello" + v.end + kSmuggled;
    for (Mode mode : {Mode::Whole, Mode::Bytewise, Mode::Split}) {
      for (std::size_t cut = 1; cut < (mode == Mode::Split ? input.size() : 2); ++cut) {
        auto h = smuggle_session();
        if (mode == Mode::Whole) h->feed(input);
        if (mode == Mode::Bytewise) h->feed_bytewise(input);
        if (mode == Mode::Split) {
          h->feed(std::string_view(input).substr(0, cut));
          h->feed(std::string_view(input).substr(cut));
        }
        SCOPED_TRACE(std::string(v.name) + " mode " + std::to_string(static_cast<int>(mode)) + " cut " +
                     std::to_string(cut));
        EXPECT_TRUE(h->messages.empty());
        EXPECT_TRUE(h->closed);
        EXPECT_EQ(h->rejected, (std::vector<std::string>{"bare_newline"}));
        ASSERT_GE(h->sent.size(), 5u);
        const std::size_t last = h->sent.rfind("\r\n", h->sent.size() - 3);
        EXPECT_EQ(h->sent.substr(last + 2, 10), "521 5.5.2 ");
        expect_no_smuggled_command(*h);
      }
    }
  }
}

TEST(ServerSession, SmugglingWithNulIsRefused) {
  const std::vector<Smuggle> variants = {
      {"CRLF NUL.CRLF", std::string("\r\n\0.\r\n", 6)},
      {"CRLF.NUL CRLF", std::string("\r\n.\0\r\n", 6)},
      {"NUL CRLF.CRLF inside", std::string("\r\n\0\r\n.\0\r\n", 9)},
  };
  for (const Smuggle& v : variants) {
    const std::string input = "DATA\r\nSubject: hi\r\n\r\nhello" + v.end + kSmuggled;
    for (bool bytewise : {false, true}) {
      auto h = smuggle_session();
      if (bytewise) {
        h->feed_bytewise(input);
      } else {
        h->feed(input);
      }
      SCOPED_TRACE(v.name);
      EXPECT_TRUE(h->messages.empty());
      EXPECT_FALSE(h->closed);
      EXPECT_EQ(h->sent, "354 End data with <CR><LF>.<CR><LF>\r\n550 5.6.0 Error: message contains NUL characters\r\n");
      expect_no_smuggled_command(*h);
      EXPECT_EQ(h->s.state(), ServerState::Ready);
    }
  }
}

TEST(ServerSession, SmugglingWithOtherBytesStaysOneMessage) {
  // Lines such as "\x0b." or " ." are text: the message runs on to the real
  // CRLF.CRLF, the would-be commands are part of its body, nothing runs.
  const std::vector<Smuggle> variants = {
      {"VT before the dot", "\r\n\x0b.\r\n"},
      {"space before the dot", "\r\n .\r\n"},
      {"byte after the dot", "\r\n.\x7f\r\n"},
      {"two dots", "\r\n..\r\n"},
  };
  for (const Smuggle& v : variants) {
    const std::string input = "DATA\r\nSubject: hi\r\n\r\nhello" + v.end + kSmuggled;
    auto h = smuggle_session();
    h->feed(input);
    SCOPED_TRACE(v.name);
    ASSERT_EQ(h->messages.size(), 1u);
    EXPECT_NE(h->messages[0].body.find("MAIL FROM:<ceo@victim.example>\r\nRCPT TO:<target@example.net>\r\n"),
              std::string::npos);
    EXPECT_EQ(h->sent, "354 End data with <CR><LF>.<CR><LF>\r\n" + kQueued1);
    expect_no_smuggled_command(*h);
  }
}

TEST(ServerSession, SmugglingInBdatIsRefused) {
  auto h = smuggle_session();
  const std::string chunk = "hello\n.\n" + kSmuggled;
  h->feed("BDAT " + std::to_string(chunk.size()) + " LAST\r\n" + chunk);
  EXPECT_TRUE(h->messages.empty());
  EXPECT_TRUE(h->closed);
  EXPECT_EQ(h->sent, "521 5.5.2 mail.example.org Error: bare <LF> received\r\n");
}

// ---- limits and hostile input ----

TEST(ServerSession, MegabyteLineStaysBounded) {
  for (std::size_t piece : {std::size_t{1} << 20, std::size_t{4096}, std::size_t{1000}}) {
    Row row{.name = "long line", .start = Start::Ehlo};
    auto h = start(row);
    const std::string mib(1 << 20, 'A');
    const int arms_before = h->arms;
    for (std::size_t pos = 0; pos < mib.size(); pos += piece) {
      h->feed(std::string_view(mib).substr(pos, piece));
      ASSERT_LE(h->s.buffered_input(), LineReader::kMaxCommandLine) << piece;
    }
    EXPECT_EQ(h->sent, "");
    EXPECT_EQ(h->arms, arms_before) << "a trickle inside one line does not re-arm the timer";
    h->feed("\r\nNOOP\r\n");
    EXPECT_EQ(h->sent, "500 5.5.2 Error: line too long\r\n250 2.0.0 Ok\r\n");
    EXPECT_FALSE(h->closed);
  }
}

// Every Send is one or more well-formed replies: "ddd[ -]text" CRLF, the code
// the same on every line of a reply, the last line "ddd ".
bool well_formed(std::string_view bytes) {
  if (bytes.size() < 6 || bytes.substr(bytes.size() - 2) != "\r\n") return false;
  std::string_view code;
  while (!bytes.empty()) {
    const std::size_t end = bytes.find("\r\n");
    if (end == std::string_view::npos) return false;
    std::string_view line = bytes.substr(0, end);
    bytes.remove_prefix(end + 2);
    if (line.size() < 4 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' || line[2] < '0' ||
        line[2] > '9' || (line[3] != ' ' && line[3] != '-')) {
      return false;
    }
    for (char c : line) {
      if (c == '\r' || c == '\n') return false;
    }
    if (!code.empty() && code != line.substr(0, 3)) return false;
    code = line[3] == '-' ? line.substr(0, 3) : std::string_view();
  }
  return code.empty();
}

bool has_bare_newline(std::string_view body) {
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\r' && (i + 1 == body.size() || body[i + 1] != '\n')) return true;
    if (body[i] == '\n' && (i == 0 || body[i - 1] != '\r')) return true;
  }
  return false;
}

TEST(ServerSession, RandomGarbage) {
  std::mt19937 rng(20240607);
  const std::vector<std::string> tokens = {"EHLO x\r\n", "MAIL FROM:<a@b.example>\r\n", "RCPT TO:<c@d.example>\r\n",
                                           "DATA\r\n",   "BDAT 5\r\n",  "BDAT 3 LAST\r\n", "\r\n.\r\n", ".",
                                           "\r",         "\n",          "\r\n",            "RSET\r\n", "AUTH PLAIN\r\n",
                                           "STARTTLS\r\n", "*\r\n",     std::string(1, '\0')};
  for (int run = 0; run < 300; ++run) {
    ServerPolicy p = Harness::policy();
    p.max_message_size = 200;
    ConnectionFacts f;
    f.implicit_tls = run % 2 == 0;
    f.client_trusted = run % 3 == 0;
    Harness h(p, f);
    std::string input;
    const int n = static_cast<int>(rng() % 200);
    for (int i = 0; i < n; ++i) {
      if (rng() % 2 == 0) {
        input += tokens[rng() % tokens.size()];
      } else {
        input.push_back(static_cast<char>(rng() % 256));
      }
    }
    std::size_t pos = 0;
    while (pos < input.size()) {
      const std::size_t len = 1 + rng() % 64;
      h.s.receive(std::string_view(input).substr(pos, len));
      pos += len;
      while (auto a = h.s.next_action()) {
        ASSERT_FALSE(h.closed) << "action after Close, run " << run;
        if (auto* send = std::get_if<server::Send>(&*a)) {
          ASSERT_TRUE(well_formed(send->bytes)) << send->bytes << " run " << run;
        } else if (auto* enq = std::get_if<server::Enqueue>(&*a)) {
          ASSERT_FALSE(has_bare_newline(enq->body)) << "run " << run;
          ASSERT_LE(enq->body.size(), p.max_message_size);
          h.s.enqueued(std::string("Q"));
        } else if (std::get_if<server::Authenticate>(&*a)) {
          h.s.auth_result(Error::permanent("no"));
        } else if (std::get_if<server::StartTls>(&*a)) {
          h.s.tls_ready();
        } else if (std::get_if<server::Close>(&*a)) {
          h.closed = true;
        }
      }
      ASSERT_LE(h.s.buffered_input(), ServerSession::kMaxPendingInput);
    }
  }
}

// ---- timers, shutdown, end of input ----

TEST(ServerSession, TimerFollowsCompleteLines) {
  Row row{.name = "timer", .start = Start::Rcpt};
  auto h = start(row);
  h->store_answer = Answer::Manual;
  h->feed("NO");
  EXPECT_TRUE(h->kinds.empty());
  h->feed("OP\r\n");
  EXPECT_EQ(h->kinds, (std::vector<std::string>{"Send", "ArmTimer"}));
  h->clear();
  h->feed("DATA\r\nline one\r\nline t");
  EXPECT_EQ(h->kinds, (std::vector<std::string>{"Send", "ArmTimer"}));
  h->clear();
  h->feed("wo con");
  EXPECT_TRUE(h->kinds.empty()) << "a trickle inside one text line does not re-arm";
  h->feed("tinued\r\n");
  EXPECT_EQ(h->kinds, (std::vector<std::string>{"ArmTimer"}));
  h->clear();
  h->feed(".\r\n");
  EXPECT_EQ(h->kinds, (std::vector<std::string>{"Enqueue", "DisarmTimer"}));
  h->clear();
  h->s.timer_fired();  // stale: we are the ones waiting
  h->pump();
  EXPECT_TRUE(h->kinds.empty());
  h->s.enqueued(std::string("Q9"));
  h->pump();
  EXPECT_EQ(h->kinds, (std::vector<std::string>{"Send", "ArmTimer"}));
  h->clear();
  h->s.timer_fired();
  h->pump();
  EXPECT_EQ(h->sent, "421 4.4.2 mail.example.org Error: timeout exceeded\r\n");
  EXPECT_EQ(h->rejected, (std::vector<std::string>{"timeout"}));
  EXPECT_TRUE(h->closed);
}

TEST(ServerSession, SkippedBdatLinesKeepTheTimerAlive) {
  Row row{.name = "skipped bdat", .start = Start::Mail};
  auto h = start(row);
  h->feed("BDAT 100\r\n");
  h->clear();
  h->feed("some text without a newline");
  EXPECT_TRUE(h->kinds.empty());
  h->feed(" and then one\r\n");
  EXPECT_EQ(h->kinds, (std::vector<std::string>{"ArmTimer"}));
  EXPECT_EQ(h->s.state(), ServerState::Bdat);
}

TEST(ServerSession, AuthWaitHoldsPipelinedCommands) {
  Row row{.name = "auth wait", .start = Start::Ehlo, .implicit_tls = true};
  auto h = start(row);
  h->auth_answer = Answer::Manual;
  h->feed("AUTH PLAIN " + plain("alice", "pw") + "\r\n" + kMail + kRcpt);
  EXPECT_EQ(h->s.state(), ServerState::AwaitingAuth);
  EXPECT_EQ(h->sent, "");
  EXPECT_GT(h->s.buffered_input(), 0u);
  h->feed("NOOP\r\n");
  EXPECT_EQ(h->sent, "");
  h->s.auth_result(Status{});
  h->pump();
  EXPECT_EQ(h->sent, "235 2.7.0 Authentication successful\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok\r\n");
  EXPECT_EQ(h->s.buffered_input(), 0u);
  EXPECT_EQ(h->s.state(), ServerState::Rcpt);
}

TEST(ServerSession, TooMuchPipelinedInputWhileWaiting) {
  Row row{.name = "overflow", .start = Start::Rcpt, .store = Answer::Manual};
  auto h = start(row);
  h->feed("DATA\r\nx\r\n.\r\n");
  ASSERT_EQ(h->s.state(), ServerState::AwaitingCommit);
  h->clear();
  std::string noops;
  while (noops.size() <= ServerSession::kMaxPendingInput) noops += "NOOP\r\n";
  h->feed(noops);
  EXPECT_LE(h->s.buffered_input(), ServerSession::kMaxPendingInput);
  h->s.enqueued(std::string("Q1"));
  h->pump();
  EXPECT_EQ(h->sent, kQueued1 + "421 4.7.0 mail.example.org Error: too much pipelined input\r\n");
  EXPECT_TRUE(h->closed);
}

TEST(ServerSession, ShutdownWhileIdle) {
  Row row{.name = "idle", .start = Start::Ehlo};
  auto h = start(row);
  h->feed("NO");  // a partial command does not delay it
  h->s.shutdown();
  h->pump();
  EXPECT_EQ(h->sent, "421 4.3.2 mail.example.org Service shutting down\r\n");
  EXPECT_TRUE(h->closed);
}

TEST(ServerSession, ShutdownMidDataLetsTheMessageFinish) {
  for (bool bytewise : {false, true}) {
    Row row{.name = "mid data", .start = Start::Rcpt, .store = Answer::Manual};
    auto h = start(row);
    h->feed("DATA\r\nSubject: a\r\n\r\nfirst half\r\n");
    h->s.shutdown();
    h->pump();
    EXPECT_EQ(h->sent, "354 End data with <CR><LF>.<CR><LF>\r\n");
    EXPECT_FALSE(h->closed);
    const std::string rest = "second half\r\n.\r\n" + kMail;
    if (bytewise) {
      h->feed_bytewise(rest);
    } else {
      h->feed(rest);
    }
    ASSERT_EQ(h->messages.size(), 1u);
    EXPECT_EQ(h->messages[0].body, "Subject: a\r\n\r\nfirst half\r\nsecond half\r\n");
    EXPECT_FALSE(h->closed);
    h->s.enqueued(std::string("Q1"));
    h->pump();
    EXPECT_EQ(h->sent, "354 End data with <CR><LF>.<CR><LF>\r\n" + kQueued1 +
                           "421 4.3.2 mail.example.org Service shutting down\r\n");
    EXPECT_TRUE(h->closed);
  }
}

TEST(ServerSession, EofMidDataDiscards) {
  Row row{.name = "eof", .start = Start::Rcpt};
  auto h = start(row);
  h->feed("DATA\r\nhalf a message\r\n");
  h->s.receive_eof();
  h->pump();
  EXPECT_TRUE(h->closed);
  EXPECT_TRUE(h->messages.empty());
  EXPECT_EQ(h->sent, "354 End data with <CR><LF>.<CR><LF>\r\n");
}

TEST(ServerSession, NothingAfterClose) {
  Row row{.name = "closed", .start = Start::Ehlo};
  auto h = start(row);
  h->feed("QUIT\r\nNOOP\r\n");
  EXPECT_EQ(h->sent, "221 2.0.0 Bye\r\n");
  h->s.receive("NOOP\r\n");
  h->s.timer_fired();
  h->s.shutdown();
  h->s.receive_eof();
  h->s.enqueued(std::string("Q"));
  h->s.auth_result(Status{});
  h->s.tls_ready();
  EXPECT_FALSE(h->s.next_action().has_value());
  EXPECT_FALSE(h->s.wants_input());
}

TEST(ServerSession, AnswersOutOfTurnAreIgnored) {
  Row row{.name = "out of turn", .start = Start::Rcpt};
  auto h = start(row);
  h->s.enqueued(std::string("Q1"));
  h->s.auth_result(Status{});
  h->s.tls_ready();
  h->pump();
  EXPECT_EQ(h->sent, "");
  EXPECT_EQ(h->s.state(), ServerState::Rcpt);
}

TEST(ServerSession, HeaderFlagsAndBdatBody) {
  Row row{.name = "bdat body", .start = Start::Rcpt};
  auto h = start(row);
  const std::string c1 = "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nSubj";
  const std::string c2 = "ect: x\r\n\r\n.not unstuffed\r\nend";
  h->feed("BDAT " + std::to_string(c1.size()) + "\r\n" + c1 + "BDAT " + std::to_string(c2.size()) + " LAST\r\n" + c2);
  ASSERT_EQ(h->messages.size(), 1u);
  EXPECT_EQ(h->messages[0].body, c1 + c2 + "\r\n");
  EXPECT_TRUE(h->messages[0].info.has_date);
  EXPECT_FALSE(h->messages[0].info.has_message_id);
}

// The relay takes a large message off in pieces as it arrives: the pieces
// and Enqueue's rest are the message, in order, and the transaction number
// ties the pieces to the Enqueue that completes them.
TEST(ServerSession, BodyTakenInPiecesWhileReading) {
  Row row{.name = "pieces", .start = Start::Rcpt};
  auto h = start(row);
  std::string message = "Subject: big\r\n\r\n";
  for (int i = 0; i < 2000; ++i) message += (i % 3 == 0 ? ".dot line " : "line ") + std::to_string(i) + "\r\n";
  std::string stuffed;  // the DATA wire form of `message`
  for (std::size_t pos = 0; pos < message.size();) {
    const std::size_t eol = message.find("\r\n", pos) + 2;
    if (message[pos] == '.') stuffed += '.';
    stuffed += message.substr(pos, eol - pos);
    pos = eol;
  }
  h->feed("DATA\r\n");
  const std::uint64_t transaction = h->s.transaction();
  std::string taken;
  for (std::size_t pos = 0; pos < stuffed.size(); pos += 997) {
    h->feed(std::string_view(stuffed).substr(pos, 997));
    EXPECT_EQ(h->s.transaction(), transaction);
    if (h->s.body_buffered() >= 4096) {
      taken += h->s.take_body();
      EXPECT_EQ(h->s.body_buffered(), 0u);
    }
  }
  EXPECT_FALSE(taken.empty());
  h->feed(".\r\n");
  ASSERT_EQ(h->messages.size(), 1u);
  EXPECT_EQ(h->messages[0].transaction, transaction);
  EXPECT_EQ(taken + h->messages[0].body, message);
  EXPECT_NE(h->s.transaction(), transaction);
}

TEST(ServerSession, TransactionMovesOnWhenAMessageIsAbandoned) {
  Row row{.name = "abandoned", .start = Start::Rcpt};
  auto h = start(row);
  const std::uint64_t first = h->s.transaction();
  h->feed("BDAT 5\r\nabcde");
  EXPECT_EQ(h->s.body_buffered(), 5u);
  EXPECT_EQ(h->s.take_body(), "abcde");
  h->feed("RSET\r\n");
  EXPECT_NE(h->s.transaction(), first);  // the taken piece is the relay's to throw away
  EXPECT_TRUE(h->messages.empty());

  // A refused message moves it on too (552 after the dot).
  Row small{.name = "refused", .start = Start::Rcpt, .max_message_size = 10};
  auto g = start(small);
  g->feed("DATA\r\n");
  const std::uint64_t before = g->s.transaction();
  g->feed("0123456789abcdef\r\n.\r\n");
  EXPECT_NE(g->s.transaction(), before);
  EXPECT_TRUE(g->messages.empty());
}

TEST(ServerSession, WithKeyword) {
  struct K {
    bool esmtp, tls;
    const char* user;
    const char* want;
  };
  for (const K& k : std::vector<K>{{false, false, "", "SMTP"},
                                   {false, true, "u", "SMTP"},
                                   {true, false, "", "ESMTP"},
                                   {true, true, "", "ESMTPS"},
                                   {true, false, "u", "ESMTPA"},
                                   {true, true, "u", "ESMTPSA"}}) {
    TransactionInfo info;
    info.esmtp = k.esmtp;
    info.tls = k.tls;
    info.auth_user = k.user;
    EXPECT_EQ(info.with_keyword(), k.want);
  }
}

TEST(ServerSession, DescribeEveryState) {
  const std::vector<ServerState> all = {
      ServerState::Greeting,  ServerState::Ready, ServerState::AuthChallenge, ServerState::AwaitingAuth,
      ServerState::AwaitingTls, ServerState::Mail, ServerState::Rcpt,         ServerState::Data,
      ServerState::Bdat,      ServerState::AwaitingCommit, ServerState::Closing};
  std::vector<std::string_view> seen;
  for (ServerState s : all) {
    std::string_view d = describe(s);
    EXPECT_FALSE(d.empty());
    EXPECT_EQ(std::find(seen.begin(), seen.end(), d), seen.end()) << d;
    seen.push_back(d);
  }
  EXPECT_EQ(describe(ServerState::Data), "reading message data");
  EXPECT_EQ(describe(ServerState::Greeting), "waiting for EHLO");
}

}  // namespace
}  // namespace tern::smtp
