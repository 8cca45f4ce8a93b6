// AUTH credential checks off the loops, with per-client throttling. See authenticator.h.
#include "relay/authenticator.h"

#include <memory>

#include "metrics/metrics.h"
#include "queue/users.h"
#include "relay/log.h"
#include "relay/password.h"

namespace tern::relay {

Authenticator::Authenticator(std::string spool_dir, metrics::Metrics* metrics, unsigned threads)
    : spool_(std::move(spool_dir)), metrics_(metrics), pool_(threads) {}

Authenticator::~Authenticator() { stop(); }

void Authenticator::stop() { pool_.stop(); }

void Authenticator::verify(std::string user, std::string password, std::string client,
                           std::function<void(Status)> done) {
  auto job = [this, user = std::move(user), password = std::move(password), client = std::move(client),
              done = std::move(done)]() {
    if (throttled(client)) {
      log_info("auth", {{"user", user}, {"client", client}, {"result", "throttled"}});
      done(Error::transient("too many failed attempts from " + client));
      return;
    }
    Status result = check(user, password);
    if (result) {
      // A success does not clear the address's failures: one valid account
      // must not buy unlimited guesses at the others' passwords.
      log_info("auth", {{"user", user}, {"client", client}, {"result", "ok"}});
    } else if (result.error().is_permanent()) {
      count_failure(client);
      if (metrics_) metrics_->auth_failure();
      log_info("auth", {{"user", user}, {"client", client}, {"result", "failed"}});
    } else {
      log_warn("auth", {{"user", user}, {"client", client}, {"result", "error"}, {"error", result.error().message()}});
    }
    done(std::move(result));
  };
  if (!pool_.post(std::move(job))) {
    // Shutting down: nobody will check it.
  }
}

Status Authenticator::check(const std::string& user, const std::string& password) {
  // One connection per pool thread, opened on first use.
  thread_local std::unique_ptr<queue::Users> users;
  thread_local std::string users_spool;
  if (!users || users_spool != spool_) {
    auto opened = queue::Users::open(spool_);
    if (!opened) return Error::transient("account store: " + opened.error().message());
    users = std::move(*opened);
    users_spool = spool_;
  }
  auto record = users->find(user);
  if (!record) {
    users.reset();  // reopen next time
    return Error::transient("account store: " + record.error().message());
  }
  if (!record->has_value()) {
    // Spend the same effort as for a real account, so timing does not tell which names exist.
    static const std::string dummy = hash_password("tern-dummy-password").value_or("");
    (void)verify_password(dummy, password);
    return Error::permanent("unknown user");
  }
  if (!verify_password((*record)->hash, password)) return Error::permanent("wrong password");
  return {};
}

bool Authenticator::throttled(const std::string& client) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = failures_.find(client);
  if (it == failures_.end()) return false;
  if (std::chrono::steady_clock::now() - it->second.since > kFailureWindow) {
    failures_.erase(it);
    return false;
  }
  return it->second.count >= kMaxFailures;
}

void Authenticator::count_failure(const std::string& client) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  Failures& f = failures_[client];
  if (f.count == 0 || now - f.since > kFailureWindow) {
    f.count = 0;
    f.since = now;
  }
  ++f.count;
  if (failures_.size() > kMaxTracked) {
    // Bounded memory: drop the expired entries; a flood of live ones from
    // more addresses than that only resets the memory.
    std::erase_if(failures_, [&](const auto& entry) { return now - entry.second.since > kFailureWindow; });
    if (failures_.size() > kMaxTracked) failures_.clear();
  }
}

}  // namespace tern::relay
