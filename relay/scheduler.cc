// Due-work polling, the fast path for new mail, and job routing. See scheduler.h.
#include "relay/scheduler.h"

#include <functional>
#include <map>
#include <unordered_set>
#include <variant>

#include "metrics/metrics.h"
#include "queue/reader.h"
#include "relay/delivery_outcome.h"
#include "relay/delivery_worker.h"
#include "relay/log.h"
#include "relay/mailbox.h"
#include "relay/uv_handle.h"

namespace tern::relay {
namespace {

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct NewMsg {
  queue::NewMessage message;
};
struct RecordedMsg {
  std::string message_id;
};
struct WakeMsg {};
struct StopMsg {};
using SchedMsg = std::variant<NewMsg, RecordedMsg, WakeMsg, StopMsg>;

struct InFlight {
  int parts = 0;            // jobs not yet recorded
  std::size_t bytes = 0;    // message data held while in flight
};

// One recipient, as the router sees it.
struct RoutedRcpt {
  std::int64_t id;
  smtp::Recipient recipient;
  int attempts;
};

}  // namespace

struct Scheduler::Impl {
  std::string spool;
  DeliveryMode mode;
  std::vector<DeliveryWorker*> workers;
  metrics::Metrics* metrics;
  SchedulerOptions options;
  std::unique_ptr<queue::Reader> reader;
  uv_loop_t loop{};
  std::shared_ptr<Mailbox<SchedMsg>> mailbox;
  UvHandle<uv_timer_t> poll_timer;
  UvHandle<uv_timer_t> gauge_timer;
  std::atomic<std::int64_t> last_turn{0};
  std::size_t round_robin = 0;
  bool starved = false;  // a poll stopped at the in-flight byte cap

  mutable std::mutex mutex;  // guards in_flight and in_flight_bytes (reserve() comes from I/O threads)
  std::unordered_map<std::string, InFlight> in_flight;
  std::size_t in_flight_bytes = 0;

  void handle(SchedMsg&& msg);
  void poll();
  void gauges();
  void schedule_poll(std::chrono::milliseconds after) {
    if (poll_timer.get()) {
      uv_timer_start(
          poll_timer.get(), [](uv_timer_t* t) noexcept { static_cast<Impl*>(t->data)->poll(); },
          static_cast<std::uint64_t>(after.count()), static_cast<std::uint64_t>(options.poll_interval.count()));
    }
  }
  // Cuts a message into jobs, one per destination, and sends them to workers.
  int dispatch(const std::string& id, const smtp::Path& sender, const smtp::MailParams& params,
               std::vector<RoutedRcpt> rcpts, std::shared_ptr<const queue::MessageData> data,
               std::chrono::system_clock::time_point received_at);
  // Drops a reservation that never became a delivery (reserve() without claim()).
  void unreserve(const std::string& id);
  // Claims `id` for delivery with `bytes` of data; false when it is already in
  // flight or the byte cap is reached.
  bool claim(const std::string& id, std::size_t bytes, bool was_reserved);
};

Scheduler::Scheduler(std::string spool_dir, DeliveryMode mode, std::vector<DeliveryWorker*> workers,
                     metrics::Metrics* metrics, SchedulerOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->spool = std::move(spool_dir);
  impl_->mode = mode;
  impl_->workers = std::move(workers);
  impl_->metrics = metrics;
  impl_->options = options;
}

Scheduler::~Scheduler() { stop(); }

Status Scheduler::start() {
  auto reader = queue::Reader::open(impl_->spool);
  if (!reader) return reader.error();
  impl_->reader = std::move(*reader);
  Impl* impl = impl_.get();
  uv_loop_init(&impl->loop);
  impl->mailbox = std::make_shared<Mailbox<SchedMsg>>(&impl->loop, [impl](SchedMsg&& m) { impl->handle(std::move(m)); });
  uv_timer_init(&impl->loop, impl->poll_timer.get());
  impl->poll_timer->data = impl;
  uv_timer_init(&impl->loop, impl->gauge_timer.get());
  impl->gauge_timer->data = impl;
  impl->last_turn.store(steady_ms());
  impl->schedule_poll(std::chrono::milliseconds(0));  // leftovers from before a restart are due now
  uv_timer_start(
      impl->gauge_timer.get(), [](uv_timer_t* t) noexcept { static_cast<Impl*>(t->data)->gauges(); }, 0,
      static_cast<std::uint64_t>(impl->options.gauge_interval.count()));
  thread_ = std::thread([impl] {
    uv_run(&impl->loop, UV_RUN_DEFAULT);
    uv_loop_close(&impl->loop);
  });
  return {};
}

void Scheduler::stop() {
  if (!thread_.joinable()) return;
  impl_->mailbox->post(StopMsg{});
  thread_.join();
}

void Scheduler::reserve(const std::string& message_id) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->in_flight.emplace(message_id, InFlight{});
}

