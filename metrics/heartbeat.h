#pragma once
// Heartbeat: a thread-safe table where each event loop records "I turned at
// time T" (typically from a one-second uv timer), and /healthz asks whether
// every registered loop turned within a staleness bound. It reads no clock:
// callers pass the time, so tests drive it with made-up time points. A loop
// stuck in a blocking call stops beating and makes healthy() false.

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

namespace tern::metrics {

class Heartbeat {
 public:
  using Clock = std::chrono::steady_clock;
  using Id = std::size_t;

  // Registers a loop as having turned at `now`; name appears in stale().
  Id add(std::string name, Clock::time_point now);
  void beat(Id id, Clock::time_point now);
  // A loop that stops on purpose (drain) leaves the table; its id is not reused.
  void remove(Id id);

  // True when every registered loop beat within max_staleness of now
  // (vacuously true with none registered).
  bool healthy(Clock::time_point now, Clock::duration max_staleness) const;
  // Names of the loops that did not, in registration order.
  std::vector<std::string> stale(Clock::time_point now, Clock::duration max_staleness) const;

 private:
  struct Entry {
    std::string name;
    Clock::time_point last;
    bool active;
  };
  Entry& entry(Id id);  // aborts on an id add() never returned: our bug

  mutable std::mutex mu_;
  std::vector<Entry> entries_;  // guarded by mu_, indexed by Id
};

}  // namespace tern::metrics
