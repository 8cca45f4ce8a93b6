#include "metrics/heartbeat.h"

#include <cstdlib>
#include <utility>

namespace tern::metrics {

Heartbeat::Id Heartbeat::add(std::string name, Clock::time_point now) {
  std::lock_guard lock(mu_);
  entries_.push_back(Entry{std::move(name), now, true});
  return entries_.size() - 1;
}

Heartbeat::Entry& Heartbeat::entry(Id id) {
  if (id >= entries_.size()) std::abort();  // not an id from add(): our bug
  return entries_[id];
}

void Heartbeat::beat(Id id, Clock::time_point now) {
  std::lock_guard lock(mu_);
  Entry& e = entry(id);
  if (now > e.last) e.last = now;  // a late-delivered older beat must not age the loop
}

void Heartbeat::remove(Id id) {
  std::lock_guard lock(mu_);
  entry(id).active = false;
}

bool Heartbeat::healthy(Clock::time_point now, Clock::duration max_staleness) const {
  std::lock_guard lock(mu_);
  for (const Entry& e : entries_) {
    if (e.active && now - e.last > max_staleness) return false;
  }
  return true;
}

std::vector<std::string> Heartbeat::stale(Clock::time_point now, Clock::duration max_staleness) const {
  std::lock_guard lock(mu_);
  std::vector<std::string> names;
  for (const Entry& e : entries_) {
    if (e.active && now - e.last > max_staleness) names.push_back(e.name);
  }
  return names;
}

}  // namespace tern::metrics