void Scheduler::unreserve(const std::string& message_id) { impl_->unreserve(message_id); }

void Scheduler::Impl::unreserve(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex);
  auto it = in_flight.find(id);
  if (it != in_flight.end() && it->second.parts == 0) in_flight.erase(it);
}

void Scheduler::submit_new(queue::NewMessage&& message) { impl_->mailbox->post(NewMsg{std::move(message)}); }

void Scheduler::job_recorded(const std::string& message_id) { impl_->mailbox->post(RecordedMsg{message_id}); }

void Scheduler::wake() { impl_->mailbox->post(WakeMsg{}); }

bool Scheduler::loop_alive(std::chrono::milliseconds staleness) const {
  return steady_ms() - impl_->last_turn.load() <= staleness.count();
}

std::size_t Scheduler::in_flight() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->in_flight.size();
}

bool Scheduler::Impl::claim(const std::string& id, std::size_t bytes, bool was_reserved) {
  std::lock_guard<std::mutex> lock(mutex);
  auto it = in_flight.find(id);
  if (was_reserved) {
    if (it == in_flight.end() || it->second.parts != 0) return false;
  } else if (it != in_flight.end()) {
    return false;
  }
  if (in_flight_bytes + bytes > options.max_in_flight_bytes && in_flight_bytes > 0) {
    if (was_reserved) in_flight.erase(it);  // it waits in the queue; a later poll takes it
    starved = true;
    return false;
  }
  InFlight& f = in_flight[id];
  f.bytes = bytes;
  f.parts = -1;  // set by dispatch
  in_flight_bytes += bytes;
  return true;
}

int Scheduler::Impl::dispatch(const std::string& id, const smtp::Path& sender, const smtp::MailParams& params,
                              std::vector<RoutedRcpt> rcpts, std::shared_ptr<const queue::MessageData> data,
                              std::chrono::system_clock::time_point received_at) {
  std::map<std::string, std::unique_ptr<DeliveryJob>> jobs;
  for (RoutedRcpt& r : rcpts) {
    std::string destination = mode == DeliveryMode::Relayhost ? "relayhost" : r.recipient.mailbox.domain_key();
    auto& job = jobs[destination];
    if (!job) {
      job = std::make_unique<DeliveryJob>();
      job->message_id = id;
      job->destination = destination;
      job->envelope.sender = sender;
      job->envelope.params = params;
      job->data = data;
      job->received_at = received_at;
    }
    job->envelope.recipients.push_back(std::move(r.recipient));
    job->recipient_ids.push_back(r.id);
    job->attempts.push_back(r.attempts);
  }
  const int parts = static_cast<int>(jobs.size());
  if (parts > 1) {
    auto bounces = std::make_shared<BounceCollector>(parts);  // shared: the jobs may go to different workers
    for (auto& [destination, job] : jobs) job->bounces = bounces;
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    in_flight[id].parts = parts;
  }
  for (auto& [destination, job] : jobs) {
    std::size_t w = mode == DeliveryMode::Relayhost ? round_robin++ % workers.size()
                                                    : std::hash<std::string>{}(destination) % workers.size();
    workers[w]->submit(std::move(job));
  }
  return parts;
}

