#include "dns/resolver.h"

#include <cstdlib>

#include "dns/channel.h"
#include "dns/mx_order.h"

namespace tern::dns {
namespace {

std::string query_key(const std::string& name, RecordType type) {
  return std::string(describe(type)) + " " + name;
}

std::optional<QueryResult> classify(AnswerStatus status) {
  switch (status) {
    case AnswerStatus::Ok:
    case AnswerStatus::NoData: return QueryResult::Ok;
    case AnswerStatus::NxDomain: return QueryResult::NxDomain;
    case AnswerStatus::Timeout: return QueryResult::Timeout;
    case AnswerStatus::Cancelled: return std::nullopt;  // no query answered or failed: we gave up
    default: return QueryResult::ServFail;
  }
}

std::string status_text(RecordType type, const Answer& answer) {
  std::string text = std::string(describe(type)) + ": " + std::string(describe(answer.status));
  if (!answer.detail.empty()) text += " (" + answer.detail + ")";
  return text;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += "; ";
    out += p;
  }
  return out;
}

// What a host's A and AAAA answers add up to.
Result<std::vector<std::string>> combine_addresses(const std::string& name, const Answer& a, const Answer& aaaa) {
  std::vector<std::string> addresses;
  if (a.status == AnswerStatus::Ok) addresses = a.addresses;
  if (aaaa.status == AnswerStatus::Ok) addresses.insert(addresses.end(), aaaa.addresses.begin(), aaaa.addresses.end());
  if (!addresses.empty()) return addresses;
  if (is_transient(a.status) || is_transient(aaaa.status)) {
    return Error::transient(name + ": 4.4.3 DNS lookup failed (" + status_text(RecordType::A, a) + ", " +
                            status_text(RecordType::Aaaa, aaaa) + ")");
  }
  if (a.status == AnswerStatus::NxDomain || aaaa.status == AnswerStatus::NxDomain) {
    return Error::permanent(name + ": 5.4.4 host not found");
  }
  return Error::permanent(name + ": 5.4.4 no address records");
}

}  // namespace

std::string_view metric_label(QueryResult result) {
  switch (result) {
    case QueryResult::Ok: return "ok";
    case QueryResult::NxDomain: return "nxdomain";
    case QueryResult::ServFail: return "servfail";
    case QueryResult::Timeout: return "timeout";
  }
  return "servfail";
}

// One resolve_mx() in progress. Shared by the continuations of its host
// lookups, which finish in any order; the last one completes it.
struct Resolver::MxLookup {
  std::string domain;
  MxCallback callback;
  std::vector<MxHost> hosts;          // in delivery order; addresses filled in as answers come
  std::vector<std::string> failures;  // why hosts were dropped
  bool any_transient = false;
  std::size_t pending = 0;
};

Resolver::Resolver(uv_loop_t* loop, ResolverOptions options)
    : loop_(loop), options_(std::move(options)), cache_(options_.cache), rng_(std::random_device{}()) {}

Result<std::unique_ptr<Resolver>> Resolver::create(uv_loop_t* loop, ResolverOptions options) {
  if (options.max_mx_hosts == 0) return Error::permanent("dns: max_mx_hosts must be at least 1");
  ChannelOptions channel_options{options.servers, options.timeout, options.tries};
  auto channel = Channel::create(loop, channel_options);
  if (!channel) return channel.error();
  std::unique_ptr<Resolver> self(new Resolver(loop, std::move(options)));
  self->channel_ = std::move(*channel);
  auto idle = UvHandle<uv_idle_t>::create([&](uv_idle_t* h) { return uv_idle_init(loop, h); });
  if (!idle) return idle.error().prefixed("dns idle handle");
  self->idle_ = std::move(*idle);
  self->idle_->data = self.get();
  return self;
}

