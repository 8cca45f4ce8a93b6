// ClientSession driven into ServerSession in memory (h11's ConnectionPair):
// both sides' bytes go straight to the other, TLS is a pair of tls_ready()
// calls, the server's Authenticate and Enqueue are answered here. The point is
// what one engine sends, the other accepts: the body arrives as it left
// (dot-stuffing against unstuffing), pipelined groups are answered in order,
// and refusals come back as the right per-recipient verdicts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "smtp/client_session.h"
#include "smtp/server_session.h"

namespace tern::smtp {
namespace {

using Status = RecipientResult::Status;
using ::testing::HasSubstr;

Envelope envelope(std::vector<std::string> to) {
  Envelope e;
  e.sender.mailbox = Mailbox{"alice", "example.com"};
  for (auto& t : to) e.recipients.push_back(Recipient{Mailbox{t, "example.org"}, {}});
  return e;
}

ClientPolicy submission_client() {
  ClientPolicy p;
  p.helo_name = "app.example.com";
  p.peer_name = "relay.example.com[127.0.0.1]";
  p.tls = ClientTls::Required;
  p.auth_user = "app";
  p.auth_password = "app-password";
  return p;
}

ServerPolicy relay_server() {
  ServerPolicy p;
  p.hostname = "relay.example.com";
  return p;
}

class Pair {
 public:
  Pair(ClientPolicy c, ServerPolicy s, ConnectionFacts facts = {"127.0.0.1", false, false})
      : client(std::move(c)), server(s, std::move(facts)) {}

  // Moves bytes and answers until neither side has anything to say.
  void pump() {
    for (int round = 0; round < 100000; ++round) {
      bool progress = false;
      while (auto a = client.next_action()) {
        progress = true;
        if (auto* s = std::get_if<client::Send>(&*a)) {
          if (!server_closed) server.receive(s->bytes);
        } else if (auto* b = std::get_if<client::SendBody>(&*a)) {
          if (!server_closed) server.receive(b->bytes);
        } else if (std::holds_alternative<client::StartTls>(*a)) {
          client_tls = true;
        } else if (auto* f = std::get_if<client::Finished>(&*a)) {
          finished.push_back(std::move(*f));
        } else if (std::holds_alternative<client::Close>(*a)) {
          client_closed = true;
          if (!server_closed) server.receive_eof();
        }
      }
      while (auto a = server.next_action()) {
        progress = true;
        if (auto* s = std::get_if<server::Send>(&*a)) {
          if (!client_closed) client.receive(s->bytes);
        } else if (std::holds_alternative<server::StartTls>(*a)) {
          server_tls = true;
        } else if (auto* auth = std::get_if<server::Authenticate>(&*a)) {
          const bool ok = auth->user == "app" && auth->password == "app-password";
          server.auth_result(ok ? tern::Status{} : tern::Status(Error::permanent("bad password")));
        } else if (auto* e = std::get_if<server::Enqueue>(&*a)) {
          enqueued.push_back(std::move(*e));
          server.enqueued(std::string("Q") + std::to_string(enqueued.size()));
        } else if (std::holds_alternative<server::Close>(*a)) {
          server_closed = true;
          if (!client_closed) client.receive_eof();
        }
      }
      if (client_tls && server_tls) {
        client_tls = server_tls = false;
        server.tls_ready();
        client.tls_ready();
        progress = true;
      }
      if (!progress) return;
    }
    ADD_FAILURE() << "the pair never settles";
  }

