#pragma once
// Resolver: where mail for a domain goes. resolve_mx() finds a domain's MX
// hosts and their addresses the way RFC 5321 §5.1 asks (preference order,
// equal preferences shuffled, implicit MX, RFC 7505 null MX); resolve_host()
// finds one host's addresses. One Resolver per delivery worker loop: it runs
// c-ares on that loop, never blocks, caches answers for their TTL and shares
// one query among concurrent lookups of the same name. It does not handle
// address literals in MX targets or skip our own host: callers do.
// Failures are values: permanent (NXDOMAIN 5.1.2, null MX 5.1.10, no usable
// host 5.4.4) or transient (SERVFAIL, timeout, refused: 4.4.3).
//
// Callbacks always run from the loop, never inside resolve_*(), in the order
// their answers became known; they must not throw. A callback may destroy the
// Resolver. Destroying it with lookups pending runs their callbacks inside the
// destructor with a transient "cancelled" error; lookups started from those
// callbacks fail the same way at once; none runs after the destructor returns.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dns/answer.h"
#include "dns/answer_cache.h"
#include "dns/names.h"  // is_ip_address(), for callers
#include "dns/uv_handle.h"
#include "smtp/result.h"

namespace tern::dns {

class Channel;

struct ResolverOptions {
  std::vector<std::pair<std::string, std::uint16_t>> servers;  // empty: /etc/resolv.conf (c-ares default)
  std::chrono::milliseconds timeout{5000};  // per query attempt (c-ares doubles it for each later round)
  int tries = 2;                            // attempts per server
  CachePolicy cache;                        // TTL caps and size of the answer cache
  std::size_t max_mx_hosts = 10;            // MX hosts resolved per domain (after ordering): bounds queries
  // Monotonic time for the cache; empty: the loop's clock (uv_now). Tests inject a fake.
  std::function<std::chrono::milliseconds()> clock;
};

// One per DNS query sent (not per cache hit or coalesced lookup), for
// tern_dns_queries_total{result}. NOERROR without data is Ok; REFUSED, FORMERR
// and unreachable servers count as ServFail.
enum class QueryResult { Ok, NxDomain, ServFail, Timeout };
std::string_view metric_label(QueryResult result);  // "ok", "nxdomain", "servfail", "timeout"

struct MxHost {
  std::string name;
  std::uint16_t preference = 0;
  std::vector<std::string> addresses;  // as text, IPv4 first, then IPv6
  friend bool operator==(const MxHost&, const MxHost&) = default;
};

class Resolver {
 public:
  // The loop must outlive the resolver. Fails (permanent) on bad options.
  static Result<std::unique_ptr<Resolver>> create(uv_loop_t* loop, ResolverOptions options);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // The domain's mail hosts in the order to try them, each with its addresses;
  // hosts without any address are dropped. No MX records (NODATA): the domain
  // itself, preference 0. Errors: permanent for NXDOMAIN ("5.1.2 domain not
  // found"), a null MX ("5.1.10 ... does not accept mail (null MX)") or when no
  // host has an address and none failed transiently ("5.4.4"); transient
  // ("4.4.3") otherwise.
  using MxCallback = std::function<void(Result<std::vector<MxHost>>)>;
  void resolve_mx(std::string domain, MxCallback cb);

  // A and AAAA of one host, IPv4 addresses first. An IP literal is returned as
  // is. Errors: permanent "5.4.4" (no such host, no address records),
  // transient "4.4.3" (any query failed and no address was found).
  using HostCallback = std::function<void(Result<std::vector<std::string>>)>;
  void resolve_host(std::string name, HostCallback cb);

  // Called synchronously as each DNS query completes; must not call into the
  // Resolver. Replaces any earlier observer.
  void set_query_observer(std::function<void(QueryResult)> observer);

  std::size_t cached_answers() const { return cache_.size(); }

 private:
  struct MxLookup;
  using AnswerHandler = std::function<void(const Answer&)>;
  using AddressHandler = std::function<void(Result<std::vector<std::string>>)>;

  Resolver(uv_loop_t* loop, ResolverOptions options);
  std::chrono::milliseconds now() const;
  void lookup(const std::string& name, RecordType type, AnswerHandler handler);
  void on_query_done(const std::string& name, RecordType type, const Answer& answer);
  void resolve_addresses(const std::string& name, AddressHandler done);
  void on_mx_answer(const std::shared_ptr<MxLookup>& op, const Answer& answer);
  void finish_mx(const std::shared_ptr<MxLookup>& op);
  void post(std::function<void()> fn);
  static void on_idle(uv_idle_t* handle) noexcept;
  void drain();

  uv_loop_t* loop_;
  ResolverOptions options_;
  std::unique_ptr<Channel> channel_;
  AnswerCache cache_;
  std::mt19937_64 rng_;
  std::function<void(QueryResult)> observer_;
  std::unordered_map<std::string, std::vector<AnswerHandler>> inflight_;  // "MX example.org" -> waiters
  std::deque<std::function<void()>> ready_;  // user callbacks with their results, run by idle_
  UvHandle<uv_idle_t> idle_;
  bool shutting_down_ = false;
  bool* destroyed_flag_ = nullptr;  // set while drain() runs user callbacks, which may delete us
};

}  // namespace tern::dns
