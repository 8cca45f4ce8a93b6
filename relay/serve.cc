// `tern serve`: builds the daemon from the config and runs it until SIGTERM or
// SIGINT; SIGHUP reloads the config and certificates in place. Start-up order
// is the order of dependence (queue writer, metrics, delivery, listeners);
// shutdown is the reverse: stop accepting and finish open transactions, stop
// scheduling, let deliveries finish (briefly), flush the queue, exit 0.
#include <malloc.h>
#include <signal.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "metrics/http_server.h"
#include "metrics/metrics.h"
#include "queue/writer.h"
#include "relay/authenticator.h"
#include "relay/cli.h"
#include "relay/config.h"
#include "relay/delivery_worker.h"
#include "relay/exit_codes.h"
#include "relay/inbound_server.h"
#include "relay/log.h"
#include "relay/scheduler.h"
#include "relay/submission_hooks.h"
#include "relay/version.h"

namespace tern::relay {
namespace {

using namespace std::chrono_literals;

constexpr auto kSessionGrace = 30s;   // open SMTP transactions get this long to finish on SIGTERM
constexpr auto kDeliveryGrace = 10s;  // deliveries in flight; the rest are retried after restart
constexpr auto kLoopStaleness = 10s;  // /healthz: every loop must have turned this recently

smtp::ServerPolicy server_policy(const Config& c) {
  smtp::ServerPolicy p;
  p.hostname = c.hostname;
  p.max_message_size = c.submission.max_message_size;
  p.max_recipients = c.submission.max_recipients;
  p.require_auth = c.submission.require_auth;
  p.command_timeout = c.submission.idle_timeout;
  return p;
}

Result<std::shared_ptr<TlsContext>> server_tls(const Config& c) {
  if (!c.submission.tls_cert.empty()) return TlsContext::server(c.submission.tls_cert, c.submission.tls_key);
  log_warn("tls_self_signed", {{"hostname", c.hostname},
                               {"note", "no submission.tls_cert configured: clients must skip certificate checks"}});
  return TlsContext::self_signed(c.hostname);
}

// submission.trusted_networks, swappable on SIGHUP.
class TrustedNetworks {
 public:
  void set(std::vector<Cidr> networks) {
    std::lock_guard<std::mutex> lock(mutex_);
    networks_ = std::move(networks);
  }
  bool contains(std::string_view address) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const Cidr& c : networks_)
      if (c.contains(address)) return true;
    return false;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Cidr> networks_;
};

// Ready when the spool can take mail: writable and not nearly full.
std::pair<bool, std::string> spool_ready(const std::string& spool) {
  if (::access(spool.c_str(), W_OK) != 0) return {false, "spool " + spool + " is not writable"};
  struct statvfs vfs {};
  if (::statvfs(spool.c_str(), &vfs) != 0) return {false, "cannot stat spool " + spool};
  const unsigned long long free_bytes = static_cast<unsigned long long>(vfs.f_bavail) * vfs.f_frsize;
  if (free_bytes < 64ull * 1024 * 1024) return {false, "spool " + spool + " has less than 64 MiB free"};
  return {true, "ok"};
}

class Daemon {
 public:
  Daemon(Config config, std::optional<std::string> config_path)
      : config_(std::move(config)), config_path_(std::move(config_path)) {}
  int run();

 private:
  Status start();
  void stop();
  void reload();
  static void on_signal(uv_signal_t* handle, int signum) noexcept;

