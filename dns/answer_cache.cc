#include "dns/answer_cache.h"

#include <algorithm>

namespace tern::dns {

std::string AnswerCache::key(std::string_view name, RecordType type) {
  std::string k(describe(type));
  k.push_back(' ');
  k.append(name);
  return k;
}

void AnswerCache::erase(std::map<std::string, Entry, std::less<>>::iterator it) {
  by_expiry_.erase({it->second.expires, it->first});
  entries_.erase(it);
}

std::chrono::seconds AnswerCache::lifetime(const Answer& answer) const {
  using std::chrono::seconds;
  switch (answer.status) {
    case AnswerStatus::Ok: return std::min(answer.ttl.value_or(seconds{0}), policy_.max_ttl);
    case AnswerStatus::NoData:
    case AnswerStatus::NxDomain: return std::min(answer.ttl.value_or(policy_.default_negative_ttl), policy_.max_ttl);
    case AnswerStatus::Cancelled: return seconds{0};
    default: return std::min(policy_.failure_ttl, policy_.max_ttl);
  }
}

std::optional<Answer> AnswerCache::find(std::string_view name, RecordType type, Time now) {
  auto it = entries_.find(key(name, type));
  if (it == entries_.end()) return std::nullopt;
  if (it->second.expires <= now) {
    erase(it);
    return std::nullopt;
  }
  return it->second.answer;
}

void AnswerCache::store(std::string_view name, RecordType type, const Answer& answer, Time now) {
  auto life = lifetime(answer);
  if (life <= std::chrono::seconds{0} || policy_.max_entries == 0) return;
  std::string k = key(name, type);
  if (auto it = entries_.find(k); it != entries_.end()) erase(it);
  while (entries_.size() >= policy_.max_entries && !by_expiry_.empty()) {
    erase(entries_.find(by_expiry_.begin()->second));
  }
  Time expires = now + std::chrono::duration_cast<Time>(life);
  by_expiry_.insert({expires, k});
  entries_.emplace(std::move(k), Entry{answer, expires});
}

}  // namespace tern::dns