Resolver::~Resolver() {
  if (destroyed_flag_ != nullptr) *destroyed_flag_ = true;
  shutting_down_ = true;
  // Pending queries end here with Cancelled; their lookups post their errors.
  std::unique_ptr<Channel> channel = std::move(channel_);
  channel.reset();
  inflight_.clear();
  // Answers already known are delivered as they are; callbacks that start new
  // lookups get "cancelled" posted, which this loop then delivers too.
  while (!ready_.empty()) {
    auto fn = std::move(ready_.front());
    ready_.pop_front();
    fn();
  }
}

void Resolver::set_query_observer(std::function<void(QueryResult)> observer) { observer_ = std::move(observer); }

std::chrono::milliseconds Resolver::now() const {
  if (options_.clock) return options_.clock();
  return std::chrono::milliseconds{uv_now(loop_)};
}

void Resolver::post(std::function<void()> fn) {
  ready_.push_back(std::move(fn));
  if (shutting_down_ || uv_is_active(idle_.handle()) != 0) return;
  // Fails only for a closing handle, and ours closes in the destructor only.
  if (uv_idle_start(idle_.get(), &Resolver::on_idle) < 0) std::abort();
}

void Resolver::on_idle(uv_idle_t* handle) noexcept {
  auto* self = static_cast<Resolver*>(handle->data);
  if (self != nullptr) self->drain();
}

void Resolver::drain() {
  // Only what was ready on entry: callbacks that start lookups answered from
  // the cache post more, which wait for the next turn of the loop.
  bool destroyed = false;
  destroyed_flag_ = &destroyed;
  for (std::size_t n = ready_.size(); n > 0 && !ready_.empty(); --n) {
    auto fn = std::move(ready_.front());
    ready_.pop_front();
    fn();
    if (destroyed) return;  // the callback deleted us; the destructor delivered the rest
  }
  destroyed_flag_ = nullptr;
  if (ready_.empty()) uv_idle_stop(idle_.get());  // cannot fail
}

void Resolver::lookup(const std::string& name, RecordType type, AnswerHandler handler) {
  if (shutting_down_) {
    Answer cancelled;
    cancelled.status = AnswerStatus::Cancelled;
    handler(cancelled);
    return;
  }
  if (auto hit = cache_.find(name, type, now())) {
    handler(*hit);
    return;
  }
  auto [it, first] = inflight_.try_emplace(query_key(name, type));
  it->second.push_back(std::move(handler));
  if (!first) return;  // coalesced with the query already on its way
  channel_->query(name, ares_type(type), [this, name, type](int status, const unsigned char* message, std::size_t length) {
    on_query_done(name, type, parse_answer(type, status, message, length));
  });
}

void Resolver::on_query_done(const std::string& name, RecordType type, const Answer& answer) {
  if (auto result = classify(answer.status); result && observer_) observer_(*result);
  if (!shutting_down_) cache_.store(name, type, answer, now());
  auto node = inflight_.extract(query_key(name, type));
  if (node.empty()) return;
  // Waiters may start lookups (MX -> A/AAAA), which is why they were taken out first.
  for (auto& handler : node.mapped()) handler(answer);
}

void Resolver::resolve_addresses(const std::string& name, AddressHandler done) {
  // Both answers are kept until the second arrives, in whichever order.
  struct Pair {
    std::optional<Answer> a, aaaa;
  };
  auto pair = std::make_shared<Pair>();
  auto finish = [name, pair, done = std::move(done)]() {
    if (pair->a && pair->aaaa) done(combine_addresses(name, *pair->a, *pair->aaaa));
  };
  lookup(name, RecordType::A, [pair, finish](const Answer& a) {
    pair->a = a;
    finish();
  });
  lookup(name, RecordType::Aaaa, [pair, finish](const Answer& a) {
    pair->aaaa = a;
    finish();
  });
}

void Resolver::resolve_host(std::string name, HostCallback cb) {
  if (is_ip_address(name)) {
    post([cb = std::move(cb), name = std::move(name)] { cb(std::vector<std::string>{name}); });
    return;
  }
  auto normalized = normalize_name(name);
  if (!normalized) {
    post([cb = std::move(cb), error = normalized.error()] { cb(error); });
    return;
  }
  resolve_addresses(*normalized, [this, cb = std::move(cb)](Result<std::vector<std::string>> result) {
    post([cb, result = std::move(result)] { cb(result); });
  });
}

