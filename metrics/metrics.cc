#include "metrics/metrics.h"

#include <prometheus/text_serializer.h>

namespace tern::metrics {
namespace {

// "connections" is "too many connections" (421 4.7.0); "other" catches any
// reason a caller invents, so the label set stays bounded.
constexpr std::array<std::string_view, 12> kRejectionReasons = {
    "size",    "recipients", "relay",    "auth",     "syntax",      "bare_newline",
    "line_length", "storage", "timeout", "sequence", "connections", "other"};

constexpr std::array<double, 15> kDeliveryBuckets = {
    0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400};

constexpr std::size_t index(auto e) { return static_cast<std::size_t>(e); }

}  // namespace

std::span<const std::string_view> rejection_reasons() { return kRejectionReasons; }
std::span<const double> delivery_duration_buckets() { return kDeliveryBuckets; }

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  static_assert(kReasons == kRejectionReasons.size());
  auto& reg = *registry_;

  auto& received = prometheus::BuildCounter()
                       .Name("tern_messages_received_total")
                       .Help("Messages accepted (250 after DATA), by listener.")
                       .Register(reg);
  received_[index(Listener::Submission)] = &received.Add({{"listener", "submission"}});
  received_[index(Listener::Submissions)] = &received.Add({{"listener", "submissions"}});

  auto& rejected = prometheus::BuildCounter()
                       .Name("tern_messages_rejected_total")
                       .Help("Submissions refused with a 4xx/5xx reply or a dropped connection, by reason.")
                       .Register(reg);
  for (std::size_t i = 0; i < kRejectionReasons.size(); ++i) {
    rejected_[i] = &rejected.Add({{"reason", std::string(kRejectionReasons[i])}});
  }

  auto& deliveries = prometheus::BuildCounter()
                         .Name("tern_deliveries_total")
                         .Help("Delivery attempts, one per recipient, by result.")
                         .Register(reg);
  deliveries_[index(DeliveryResult::Delivered)] = &deliveries.Add({{"result", "delivered"}});
  deliveries_[index(DeliveryResult::Deferred)] = &deliveries.Add({{"result", "deferred"}});
  deliveries_[index(DeliveryResult::Bounced)] = &deliveries.Add({{"result", "bounced"}});

  auto& queue = prometheus::BuildGauge()
                    .Name("tern_queue_messages")
                    .Help("Messages in the queue, by state.")
                    .Register(reg);
  queue_ready_ = &queue.Add({{"state", "ready"}});
  queue_deferred_ = &queue.Add({{"state", "deferred"}});
  queue_held_ = &queue.Add({{"state", "held"}});

  queue_oldest_age_ = &prometheus::BuildGauge()
                           .Name("tern_queue_oldest_age_seconds")
                           .Help("Age of the oldest queued message; 0 when the queue is empty.")
                           .Register(reg)
                           .Add({});

  delivery_duration_ =
      &prometheus::BuildHistogram()
           .Name("tern_delivery_duration_seconds")
           .Help("Time from acceptance to final delivery of a recipient.")
           .Register(reg)
           .Add({}, prometheus::Histogram::BucketBoundaries(kDeliveryBuckets.begin(), kDeliveryBuckets.end()));

  auto& sessions = prometheus::BuildGauge()
                       .Name("tern_smtp_sessions_active")
                       .Help("Open SMTP sessions, by direction.")
                       .Register(reg);
  sessions_active_[index(Direction::Inbound)] = &sessions.Add({{"direction", "inbound"}});
  sessions_active_[index(Direction::Outbound)] = &sessions.Add({{"direction", "outbound"}});

  auth_failures_ = &prometheus::BuildCounter()
                        .Name("tern_auth_failures_total")
                        .Help("Failed AUTH attempts on the submission listeners.")
                        .Register(reg)
                        .Add({});

  auto& dns = prometheus::BuildCounter()
                  .Name("tern_dns_queries_total")
                  .Help("DNS queries made for delivery, by result.")
                  .Register(reg);
  dns_queries_[index(DnsResult::Ok)] = &dns.Add({{"result", "ok"}});
  dns_queries_[index(DnsResult::NxDomain)] = &dns.Add({{"result", "nxdomain"}});
  dns_queries_[index(DnsResult::ServFail)] = &dns.Add({{"result", "servfail"}});
  dns_queries_[index(DnsResult::Timeout)] = &dns.Add({{"result", "timeout"}});

  auto& tls = prometheus::BuildCounter()
                  .Name("tern_tls_handshakes_total")
                  .Help("TLS handshakes, by direction and result.")
                  .Register(reg);
  for (Direction d : {Direction::Inbound, Direction::Outbound}) {
    const std::string dir = d == Direction::Inbound ? "inbound" : "outbound";
    tls_handshakes_[index(d)][1] = &tls.Add({{"direction", dir}, {"result", "ok"}});
    tls_handshakes_[index(d)][0] = &tls.Add({{"direction", dir}, {"result", "failed"}});
  }
}

void Metrics::message_received(Listener listener) { received_[index(listener)]->Increment(); }

void Metrics::message_rejected(std::string_view reason) {
  // A linear scan over 11 short strings costs less than hashing one.
  std::size_t i = 0;
  while (i + 1 < kRejectionReasons.size() && kRejectionReasons[i] != reason) ++i;
  rejected_[i]->Increment();
}

void Metrics::delivery(DeliveryResult result) { deliveries_[index(result)]->Increment(); }

void Metrics::set_queue_messages(std::uint64_t ready, std::uint64_t deferred, std::uint64_t held) {
  queue_ready_->Set(static_cast<double>(ready));
  queue_deferred_->Set(static_cast<double>(deferred));
  queue_held_->Set(static_cast<double>(held));
}

void Metrics::set_queue_oldest_age(std::chrono::duration<double> age) { queue_oldest_age_->Set(age.count()); }

void Metrics::observe_delivery_duration(std::chrono::duration<double> duration) {
  delivery_duration_->Observe(duration.count());
}

void Metrics::session_opened(Direction direction) { sessions_active_[index(direction)]->Increment(); }
void Metrics::session_closed(Direction direction) { sessions_active_[index(direction)]->Decrement(); }
void Metrics::auth_failure() { auth_failures_->Increment(); }
void Metrics::dns_query(DnsResult result) { dns_queries_[index(result)]->Increment(); }

void Metrics::tls_handshake(Direction direction, bool ok) {
  tls_handshakes_[index(direction)][ok ? 1 : 0]->Increment();
}

std::string Metrics::serialize() const { return prometheus::TextSerializer().Serialize(registry_->Collect()); }

}  // namespace tern::metrics
