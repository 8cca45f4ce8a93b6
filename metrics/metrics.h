#pragma once
// Metrics: every Prometheus metric of INTERFACE.md, registered once at
// construction with all of its label values, so each series exists (at 0)
// from start-up and callers never build a label map on a hot path. It does no
// I/O: HttpServer (metrics/http_server.h) serves serialize(). Labels are
// bounded: an unknown rejection reason counts as "other". Nothing here fails
// after construction; every method is thread-safe (prometheus-cpp's are).

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace tern::metrics {

enum class Listener { Submission, Submissions };           // listener="submission"|"submissions"
enum class DeliveryResult { Delivered, Deferred, Bounced };  // result="delivered"|...
enum class Direction { Inbound, Outbound };                // direction="inbound"|"outbound"
enum class DnsResult { Ok, NxDomain, ServFail, Timeout };  // result="ok"|"nxdomain"|...

// The fixed set of tern_messages_rejected_total{reason}, "other" last.
std::span<const std::string_view> rejection_reasons();

// Upper bounds of tern_delivery_duration_seconds, in seconds: from a fast
// relayhost hop (50 ms) to a message that took a day of retries.
std::span<const double> delivery_duration_buckets();

class Metrics {
 public:
  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  void message_received(Listener listener);
  // reason is one of rejection_reasons(); anything else counts as "other".
  void message_rejected(std::string_view reason);
  void delivery(DeliveryResult result);  // one per recipient attempt
  void set_queue_messages(std::uint64_t ready, std::uint64_t deferred, std::uint64_t held);
  void set_queue_oldest_age(std::chrono::duration<double> age);
  // From acceptance to final delivery.
  void observe_delivery_duration(std::chrono::duration<double> duration);
  void session_opened(Direction direction);
  void session_closed(Direction direction);
  void auth_failure();
  void dns_query(DnsResult result);
  void tls_handshake(Direction direction, bool ok);

  // The Prometheus text exposition format (0.0.4) of every metric.
  std::string serialize() const;
  // For collectables the relay may add; the registry lives as long as this.
  prometheus::Registry& registry() { return *registry_; }

 private:
  static constexpr std::size_t kReasons = 12;  // rejection_reasons().size()

  std::shared_ptr<prometheus::Registry> registry_;
  std::array<prometheus::Counter*, 2> received_{};
  std::array<prometheus::Counter*, kReasons> rejected_{};
  std::array<prometheus::Counter*, 3> deliveries_{};
  prometheus::Gauge* queue_ready_ = nullptr;
  prometheus::Gauge* queue_deferred_ = nullptr;
  prometheus::Gauge* queue_held_ = nullptr;
  prometheus::Gauge* queue_oldest_age_ = nullptr;
  prometheus::Histogram* delivery_duration_ = nullptr;
  std::array<prometheus::Gauge*, 2> sessions_active_{};
  prometheus::Counter* auth_failures_ = nullptr;
  std::array<prometheus::Counter*, 4> dns_queries_{};
  std::array<std::array<prometheus::Counter*, 2>, 2> tls_handshakes_{};  // [direction][ok]
};

}  // namespace tern::metrics