void Resolver::resolve_mx(std::string domain, MxCallback cb) {
  auto normalized = normalize_name(domain);
  if (!normalized) {
    post([cb = std::move(cb), error = normalized.error()] { cb(error); });
    return;
  }
  auto op = std::make_shared<MxLookup>();
  op->domain = std::move(*normalized);
  op->callback = std::move(cb);
  lookup(op->domain, RecordType::Mx, [this, op](const Answer& answer) { on_mx_answer(op, answer); });
}

void Resolver::on_mx_answer(const std::shared_ptr<MxLookup>& op, const Answer& answer) {
  auto fail = [&](Error error) {
    post([cb = std::move(op->callback), error = std::move(error)] { cb(error); });
  };
  std::vector<MxRecord> records;
  switch (answer.status) {
    case AnswerStatus::Ok: {
      bool null_mx = false;
      for (const auto& r : answer.mx) {
        if (r.host.empty()) {
          null_mx = true;  // "MX 0 ." (RFC 7505); alongside real MX records it is ignored
          continue;
        }
        auto host = normalize_name(r.host);
        if (!host) {
          op->failures.push_back(host.error().message());
          continue;
        }
        records.push_back(MxRecord{std::move(*host), r.preference});
      }
      if (records.empty() && null_mx && op->failures.empty()) {
        return fail(Error::permanent(op->domain + ": 5.1.10 domain does not accept mail (null MX)"));
      }
      break;
    }
    case AnswerStatus::NoData:  // RFC 5321 §5.1: no MX, so the domain is its own mail host
      records.push_back(MxRecord{op->domain, 0});
      break;
    case AnswerStatus::NxDomain:
      return fail(Error::permanent(op->domain + ": 5.1.2 domain not found"));
    default:
      return fail(Error::transient(op->domain + ": 4.4.3 DNS lookup failed (" + status_text(RecordType::Mx, answer) +
                                   ")"));
  }
  records = order_mx(std::move(records), rng_);
  if (records.size() > options_.max_mx_hosts) records.resize(options_.max_mx_hosts);
  for (auto& r : records) op->hosts.push_back(MxHost{std::move(r.host), r.preference, {}});
  if (op->hosts.empty()) return finish_mx(op);
  op->pending = op->hosts.size();
  // Copy the names first: continuations may complete (from the cache) and
  // finish the lookup while this loop is still running.
  std::vector<std::string> names;
  for (const auto& h : op->hosts) names.push_back(h.name);
  for (std::size_t i = 0; i < names.size(); ++i) {
    resolve_addresses(names[i], [this, op, i](Result<std::vector<std::string>> result) {
      if (result) {
        op->hosts[i].addresses = std::move(*result);
      } else {
        op->failures.push_back(result.error().message());
        op->any_transient = op->any_transient || result.error().is_transient();
      }
      if (--op->pending == 0) finish_mx(op);
    });
  }
}

void Resolver::finish_mx(const std::shared_ptr<MxLookup>& op) {
  std::vector<MxHost> usable;
  for (auto& h : op->hosts) {
    if (!h.addresses.empty()) usable.push_back(std::move(h));
  }
  auto cb = std::move(op->callback);
  if (!usable.empty()) {
    post([cb = std::move(cb), usable = std::move(usable)] { cb(usable); });
    return;
  }
  Error error = op->any_transient
                    ? Error::transient(op->domain + ": 4.4.3 no mail host resolved (" + join(op->failures) + ")")
                    : Error::permanent(op->domain + ": 5.4.4 no usable mail host (" + join(op->failures) + ")");
  post([cb = std::move(cb), error = std::move(error)] { cb(error); });
}

}  // namespace tern::dns
