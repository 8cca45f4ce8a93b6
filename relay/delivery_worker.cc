// Delivery threads: destinations, MX order, connection reuse, outcomes.
// See delivery_worker.h.
#include "relay/delivery_worker.h"

#include <algorithm>
#include <deque>
#include <iterator>
#include <random>
#include <unordered_map>
#include <variant>

#include "metrics/metrics.h"
#include "queue/queue_id.h"
#include "queue/writer.h"
#include "relay/delivery_outcome.h"
#include "relay/log.h"
#include "relay/mailbox.h"
#include "relay/outbound_session.h"
#include "relay/secret_file.h"

namespace tern::relay {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

struct SubmitMsg {
  std::unique_ptr<DeliveryJob> job;
};
struct ReloadMsg {
  std::shared_ptr<const DeliverySettings> settings;
};
struct StopMsg {};
struct ForceStopMsg {};
using WorkerMsg = std::variant<SubmitMsg, ReloadMsg, StopMsg, ForceStopMsg>;

// A host that failed at the site level is skipped for a little while, so a
// burst of jobs for a dead MX does not connect to it once per job.
constexpr auto kHostDownFor = std::chrono::seconds(5);
// Resolved MX lists are re-resolved (through the resolver's TTL cache) this often.
constexpr auto kTargetsFreshFor = std::chrono::seconds(30);
// At most this many addresses per destination are tried in one attempt (Postfix smtp_mx_address_limit).
constexpr std::size_t kMaxTargets = 5;

struct Destination {
  std::string key;
  std::deque<std::unique_ptr<DeliveryJob>> pending;
  std::vector<OutboundTarget> targets;
  bool resolved = false;
  bool resolving = false;
  std::uint64_t resolved_generation = 0;  // the settings generation `targets` were resolved under
  Clock::time_point resolved_at;
  std::size_t sessions = 0;
};

}  // namespace

Result<std::shared_ptr<const DeliverySettings>> make_delivery_settings(const Config& config) {
  auto settings = std::make_shared<DeliverySettings>();
  settings->hostname = config.hostname;
  settings->delivery = config.delivery;
  for (const HostPort& server : config.dns.servers) settings->dns.servers.emplace_back(server.host, server.port);
  settings->dns.timeout = config.dns.timeout;
  settings->dns.tries = 2;
  settings->worker_count = config.delivery.workers;
  if (!config.delivery.relayhost_password_file.empty()) {
    auto password = read_secret_file(config.delivery.relayhost_password_file);
    if (!password) return password.error().prefixed("delivery.relayhost_password_file");
    settings->relayhost_password = std::move(*password);
  }
  auto tls = TlsContext::client(PeerVerify::Hostname);
  if (!tls) return tls.error();
  settings->tls = std::move(*tls);
  return std::shared_ptr<const DeliverySettings>(std::move(settings));
}

struct DeliveryWorker::Impl final : OutboundOwner {
  unsigned index;
  Services services;
  std::shared_ptr<const DeliverySettings> settings;
  std::atomic<std::size_t>& in_progress;
  uv_loop_t loop{};
  std::shared_ptr<Mailbox<WorkerMsg>> mailbox;
  std::unique_ptr<dns::Resolver> resolver;
  UvHandle<uv_timer_t> heartbeat;
  std::atomic<std::int64_t> last_turn{0};
  std::unordered_map<std::string, std::unique_ptr<Destination>> destinations;
  std::unordered_map<OutboundSession*, std::unique_ptr<OutboundSession>> sessions;
  std::unordered_map<OutboundSession*, Destination*> session_destination;
  std::unordered_map<std::string, Clock::time_point> host_down_until;  // by target label
  std::mt19937_64 rng{std::random_device{}()};
  bool stopping = false;
  // Bumped by every reload: targets resolved under older settings (another
  // relayhost, port or mode) are resolved again before the next session.
  std::uint64_t generation = 0;

