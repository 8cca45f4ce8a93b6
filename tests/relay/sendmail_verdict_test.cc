#include "relay/sendmail_verdict.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "relay/sendmail_defaults.h"

namespace tern::relay {
namespace {

using S = smtp::RecipientResult::Status;
using smtp::ClientState;

struct R {  // one recipient's result, as the session reports it
  S status;
  int code;            // 0: no reply
  std::string detail;
};

smtp::Envelope envelope_of(std::size_t n) {
  smtp::Envelope e;
  e.sender.mailbox = smtp::Mailbox{"app", "src.test"};
  for (std::size_t i = 0; i < n; ++i) {
    e.recipients.push_back(smtp::Recipient{smtp::Mailbox{"r" + std::to_string(i), "example.test"}, {}});
  }
  return e;
}

SubmitOutcome finished(const std::vector<R>& rs, ClientState stage = ClientState::Rcpt) {
  SubmitOutcome o;
  o.kind = SubmitOutcome::Kind::Finished;
  o.stage = stage;
  smtp::client::Finished f;
  for (const R& r : rs) {
    smtp::RecipientResult rr;
    rr.status = r.status;
    if (r.code != 0) {
      std::string enhanced = std::to_string(r.code / 100) + ".0.0";
      rr.reply = smtp::make_reply(r.code, r.code / 100 == 3 ? "" : enhanced, "text");
    }
    rr.detail = r.detail;
    f.recipients.push_back(rr);
  }
  o.finished = f;
  return o;
}

struct Row {
  std::string name;
  SubmitOutcome outcome;
  std::size_t recipients;
  int want_code;
  std::vector<std::string> want_lines;
};

TEST(SendmailVerdict, Table) {
  const std::string p = "127.0.0.1:587";
  const Row rows[] = {
      {"all delivered", finished({{S::Delivered, 250, p + " said: 250 2.0.0 text"}}), 1, 0, {}},
      {"one recipient 550 of two",
       finished({{S::Delivered, 250, ""}, {S::Permanent, 550, p + " said: 550 5.0.0 text (in reply to RCPT TO)"}}),
       2, 69, {"tern sendmail: recipient <r1@example.test> refused, server said: 550 5.0.0 text"}},
      {"every recipient 550",
       finished({{S::Permanent, 550, "x (in reply to RCPT TO)"}, {S::Permanent, 550, "x (in reply to RCPT TO)"}}),
       2, 69,
       {"tern sendmail: recipient <r0@example.test> refused, server said: 550 5.0.0 text",
        "tern sendmail: recipient <r1@example.test> refused, server said: 550 5.0.0 text"}},
      {"451 on RCPT", finished({{S::Transient, 451, "x (in reply to RCPT TO)"}}), 1, 75,
       {"tern sendmail: recipient <r0@example.test> deferred, server said: 451 4.0.0 text"}},
      {"4xx wins over 5xx", finished({{S::Permanent, 550, "(in reply to RCPT TO)"},
                                      {S::Transient, 452, "(in reply to RCPT TO)"}}),
       2, 75,
       {"tern sendmail: recipient <r0@example.test> refused, server said: 550 5.0.0 text",
        "tern sendmail: recipient <r1@example.test> deferred, server said: 452 4.0.0 text"}},
      {"MAIL refused: one line for all",
       finished({{S::Permanent, 553, "x (in reply to MAIL FROM)"}, {S::Permanent, 553, "x (in reply to MAIL FROM)"}},
                ClientState::Mail),
       2, 69, {"tern sendmail: message refused at MAIL FROM, server said: 553 5.0.0 text"}},
      {"final dot 554", finished({{S::Permanent, 554, "x (in reply to end of DATA)"}}, ClientState::Dot), 1, 69,
       {"tern sendmail: message refused at end of DATA, server said: 554 5.0.0 text"}},
      {"final dot 451", finished({{S::Transient, 451, "x (in reply to end of DATA)"}}, ClientState::Dot), 1, 75,
       {"tern sendmail: message deferred at end of DATA, server said: 451 4.0.0 text"}},
      {"DATA 554", finished({{S::Permanent, 554, "x (in reply to DATA)"}}, ClientState::Data), 1, 69,
       {"tern sendmail: message refused at DATA, server said: 554 5.0.0 text"}},
      {"535 to AUTH (the session calls it transient)",
       finished({{S::Transient, 535, "authentication failed: x (in reply to AUTH PLAIN)"}}, ClientState::Auth), 1,
       77, {"tern sendmail: authentication refused (AUTH PLAIN), server said: 535 5.0.0 text"}},
      {"534 to AUTH", finished({{S::Transient, 534, "authentication failed: (in reply to AUTH LOGIN)"}},
                               ClientState::Auth),
       1, 77, {"tern sendmail: authentication refused (AUTH LOGIN), server said: 534 5.0.0 text"}},
      {"454 to AUTH is temporary", finished({{S::Transient, 454, "(in reply to AUTH PLAIN)"}}, ClientState::Auth), 1,
       75, {"tern sendmail: authentication deferred (AUTH PLAIN), server said: 454 4.0.0 text"}},
      {"530 at MAIL: authentication required",
       finished({{S::Permanent, 530, "x (in reply to MAIL FROM)"}}, ClientState::Mail), 1, 77,
       {"tern sendmail: authentication refused (MAIL FROM), server said: 530 5.0.0 text"}},
      {"greeting 554", finished({{S::Permanent, 554, p + " refused to talk to me: 554 5.0.0 text"}},
                                ClientState::Banner),
       1, 69, {"tern sendmail: connection refused at the greeting, server said: 554 5.0.0 text"}},
      {"421 mid-way", finished({{S::Transient, 421, "x (in reply to RCPT TO)"}}), 1, 75,
       {"tern sendmail: recipient <r0@example.test> deferred, server said: 421 4.0.0 text"}},
      {"timeout: no reply", finished({{S::Transient, 0, p + " timed out while sending RCPT TO"}}), 1, 75,
       {"tern sendmail: " + p + " timed out while sending RCPT TO"}},
      {"SIZE refused by us", finished({{S::Permanent, 0, "message size 9 exceeds the size limit 5 (5.3.4)"}}), 1, 69,
       {"tern sendmail: message size 9 exceeds the size limit 5 (5.3.4)"}},
      {"STARTTLS refused", finished({{S::Transient, 454, "TLS is required, but STARTTLS failed: (in reply to STARTTLS)"}},
                                    ClientState::StartTls),
       1, 75, {"tern sendmail: STARTTLS refused, server said: 454 4.0.0 text"}},
      {"result count mismatch is our bug", finished({{S::Delivered, 250, ""}}), 2, 70,
       {"tern sendmail: the SMTP session reported 1 results for 2 recipients"}},
  };
  for (const Row& r : rows) {
    const SendmailVerdict v = judge_submission(r.outcome, envelope_of(r.recipients));
    EXPECT_EQ(v.exit_code, r.want_code) << r.name;
    EXPECT_EQ(v.lines, r.want_lines) << r.name;
  }
}

TEST(SendmailVerdict, FailuresOutsideTheSession) {
  struct K {
    SubmitOutcome::Kind kind;
    int want;
  };
  const K rows[] = {
      {SubmitOutcome::Kind::UnknownHost, 68},    {SubmitOutcome::Kind::ConnectFailed, 75},
      {SubmitOutcome::Kind::TlsHandshakeFailed, 75}, {SubmitOutcome::Kind::TlsNotVerified, 77},
      {SubmitOutcome::Kind::StartTlsMissing, 69}, {SubmitOutcome::Kind::LocalError, 71},
  };
  for (const K& k : rows) {
    SubmitOutcome o;
    o.kind = k.kind;
    o.error = "what happened";
    const SendmailVerdict v = judge_submission(o, envelope_of(1));
    EXPECT_EQ(v.exit_code, k.want) << static_cast<int>(k.kind);
    EXPECT_EQ(v.lines, std::vector<std::string>{"tern sendmail: what happened"});
  }
  SubmitOutcome empty;
  empty.kind = SubmitOutcome::Kind::Finished;  // but no Finished: never a success
  EXPECT_EQ(judge_submission(empty, envelope_of(1)).exit_code, 70);
}

TEST(SendmailDefaults, LocalSubmissionAddress) {
  struct A {
    std::vector<HostPort> listen;
    std::optional<std::string> want;
  };
  const A rows[] = {
      {{{"0.0.0.0", 587}}, "127.0.0.1:587"},
      {{{"::", 587}}, "[::1]:587"},
      {{{"10.1.2.3", 2525}, {"0.0.0.0", 587}}, "10.1.2.3:2525"},
      {{{"127.0.0.1", 1587}}, "127.0.0.1:1587"},
      {{}, std::nullopt},
  };
  for (const A& a : rows) {
    auto got = local_submission_address(a.listen);
    ASSERT_EQ(got.has_value(), a.want.has_value());
    if (got) {
      EXPECT_EQ(got->str(), *a.want);
    }
  }
  Config config;
  config.hostname = "relay.example.org";
  config.submission.max_message_size = 1234;
  const SendmailDefaults d = sendmail_defaults(config);
  EXPECT_EQ(d.hostname, "relay.example.org");
  ASSERT_TRUE(d.server.has_value());
  EXPECT_EQ(d.server->str(), "127.0.0.1:587");  // INTERFACE.md's default listen, made local
  EXPECT_EQ(d.max_message_bytes, 1234u);
}

}  // namespace
}  // namespace tern::relay
