#pragma once
// Config: tern's whole configuration as one typed struct, and load_config(),
// which builds it from defaults, then the TOML file, then TERN_* variables
// (env wins), then validates it once. It fails with one Permanent error whose
// message holds every problem found, one per line, each naming the key and
// where the bad value came from. After loading, a Config is a plain value:
// pass it as const Config& (INTERFACE.md "Configuration" is the contract).

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "relay/cidr.h"
#include "relay/host_port.h"
#include "smtp/result.h"

namespace tern::relay {

struct CommonOptions;

inline constexpr std::string_view kDefaultConfigPath = "/etc/tern/tern.toml";

// The system host name (gethostname), as is: a name without a dot is not
// completed through DNS. "localhost" if the call fails.
std::string system_hostname();

struct SubmissionConfig {
  // submission.listen: plain SMTP + STARTTLS listeners. Binds addresses (IP
  // literals), so a name such as "localhost:587" is refused.
  std::vector<HostPort> listen{HostPort{"0.0.0.0", 587}};
  // submission.listen_tls: implicit-TLS listeners (465). Empty by default.
  std::vector<HostPort> listen_tls;
  // submission.tls_cert / tls_key: PEM files, both or neither. Empty: a
  // self-signed certificate is made at start (clients must skip verification).
  std::string tls_cert;
  std::string tls_key;
  // submission.require_auth: refuse MAIL/RCPT without AUTH (except from
  // trusted_networks). false turns tern into an open relay for whoever can connect.
  bool require_auth = true;
  // submission.trusted_networks: clients here may relay without AUTH. Keep it
  // to the app network (e.g. 172.16.0.0/12); every address inside can send as anyone.
  std::vector<Cidr> trusted_networks;
  // submission.max_message_size: bytes, advertised in EHLO SIZE; 552 beyond.
  // The spool holds whole messages, so this bounds disk per message.
  std::uint64_t max_message_size = 26'214'400;
  // submission.max_recipients: RCPTs per message; 452 beyond (the client
  // sends the rest in another transaction).
  std::uint32_t max_recipients = 100;
  // submission.io_threads: event-loop threads for sessions; 0 = one per core.
  std::uint32_t io_threads = 0;
  // submission.max_connections: concurrent sessions, then 421 4.7.0. Each
  // costs a socket and buffers; raise with the fd limit.
  std::uint32_t max_connections = 1000;
  // submission.max_connections_per_client: per client address; keeps one
  // runaway app from taking every slot. At most max_connections.
  std::uint32_t max_connections_per_client = 50;
  // submission.idle_timeout: each command line must complete within this
  // (RFC 5321 §4.5.3.2.7); a trickle of bytes does not extend it.
  std::chrono::milliseconds idle_timeout{std::chrono::minutes{5}};

  friend bool operator==(const SubmissionConfig&, const SubmissionConfig&) = default;
};

enum class DeliveryMode { Mx, Relayhost };
enum class RelayhostTls { StartTls, Tls, None };
enum class MxTls { Opportunistic, Required, Verify };

struct DeliveryConfig {
  // delivery.mode: Mx resolves each recipient domain; Relayhost sends all
  // mail to one upstream (then relayhost is required).
  DeliveryMode mode = DeliveryMode::Mx;
  // delivery.relayhost: "host:port", the port explicit (587 and 25 are both
  // common, so tern does not guess). "" in the file = unset.
  std::optional<HostPort> relayhost;
  // delivery.relayhost_tls: StartTls ("starttls"), Tls (implicit, usually
  // 465) or None (plain text: only on a trusted network).
  RelayhostTls relayhost_tls = RelayhostTls::StartTls;
  // delivery.relayhost_user / relayhost_password_file: AUTH to the relayhost,
  // both or neither; the password lives in a file (minus one trailing newline),
  // never in the config, so the config can be shown and logged.
  std::string relayhost_user;
  std::string relayhost_password_file;
  // delivery.tls: mx mode. Opportunistic: STARTTLS when offered, unverified
  // (what most MTAs do); Required: no TLS, no delivery; Verify: also check the
  // certificate (many MX hosts will then defer).
  MxTls tls = MxTls::Opportunistic;
  // delivery.smtp_port: port on MX hosts; change only for tests.
  std::uint16_t smtp_port = 25;
  // delivery.workers: delivery threads, each with its own loop and DNS
  // channel; beyond the core count they buy only concurrency of waiting.
  std::uint32_t workers = 4;
  // delivery.max_connections_per_domain: concurrent outbound connections per
  // recipient domain; big receivers throttle above ~20.
  std::uint32_t max_connections_per_domain = 20;
  // delivery.connect_timeout: TCP connect to a delivery host; then next MX.
  std::chrono::milliseconds connect_timeout{std::chrono::seconds{30}};
  // delivery.command_timeout: wait for any reply (RFC 5321 §4.5.3.2; DATA
  // end waits 2x this). Shorter risks duplicates after a slow final dot.
  std::chrono::milliseconds command_timeout{std::chrono::minutes{5}};
  // delivery.retry_schedule: delays between attempts of a deferred
  // recipient; the last one repeats. Each >= 1s.
  std::vector<std::chrono::milliseconds> retry_schedule{
      std::chrono::minutes{5},  std::chrono::minutes{10},  std::chrono::minutes{20}, std::chrono::minutes{40},
      std::chrono::minutes{80}, std::chrono::minutes{160}, std::chrono::hours{4}};
  // delivery.max_queue_lifetime: then bounce; RFC 5321 §4.5.4.1 says 4-5 days.
  std::chrono::milliseconds max_queue_lifetime{std::chrono::days{5}};
  // delivery.bounce: send RFC 3464 DSNs to the sender on permanent failure
  // or expiry; false drops failed mail silently (logged and counted only).
  bool bounce = true;

