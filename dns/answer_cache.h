#pragma once
// AnswerCache: answers to (name, type) queries kept for as long as their TTL
// allows (RFC 2308 for negative ones), capped by CachePolicy; failures (SERVFAIL,
// timeout, ...) for a few seconds only, so a burst of mail to a broken domain
// does not queue a burst of doomed queries. Cancelled answers are never kept.
// It holds at most max_entries answers, evicting the one that expires first.
// Time is passed in by the caller (monotonic, any epoch), so tests can travel.
// Not thread-safe: one cache per resolver, on one loop.

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "dns/answer.h"

namespace tern::dns {

struct CachePolicy {
  std::chrono::seconds max_ttl{3600};               // no answer is trusted longer than this, whatever its TTL
  std::chrono::seconds default_negative_ttl{300};   // NXDOMAIN/NODATA without an SOA to say how long
  std::chrono::seconds failure_ttl{3};              // SERVFAIL, timeout, refused...: retried soon
  std::size_t max_entries = 10000;                  // bounds memory; 0 disables caching
};

class AnswerCache {
 public:
  using Time = std::chrono::milliseconds;

  explicit AnswerCache(CachePolicy policy) : policy_(policy) {}

  // The cached answer, if one is still fresh at `now`.
  std::optional<Answer> find(std::string_view name, RecordType type, Time now);
  // Keeps `answer` for lifetime(answer); a zero lifetime stores nothing.
  void store(std::string_view name, RecordType type, const Answer& answer, Time now);
  std::chrono::seconds lifetime(const Answer& answer) const;
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Answer answer;
    Time expires{0};
  };
  static std::string key(std::string_view name, RecordType type);
  void erase(std::map<std::string, Entry, std::less<>>::iterator it);

  CachePolicy policy_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::set<std::pair<Time, std::string>> by_expiry_;  // eviction order
};

}  // namespace tern::dns