  ClientSession client;
  ServerSession server;
  std::vector<client::Finished> finished;
  std::vector<server::Enqueue> enqueued;
  bool client_tls = false;
  bool server_tls = false;
  bool client_closed = false;
  bool server_closed = false;
};

TEST(ClientServer, SubmissionWithStartTlsAuthAndPipelining) {
  Pair pair(submission_client(), relay_server());
  const std::string body = "Subject: dots\r\n\r\n.leading\r\n.\r\n..two\r\nno final CRLF";
  const Envelope env = envelope({"bob", "carol", "dave"});
  pair.client.send_message(env, body);
  pair.pump();
  ASSERT_EQ(pair.finished.size(), 1u);
  const client::Finished& f = pair.finished[0];
  EXPECT_TRUE(f.tls);
  EXPECT_TRUE(f.reusable);
  EXPECT_FALSE(f.failure.has_value());
  ASSERT_EQ(f.recipients.size(), 3u);
  for (const auto& r : f.recipients) {
    EXPECT_EQ(r.status, Status::Delivered);
    EXPECT_EQ(r.detail, "relay.example.com[127.0.0.1] said: 250 2.0.0 Ok: queued as Q1");
  }
  ASSERT_EQ(pair.enqueued.size(), 1u);
  EXPECT_EQ(pair.enqueued[0].body, body + "\r\n") << "dot-stuffed by one, unstuffed by the other";
  EXPECT_EQ(pair.enqueued[0].envelope.recipients.size(), 3u);
  EXPECT_EQ(pair.enqueued[0].envelope.sender, env.sender);
  EXPECT_TRUE(pair.enqueued[0].info.tls);
  EXPECT_EQ(pair.enqueued[0].info.auth_user, "app");
  EXPECT_TRUE(pair.client.capabilities().pipelining);
  EXPECT_TRUE(pair.server.authenticated());

  pair.client.quit();
  pair.pump();
  EXPECT_EQ(pair.client.state(), ClientState::Done);
  EXPECT_TRUE(pair.client_closed);
}

TEST(ClientServer, TwoMessagesOnOneConnection) {
  Pair pair(submission_client(), relay_server());
  const std::string first = "Subject: one\r\n\r\n1\r\n";
  const std::string second = "Subject: two\r\n\r\n.2\r\n";
  pair.client.send_message(envelope({"bob"}), first);
  pair.pump();
  ASSERT_EQ(pair.finished.size(), 1u);
  ASSERT_TRUE(pair.finished[0].reusable);
  pair.client.send_message(envelope({"carol"}), second);
  pair.pump();
  ASSERT_EQ(pair.finished.size(), 2u);
  EXPECT_EQ(pair.finished[1].recipients.at(0).status, Status::Delivered);
  EXPECT_THAT(pair.finished[1].recipients.at(0).detail, HasSubstr("queued as Q2"));
  ASSERT_EQ(pair.enqueued.size(), 2u);
  EXPECT_EQ(pair.enqueued[0].body, first);
  EXPECT_EQ(pair.enqueued[1].body, second);
  EXPECT_EQ(pair.enqueued[1].envelope.recipients.at(0).mailbox.local, "carol");
}

TEST(ClientServer, WrongPasswordDefers) {
  ClientPolicy c = submission_client();
  c.auth_password = "wrong";
  Pair pair(c, relay_server());
  pair.client.send_message(envelope({"bob"}), "x\r\n");
  pair.pump();
  ASSERT_EQ(pair.finished.size(), 1u);
  EXPECT_EQ(pair.finished[0].failure, FailureScope::Site);
  EXPECT_EQ(pair.finished[0].recipients.at(0).status, Status::Transient);
  EXPECT_THAT(pair.finished[0].recipients.at(0).detail, HasSubstr("535 5.7.8"));
  EXPECT_TRUE(pair.enqueued.empty());
  EXPECT_TRUE(pair.client_closed);
}

TEST(ClientServer, TooManyRecipientsDefersTheRest) {
  ServerPolicy s = relay_server();
  s.max_recipients = 2;
  Pair pair(submission_client(), s);
  pair.client.send_message(envelope({"bob", "carol", "dave"}), "x\r\n");
  pair.pump();
  ASSERT_EQ(pair.finished.size(), 1u);
  const auto& r = pair.finished[0].recipients;
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].status, Status::Delivered);
  EXPECT_EQ(r[1].status, Status::Delivered);
  EXPECT_EQ(r[2].status, Status::Transient);
  EXPECT_THAT(r[2].detail, HasSubstr("452 4.5.3"));
  ASSERT_EQ(pair.enqueued.size(), 1u);
  EXPECT_EQ(pair.enqueued[0].envelope.recipients.size(), 2u);
}

