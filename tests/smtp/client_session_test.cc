// ClientSession against scripted servers: each row is a conversation (what the
// client must send, what the server answers, transport events) and the
// Finished it must end with. Every row runs three times: server lines fed one
// by one, consecutive lines joined into one read, and every byte on its own.
#include "smtp/client_session.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/command.h"

namespace tern::smtp {
namespace {

using std::chrono::milliseconds;
using Status = RecipientResult::Status;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kPeer = "mx1.example.org[192.0.2.7]";

Mailbox mailbox(std::string_view address) {
  const auto at = address.rfind('@');
  return Mailbox{std::string(address.substr(0, at)), std::string(address.substr(at + 1))};
}

Envelope envelope(std::string_view from, std::vector<std::string_view> to) {
  Envelope e;
  if (!from.empty()) e.sender.mailbox = mailbox(from);
  for (auto t : to) e.recipients.push_back(Recipient{mailbox(t), {}});
  return e;
}

ClientPolicy base_policy() {
  ClientPolicy p;
  p.helo_name = "relay.example.com";
  p.peer_name = kPeer;
  p.command_timeout = milliseconds(300000);
  return p;
}

struct Msg {
  Envelope envelope;
  std::string body;
};

Msg simple_msg(std::vector<std::string_view> to = {"bob@example.org"}, std::string body = "Subject: hi\r\n\r\nHello\r\n") {
  return Msg{envelope("alice@example.com", std::move(to)), std::move(body)};
}

struct WantRcpt {
  Status status;
  std::string detail;  // substring of the detail; a leading '=' asks for equality
  int code = 0;        // the deciding reply's code; 0: no reply
};

struct WantFinished {
  std::vector<WantRcpt> rcpts;
  std::optional<FailureScope> failure;
  bool reusable = false;
  bool tls = false;
  bool fallback = false;
};

// Script lines:
//   "C: text"     the client sends text + CRLF (consecutive C lines accumulate;
//                 they are checked before the next S or ! line, and at the end)
//   "S: text"     the server sends text + CRLF
//   "!tls"        tls_ready()            "!tlsfail why"  tls_failed(why)
//   "!eof"        receive_eof()          "!timer"        timer_fired()
//   "!quit"       quit()                 "!send"         send_message(next message)
struct Row {
  const char* name;
  ClientPolicy policy;
  std::vector<Msg> messages;  // the first is sent before the greeting
  std::vector<std::string> script;
  std::vector<WantFinished> finished;
  bool closed = false;        // a Close action came
  ClientState end = ClientState::Idle;
  bool send_first = true;     // send_message(messages[0]) before the greeting
};

enum class Feed { PerLine, Joined, ByteByByte };

struct Transcript {
  std::string pending;                // client bytes not yet matched by the script
  std::vector<client::Finished> finished;
  std::vector<milliseconds> timers;
  std::vector<std::size_t> finished_messages;  // index of the message each Finished belongs to
  int start_tls = 0;
  int closes = 0;
  int sends = 0;
  bool action_after_close = false;
  bool slice_outside_body = false;
};

class Driver {
 public:
  Driver(const Row& row, Feed feed) : row_(row), feed_(feed), session_(row.policy) {}

  Transcript run() {
    if (row_.send_first && !row_.messages.empty()) send_next();
    std::string joined;
    for (std::size_t i = 0; i < row_.script.size(); ++i) {
      const std::string& line = row_.script[i];
      SCOPED_TRACE("script line " + std::to_string(i) + ": " + line);
      if (line.starts_with("C: ")) {
        expect_ += line.substr(3) + "\r\n";
        continue;
      }
      pump();
      EXPECT_EQ(run_.pending, expect_) << "client bytes before script line " << i;
      run_.pending.clear();
      expect_.clear();
      if (line.starts_with("S: ")) {
        std::string bytes = line.substr(3) + "\r\n";
        if (feed_ == Feed::Joined) {
          joined += bytes;
          const bool next_is_server = i + 1 < row_.script.size() && row_.script[i + 1].starts_with("S: ");
          if (next_is_server) continue;
          session_.receive(joined);
          joined.clear();
        } else if (feed_ == Feed::ByteByByte) {
          for (char c : bytes) {
            session_.receive(std::string_view(&c, 1));
            pump();
          }
        } else {
          session_.receive(bytes);
        }
      } else if (line == "!tls") {
        session_.tls_ready();
      } else if (line.starts_with("!tlsfail ")) {
        session_.tls_failed(line.substr(9));
      } else if (line == "!eof") {
        session_.receive_eof();
      } else if (line == "!timer") {
        session_.timer_fired();
      } else if (line == "!quit") {
        session_.quit();
      } else if (line == "!send") {
        send_next();
      } else {
        ADD_FAILURE() << "bad script line";
      }
    }
    pump();
    EXPECT_EQ(run_.pending, expect_) << "client bytes at the end of the script";
    return run_;
  }

  ClientSession& session() { return session_; }

 private:
  void send_next() {
    current_ = next_message_++;
    const Msg& m = row_.messages.at(current_);
    session_.send_message(m.envelope, m.body);
  }

  void pump() {
    // Bounded: a session that keeps producing actions is a bug.
    for (int n = 0; n < 100000; ++n) {
      auto action = session_.next_action();
      if (!action) return;
      // After Close only a Finished may come (send_message on a dead session).
      if (run_.closes > 0 && !std::holds_alternative<client::Finished>(*action)) run_.action_after_close = true;
      if (auto* s = std::get_if<client::Send>(&*action)) {
        run_.pending += s->bytes;
        ++run_.sends;
      } else if (auto* b = std::get_if<client::SendBody>(&*action)) {
        const std::string& body = row_.messages.at(current_).body;
        if (b->bytes.data() < body.data() || b->bytes.data() + b->bytes.size() > body.data() + body.size()) {
          run_.slice_outside_body = true;
        }
        run_.pending += b->bytes;
      } else if (std::get_if<client::StartTls>(&*action)) {
        ++run_.start_tls;
      } else if (auto* t = std::get_if<client::ArmTimer>(&*action)) {
        run_.timers.push_back(t->after);
      } else if (auto* f = std::get_if<client::Finished>(&*action)) {
        run_.finished.push_back(std::move(*f));
        run_.finished_messages.push_back(current_);
      } else if (std::get_if<client::Close>(&*action)) {
        ++run_.closes;
      }
    }
    ADD_FAILURE() << "the session never stops producing actions";
  }