  Impl(unsigned i, Services s, std::shared_ptr<const DeliverySettings> st, std::atomic<std::size_t>& progress)
      : index(i), services(std::move(s)), settings(std::move(st)), in_progress(progress) {}

  Status init();
  void handle(WorkerMsg&& msg);
  void accept(std::unique_ptr<DeliveryJob> job);
  void kick(Destination& dest);
  void resolve(Destination& dest);
  void set_targets(Destination& dest, std::vector<OutboundTarget> targets);
  void fail_pending(Destination& dest, const Error& error);
  void start_session(Destination& dest, std::unique_ptr<DeliveryJob> job);
  std::size_t connection_limit() const;
  OutboundOptions options_for(const DeliveryJob& job) const;
  bool host_down(const OutboundTarget& target) const;
  // Records outcomes. A job's last record (`ends_job`) also ends its part in
  // the message's delivery: the scheduler hears of it after the commit, and
  // its bounces join the message's others for one DSN. The delivered part of
  // a job that goes on to the next host is recorded with ends_job = false.
  void record(std::unique_ptr<DeliveryJob> job, std::vector<RecipientOutcome> outcomes, const std::string& host,
              bool tls, bool ends_job = true);
  void maybe_forget(Destination& dest);
  void close_everything();

  void on_job_finished(OutboundSession& session, std::unique_ptr<DeliveryJob> job,
                       smtp::client::Finished finished) override;
  void on_session_idle(OutboundSession& session) override;
  void on_session_closed(OutboundSession& session) override;
  void on_tls_handshake(bool ok) override {
    if (services.metrics) services.metrics->tls_handshake(metrics::Direction::Outbound, ok);
  }
};

Status DeliveryWorker::Impl::init() {
  uv_loop_init(&loop);
  loop.data = this;
  mailbox = std::make_shared<Mailbox<WorkerMsg>>(&loop, [this](WorkerMsg&& m) { handle(std::move(m)); });
  auto r = dns::Resolver::create(&loop, settings->dns);
  if (!r) return r.error();
  resolver = std::move(*r);
  if (services.metrics) {
    metrics::Metrics* m = services.metrics;
    resolver->set_query_observer([m](dns::QueryResult q) {
      switch (q) {
        case dns::QueryResult::Ok: m->dns_query(metrics::DnsResult::Ok); break;
        case dns::QueryResult::NxDomain: m->dns_query(metrics::DnsResult::NxDomain); break;
        case dns::QueryResult::ServFail: m->dns_query(metrics::DnsResult::ServFail); break;
        case dns::QueryResult::Timeout: m->dns_query(metrics::DnsResult::Timeout); break;
      }
    });
  }
  uv_timer_init(&loop, heartbeat.get());
  heartbeat->data = this;
  last_turn.store(steady_ms());
  uv_timer_start(
      heartbeat.get(), [](uv_timer_t* t) noexcept { static_cast<Impl*>(t->data)->last_turn.store(steady_ms()); },
      1000, 1000);
  return {};
}

void DeliveryWorker::Impl::handle(WorkerMsg&& msg) {
  std::visit(
      [&](auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, SubmitMsg>) {
          if (stopping) {
            in_progress.fetch_sub(1);  // not recorded: due again after restart
            return;
          }
          accept(std::move(m.job));
        } else if constexpr (std::is_same_v<T, ReloadMsg>) {
          settings = std::move(m.settings);
          // New sessions use the new policy. The targets may be wrong now (a
          // new relayhost or smtp_port): resolve them again (MX answers come
          // from the resolver's cache), forget which hosts were down, and let
          // waiting jobs start again from the first host.
          ++generation;
          host_down_until.clear();
          // (Jobs wait only while every session is busy or an answer is
          // awaited; the next session end or answer kicks them.)
          for (auto& [key, dest] : destinations)
            for (auto& job : dest->pending) job->host_index = 0;
        } else if constexpr (std::is_same_v<T, StopMsg>) {
          stopping = true;
          for (auto& [key, dest] : destinations) {
            in_progress.fetch_sub(dest->pending.size());
            dest->pending.clear();
          }
          std::vector<OutboundSession*> idle;
          for (auto& [ptr, s] : sessions)
            if (!s->busy()) idle.push_back(ptr);
          for (OutboundSession* s : idle) s->quit();
        } else if constexpr (std::is_same_v<T, ForceStopMsg>) {
          close_everything();
        }
      },
      msg);
}

