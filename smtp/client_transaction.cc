// ClientSession's mail transaction: RSET (on a reused connection), MAIL,
// RCPT..., DATA, the body and the final dot, pipelined when the server offers
// PIPELINING (RFC 2920: DATA ends the group, the body waits for 354). Each
// reply is matched to the command it answers by its position in the plan.
#include <string>
#include <utility>

#include "smtp/client_session.h"
#include "smtp/command.h"

namespace tern::smtp {

namespace {

using Status = RecipientResult::Status;

Status failure_status(const Reply& reply) {
  return reply.code >= 500 ? Status::Permanent : Status::Transient;
}

bool is_2xx(const Reply& reply) { return reply.code >= 200 && reply.code < 300; }

}  // namespace

ClientState ClientSession::step_state(Step step) const {
  switch (step) {
    case Step::Rset: return ClientState::Rset;
    case Step::Mail: return ClientState::Mail;
    case Step::Rcpt: return ClientState::Rcpt;
    case Step::Data: return ClientState::Data;
  }
  return ClientState::Data;
}

std::string_view ClientSession::step_name(Step step) const {
  switch (step) {
    case Step::Rset: return "RSET";
    case Step::Mail: return "MAIL FROM";
    case Step::Rcpt: return "RCPT TO";
    case Step::Data: return "DATA";
  }
  return "DATA";
}

void ClientSession::finish_transaction() {
  finish(true);
  state_ = ClientState::Idle;
  if (quit_requested_) enter_quit();
}

void ClientSession::start_transaction() {
  Message& m = *msg_;
  const Envelope& env = m.envelope;

  // Refusals we can make ourselves, before the server sees a thing: the
  // connection stays clean, so no RSET is owed for them.
  if (env.params.smtputf8 && !caps_.smtputf8) {
    decide_undecided(Status::Permanent, std::nullopt,
                     std::string(peer()) +
                         " does not support SMTPUTF8, which this message's addresses need (5.6.7)",
                     FailureScope::Message);
    finish_transaction();
    return;
  }
  const std::size_t size = m.head.size() + m.body.size();
  if (caps_.size && *caps_.size > 0 && size > *caps_.size) {
    decide_undecided(Status::Permanent, std::nullopt,
                     "message size " + std::to_string(size) + " exceeds the size limit " +
                         std::to_string(*caps_.size) + " of " + std::string(peer()) + " (5.3.4)",
                     FailureScope::Message);
    finish_transaction();
    return;
  }
  if (env.recipients.empty()) {
    finish_transaction();
    return;
  }

  // Strict in what we send: a parameter goes out only when its extension
  // was announced (RFC 5321 §4.1.4: a server may 555 an unknown one).
  MailParams params = env.params;
  params.size.reset();
  if (caps_.size) params.size = size;
  // BINARYMIME needs BDAT (RFC 3030), which this client does not speak: the
  // body goes as DATA without a BODY= claim, as Postfix does without CHUNKING.
  if (!caps_.eightbitmime || params.body == BodyType::BinaryMime) params.body = BodyType::Unspecified;
  if (!caps_.dsn) {
    params.ret = DsnRet::Unspecified;
    params.envid.reset();
  }
  params.auth.reset();  // AUTH= vouches for a sender; we make no such claim

  if (need_rset_) {
    m.plan.push_back(Step::Rset);
    m.commands.push_back(encode(make_simple(Verb::Rset)));
  }
  m.plan.push_back(Step::Mail);
  m.commands.push_back(encode(make_mail(env.sender, params)));
  m.first_rcpt = m.plan.size();
  for (const Recipient& r : env.recipients) {
    m.plan.push_back(Step::Rcpt);
    m.commands.push_back(encode(make_rcpt(Path{r.mailbox}, caps_.dsn ? r.params : RcptParams{})));
  }
  m.plan.push_back(Step::Data);
  m.commands.push_back(encode(make_simple(Verb::Data)));
  need_rset_ = true;  // from MAIL on the server holds transaction state

  if (caps_.pipelining) {
    std::string group;
    for (const auto& c : m.commands) group += c;
    m.sent = m.plan.size();
    send(std::move(group));
  } else {
    m.sent = 1;
    send(m.commands[0]);
  }
  state_ = step_state(m.plan[0]);
  arm();
}

void ClientSession::on_step(const Reply& reply) {
  Message& m = *msg_;
  const Step step = m.plan[m.answered];
  ++m.answered;
  switch (step) {
    case Step::Rset:
      if (!is_2xx(reply)) {
        // A server that cannot reset is in an unknown state: drop it (no
        // QUIT: with PIPELINING a DATA may be in flight).
        site_failure({Status::Transient, reply, said(reply, step_name(step))}, Ending::Close);
        return;
      }
      break;
    case Step::Mail:
      if (!is_2xx(reply)) {
        m.mail_failed = true;
        decide_undecided(failure_status(reply), reply, said(reply, step_name(step)), FailureScope::Message);
      }
      break;
    case Step::Rcpt: {
      const std::size_t i = m.answered - 1 - m.first_rcpt;
      if (m.mail_failed) break;  // decided by the MAIL reply; this one is only consumed
      if (is_2xx(reply)) {
        m.accepted[i] = true;
      } else {
        decide(i, failure_status(reply), reply, said(reply, step_name(step)));
      }
      break;
    }
    case Step::Data:
      if (reply.code >= 300 && reply.code < 400) {  // 354; any 3xx is a go-ahead (Postfix)
        start_body();
        return;
      }
      // Decides those still waiting: the recipients RCPT accepted.
      decide_undecided(failure_status(reply), reply, said(reply, step_name(step)), FailureScope::Message);
      finish_transaction();
      return;
  }

  if (m.answered < m.sent) {  // pipelined: the next reply answers the next command
    state_ = step_state(m.plan[m.answered]);
    return;
  }
  // One command at a time: send the next, unless nothing is left to send for.
  bool any_accepted = false;
  for (bool a : m.accepted) any_accepted = any_accepted || a;
  const Step next = m.plan[m.sent];
  if (m.mail_failed || (next == Step::Data && !any_accepted)) {
    finish_transaction();
    return;
  }
  send(m.commands[m.sent]);
  ++m.sent;
  state_ = step_state(next);
  arm();
}

void ClientSession::start_body() {
  Message& m = *msg_;
  bool any_accepted = false;
  for (bool a : m.accepted) any_accepted = any_accepted || a;
  state_ = ClientState::Dot;
  if (any_accepted) {
    actions_.emplace_back(BodyStream{DotStuffer(m.head, m.body)});
  } else {
    // 354 although nobody is left to deliver to (pipelined RCPTs all
    // refused): an empty DATA ends it cleanly, and nothing is delivered.
    m.lone_dot = true;
    send(".\r\n");
  }
  arm();
}

void ClientSession::on_dot(const Reply& reply) {
  Message& m = *msg_;
  if (m.lone_dot) {  // every recipient was decided by its RCPT (or the MAIL) reply
    finish_transaction();
    return;
  }
  if (is_2xx(reply)) {
    std::string detail = said(reply, "");
    for (std::size_t i = 0; i < m.decided.size(); ++i) {
      if (m.accepted[i]) decide(i, Status::Delivered, reply, detail);
    }
  } else {
    decide_undecided(failure_status(reply), reply, said(reply, "end of DATA"), FailureScope::Message);
  }
  finish_transaction();
}

}  // namespace tern::smtp