TEST(ClientServer, OversizeIsRefusedBeforeMail) {
  ServerPolicy s = relay_server();
  s.max_message_size = 10;
  Pair pair(submission_client(), s);
  pair.client.send_message(envelope({"bob"}), std::string(20, 'x') + "\r\n");
  pair.pump();
  ASSERT_EQ(pair.finished.size(), 1u);
  EXPECT_EQ(pair.finished[0].recipients.at(0).status, Status::Permanent);
  EXPECT_THAT(pair.finished[0].recipients.at(0).detail, HasSubstr("5.3.4"));
  EXPECT_TRUE(pair.finished[0].reusable);
  EXPECT_TRUE(pair.enqueued.empty());
}

TEST(ClientServer, TrustedClientWithoutTlsOrAuth) {
  ClientPolicy c;
  c.tls = ClientTls::None;
  c.peer_name = "relay";
  ServerPolicy s = relay_server();
  s.starttls_available = false;
  Pair pair(c, s, ConnectionFacts{"127.0.0.1", false, true});
  pair.client.send_message(envelope({"bob"}), "x\r\n");
  pair.pump();
  ASSERT_EQ(pair.finished.size(), 1u);
  EXPECT_EQ(pair.finished[0].recipients.at(0).status, Status::Delivered);
  EXPECT_FALSE(pair.finished[0].tls);
}

TEST(ClientServer, UntrustedClientWithoutAuthIsNotARelay) {
  ClientPolicy c;
  c.tls = ClientTls::Opportunistic;
  c.peer_name = "relay";
  Pair pair(c, relay_server());
  pair.client.send_message(envelope({"bob", "carol"}), "x\r\n");
  pair.pump();
  ASSERT_EQ(pair.finished.size(), 1u);
  EXPECT_EQ(pair.finished[0].failure, FailureScope::Message);
  for (const auto& r : pair.finished[0].recipients) {
    EXPECT_EQ(r.status, Status::Permanent);
    EXPECT_THAT(r.detail, HasSubstr("530 5.7.0"));
  }
  EXPECT_TRUE(pair.enqueued.empty());
}

TEST(ClientServer, ShutdownMidSessionDefers) {
  Pair pair(submission_client(), relay_server());
  pair.client.send_message(envelope({"bob"}), "x\r\n");
  pair.pump();
  ASSERT_EQ(pair.finished.size(), 1u);
  pair.server.shutdown();
  pair.client.send_message(envelope({"carol"}), "y\r\n");
  pair.pump();
  ASSERT_EQ(pair.finished.size(), 2u);
  EXPECT_EQ(pair.finished[1].recipients.at(0).status, Status::Transient);
  EXPECT_THAT(pair.finished[1].recipients.at(0).detail, HasSubstr("421 4.3.2"));
  EXPECT_FALSE(pair.finished[1].reusable);
}

// Random bodies made of dots, letters and CRLF (bare CR and LF are refused
// by the server, by design) arrive exactly as sent.
TEST(ClientServer, BodiesRoundTrip) {
  std::mt19937 rng(7);  // fixed seed: reproducible
  const char* const parts[] = {".", "a", "\r\n", "..", "\r\n.\r\n"};
  Pair pair(submission_client(), relay_server());
  for (int i = 0; i < 200; ++i) {
    std::string body;
    const int n = static_cast<int>(rng() % 12);
    for (int k = 0; k < n; ++k) body += parts[rng() % 5];
    pair.client.send_message(envelope({"bob"}), body);
    pair.pump();
    ASSERT_EQ(pair.finished.size(), static_cast<std::size_t>(i + 1));
    ASSERT_EQ(pair.finished.back().recipients.at(0).status, Status::Delivered)
        << pair.finished.back().recipients.at(0).detail;
    ASSERT_EQ(pair.enqueued.size(), static_cast<std::size_t>(i + 1));
    const std::string want = body.empty() || body.ends_with("\r\n") ? body : body + "\r\n";
    ASSERT_EQ(pair.enqueued.back().body, want) << testing::PrintToString(body);
  }
}

}  // namespace
}  // namespace tern::smtp