  friend bool operator==(const DeliveryConfig&, const DeliveryConfig&) = default;
};

struct DnsConfig {
  // dns.servers: resolvers as IP[:port] (port defaults to 53); empty:
  // /etc/resolv.conf.
  std::vector<HostPort> servers;
  // dns.timeout: per query, before c-ares retries or gives up (temporary failure).
  std::chrono::milliseconds timeout{std::chrono::seconds{5}};

  friend bool operator==(const DnsConfig&, const DnsConfig&) = default;
};

struct MetricsConfig {
  // metrics.listen: Prometheus /metrics, /healthz, /readyz; "" disables
  // (nullopt). Loopback by default: the metrics are not authenticated.
  std::optional<HostPort> listen{HostPort{"127.0.0.1", 9464}};

  friend bool operator==(const MetricsConfig&, const MetricsConfig&) = default;
};

struct Config {
  // hostname: EHLO name and Received: by. Default: the system host name.
  std::string hostname = system_hostname();
  // spool: directory holding queue.db; an absolute path, not created here.
  std::string spool = "/var/spool/tern";
  SubmissionConfig submission;
  DeliveryConfig delivery;
  DnsConfig dns;
  MetricsConfig metrics;

  // Where the values came from, for logs: "defaults", "/etc/tern/tern.toml",
  // "/etc/tern/tern.toml + env TERN_X, TERN_Y". Not a setting: operator==
  // ignores it, so a config compares equal to its own to_toml() reloaded.
  std::string source = "defaults";

  friend bool operator==(const Config& a, const Config& b) {
    return a.hostname == b.hostname && a.spool == b.spool && a.submission == b.submission &&
           a.delivery == b.delivery && a.dns == b.dns && a.metrics == b.metrics;
  }
};

using Env = std::map<std::string, std::string>;

// Every TERN_* variable of this process (from environ). TERNTEST_* is not ours.
Env tern_environment();

// path unset: default_path when it exists, else defaults only; path set: the
// file must exist. Then env overrides, then validation. default_path is a
// parameter for tests only.
Result<Config> load_config(const std::optional<std::string>& path, const Env& env,
                           std::string_view default_path = kDefaultConfigPath);

// The config of a subcommand: --config and this process's TERN_* variables.
Result<Config> load_config_for(const CommonOptions& common);

// The effective config as TOML: every key, in INTERFACE.md's order, loadable
// again: load_config(to_toml(c)) == c.
std::string to_toml(const Config& config);
// The same keys as JSON objects per section; durations as strings ("5m"),
// unset relayhost / metrics.listen as "".
nlohmann::json to_json(const Config& config);

// submission.io_threads, or one per core (at least 1) when it is 0.
int effective_io_threads(const Config& config);

// Keys whose change a SIGHUP reload cannot apply (spool, listen addresses,
// thread counts: INTERFACE.md), among those that differ between running and
// reloaded, e.g. {"submission.listen"}. serve warns that they need a restart.
std::vector<std::string> keys_needing_restart(const Config& running, const Config& reloaded);

}  // namespace tern::relay
