// Verdicts, records, metrics and DSNs of delivery attempts. See delivery_outcome.h.
#include "relay/delivery_outcome.h"

#include <cctype>
#include <iterator>

#include "metrics/metrics.h"
#include "queue/queue_id.h"
#include "relay/config.h"
#include "relay/delivery_worker.h"
#include "relay/dsn.h"
#include "relay/duration.h"
#include "relay/failure_policy.h"
#include "relay/log.h"
#include "smtp/mail_date.h"

namespace tern::relay {
namespace {

using Status = smtp::RecipientResult::Status;
using std::chrono::system_clock;

std::chrono::sys_seconds to_seconds(system_clock::time_point t) {
  return std::chrono::floor<std::chrono::seconds>(t);
}

// "5.1.10" at the start of a word in `text`, if any.
std::optional<std::string> find_enhanced_code(std::string_view text) {
  for (std::size_t i = 0; i + 5 <= text.size(); ++i) {
    if ((text[i] != '2' && text[i] != '4' && text[i] != '5') || text[i + 1] != '.') continue;
    if (i > 0 && !std::isspace(static_cast<unsigned char>(text[i - 1]))) continue;
    std::size_t j = i + 2;
    std::size_t d1 = j;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
    if (j == d1 || j - d1 > 3 || j >= text.size() || text[j] != '.') continue;
    std::size_t d2 = ++j;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
    if (j == d2 || j - d2 > 3) continue;
    if (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) continue;
    return std::string(text.substr(i, j - i));
  }
  return std::nullopt;
}

std::string host_name_of(const std::string& label) {
  auto bracket = label.find('[');
  return bracket == std::string::npos ? label : label.substr(0, bracket);
}

}  // namespace

std::vector<RecipientOutcome> outcomes_from(const smtp::client::Finished& finished, bool last_host) {
  std::vector<RecipientOutcome> out;
  out.reserve(finished.recipients.size());
  for (const smtp::RecipientResult& r : finished.recipients) {
    RecipientOutcome o;
    o.status = r.status;
    o.scope = finished.failure;
    o.last_host = last_host;
    o.detail = r.detail;
    o.reply = r.reply;
    out.push_back(std::move(o));
  }
  return out;
}

std::unique_ptr<DeliveryJob> split_delivered(
    DeliveryJob& job, const smtp::client::Finished& finished,
    const std::function<void(std::unique_ptr<DeliveryJob>, std::vector<RecipientOutcome>)>& record_delivered) {
  auto delivered = std::make_unique<DeliveryJob>();
  auto rest = std::make_unique<DeliveryJob>();
  std::vector<RecipientOutcome> delivered_outcomes;
  for (auto* part : {delivered.get(), rest.get()}) {
    part->message_id = job.message_id;
    part->destination = job.destination;
    part->envelope.sender = job.envelope.sender;
    part->envelope.params = job.envelope.params;
    part->data = job.data;
    part->received_at = job.received_at;
    part->host_index = job.host_index;
    part->no_tls = job.no_tls;
    part->bounces = job.bounces;
  }
  for (std::size_t i = 0; i < job.envelope.recipients.size(); ++i) {
    const bool ok = i < finished.recipients.size() && finished.recipients[i].status == Status::Delivered;
    DeliveryJob* to = ok ? delivered.get() : rest.get();
    to->envelope.recipients.push_back(job.envelope.recipients[i]);
    to->recipient_ids.push_back(job.recipient_ids[i]);
    to->attempts.push_back(job.attempts[i]);
    if (ok) {
      RecipientOutcome o;
      o.status = Status::Delivered;
      o.detail = finished.recipients[i].detail;
      o.reply = finished.recipients[i].reply;
      delivered_outcomes.push_back(std::move(o));
    }
  }
  if (!delivered->envelope.recipients.empty()) record_delivered(std::move(delivered), std::move(delivered_outcomes));
  if (rest->envelope.recipients.empty()) return nullptr;
  return rest;
}

std::string dsn_status(const RecipientOutcome& outcome) {
  if (outcome.reply && outcome.reply->enhanced) return outcome.reply->enhanced->str();
  if (auto code = find_enhanced_code(outcome.detail)) return *code;
  if (outcome.reply) return std::to_string(outcome.reply->code / 100) + ".0.0";
  return outcome.status == Status::Permanent ? "5.0.0" : "4.0.0";
}

RecordBatch build_record(const DeliveryJob& job, const std::vector<RecipientOutcome>& outcomes,
                         const std::string& host, bool tls, const DeliverySettings& settings, std::uint64_t random,
                         metrics::Metrics* metrics, system_clock::time_point now) {
  RecordBatch batch;
  const DeliveryConfig& cfg = settings.delivery;
  const bool expired = now - job.received_at >= cfg.max_queue_lifetime;
  std::vector<FailedRecipient>& failed = batch.failed;
  for (std::size_t i = 0; i < job.envelope.recipients.size() && i < outcomes.size(); ++i) {
    const RecipientOutcome& o = outcomes[i];
    const smtp::Recipient& rcpt = job.envelope.recipients[i];
    const int attempt = job.attempts[i] + 1;
    AttemptFacts facts{o.status, o.scope, o.last_host, expired};
    Verdict verdict = decide(facts);
    if (verdict == Verdict::NextHost) verdict = Verdict::Defer;  // the worker handles next hosts before us

    queue::AttemptRecord rec;
    rec.message_id = job.message_id;
    rec.recipient_id = job.recipient_ids[i];
    rec.reply = o.detail;
    rec.host = host;
    rec.attempted_at = now;
    std::string next;
    switch (verdict) {
      case Verdict::Delivered:
        rec.outcome = queue::AttemptRecord::Outcome::Delivered;
        if (metrics) {
          metrics->delivery(metrics::DeliveryResult::Delivered);
          metrics->observe_delivery_duration(now - job.received_at);
        }
        break;
      case Verdict::Defer: {
        rec.outcome = queue::AttemptRecord::Outcome::Deferred;
        auto delay = retry_delay(attempt, cfg.retry_schedule, random + i * 0x9e3779b97f4a7c15ull);
        rec.next_attempt = now + delay;
        next = format_duration(delay);
        if (metrics) metrics->delivery(metrics::DeliveryResult::Deferred);
        break;
      }
      case Verdict::Bounce:
      case Verdict::NextHost: {
        rec.outcome = queue::AttemptRecord::Outcome::Bounced;
        if (metrics) metrics->delivery(metrics::DeliveryResult::Bounced);
        FailedRecipient f;
        f.recipient = rcpt;
        const bool by_expiry = expired && o.status != Status::Permanent;
        f.status = by_expiry ? "4.4.7" : dsn_status(o);
        if (f.status.empty() || f.status[0] != '5') f.status = by_expiry ? "4.4.7" : "5" + f.status.substr(1);
        f.remote_mta = host.empty() ? "" : host_name_of(host);
        f.diagnostic = o.reply ? o.reply->summary() : "";
        f.reason = by_expiry ? "message expired after " + format_duration(cfg.max_queue_lifetime) +
                                   " in the queue; last error: " + o.detail
                             : o.detail;
        if (by_expiry) rec.reply = f.reason;
        failed.push_back(std::move(f));
        break;
      }
    }
    log_info("delivery", {{"msg", job.message_id},
                          {"rcpt", rcpt.mailbox.str()},
                          {"host", host.empty() ? "-" : host},
                          {"result", verdict_name(verdict)},
                          {"attempt", attempt},
                          {"tls", tls ? "yes" : "no"},
                          {"next", next.empty() ? "-" : next},
                          {"reply", o.detail}});
    batch.attempts.push_back(std::move(rec));
  }

  return batch;
}

std::optional<queue::NewMessage> make_dsn(const DeliveryJob& job, std::vector<FailedRecipient> failed,
                                          const DeliverySettings& settings, system_clock::time_point now) {
  if (failed.empty() || !settings.delivery.bounce || job.envelope.sender.is_null()) return std::nullopt;
  DsnInput in;
  in.hostname = settings.hostname;
  in.queue_id = job.message_id;
  in.dsn_message_id = queue::make_queue_id();
  in.original_sender = job.envelope.sender;
  in.original_params = job.envelope.params;
  in.arrival_date = smtp::format_mail_date(to_seconds(job.received_at));
  in.date = smtp::format_mail_date(to_seconds(now));
  in.failed = std::move(failed);
  const std::string headers = job.data ? job.data->headers() : std::string();
  in.original_headers = headers;
  auto dsn = build_dsn(in);
  if (!dsn) return std::nullopt;
  queue::NewMessage msg;
  msg.id = in.dsn_message_id;
  msg.envelope = std::move(dsn->envelope);
  msg.data = std::move(dsn->data);
  msg.received_at = now;
  log_info("bounce", {{"msg", job.message_id},
                      {"dsn", msg.id},
                      {"to", job.envelope.sender.str()},
                      {"rcpts", in.failed.size()}});
  return msg;
}

bool BounceCollector::finish_job(std::vector<queue::AttemptRecord>& attempts, std::vector<FailedRecipient>& failed) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::move(attempts.begin(), attempts.end(), std::back_inserter(attempts_));
  std::move(failed.begin(), failed.end(), std::back_inserter(failed_));
  attempts.clear();
  failed.clear();
  if (--open_jobs_ > 0) return false;
  attempts.swap(attempts_);
  failed.swap(failed_);
  return true;
}

}  // namespace tern::relay
