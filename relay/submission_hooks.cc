// Accepted mail to the queue, AUTH to the authenticator. See submission_hooks.h.
#include "relay/submission_hooks.h"

#include "metrics/metrics.h"
#include "queue/queue_id.h"
#include "queue/writer.h"
#include "relay/authenticator.h"
#include "relay/log.h"
#include "relay/scheduler.h"
#include "smtp/mail_date.h"
#include "smtp/received.h"

namespace tern::relay {

std::string trace_fields(const Submission& s, const std::string& hostname, const std::string& queue_id,
                         std::chrono::system_clock::time_point now) {
  const smtp::TransactionInfo& info = s.message.info;
  smtp::ReceivedFields f;
  f.helo = info.helo;
  f.client_ip = s.client_address;
  f.by = hostname;
  f.protocol = smtp::received_protocol(info.esmtp, info.tls, !info.auth_user.empty());
  f.id = queue_id;
  if (s.message.envelope.recipients.size() == 1) f.for_rcpt = s.message.envelope.recipients.front().mailbox.str();
  if (!s.tls_description.empty()) {
    // "TLSv1.3 with cipher X"
    auto sep = s.tls_description.find(" with cipher ");
    if (sep != std::string::npos) {
      f.tls = smtp::ReceivedTls{s.tls_description.substr(0, sep), s.tls_description.substr(sep + 13)};
    }
  }
  f.time = now;
  std::string out = smtp::format_received(f);
  if (!info.has_message_id) out += "Message-ID: <" + queue_id + "@" + hostname + ">\r\n";
  if (!info.has_date) {
    out += "Date: " + smtp::format_mail_date(std::chrono::floor<std::chrono::seconds>(now)) + "\r\n";
  }
  return out;
}

SubmissionHooks::SubmissionHooks(std::string hostname, queue::Writer& writer, Scheduler& scheduler,
                                 Authenticator& authenticator, metrics::Metrics& metrics)
    : hostname_(std::move(hostname)),
      writer_(writer),
      scheduler_(scheduler),
      authenticator_(authenticator),
      metrics_(metrics) {}

void SubmissionHooks::set_hostname(std::string hostname) {
  std::lock_guard<std::mutex> lock(mutex_);
  hostname_ = std::move(hostname);
}

std::string SubmissionHooks::hostname() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return hostname_;
}

void SubmissionHooks::submit(Submission s, std::function<void(Result<std::string>)> done) {
  const auto now = std::chrono::system_clock::now();
  queue::NewMessage m;
  std::shared_ptr<queue::BodyFile> body_file = std::move(s.body_file);
  m.id = body_file ? body_file->id() : queue::make_queue_id();
  std::string prefix = trace_fields(s, hostname(), m.id, now);
  if (body_file) {  // large: the body is its file, and the row keeps only our header fields
    m.data = std::move(prefix);
    m.body_file = body_file->size();
  } else {
    m.data.reserve(prefix.size() + s.message.body.size());
    m.data += prefix;
    m.data += s.message.body;
    std::string().swap(s.message.body);  // one copy of the body in memory, not two
  }
  m.envelope = std::move(s.message.envelope);
  m.auth_user = std::move(s.message.info.auth_user);
  m.client_address = std::move(s.client_address);
  m.received_at = now;
  const auto listener = s.implicit_tls_listener ? metrics::Listener::Submissions : metrics::Listener::Submission;

  // Claimed before the commit, so a poll between COMMIT and the callback can't take it too.
  scheduler_.reserve(m.id);
  const std::uint64_t session = s.session_id;
  writer_.enqueue(std::move(m), [this, done = std::move(done), listener, session, body_file](
                                     Status status, queue::NewMessage&& msg) {
    if (!status) {  // not stored: the body file goes with body_file's last owner
      scheduler_.unreserve(msg.id);
      log_warn("enqueue_failed",
               {{"session", session}, {"client", msg.client_address}, {"error", status.error().message()}});
      done(status.error());
      return;
    }
    if (body_file) body_file->keep();  // the committed row owns it
    metrics_.message_received(listener);
    log_info("received", {{"msg", msg.id},
                          {"session", session},
                          {"from", msg.envelope.sender.str()},
                          {"rcpts", msg.envelope.recipients.size()},
                          {"size", msg.data.size() + msg.body_file.value_or(0)},
                          {"client", msg.client_address},
                          {"user", msg.auth_user.empty() ? "-" : msg.auth_user}});
    done(msg.id);
    scheduler_.submit_new(std::move(msg));
  });
}

void SubmissionHooks::authenticate(std::string user, std::string password, std::string client_address,
                                   std::function<void(Status)> done) {
  authenticator_.verify(std::move(user), std::move(password), std::move(client_address), std::move(done));
}

void SubmissionHooks::session_opened() { metrics_.session_opened(metrics::Direction::Inbound); }
void SubmissionHooks::session_closed() { metrics_.session_closed(metrics::Direction::Inbound); }
void SubmissionHooks::rejected(std::string_view reason) { metrics_.message_rejected(reason); }
void SubmissionHooks::tls_handshake(bool ok) { metrics_.tls_handshake(metrics::Direction::Inbound, ok); }

}  // namespace tern::relay