  const Row& row_;
  Feed feed_;
  ClientSession session_;
  std::string expect_;
  std::size_t next_message_ = 0;
  std::size_t current_ = 0;
  Transcript run_;
};

const char* feed_name(Feed f) {
  switch (f) {
    case Feed::PerLine: return "per line";
    case Feed::Joined: return "joined";
    case Feed::ByteByByte: return "byte by byte";
  }
  return "";
}

void check_row(const Row& row) {
  for (Feed feed : {Feed::PerLine, Feed::Joined, Feed::ByteByByte}) {
    SCOPED_TRACE(std::string(row.name) + " (" + feed_name(feed) + ")");
    Driver driver(row, feed);
    Transcript run = driver.run();
    EXPECT_EQ(driver.session().state(), row.end) << describe(driver.session().state());
    EXPECT_EQ(run.closes, row.closed ? 1 : 0);
    EXPECT_FALSE(run.action_after_close);
    EXPECT_FALSE(run.slice_outside_body) << "SendBody must point into the caller's body";
    ASSERT_EQ(run.finished.size(), row.finished.size()) << "one Finished per message";
    for (std::size_t m = 0; m < row.finished.size(); ++m) {
      SCOPED_TRACE("Finished #" + std::to_string(m));
      const client::Finished& got = run.finished[m];
      const WantFinished& want = row.finished[m];
      EXPECT_EQ(got.failure, want.failure);
      EXPECT_EQ(got.reusable, want.reusable);
      EXPECT_EQ(got.tls, want.tls);
      EXPECT_EQ(got.tls_fallback_wanted, want.fallback);
      const Msg& msg = row.messages.at(run.finished_messages[m]);
      ASSERT_EQ(got.recipients.size(), msg.envelope.recipients.size());
      ASSERT_EQ(got.recipients.size(), want.rcpts.size());
      for (std::size_t i = 0; i < want.rcpts.size(); ++i) {
        SCOPED_TRACE("recipient #" + std::to_string(i));
        const RecipientResult& r = got.recipients[i];
        EXPECT_EQ(r.status, want.rcpts[i].status);
        if (want.rcpts[i].detail.starts_with("=")) {
          EXPECT_EQ(r.detail, want.rcpts[i].detail.substr(1));
        } else {
          EXPECT_THAT(r.detail, HasSubstr(want.rcpts[i].detail));
        }
        EXPECT_EQ(r.reply ? r.reply->code : 0, want.rcpts[i].code);
        if (!row.policy.auth_password.empty()) {
          EXPECT_THAT(r.detail, Not(HasSubstr(row.policy.auth_password)));
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Policies and common script pieces

ClientPolicy policy_with(ClientTls tls) {
  ClientPolicy p = base_policy();
  p.tls = tls;
  return p;
}

ClientPolicy policy_auth(std::string user, std::string password) {
  ClientPolicy p = base_policy();
  p.auth_user = std::move(user);
  p.auth_password = std::move(password);
  return p;
}

ClientPolicy implicit_tls() {
  ClientPolicy p = base_policy();
  p.tls = ClientTls::None;
  p.tls_active = true;
  return p;
}

const std::string kGreeting = "S: 220 mx1.example.org ESMTP Postfix";
const std::string kEhlo = "C: EHLO relay.example.com";
const std::string kBody = "Subject: hi\r\n\r\nHello";  // as sent, before the final "\r\n.\r\n" (C: adds one CRLF)

std::vector<std::string> concat(std::initializer_list<std::vector<std::string>> parts) {
  std::vector<std::string> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Greeting and EHLO with a server that offers nothing but its name.
const std::vector<std::string> kHelloBare = {kGreeting, kEhlo, "S: 250 mx1.example.org"};
const std::vector<std::string> kHelloPipelining = {kGreeting, kEhlo, "S: 250-mx1.example.org", "S: 250-PIPELINING",
                                                    "S: 250 8BITMIME"};

// One recipient, no pipelining, delivered.
const std::vector<std::string> kOneByOne = {
    "C: MAIL FROM:<alice@example.com>", "S: 250 2.1.0 Ok",
    "C: RCPT TO:<bob@example.org>",     "S: 250 2.1.5 Ok",
    "C: DATA",                          "S: 354 End data with <CR><LF>.<CR><LF>",
    "C: " + kBody, "C: .",              "S: 250 2.0.0 Ok: queued as ABC"};

const WantRcpt kDelivered{Status::Delivered, "=mx1.example.org[192.0.2.7] said: 250 2.0.0 Ok: queued as ABC", 250};
const WantFinished kDeliveredOne{{kDelivered}, std::nullopt, true};

// ---------------------------------------------------------------------------
// Plain delivery, EHLO and HELO

TEST(ClientSession, Delivery) {
  const std::vector<Row> rows = {
      {"one recipient, no PIPELINING, then QUIT", base_policy(), {simple_msg()},
       concat({kHelloBare, kOneByOne, {"!quit", "C: QUIT", "S: 221 2.0.0 Bye"}}),
       {kDeliveredOne}, true, ClientState::Done},
      {"two recipients with PIPELINING: one group", base_policy(),
       {simple_msg({"bob@example.org", "carol@example.org"})},
       concat({kHelloPipelining,
               {"C: MAIL FROM:<alice@example.com>", "C: RCPT TO:<bob@example.org>", "C: RCPT TO:<carol@example.org>",
                "C: DATA", "S: 250 2.1.0 Ok", "S: 250 2.1.5 Ok", "S: 250 2.1.5 Ok", "S: 354 go ahead",
                "C: " + kBody, "C: .", "S: 250 2.0.0 Ok: queued as ABC"}}),
       {{{kDelivered, kDelivered}, std::nullopt, true}}},
      {"greeting, EHLO and replies with enhanced codes on every line", base_policy(), {simple_msg()},
       concat({{"S: 220-mx1.example.org ESMTP", "S: 220-no UCE", "S: 220 welcome", kEhlo,
                "S: 250-mx1.example.org Hello", "S: 250 HELP"},
               kOneByOne}),
       {kDeliveredOne}},
      {"EHLO refused with 502: HELO, no extensions used", base_policy(), {simple_msg()},
       concat({{kGreeting, kEhlo, "S: 502 5.5.2 Error: command not recognized", "C: HELO relay.example.com",
                "S: 250 mx1.example.org"},
               kOneByOne}),
       {kDeliveredOne}},
      {"EHLO refused with 500 and HELO refused with 550: permanent, site", base_policy(), {simple_msg()},
       {kGreeting, kEhlo, "S: 500 5.5.1 what?", "C: HELO relay.example.com", "S: 550 5.7.1 go away", "C: QUIT",
        "S: 221 Bye"},
       {{{{Status::Permanent, "said: 550 5.7.1 go away (in reply to HELO)", 550}}, FailureScope::Site, false}},
       true, ClientState::Done},
      {"EHLO 4xx: transient, site, QUIT", base_policy(), {simple_msg()},
       {kGreeting, kEhlo, "S: 451 4.3.2 try later", "C: QUIT", "S: 221 2.0.0 Bye"},
       {{{{Status::Transient, "=mx1.example.org[192.0.2.7] said: 451 4.3.2 try later (in reply to EHLO)", 451}},
         FailureScope::Site, false}},
       true, ClientState::Done},
      {"greeting 554: permanent for every recipient, QUIT", base_policy(),
       {simple_msg({"bob@example.org", "carol@example.org"})},
       {"S: 554 5.7.1 mx1.example.org no SMTP service here", "C: QUIT", "S: 221 Bye"},
       {{{{Status::Permanent, "refused to talk to me: 554 5.7.1 mx1.example.org no SMTP service here", 554},
          {Status::Permanent, "refused to talk to me: 554", 554}},
         FailureScope::Site, false}},
       true, ClientState::Done},
      {"greeting 450: transient; EOF after QUIT closes", base_policy(), {simple_msg()},
       {"S: 450 4.7.1 too busy", "C: QUIT", "!eof"},
       {{{{Status::Transient, "refused to talk to me: 450 4.7.1 too busy", 450}}, FailureScope::Site, false}},
       true, ClientState::Done},
      {"greeting 554 before any message: the first send_message fails at once", base_policy(), {simple_msg()},
       {"S: 554 5.7.1 no", "C: QUIT", "!send", "S: 221 Bye"},
       {{{{Status::Permanent, "refused to talk to me: 554 5.7.1 no", 554}}, FailureScope::Site, false}}, true,
       ClientState::Done, false},
      {"greeting 421: transient, close without QUIT", base_policy(), {simple_msg()},
       {"S: 421 4.3.2 System not accepting network messages"},
       {{{{Status::Transient, "refused to talk to me: 421 4.3.2", 421}}, FailureScope::Site, false}},
       true, ClientState::Done},
      {"empty envelope: Finished at once, nothing sent", base_policy(), {Msg{envelope("alice@example.com", {}), "x"}},
       kHelloBare, {{{}, std::nullopt, true}}},
      {"null sender (a bounce)", base_policy(), {Msg{envelope("", {"bob@example.org"}), "Subject: hi\r\n\r\nHello"}},
       concat({kHelloBare,
               {"C: MAIL FROM:<>", "S: 250 2.1.0 Ok", "C: RCPT TO:<bob@example.org>", "S: 250 2.1.5 Ok", "C: DATA",
                "S: 354 go", "C: " + kBody, "C: .", "S: 250 2.0.0 Ok: queued as ABC"}}),
       {kDeliveredOne}},
      {"quit() before the greeting: QUIT once idle", base_policy(), {},
       {"!quit", kGreeting, kEhlo, "S: 250 mx1.example.org", "C: QUIT", "S: 221 Bye"}, {}, true, ClientState::Done},
      {"quit() then timeout waiting for 221: close", base_policy(), {},
       {kGreeting, kEhlo, "S: 250 mx1.example.org", "!quit", "C: QUIT", "!timer"}, {}, true, ClientState::Done},
  };
  for (const Row& row : rows) check_row(row);
}

// ---------------------------------------------------------------------------
// STARTTLS

TEST(ClientSession, StartTls) {
  const std::vector<std::string> offer = {kGreeting, kEhlo, "S: 250-mx1.example.org", "S: 250-PIPELINING",
                                          "S: 250 STARTTLS"};
  const std::vector<std::string> pipelined_delivery = {
      "C: MAIL FROM:<alice@example.com>", "C: RCPT TO:<bob@example.org>", "C: DATA", "S: 250 2.1.0 Ok",
      "S: 250 2.1.5 Ok", "S: 354 go ahead", "C: " + kBody, "C: .", "S: 250 2.0.0 Ok: queued as ABC"};
  const WantFinished delivered_tls{{kDelivered}, std::nullopt, true, true};
  const std::vector<Row> rows = {
      {"opportunistic, offered: STARTTLS, EHLO again, deliver under TLS", policy_with(ClientTls::Opportunistic),
       {simple_msg()},
       concat({offer,
               {"C: STARTTLS", "S: 220 2.0.0 Ready to start TLS", "!tls", kEhlo, "S: 250-mx1.example.org",
                "S: 250-PIPELINING", "S: 250 STARTTLS"},
               pipelined_delivery}),
       {delivered_tls}},
      {"plaintext injected after 220 is dropped (CVE-2011-0411)", policy_with(ClientTls::Opportunistic),
       {simple_msg()},
       concat({offer,
               {"C: STARTTLS", "S: 220 2.0.0 Ready\r\n250-injected.example\r\n250 PIPELINING", "!tls", kEhlo,
                "S: 250-mx1.example.org", "S: 250 PIPELINING"},
               pipelined_delivery}),
       {delivered_tls}},
      {"required, offered", policy_with(ClientTls::Required), {simple_msg()},
       concat({offer,
               {"C: STARTTLS", "S: 220 2.0.0 go", "!tls", kEhlo, "S: 250-mx1.example.org", "S: 250 PIPELINING"},
               pipelined_delivery}),
       {delivered_tls}},
      {"opportunistic, not offered: plaintext", policy_with(ClientTls::Opportunistic), {simple_msg()},
       concat({kHelloBare, kOneByOne}), {kDeliveredOne}},
      {"required, not offered: transient, site, QUIT", policy_with(ClientTls::Required), {simple_msg()},
       concat({kHelloBare, {"C: QUIT", "S: 221 Bye"}}),
       {{{{Status::Transient, "=TLS is required, but was not offered by mx1.example.org[192.0.2.7]", 0}},
         FailureScope::Site, false}},
       true, ClientState::Done},
      {"required, server only speaks HELO", policy_with(ClientTls::Required), {simple_msg()},
       {kGreeting, kEhlo, "S: 502 5.5.1 no", "C: HELO relay.example.com", "S: 250 mx1", "C: QUIT", "S: 221 Bye"},
       {{{{Status::Transient, "TLS is required, but was not offered", 0}}, FailureScope::Site, false}},
       true, ClientState::Done},
      {"opportunistic, refused: plaintext without another EHLO", policy_with(ClientTls::Opportunistic),
       {simple_msg()},
       concat({offer, {"C: STARTTLS", "S: 454 4.7.0 TLS not available due to local problem"}, pipelined_delivery}),
       {kDeliveredOne}},
      {"required, refused: transient, QUIT", policy_with(ClientTls::Required), {simple_msg()},
       concat({offer, {"C: STARTTLS", "S: 454 4.7.0 TLS not available", "C: QUIT", "S: 221 Bye"}}),
       {{{{Status::Transient,
           "=TLS is required, but STARTTLS failed: mx1.example.org[192.0.2.7] said: 454 4.7.0 TLS not available "
           "(in reply to STARTTLS)",
           454}},
         FailureScope::Site, false}},
       true, ClientState::Done},
      {"opportunistic, handshake fails: fallback wanted, close", policy_with(ClientTls::Opportunistic),
       {simple_msg()},
       concat({offer, {"C: STARTTLS", "S: 220 go", "!tlsfail wrong version number"}}),
       {{{{Status::Transient, "=STARTTLS failed: handshake with mx1.example.org[192.0.2.7]: wrong version number", 0}},
         FailureScope::Site, false, false, true}},
       true, ClientState::Done},
      {"required, handshake fails: no fallback", policy_with(ClientTls::Required), {simple_msg()},
       concat({offer, {"C: STARTTLS", "S: 220 go", "!tlsfail certificate verify failed"}}),
       {{{{Status::Transient,
           "=TLS is required, but STARTTLS failed: handshake with mx1.example.org[192.0.2.7]: certificate verify "
           "failed",
           0}},
         FailureScope::Site, false}},
       true, ClientState::Done},
      {"handshake fails before any message: the next send_message fails at once",
       policy_with(ClientTls::Opportunistic), {simple_msg()},
       {kGreeting, kEhlo, "S: 250-mx1.example.org", "S: 250 STARTTLS", "C: STARTTLS", "S: 220 go",
        "!tlsfail handshake timeout", "!send"},
       {{{{Status::Transient, "handshake timeout", 0}}, FailureScope::Site, false, false, true}},
       true, ClientState::Done, false},
      {"policy None: STARTTLS offered but not used", policy_with(ClientTls::None), {simple_msg()},
       concat({offer, pipelined_delivery}), {kDeliveredOne}},
      {"implicit TLS: no STARTTLS, Finished says tls", implicit_tls(), {simple_msg()},
       concat({offer, pipelined_delivery}), {delivered_tls}},
  };
  for (const Row& row : rows) check_row(row);
}

TEST(ClientSession, StartTlsResetsCapabilities) {
  Row row{"", policy_with(ClientTls::Opportunistic), {}, {}, {}};
  Driver d(row, Feed::PerLine);
  d.session().receive("220 mx ESMTP\r\n");
  d.session().receive("250-mx\r\n250-SIZE 1000\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
  EXPECT_TRUE(d.session().capabilities().pipelining);
  d.session().receive("220 go\r\n");
  d.session().tls_ready();
  EXPECT_TRUE(d.session().tls_active());
  EXPECT_FALSE(d.session().capabilities().pipelining) << "forgotten after TLS (RFC 3207 §4.2)";
  d.session().receive("250-mx\r\n250 8BITMIME\r\n");
  EXPECT_FALSE(d.session().capabilities().size.has_value());
  EXPECT_TRUE(d.session().capabilities().eightbitmime);
  EXPECT_EQ(d.session().state(), ClientState::Idle);
}

// ---------------------------------------------------------------------------
// AUTH

TEST(ClientSession, Auth) {
  const std::vector<std::string> pipelined_delivery = {
      "C: MAIL FROM:<alice@example.com>", "C: RCPT TO:<bob@example.org>", "C: DATA", "S: 250 2.1.0 Ok",
      "S: 250 2.1.5 Ok", "S: 354 go ahead", "C: " + kBody, "C: .", "S: 250 2.0.0 Ok: queued as ABC"};
  auto hello = [](std::string auth_line) {
    return std::vector<std::string>{kGreeting, kEhlo, "S: 250-mx1.example.org", "S: 250-PIPELINING",
                                    "S: " + auth_line};
  };
  const auto fail = [](std::string detail, int code) {
    return WantFinished{{{Status::Transient, std::move(detail), code}}, FailureScope::Site, false};
  };
  const std::vector<Row> rows = {
      {"PLAIN with initial response", policy_auth("user", "pass"), {simple_msg()},
       concat({hello("250 AUTH PLAIN LOGIN"),
               {"C: AUTH PLAIN AHVzZXIAcGFzcw==", "S: 235 2.7.0 Authentication successful"}, pipelined_delivery}),
       {kDeliveredOne}},
      {"PLAIN preferred over LOGIN, old AUTH= form", policy_auth("user", "pass"), {simple_msg()},
       concat({hello("250 AUTH=LOGIN PLAIN"), {"C: AUTH PLAIN AHVzZXIAcGFzcw==", "S: 235 2.7.0 ok"},
               pipelined_delivery}),
       {kDeliveredOne}},
      {"PLAIN, server ignores the initial response and asks", policy_auth("user", "pass"), {simple_msg()},
       concat({hello("250 AUTH PLAIN"),
               {"C: AUTH PLAIN AHVzZXIAcGFzcw==", "S: 334 ", "C: AHVzZXIAcGFzcw==", "S: 235 2.7.0 ok"},
               pipelined_delivery}),
       {kDeliveredOne}},
      {"LOGIN (Microsoft 365 offers LOGIN and XOAUTH2)", policy_auth("user", "pass"), {simple_msg()},
       concat({hello("250 AUTH LOGIN XOAUTH2"),
               {"C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "C: dXNlcg==", "S: 334 UGFzc3dvcmQ6", "C: cGFzcw==",
                "S: 235 2.7.0 Authentication successful"},
               pipelined_delivery}),
       {kDeliveredOne}},
      {"535: transient (never bounce for our credentials), QUIT", policy_auth("user", "pass"), {simple_msg()},
       concat({hello("250 AUTH PLAIN"),
               {"C: AUTH PLAIN AHVzZXIAcGFzcw==", "S: 535 5.7.8 Error: authentication failed", "C: QUIT",
                "S: 221 Bye"}}),
       {fail("=authentication failed: mx1.example.org[192.0.2.7] said: 535 5.7.8 Error: authentication failed "
             "(in reply to AUTH PLAIN)",
             535)},
       true, ClientState::Done},
      {"454: transient", policy_auth("user", "pass"), {simple_msg()},
       concat({hello("250 AUTH LOGIN"),
               {"C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "C: dXNlcg==", "S: 334 UGFzc3dvcmQ6", "C: cGFzcw==",
                "S: 454 4.7.0 Temporary authentication failure", "C: QUIT", "S: 221 Bye"}}),
       {fail("454 4.7.0 Temporary authentication failure (in reply to AUTH LOGIN)", 454)}, true, ClientState::Done},
      {"secrets quoted back by the server are masked", policy_auth("user", "s3cret!"), {simple_msg()},
       concat({hello("250 AUTH PLAIN"),
               {"C: AUTH PLAIN AHVzZXIAczNjcmV0IQ==",
                "S: 535 5.7.8 cannot decode AHVzZXIAczNjcmV0IQ== for s3cret!", "C: QUIT", "S: 221 Bye"}}),
       {fail("=authentication failed: mx1.example.org[192.0.2.7] said: 535 5.7.8 cannot decode * for * "
             "(in reply to AUTH PLAIN)",
             535)},
       true, ClientState::Done},
      {"no AUTH offered", policy_auth("user", "pass"), {simple_msg()},
       concat({kHelloBare, {"C: QUIT", "S: 221 Bye"}}),
       {fail("=authentication is required but mx1.example.org[192.0.2.7] offers no usable mechanism (offered: none)",
             0)},
       true, ClientState::Done},
      {"only unusable mechanisms", policy_auth("user", "pass"), {simple_msg()},
       concat({hello("250 AUTH CRAM-MD5 xoauth2"), {"C: QUIT", "S: 221 Bye"}}),
       {fail("offers no usable mechanism (offered: CRAM-MD5 XOAUTH2)", 0)}, true, ClientState::Done},
      {"a third 334 in LOGIN: out of step, close", policy_auth("user", "pass"), {simple_msg()},
       concat({hello("250 AUTH LOGIN"),
               {"C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "C: dXNlcg==", "S: 334 UGFzc3dvcmQ6", "C: cGFzcw==",
                "S: 334 what"}}),
       {fail("authentication failed", 334)}, true, ClientState::Done},
      {"after STARTTLS: AUTH uses the second EHLO", [] {
         ClientPolicy p = policy_auth("user", "pass");
         p.tls = ClientTls::Required;
         return p;
       }(),
       {simple_msg()},
       concat({{kGreeting, kEhlo, "S: 250-mx1.example.org", "S: 250 STARTTLS", "C: STARTTLS", "S: 220 go", "!tls",
                kEhlo, "S: 250-mx1.example.org", "S: 250-PIPELINING", "S: 250 AUTH LOGIN PLAIN",
                "C: AUTH PLAIN AHVzZXIAcGFzcw==", "S: 235 ok"},
               pipelined_delivery}),
       {{{kDelivered}, std::nullopt, true, true}}},
  };
  for (const Row& row : rows) check_row(row);
}

// ---------------------------------------------------------------------------
// Per-recipient, MAIL, DATA and final replies

TEST(ClientSession, Replies) {
  const auto two = simple_msg({"bob@example.org", "carol@example.org"});
  const std::vector<std::string> mail2 = {"C: MAIL FROM:<alice@example.com>", "C: RCPT TO:<bob@example.org>",
                                          "C: RCPT TO:<carol@example.org>", "C: DATA"};
  const WantRcpt bob550{Status::Permanent,
                        "=mx1.example.org[192.0.2.7] said: 550 5.1.1 <bob@example.org>: Recipient address rejected "
                        "(in reply to RCPT TO)",
                        550};
  const std::vector<Row> rows = {
      {"one 550 of two", base_policy(), {two},
       concat({kHelloPipelining, mail2,
               {"S: 250 2.1.0 Ok", "S: 550 5.1.1 <bob@example.org>: Recipient address rejected", "S: 250 2.1.5 Ok",
                "S: 354 go", "C: " + kBody, "C: .", "S: 250 2.0.0 Ok: queued as ABC"}}),
       {{{bob550, kDelivered}, std::nullopt, true}}},
      {"452 for one: transient for it alone", base_policy(), {two},
       concat({kHelloPipelining, mail2,
               {"S: 250 2.1.0 Ok", "S: 250 2.1.5 Ok", "S: 452 4.5.3 Error: too many recipients", "S: 354 go",
                "C: " + kBody, "C: .", "S: 250 2.0.0 Ok: queued as ABC"}}),
       {{{kDelivered, {Status::Transient, "452 4.5.3 Error: too many recipients (in reply to RCPT TO)", 452}},
         std::nullopt, true}}},
      {"all rejected, DATA refused: each decided by its RCPT reply", base_policy(), {two},
       concat({kHelloPipelining, mail2,
               {"S: 250 2.1.0 Ok", "S: 550 5.1.1 <bob@example.org>: Recipient address rejected",
                "S: 550 5.1.1 <carol@example.org>: Recipient address rejected",
                "S: 554 5.5.1 Error: no valid recipients"}}),
       {{{bob550, {Status::Permanent, "carol@example.org", 550}}, std::nullopt, true}}},
      {"all rejected, but 354 anyway: only the dot", base_policy(), {two},
       concat({kHelloPipelining, mail2,
               {"S: 250 2.1.0 Ok", "S: 550 5.1.1 <bob@example.org>: Recipient address rejected",
                "S: 451 4.3.0 carol later", "S: 354 go", "C: .", "S: 554 5.5.1 no valid recipients"}}),
       {{{bob550, {Status::Transient, "451 4.3.0 carol later", 451}}, std::nullopt, true}}},
      {"all rejected without PIPELINING: no DATA", base_policy(), {two},
       concat({kHelloBare,
               {"C: MAIL FROM:<alice@example.com>", "S: 250 2.1.0 Ok", "C: RCPT TO:<bob@example.org>",
                "S: 550 5.1.1 <bob@example.org>: Recipient address rejected", "C: RCPT TO:<carol@example.org>",
                "S: 550 5.1.1 nope", "!quit", "C: QUIT", "S: 221 Bye"}}),
       {{{bob550, {Status::Permanent, "550 5.1.1 nope", 550}}, std::nullopt, true}}, true, ClientState::Done},
      {"MAIL rejected without PIPELINING: no RCPT", base_policy(), {two},
       concat({kHelloBare, {"C: MAIL FROM:<alice@example.com>", "S: 553 5.7.1 <alice@example.com>: Sender rejected"}}),
       {{{{Status::Permanent, "553 5.7.1 <alice@example.com>: Sender rejected (in reply to MAIL FROM)", 553},
          {Status::Permanent, "(in reply to MAIL FROM)", 553}},
         FailureScope::Message, true}}},
      {"MAIL 451 with PIPELINING: RCPT and DATA replies consumed", base_policy(), {two},
       concat({kHelloPipelining, mail2,
               {"S: 451 4.3.0 try later", "S: 503 5.5.1 Error: need MAIL command",
                "S: 503 5.5.1 Error: need MAIL command", "S: 503 5.5.1 Error: need RCPT command"}}),
       {{{{Status::Transient, "451 4.3.0 try later (in reply to MAIL FROM)", 451},
          {Status::Transient, "451 4.3.0 try later", 451}},
         FailureScope::Message, true}}},
      {"DATA refused: accepted recipients get its class", base_policy(), {two},
       concat({kHelloPipelining, mail2,
               {"S: 250 2.1.0 Ok", "S: 550 5.1.1 <bob@example.org>: Recipient address rejected", "S: 250 2.1.5 Ok",
                "S: 554 5.7.1 go away"}}),
       {{{bob550, {Status::Permanent, "554 5.7.1 go away (in reply to DATA)", 554}}, FailureScope::Message, true}}},
      {"DATA 451 without PIPELINING", base_policy(), {simple_msg()},
       concat({kHelloBare,
               {"C: MAIL FROM:<alice@example.com>", "S: 250 ok", "C: RCPT TO:<bob@example.org>", "S: 250 ok",
                "C: DATA", "S: 451 4.3.0 later"}}),
       {{{{Status::Transient, "(in reply to DATA)", 451}}, FailureScope::Message, true}}},
      {"final 451", base_policy(), {two},
       concat({kHelloPipelining, mail2,
               {"S: 250 ok", "S: 250 ok", "S: 250 ok", "S: 354 go", "C: " + kBody, "C: .",
                "S: 451 4.3.0 Error: queue file write error"}}),
       {{{{Status::Transient, "451 4.3.0 Error: queue file write error (in reply to end of DATA)", 451},
          {Status::Transient, "(in reply to end of DATA)", 451}},
         FailureScope::Message, true}}},
      {"final 554, multi-line", base_policy(), {simple_msg()},
       concat({kHelloBare,
               {"C: MAIL FROM:<alice@example.com>", "S: 250 ok", "C: RCPT TO:<bob@example.org>", "S: 250 ok",
                "C: DATA", "S: 354 go", "C: " + kBody, "C: .", "S: 554-5.7.1 message refused",
                "S: 554-5.7.1 it looks like spam", "S: 554 5.7.1 see https://example.org/why"}}),
       {{{{Status::Permanent,
           "said: 554 5.7.1 message refused it looks like spam see https://example.org/why (in reply to end of DATA)",
           554}},
         FailureScope::Message, true}}},
      {"421 to a RCPT: everything undecided transient, close", base_policy(), {two},
       concat({kHelloPipelining, mail2,
               {"S: 250 2.1.0 Ok", "S: 550 5.1.1 <bob@example.org>: Recipient address rejected",
                "S: 421 4.4.2 mx1.example.org Error: timeout exceeded"}}),
       {{{bob550, {Status::Transient, "421 4.4.2 mx1.example.org Error: timeout exceeded (in reply to RCPT TO)", 421}},
         FailureScope::Site, false}},
       true, ClientState::Done},
      {"421 to the final dot", base_policy(), {simple_msg()},
       concat({kHelloBare,
               {"C: MAIL FROM:<alice@example.com>", "S: 250 ok", "C: RCPT TO:<bob@example.org>", "S: 250 ok",
                "C: DATA", "S: 354 go", "C: " + kBody, "C: .", "S: 421 4.3.0 shutting down"}}),
       {{{{Status::Transient, "421 4.3.0 shutting down (in reply to end of DATA)", 421}}, FailureScope::Site, false}},
       true, ClientState::Done},
      {"421 while idle, then send_message: fails at once", base_policy(), {simple_msg(), simple_msg()},
       concat({kHelloBare, kOneByOne, {"S: 421 4.4.2 idle timeout", "!send"}}),
       {kDeliveredOne, {{{Status::Transient, "421 4.4.2 idle timeout", 421}}, FailureScope::Site, false}}, true,
       ClientState::Done},
  };
  for (const Row& row : rows) check_row(row);
}

// ---------------------------------------------------------------------------
// Timeouts, EOF, malformed replies

struct Stop {
  const char* name;
  std::vector<std::string> script;  // leads into the state, then the event is appended
  ClientPolicy policy;
  std::string while_doing;
  bool fallback = false;
};

std::vector<Stop> stops() {
  ClientPolicy auth = policy_auth("user", "pass");
  const std::vector<std::string> to_dot = concat(
      {kHelloBare,
       {"C: MAIL FROM:<alice@example.com>", "S: 250 ok", "C: RCPT TO:<bob@example.org>", "S: 250 ok", "C: DATA",
        "S: 354 go", "C: " + kBody, "C: ."}});
  return {
      {"Banner", {}, base_policy(), "receiving the initial server greeting"},
      {"Ehlo", {kGreeting, kEhlo}, base_policy(), "performing the EHLO handshake"},
      {"Helo", {kGreeting, kEhlo, "S: 502 no", "C: HELO relay.example.com"}, base_policy(),
       "performing the HELO handshake"},
      {"StartTls reply", {kGreeting, kEhlo, "S: 250-mx", "S: 250 STARTTLS", "C: STARTTLS"}, base_policy(),
       "performing the STARTTLS handshake"},
      {"StartTls handshake", {kGreeting, kEhlo, "S: 250-mx", "S: 250 STARTTLS", "C: STARTTLS", "S: 220 go"},
       base_policy(), "performing the STARTTLS handshake", true},
      {"Auth", {kGreeting, kEhlo, "S: 250-mx", "S: 250 AUTH PLAIN", "C: AUTH PLAIN AHVzZXIAcGFzcw=="}, auth,
       "performing SASL authentication"},
      {"Mail", concat({kHelloBare, {"C: MAIL FROM:<alice@example.com>"}}), base_policy(), "sending MAIL FROM"},
      {"Rcpt", concat({kHelloBare, {"C: MAIL FROM:<alice@example.com>", "S: 250 ok", "C: RCPT TO:<bob@example.org>"}}),
       base_policy(), "sending RCPT TO"},
      {"Rcpt, pipelined",
       concat({kHelloPipelining,
               {"C: MAIL FROM:<alice@example.com>", "C: RCPT TO:<bob@example.org>", "C: DATA", "S: 250 ok"}}),
       base_policy(), "sending RCPT TO"},
      {"Data",
       concat({kHelloBare,
               {"C: MAIL FROM:<alice@example.com>", "S: 250 ok", "C: RCPT TO:<bob@example.org>", "S: 250 ok",
                "C: DATA"}}),
       base_policy(), "sending DATA command"},
      {"Dot", to_dot, base_policy(), "sending end of data -- message may be sent more than once"},
  };
}

TEST(ClientSession, TimeoutInEveryState) {
  for (const Stop& stop : stops()) {
    Row row{stop.name, stop.policy, {simple_msg()}, stop.script, {}, true, ClientState::Done};
    row.script.push_back("!timer");
    row.finished = {{{{Status::Transient, std::string("=") + kPeer + " timed out while " + stop.while_doing, 0}},
                     FailureScope::Site, false, false, stop.fallback}};
    check_row(row);
  }
}

TEST(ClientSession, EofInEveryState) {
  for (const Stop& stop : stops()) {
    Row row{stop.name, stop.policy, {simple_msg()}, stop.script, {}, true, ClientState::Done};
    row.script.push_back("!eof");
    row.finished = {{{{Status::Transient, std::string("=connection closed by ") + kPeer + " while " + stop.while_doing,
                       0}},
                     FailureScope::Site, false}};
    check_row(row);
  }
}

TEST(ClientSession, MalformedReplies) {
  const WantFinished site_error{{{Status::Transient, "protocol error from mx1.example.org[192.0.2.7] while ", 0}},
                                FailureScope::Site, false};
  const std::vector<Row> rows = {
      {"greeting without a code", base_policy(), {simple_msg()}, {"S: hello there"}, {site_error}, true,
       ClientState::Done},
      {"code out of range", base_policy(), {simple_msg()}, {kGreeting, kEhlo, "S: 999 what"}, {site_error}, true,
       ClientState::Done},
      {"multi-line reply changing its code", base_policy(), {simple_msg()},
       {kGreeting, kEhlo, "S: 250-mx1", "S: 251 PIPELINING"}, {site_error}, true, ClientState::Done},
      {"unsolicited reply while idle", base_policy(), {simple_msg(), simple_msg()},
       concat({kHelloBare, kOneByOne, {"S: 250 surprise", "!send"}}),
       {kDeliveredOne, {{{Status::Transient, "unexpected reply while idle: 250 surprise", 0}}, FailureScope::Site,
                        false}},
       true, ClientState::Done},
      {"reply over max_reply_bytes", [] {
         ClientPolicy p = base_policy();
         p.max_reply_bytes = 64;
         return p;
       }(),
       {simple_msg()},
       {kGreeting, kEhlo, "S: 250-mx1.example.org", "S: 250-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "S: 250-BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"},
       {{{{Status::Transient, "reply longer than 64 bytes", 0}}, FailureScope::Site, false}}, true,
       ClientState::Done},
  };
  for (const Row& row : rows) check_row(row);
}

// ---------------------------------------------------------------------------
// Extensions: SIZE, SMTPUTF8, 8BITMIME, DSN

Msg utf8_msg() {
  Msg m = simple_msg({"bob@example.org"});
  m.envelope.recipients[0].mailbox.local = "j\xc3\xb6rg";
  m.envelope.params.smtputf8 = true;
  return m;
}

TEST(ClientSession, Extensions) {
  const std::vector<Row> rows = {
      {"body over SIZE: permanent 5.3.4, no MAIL, still reusable", base_policy(), {simple_msg()},
       {kGreeting, kEhlo, "S: 250-mx1.example.org", "S: 250 SIZE 10", "!quit", "C: QUIT", "S: 221 Bye"},
       {{{{Status::Permanent, "=message size 22 exceeds the size limit 10 of mx1.example.org[192.0.2.7] (5.3.4)", 0}},
         FailureScope::Message, true}},
       true, ClientState::Done},
      {"SIZE 0 means no limit; SIZE= sent", base_policy(), {simple_msg()},
       concat({{kGreeting, kEhlo, "S: 250-mx1.example.org", "S: 250 SIZE"},
               {"C: MAIL FROM:<alice@example.com> SIZE=22", "S: 250 ok", "C: RCPT TO:<bob@example.org>", "S: 250 ok",
                "C: DATA", "S: 354 go", "C: " + kBody, "C: .", "S: 250 2.0.0 Ok: queued as ABC"}}),
       {kDeliveredOne}},
      {"SMTPUTF8 needed, not offered: permanent 5.6.7, no MAIL", base_policy(), {utf8_msg()}, kHelloPipelining,
       {{{{Status::Permanent, "=mx1.example.org[192.0.2.7] does not support SMTPUTF8, which this message's "
                              "addresses need (5.6.7)",
           0}},
         FailureScope::Message, true}}},
  };
  for (const Row& row : rows) check_row(row);
}

// MAIL and RCPT parameters go out only for announced extensions. Expected
// lines come from encode() so that parameter order is the encoder's business.
TEST(ClientSession, ParametersFollowCapabilities) {
  Envelope env = envelope("alice@example.com", {"bob@example.org"});
  env.params.body = BodyType::EightBitMime;
  env.params.ret = DsnRet::Hdrs;
  env.params.envid = "QQ314159";
  env.params.size = 999999;  // stale: the client sends the body's size
  env.params.auth = "<>";
  env.recipients[0].params.notify_failure = true;
  env.recipients[0].params.notify_delay = true;
  env.recipients[0].params.orcpt = "rfc822;bob@example.org";
  const std::string body = "x\r\n";

  struct Case {
    const char* name;
    std::string ehlo;
    MailParams mail;
    RcptParams rcpt;
  };
  MailParams all;
  all.size = 3;
  all.body = BodyType::EightBitMime;
  all.ret = DsnRet::Hdrs;
  all.envid = "QQ314159";
  MailParams size_only;
  size_only.size = 3;
  const std::vector<Case> cases = {
      {"nothing offered", "250 mx\r\n", {}, {}},
      {"SIZE only", "250-mx\r\n250 SIZE 1000\r\n", size_only, {}},
      {"all offered", "250-mx\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250 DSN\r\n", all, env.recipients[0].params},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ClientSession s(base_policy());
    s.send_message(env, body);
    s.receive("220 mx\r\n");
    s.receive(c.ehlo);
    std::string sent;
    while (auto a = s.next_action()) {
      if (auto* send = std::get_if<client::Send>(&*a)) sent += send->bytes;
    }
    const std::string want = encode(make_ehlo("relay.example.com")) + encode(make_mail(env.sender, c.mail));
    EXPECT_EQ(sent, want);
    s.receive("250 ok\r\n");
    sent.clear();
    while (auto a = s.next_action()) {
      if (auto* send = std::get_if<client::Send>(&*a)) sent += send->bytes;
    }
    EXPECT_EQ(sent, encode(make_rcpt(Path{env.recipients[0].mailbox}, c.rcpt)));
  }
}

TEST(ClientSession, SmtpUtf8Offered) {
  Msg m = utf8_msg();
  ClientSession s(base_policy());
  s.send_message(m.envelope, m.body);
  s.receive("220 mx\r\n250-mx\r\n250 SMTPUTF8\r\n");
  std::string sent;
  while (auto a = s.next_action()) {
    if (auto* send = std::get_if<client::Send>(&*a)) sent += send->bytes;
  }
  MailParams p;
  p.smtputf8 = true;
  EXPECT_EQ(sent, encode(make_ehlo("relay.example.com")) + encode(make_mail(m.envelope.sender, p)));
}

// ---------------------------------------------------------------------------
// Several messages on one connection

TEST(ClientSession, Reuse) {
  const std::vector<std::string> one_by_one_after_rset = concat({{"C: RSET", "S: 250 2.0.0 Ok"}, kOneByOne});
  const std::vector<Row> rows = {
      {"RSET before the second message, one at a time", base_policy(), {simple_msg(), simple_msg()},
       concat({kHelloBare, kOneByOne, {"!send"}, one_by_one_after_rset}), {kDeliveredOne, kDeliveredOne}},
      {"RSET pipelined with the second transaction", base_policy(), {simple_msg(), simple_msg()},
       concat({kHelloPipelining,
               {"C: MAIL FROM:<alice@example.com>", "C: RCPT TO:<bob@example.org>", "C: DATA", "S: 250 ok",
                "S: 250 ok", "S: 354 go", "C: " + kBody, "C: .", "S: 250 2.0.0 Ok: queued as ABC", "!send",
                "C: RSET", "C: MAIL FROM:<alice@example.com>", "C: RCPT TO:<bob@example.org>", "C: DATA",
                "S: 250 2.0.0 Ok", "S: 250 ok", "S: 250 ok", "S: 354 go", "C: " + kBody, "C: .",
                "S: 250 2.0.0 Ok: queued as ABC"}}),
       {kDeliveredOne, kDeliveredOne}},
      {"after a rejected MAIL the next message starts with RSET", base_policy(), {simple_msg(), simple_msg()},
       concat({kHelloBare, {"C: MAIL FROM:<alice@example.com>", "S: 452 4.3.1 Insufficient system storage", "!send"},
               one_by_one_after_rset}),
       {{{{Status::Transient, "452 4.3.1", 452}}, FailureScope::Message, true}, kDeliveredOne}},
      {"after a refusal made locally (SIZE) no RSET is owed", base_policy(),
       {simple_msg({"bob@example.org"}, std::string(40, 'x')), simple_msg()},
       {kGreeting, kEhlo, "S: 250-mx1.example.org", "S: 250 SIZE 30", "!send",
        "C: MAIL FROM:<alice@example.com> SIZE=22", "S: 250 ok", "C: RCPT TO:<bob@example.org>", "S: 250 ok",
        "C: DATA", "S: 354 go", "C: " + kBody, "C: .", "S: 250 2.0.0 Ok: queued as ABC"},
       {{{{Status::Permanent, "(5.3.4)", 0}}, FailureScope::Message, true}, kDeliveredOne}},
      {"RSET refused: transient, site, close", base_policy(), {simple_msg(), simple_msg({"x@example.net", "y@example.net"})},
       concat({kHelloBare, kOneByOne, {"!send", "C: RSET", "S: 500 5.5.1 what"}}),
       {kDeliveredOne,
        {{{Status::Transient, "said: 500 5.5.1 what (in reply to RSET)", 500},
          {Status::Transient, "(in reply to RSET)", 500}},
         FailureScope::Site, false}},
       true, ClientState::Done},
      {"two messages, then QUIT answered by EOF", base_policy(), {simple_msg(), simple_msg()},
       concat({kHelloBare, kOneByOne, {"!send", "C: RSET", "S: 250 ok"}, kOneByOne, {"!quit", "C: QUIT", "!eof"}}),
       {kDeliveredOne, kDeliveredOne}, true, ClientState::Done},
  };
  for (const Row& row : rows) check_row(row);
}

// ---------------------------------------------------------------------------
// Actions: timers, one Send per pipelined group, body without copies

TEST(ClientSession, TimersAndGroups) {
  const std::string body = ".leading dot\r\nline\r\n.\r\nlast line without CRLF";
  Row row{"timers", base_policy(), {Msg{envelope("alice@example.com", {"bob@example.org", "carol@example.org"}), body}},
          concat({kHelloPipelining,
                  {"C: MAIL FROM:<alice@example.com>", "C: RCPT TO:<bob@example.org>", "C: RCPT TO:<carol@example.org>",
                   "C: DATA", "S: 250 ok", "S: 250 ok", "S: 250 ok", "S: 354 go",
                   "C: ..leading dot\r\nline\r\n..\r\nlast line without CRLF", "C: .", "S: 250 2.0.0 Ok: queued as ABC"}}),
          {}};
  Driver d(row, Feed::Joined);
  Transcript run = d.run();
  ASSERT_EQ(run.finished.size(), 1u);
  // greeting, EHLO, the pipelined group, (re-armed as its replies arrive), the dot at 2x.
  ASSERT_GE(run.timers.size(), 4u);
  EXPECT_EQ(run.timers.front(), milliseconds(300000));
  EXPECT_EQ(run.timers.back(), milliseconds(600000));
  for (std::size_t i = 0; i + 1 < run.timers.size(); ++i) EXPECT_EQ(run.timers[i], milliseconds(300000));
  EXPECT_FALSE(run.slice_outside_body);
  // EHLO, the whole MAIL/RCPT/RCPT/DATA group, and the inserted dots and terminator.
  EXPECT_EQ(run.sends, 1 + 1 + 2 + 1);
  EXPECT_EQ(d.session().state(), ClientState::Idle);
  d.session().timer_fired();  // nothing awaited: ignored
  EXPECT_FALSE(d.session().next_action().has_value());
  EXPECT_EQ(d.session().state(), ClientState::Idle);
}

TEST(ClientSession, BodyGoesOutAsSlicesOfTheCallersBuffer) {
  std::string body;
  for (int i = 0; i < 1000; ++i) body += (i % 3 == 0 ? ".line\r\n" : "line\r\n");
  ClientSession s(base_policy());
  s.send_message(envelope("alice@example.com", {"bob@example.org"}), body);
  s.receive("220 mx\r\n250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n");
  std::string wire;
  std::size_t body_bytes = 0;
  bool in_body = false;
  while (auto a = s.next_action()) {
    if (auto* b = std::get_if<client::SendBody>(&*a)) {
      in_body = true;
      ASSERT_GE(b->bytes.data(), body.data());
      ASSERT_LE(b->bytes.data() + b->bytes.size(), body.data() + body.size());
      body_bytes += b->bytes.size();
      wire += b->bytes;
    } else if (auto* send = std::get_if<client::Send>(&*a)) {
      if (send->bytes == "DATA\r\n") {
        in_body = true;
      } else if (in_body) {
        EXPECT_LE(send->bytes.size(), 5u) << "only inserted dots and the terminator are copied";
        wire += send->bytes;
      }
    }
  }
  EXPECT_EQ(body_bytes, body.size());
  std::string want;
  for (int i = 0; i < 1000; ++i) want += (i % 3 == 0 ? "..line\r\n" : "line\r\n");
  want += ".\r\n";
  EXPECT_EQ(wire, want);
}

TEST(ClientSession, DescribeNamesEveryState) {
  for (ClientState st : {ClientState::Banner, ClientState::Ehlo, ClientState::Helo, ClientState::StartTls,
                         ClientState::Auth, ClientState::Idle, ClientState::Rset, ClientState::Mail,
                         ClientState::Rcpt, ClientState::Data, ClientState::Dot, ClientState::Quit,
                         ClientState::Done}) {
    EXPECT_FALSE(describe(st).empty());
  }
  EXPECT_EQ(describe(ClientState::Mail), "sending MAIL FROM");
  EXPECT_EQ(describe(ClientState::Dot), "sending end of data -- message may be sent more than once");
}

}  // namespace
}  // namespace tern::smtp
