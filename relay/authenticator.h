#pragma once
// Authenticator: checks AUTH credentials against the spool's accounts
// (Argon2id hashes, `tern user`) on a small thread pool, never on an event
// loop: one slow hash must not stall other sessions. Failed attempts are
// counted per client address; past kMaxFailures within kFailureWindow that
// address gets "454 try later" without a hash being computed (throttling
// password guessing, and the CPU it costs). Thread-safe.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "relay/work_pool.h"
#include "smtp/result.h"

namespace tern::metrics {
class Metrics;
}

namespace tern::relay {

class Authenticator {
 public:
  static constexpr int kMaxFailures = 10;
  static constexpr std::chrono::minutes kFailureWindow{5};
  static constexpr std::size_t kMaxTracked = 100000;  // client addresses remembered

  Authenticator(std::string spool_dir, metrics::Metrics* metrics, unsigned threads = 2);
  ~Authenticator();

  // `done` runs on a pool thread: ok, Error::permanent (wrong user or
  // password: 535), or Error::transient (throttled, account store down: 454).
  void verify(std::string user, std::string password, std::string client, std::function<void(Status)> done);
  void stop();

 private:
  Status check(const std::string& user, const std::string& password);
  bool throttled(const std::string& client);
  void count_failure(const std::string& client);

  std::string spool_;
  metrics::Metrics* metrics_;
  std::mutex mutex_;  // guards failures_
  struct Failures {
    int count = 0;
    std::chrono::steady_clock::time_point since;
  };
  std::unordered_map<std::string, Failures> failures_;
  WorkPool pool_;  // last: its threads stop before the members they use go away
};

}  // namespace tern::relay