  Config config_;
  std::optional<std::string> config_path_;
  metrics::Metrics metrics_;
  TrustedNetworks trusted_;
  std::unique_ptr<queue::Writer> writer_;
  std::unique_ptr<Authenticator> authenticator_;
  std::vector<std::unique_ptr<DeliveryWorker>> workers_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<SubmissionHooks> hooks_;
  std::unique_ptr<InboundServer> inbound_;
  std::unique_ptr<metrics::HttpServer> http_;
  std::atomic<bool> stopping_{false};  // SIGTERM: listeners closed, /readyz says so while sessions drain
  uv_loop_t loop_{};
  uv_signal_t sigterm_{}, sigint_{}, sighup_{};
};

Status Daemon::start() {
  auto writer = queue::Writer::start(config_.spool, {.sweep_body_files = true});
  if (!writer) return writer.error().prefixed("spool " + config_.spool);
  writer_ = std::move(*writer);
  if (int n = writer_->options().swept_body_files; n > 0) {
    log_info("body_files_swept", {{"count", n}, {"reason", "no committed message owns them"}});
  }

  authenticator_ = std::make_unique<Authenticator>(config_.spool, &metrics_);

  auto settings = make_delivery_settings(config_);
  if (!settings) return settings.error();
  std::vector<DeliveryWorker*> raw_workers;
  for (unsigned i = 0; i < config_.delivery.workers; ++i) {
    DeliveryWorker::Services services;
    services.writer = writer_.get();
    services.metrics = &metrics_;
    services.job_recorded = [this](const std::string& id) {
      if (scheduler_) scheduler_->job_recorded(id);
    };
    services.dsn_enqueued = [this] {
      if (scheduler_) scheduler_->wake();
    };
    workers_.push_back(std::make_unique<DeliveryWorker>(i, std::move(services), *settings));
    if (Status st = workers_.back()->start(); !st) return st.error().prefixed("delivery worker");
    raw_workers.push_back(workers_.back().get());
  }
  scheduler_ = std::make_unique<Scheduler>(config_.spool, config_.delivery.mode, raw_workers, &metrics_);
  if (Status st = scheduler_->start(); !st) return st.error().prefixed("scheduler");

  auto tls = server_tls(config_);
  if (!tls) return tls.error().prefixed("submission TLS");
  trusted_.set(config_.submission.trusted_networks);
  hooks_ = std::make_unique<SubmissionHooks>(config_.hostname, *writer_, *scheduler_, *authenticator_, metrics_);

  InboundOptions options;
  for (const HostPort& hp : config_.submission.listen) options.listeners.push_back({hp.host, hp.port, false});
  for (const HostPort& hp : config_.submission.listen_tls) options.listeners.push_back({hp.host, hp.port, true});
  options.io_threads = static_cast<unsigned>(effective_io_threads(config_));
  options.max_connections = config_.submission.max_connections;
  options.max_connections_per_client = config_.submission.max_connections_per_client;
  options.policy = server_policy(config_);
  options.trusted = [this](std::string_view address) { return trusted_.contains(address); };
  options.spool_dir = config_.spool;
  auto inbound = InboundServer::start(std::move(options), *tls, *hooks_);
  if (!inbound) return inbound.error();
  inbound_ = std::move(*inbound);

  if (config_.metrics.listen) {
    metrics::HealthChecks checks;
    checks.healthy = [this] {
      if (!inbound_ || !inbound_->loops_alive(kLoopStaleness)) return false;
      if (!scheduler_->loop_alive(kLoopStaleness)) return false;
      for (const auto& w : workers_)
        if (!w->loop_alive(kLoopStaleness)) return false;
      return true;
    };
    checks.ready = [this]() -> std::pair<bool, std::string> {
      if (!inbound_) return {false, "listeners not bound"};
      if (stopping_.load()) return {false, "stopping: listeners closed, open sessions finishing"};
      return spool_ready(config_.spool);
    };
    auto http = metrics::HttpServer::start(config_.metrics.listen->host, config_.metrics.listen->port, metrics_,
                                           std::move(checks));
    if (!http) return http.error().prefixed("metrics.listen");
    http_ = std::move(*http);
  }

  std::string listening;
  auto ports = inbound_->bound_ports();
  for (std::size_t i = 0; i < ports.size(); ++i) {
    const bool tls_listener = i >= config_.submission.listen.size();
    const HostPort& hp = tls_listener ? config_.submission.listen_tls[i - config_.submission.listen.size()]
                                      : config_.submission.listen[i];
    if (!listening.empty()) listening += ",";
    listening += HostPort{hp.host, ports[i]}.str() + (tls_listener ? "(tls)" : "");
  }
  log_info("started", {{"version", kVersion},
                       {"hostname", config_.hostname},
                       {"config", config_.source},
                       {"spool", config_.spool},
                       {"listen", listening},
                       {"mode", config_.delivery.mode == DeliveryMode::Mx ? "mx" : "relayhost"},
                       {"io_threads", effective_io_threads(config_)},
                       {"workers", config_.delivery.workers},
                       {"metrics", config_.metrics.listen ? config_.metrics.listen->str() : "off"}});
  return {};
}

void Daemon::stop() {
  stopping_.store(true);
  log_info("stopping", {{"sessions", inbound_ ? inbound_->active_sessions() : 0}});
  if (inbound_) inbound_->shutdown(kSessionGrace);
  if (scheduler_) scheduler_->stop();
  const auto deadline = std::chrono::steady_clock::now() + kDeliveryGrace;
  for (auto& w : workers_) w->begin_stop();
  for (auto& w : workers_) w->finish_stop(deadline);
  if (authenticator_) authenticator_->stop();
  if (writer_) writer_->stop();  // every acknowledged message and recorded outcome is on disk
  if (http_) http_->stop();
  log_info("stopped");
}

void Daemon::reload() {
  auto fresh = load_config(config_path_, tern_environment());
  if (!fresh) {
    log_error("reload_failed", {{"error", fresh.error().message()}, {"note", "keeping the running config"}});
    return;
  }
  for (const std::string& key : keys_needing_restart(config_, *fresh)) {
    log_warn("reload_needs_restart", {{"key", key}, {"note", "this change takes effect after a restart"}});
  }
  auto tls = server_tls(*fresh);
  if (!tls) {
    log_error("reload_failed", {{"error", tls.error().message()}, {"note", "keeping the running config"}});
    return;
  }
  auto settings = make_delivery_settings(*fresh);
  if (!settings) {
    log_error("reload_failed", {{"error", settings.error().message()}, {"note", "keeping the running config"}});
    return;
  }
  // Keys that need a restart keep their running values.
  Config applied = *fresh;
  applied.spool = config_.spool;
  applied.submission.listen = config_.submission.listen;
  applied.submission.listen_tls = config_.submission.listen_tls;
  applied.submission.io_threads = config_.submission.io_threads;
  applied.delivery.workers = config_.delivery.workers;
  applied.metrics.listen = config_.metrics.listen;

  inbound_->reload_tls(*tls);
  inbound_->reload_policy(server_policy(applied));
  inbound_->reload_limits(applied.submission.max_connections, applied.submission.max_connections_per_client);
  trusted_.set(applied.submission.trusted_networks);
  hooks_->set_hostname(applied.hostname);
  auto worker_settings = std::const_pointer_cast<DeliverySettings>(*settings);
  worker_settings->worker_count = applied.delivery.workers;
  for (auto& w : workers_) w->reload(worker_settings);
  config_ = std::move(applied);
  log_info("reloaded", {{"config", config_.source}});
}

void Daemon::on_signal(uv_signal_t* handle, int signum) noexcept {
  auto* self = static_cast<Daemon*>(handle->data);
  if (signum == SIGHUP) {
    self->reload();
    return;
  }
  log_info("signal", {{"signal", signum == SIGTERM ? "TERM" : "INT"}});
  uv_stop(&self->loop_);
}

int Daemon::run() {
  ::signal(SIGPIPE, SIG_IGN);  // a peer closing mid-write is an error value, not a death
  // glibc gives freed memory back as soon as an arena's top exceeds 128 KiB:
  // with a message's buffers allocated and freed on several threads, that is
  // an madvise (and a TLB shootdown on every core) and fresh page faults per
  // message. Keep up to 16 MiB per arena instead.
  ::mallopt(M_TRIM_THRESHOLD, 16 << 20);
  uv_loop_init(&loop_);
  for (auto [handle, signum] : {std::pair{&sigterm_, SIGTERM}, {&sigint_, SIGINT}, {&sighup_, SIGHUP}}) {
    uv_signal_init(&loop_, handle);
    handle->data = this;
    uv_signal_start(handle, &Daemon::on_signal, signum);
  }
  int rc = kExOk;
  if (Status st = start(); !st) {
    log_error("start_failed", {{"error", st.error().message()}});
    std::cerr << "tern serve: " << st.error().message() << "\n";
    rc = kExUnavailable;
  } else {
    uv_run(&loop_, UV_RUN_DEFAULT);
  }
  stop();
  for (uv_signal_t* h : {&sigterm_, &sigint_, &sighup_}) uv_close(reinterpret_cast<uv_handle_t*>(h), nullptr);
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
  return rc;
}

}  // namespace

int run_serve(const CommonOptions& common) {
  auto config = load_config_for(common);
  if (!config) {
    std::cerr << "tern serve: " << config.error().message() << "\n";
    return kExConfig;
  }
  Daemon daemon(std::move(*config), common.config_path);
  return daemon.run();
}

}  // namespace tern::relay