void DeliveryWorker::Impl::close_everything() {
  stopping = true;
  std::vector<OutboundSession*> all;
  for (auto& [ptr, s] : sessions) all.push_back(ptr);
  // The grace time is over: a polite QUIT would wait for the reply to the
  // message in progress (up to 2x command_timeout) and keep the loop, and so
  // the shutdown, alive. Unrecorded jobs are due again after a restart.
  for (OutboundSession* s : all) s->abort();
  resolver.reset();
  heartbeat.reset();
  mailbox->close();
}

void DeliveryWorker::Impl::accept(std::unique_ptr<DeliveryJob> job) {
  auto& slot = destinations[job->destination];
  if (!slot) {
    slot = std::make_unique<Destination>();
    slot->key = job->destination;
  }
  slot->pending.push_back(std::move(job));
  kick(*slot);
}

std::size_t DeliveryWorker::Impl::connection_limit() const {
  const std::size_t limit = settings->delivery.max_connections_per_domain;
  if (settings->delivery.mode == DeliveryMode::Relayhost) {
    // Every worker sends to the relayhost: share the limit between them.
    const std::size_t workers = std::max(1u, settings->worker_count);
    return std::max<std::size_t>(1, (limit + workers - 1) / workers);
  }
  return limit;
}

void DeliveryWorker::Impl::kick(Destination& dest) {
  if (stopping) return;
  if (dest.pending.empty()) {
    maybe_forget(dest);
    return;
  }
  const bool stale = !dest.resolved || dest.resolved_generation != generation ||
                     (dest.sessions == 0 && Clock::now() - dest.resolved_at > kTargetsFreshFor);
  if (stale) {
    if (!dest.resolving) resolve(dest);
    return;
  }
  while (!dest.pending.empty() && dest.sessions < connection_limit()) {
    std::unique_ptr<DeliveryJob> job = std::move(dest.pending.front());
    dest.pending.pop_front();
    start_session(dest, std::move(job));
  }
}

void DeliveryWorker::Impl::resolve(Destination& dest) {
  dest.resolving = true;
  const DeliveryConfig& cfg = settings->delivery;
  const std::string key = dest.key;
  if (cfg.mode == DeliveryMode::Relayhost) {
    const HostPort relayhost = cfg.relayhost.value_or(HostPort{});
    const bool implicit = cfg.relayhost_tls == RelayhostTls::Tls;
    resolver->resolve_host(relayhost.host, [this, key, relayhost, implicit, gen = generation](
                                               Result<std::vector<std::string>> r) {
      auto it = destinations.find(key);
      if (it == destinations.end()) return;
      Destination& d = *it->second;
      d.resolving = false;
      if (gen != generation) {  // answered for settings replaced meanwhile: ask again
        kick(d);
        return;
      }
      if (!r) {
        fail_pending(d, r.error().prefixed("relayhost " + relayhost.str()));
        return;
      }
      std::vector<OutboundTarget> targets;
      for (const std::string& address : *r) {
        targets.push_back(OutboundTarget{relayhost.host, address, relayhost.port, implicit});
        if (targets.size() >= kMaxTargets) break;
      }
      set_targets(d, std::move(targets));
    });
    return;
  }
  if (!key.empty() && key.front() == '[') {
    // An address literal: user@[192.0.2.1] goes there, no DNS.
    std::string address = key.substr(1, key.size() - 2);
    if (address.rfind("ipv6:", 0) == 0) address = address.substr(5);
    dest.resolving = false;
    set_targets(dest, {OutboundTarget{key, address, cfg.smtp_port, false}});
    return;
  }
  resolver->resolve_mx(key, [this, key, gen = generation](Result<std::vector<dns::MxHost>> r) {
    auto it = destinations.find(key);
    if (it == destinations.end()) return;
    Destination& d = *it->second;
    d.resolving = false;
    if (gen != generation) {  // answered for settings replaced meanwhile: ask again
      kick(d);
      return;
    }
    if (!r) {
      fail_pending(d, r.error());
      return;
    }
    std::vector<OutboundTarget> targets;
    for (const dns::MxHost& host : *r) {
      for (const std::string& address : host.addresses) {
        if (targets.size() < kMaxTargets) {
          targets.push_back(OutboundTarget{host.name, address, settings->delivery.smtp_port, false});
        }
      }
    }
    set_targets(d, std::move(targets));
  });
}