void Scheduler::Impl::handle(SchedMsg&& msg) {
  std::visit(
      [&](auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, NewMsg>) {
          queue::NewMessage& nm = m.message;
          auto data = queue::load_message_data(spool, nm.id, std::move(nm.data), nm.body_file);
          if (!data) {  // it is committed: a later poll retries, and reports a lasting fault
            log_error("queue_read_failed", {{"msg", nm.id}, {"error", data.error().message()}});
            unreserve(nm.id);
            return;
          }
          if (!claim(nm.id, (*data)->resident(), /*was_reserved=*/true)) return;
          std::vector<RoutedRcpt> rcpts;
          for (std::size_t i = 0; i < nm.envelope.recipients.size() && i < nm.recipient_ids.size(); ++i) {
            rcpts.push_back(RoutedRcpt{nm.recipient_ids[i], std::move(nm.envelope.recipients[i]), 0});
          }
          dispatch(nm.id, nm.envelope.sender, nm.envelope.params, std::move(rcpts), std::move(*data), nm.received_at);
        } else if constexpr (std::is_same_v<T, RecordedMsg>) {
          bool freed = false;
          {
            std::lock_guard<std::mutex> lock(mutex);
            auto it = in_flight.find(m.message_id);
            if (it != in_flight.end() && --it->second.parts <= 0) {
              in_flight_bytes -= it->second.bytes;
              in_flight.erase(it);
              freed = true;
            }
          }
          if (freed && starved) {
            starved = false;
            schedule_poll(std::chrono::milliseconds(0));
          }
        } else if constexpr (std::is_same_v<T, WakeMsg>) {
          schedule_poll(std::chrono::milliseconds(0));
        } else if constexpr (std::is_same_v<T, StopMsg>) {
          poll_timer.reset();
          gauge_timer.reset();
          mailbox->close();
        }
      },
      msg);
}

void Scheduler::Impl::poll() {
  last_turn.store(steady_ms());
  std::unordered_set<std::string> busy;
  std::size_t budget = 0;  // memory left for message data: due() stops loading bodies there
  {
    std::lock_guard<std::mutex> lock(mutex);
    busy.reserve(in_flight.size());
    for (const auto& [id, f] : in_flight) busy.insert(id);
    budget = options.max_in_flight_bytes > in_flight_bytes ? options.max_in_flight_bytes - in_flight_bytes : 1;
  }
  auto due = reader->due(std::chrono::system_clock::now(), options.batch, busy, budget);
  if (!due) {
    log_error("queue_read_failed", {{"error", due.error().message()}});
    return;
  }
  std::size_t recipients = 0;
  for (queue::DeliveryJob& job : *due) {
    recipients += job.recipients.size();
    const std::size_t bytes = job.data ? job.data->resident() : 0;
    if (!claim(job.message_id, bytes, /*was_reserved=*/false)) {
      if (starved) break;
      continue;
    }
    std::vector<RoutedRcpt> rcpts;
    for (auto& r : job.recipients) rcpts.push_back(RoutedRcpt{r.id, std::move(r.recipient), r.attempts});
    dispatch(job.message_id, job.sender, job.params, std::move(rcpts), std::move(job.data), job.received_at);
  }
  // A full batch means more is due: come back at once, unless memory is the limit.
  if (recipients >= options.batch && !starved) schedule_poll(std::chrono::milliseconds(0));
}

void Scheduler::Impl::gauges() {
  last_turn.store(steady_ms());
  if (metrics == nullptr) return;
  auto counts = reader->counts();
  if (!counts) {
    log_warn("queue_counts_failed", {{"error", counts.error().message()}});
    return;
  }
  metrics->set_queue_messages(counts->ready, counts->deferred, counts->held);
  if (counts->oldest_received_at) {
    metrics->set_queue_oldest_age(std::chrono::system_clock::now() - *counts->oldest_received_at);
  } else {
    metrics->set_queue_oldest_age(std::chrono::seconds(0));
  }
}

}  // namespace tern::relay