void DeliveryWorker::Impl::set_targets(Destination& dest, std::vector<OutboundTarget> targets) {
  if (targets.empty()) {
    fail_pending(dest, Error::transient("4.4.4 no address to deliver to for " + dest.key));
    return;
  }
  dest.targets = std::move(targets);
  dest.resolved = true;
  dest.resolved_generation = generation;
  dest.resolved_at = Clock::now();
  kick(dest);
}

void DeliveryWorker::Impl::fail_pending(Destination& dest, const Error& error) {
  std::deque<std::unique_ptr<DeliveryJob>> jobs;
  jobs.swap(dest.pending);
  for (auto& job : jobs) {
    std::vector<RecipientOutcome> outcomes(job->envelope.recipients.size());
    for (auto& o : outcomes) {
      o.status = error.is_permanent() ? smtp::RecipientResult::Status::Permanent
                                      : smtp::RecipientResult::Status::Transient;
      o.scope = std::nullopt;  // a DNS answer is about the domain: defer or bounce, no other host
      o.detail = error.message();
    }
    record(std::move(job), std::move(outcomes), "", false);
  }
  maybe_forget(dest);
}

bool DeliveryWorker::Impl::host_down(const OutboundTarget& target) const {
  auto it = host_down_until.find(target.label());
  return it != host_down_until.end() && Clock::now() < it->second;
}

OutboundOptions DeliveryWorker::Impl::options_for(const DeliveryJob& job) const {
  const DeliveryConfig& cfg = settings->delivery;
  OutboundOptions o;
  o.policy.helo_name = settings->hostname;
  o.policy.command_timeout = cfg.command_timeout;
  o.connect_timeout = cfg.connect_timeout;
  o.tls = settings->tls;
  if (cfg.mode == DeliveryMode::Relayhost) {
    switch (cfg.relayhost_tls) {
      case RelayhostTls::StartTls:
        o.policy.tls = smtp::ClientTls::Required;
        o.require_verified_tls = true;
        break;
      case RelayhostTls::Tls:
        o.policy.tls = smtp::ClientTls::None;  // TLS is up before the greeting
        o.require_verified_tls = true;
        break;
      case RelayhostTls::None:
        o.policy.tls = smtp::ClientTls::None;
        break;
    }
    if (!cfg.relayhost_user.empty()) {
      o.policy.auth_user = cfg.relayhost_user;
      o.policy.auth_password = settings->relayhost_password;
    }
  } else {
    switch (cfg.tls) {
      case MxTls::Opportunistic: o.policy.tls = smtp::ClientTls::Opportunistic; break;
      case MxTls::Required: o.policy.tls = smtp::ClientTls::Required; break;
      case MxTls::Verify:
        o.policy.tls = smtp::ClientTls::Required;
        o.require_verified_tls = true;
        break;
    }
    if (job.no_tls) o.policy.tls = smtp::ClientTls::None;
  }
  return o;
}

void DeliveryWorker::Impl::start_session(Destination& dest, std::unique_ptr<DeliveryJob> job) {
  std::size_t i = job->host_index;
  while (i < dest.targets.size() && host_down(dest.targets[i])) ++i;
  if (i >= dest.targets.size()) {
    // Every remaining host failed moments ago: defer without connecting again.
    std::string detail = job->last_error.empty()
                             ? "all hosts for " + dest.key + " failed recently; will retry"
                             : job->last_error;
    std::vector<RecipientOutcome> outcomes(job->envelope.recipients.size());
    for (auto& o : outcomes) {
      o.status = smtp::RecipientResult::Status::Transient;
      o.scope = smtp::FailureScope::Site;
      o.last_host = true;
      o.detail = detail;
    }
    record(std::move(job), std::move(outcomes), "", false);
    return;
  }
  job->host_index = i;
  const OutboundTarget& target = dest.targets[i];
  auto session = std::make_unique<OutboundSession>(&loop, target, options_for(*job), *this);
  OutboundSession* raw = session.get();
  sessions.emplace(raw, std::move(session));
  session_destination.emplace(raw, &dest);
  ++dest.sessions;
  if (services.metrics) services.metrics->session_opened(metrics::Direction::Outbound);
  raw->start(std::move(job));
}

void DeliveryWorker::Impl::on_job_finished(OutboundSession& session, std::unique_ptr<DeliveryJob> job,
                                           smtp::client::Finished finished) {
  Destination* dest = session_destination.at(&session);
  const OutboundTarget& target = session.target();
  const bool more_hosts = job->host_index + 1 < dest->targets.size();
  const bool opportunistic = options_for(*job).policy.tls == smtp::ClientTls::Opportunistic;

  if (finished.tls_fallback_wanted && opportunistic && !job->no_tls && !stopping) {
    log_info("tls_fallback", {{"msg", job->message_id}, {"host", target.label()}});
    job->no_tls = true;
    dest->pending.push_front(std::move(job));
    return;  // the session closes; on_session_closed kicks the destination
  }
  if (finished.failure == smtp::FailureScope::Site) {
    host_down_until[target.label()] = Clock::now() + kHostDownFor;
    if (more_hosts && !stopping) {
      // Everything not delivered goes to the next host; delivered ones are recorded.
      std::unique_ptr<DeliveryJob> rest = split_delivered(*job, finished, [&](std::unique_ptr<DeliveryJob> done,
                                                                              std::vector<RecipientOutcome> o) {
        record(std::move(done), std::move(o), target.label(), finished.tls, /*ends_job=*/false);
      });
      if (rest) {
        rest->last_error = finished.recipients.empty() ? "" : finished.recipients.front().detail;
        rest->host_index += 1;
        dest->pending.push_front(std::move(rest));
      }
      return;
    }
  }
  record(std::move(job), outcomes_from(finished, /*last_host=*/true), target.label(), finished.tls);
}

void DeliveryWorker::Impl::on_session_idle(OutboundSession& session) {
  Destination* dest = session_destination.at(&session);
  if (stopping || dest->pending.empty()) {
    session.quit();
    return;
  }
  std::unique_ptr<DeliveryJob>& next = dest->pending.front();
  if (next->host_index > 0 || (next->no_tls && session.tls_used())) {
    session.quit();  // it wants another host or plaintext; a new session will take it
    return;
  }
  std::unique_ptr<DeliveryJob> job = std::move(next);
  dest->pending.pop_front();
  session.send(std::move(job));
}

void DeliveryWorker::Impl::on_session_closed(OutboundSession& session) {
  OutboundSession* raw = &session;
  Destination* dest = session_destination.at(raw);
  session_destination.erase(raw);
  --dest->sessions;
  if (services.metrics) services.metrics->session_closed(metrics::Direction::Outbound);
  sessions.erase(raw);  // destroys the session: nothing of it may be touched below
  kick(*dest);
}

void DeliveryWorker::Impl::maybe_forget(Destination& dest) {
  if (dest.pending.empty() && dest.sessions == 0 && !dest.resolving) {
    destinations.erase(dest.key);  // `dest` is gone after this line
  }
}

void DeliveryWorker::Impl::record(std::unique_ptr<DeliveryJob> job, std::vector<RecipientOutcome> outcomes,
                                  const std::string& host, bool tls, bool ends_job) {
  RecordBatch batch = build_record(*job, outcomes, host, tls, *settings, rng(), services.metrics);
  std::vector<queue::NewMessage> dsns;
  if (ends_job) {
    if (job->bounces) {
      // Bounces wait for the message's last job; this one keeps the rest.
      std::vector<queue::AttemptRecord> bounced;
      auto keep = std::stable_partition(batch.attempts.begin(), batch.attempts.end(), [](const auto& a) {
        return a.outcome != queue::AttemptRecord::Outcome::Bounced;
      });
      std::move(keep, batch.attempts.end(), std::back_inserter(bounced));
      batch.attempts.erase(keep, batch.attempts.end());
      // finish_job takes both lists; the last job gets the message's all back.
      if (job->bounces->finish_job(bounced, batch.failed)) {
        std::move(bounced.begin(), bounced.end(), std::back_inserter(batch.attempts));
      }
    }
    if (auto dsn = make_dsn(*job, std::move(batch.failed), *settings)) dsns.push_back(std::move(*dsn));
    in_progress.fetch_sub(1);
  }
  auto done = ends_job ? services.job_recorded : nullptr;
  auto wake = dsns.empty() ? nullptr : services.dsn_enqueued;
  std::string id = job->message_id;
  services.writer->record(std::move(batch.attempts), std::move(dsns), [done, wake, id](Status st) {
    if (!st) log_error("record_failed", {{"msg", id}, {"error", st.error().message()}});
    if (done) done(id);
    if (st && wake) wake();
  });
}

DeliveryWorker::DeliveryWorker(unsigned index, Services services, std::shared_ptr<const DeliverySettings> settings)
    : impl_(std::make_unique<Impl>(index, std::move(services), std::move(settings), in_progress_)) {}

DeliveryWorker::~DeliveryWorker() { stop(std::chrono::milliseconds(0)); }

Status DeliveryWorker::start() {
  if (Status st = impl_->init(); !st) return st;
  Impl* impl = impl_.get();
  thread_ = std::thread([impl] {
    uv_run(&impl->loop, UV_RUN_DEFAULT);
    uv_loop_close(&impl->loop);
  });
  return {};
}

void DeliveryWorker::submit(std::unique_ptr<DeliveryJob> job) {
  in_progress_.fetch_add(1);
  if (!impl_->mailbox->post(SubmitMsg{std::move(job)})) in_progress_.fetch_sub(1);
}

void DeliveryWorker::reload(std::shared_ptr<const DeliverySettings> settings) {
  impl_->mailbox->post(ReloadMsg{std::move(settings)});
}

void DeliveryWorker::stop(std::chrono::milliseconds grace) {
  begin_stop();
  finish_stop(Clock::now() + grace);
}

void DeliveryWorker::begin_stop() {
  if (thread_.joinable()) impl_->mailbox->post(StopMsg{});
}

void DeliveryWorker::finish_stop(Clock::time_point deadline) {
  if (!thread_.joinable()) return;
  while (in_progress_.load() > 0 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  impl_->mailbox->post(ForceStopMsg{});
  thread_.join();
}

bool DeliveryWorker::loop_alive(std::chrono::milliseconds staleness) const {
  return steady_ms() - impl_->last_turn.load() <= staleness.count();
}

}  // namespace tern::relay
