#pragma once
// Operator actions on the spool (`tern queue retry|hold|release|delete`), on a
// connection of their own, safe while the daemon runs: each action is one short
// BEGIN IMMEDIATE transaction that waits at most busy_timeout for the daemon's
// writer, and the writer's later updates check recipient state, so a deleted
// message is never resurrected and a hold is never undone by a deferral.
// Errors are db_error()s (is_busy_error() for a lock held too long). Thread-
// safety: one Admin per thread; it owns its connection.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "smtp/result.h"

namespace tern::queue {

class Admin {
 public:
  struct Options {
    std::chrono::milliseconds busy_timeout{5000};
  };
  // The spool directory must exist; queue.db is created and migrated if needed.
  static Result<std::unique_ptr<Admin>> open(const std::string& spool_dir, Options options);
  static Result<std::unique_ptr<Admin>> open(const std::string& spool_dir) { return open(spool_dir, Options{}); }
  ~Admin();
  Admin(const Admin&) = delete;
  Admin& operator=(const Admin&) = delete;

  using TimePoint = std::chrono::system_clock::time_point;
  // Each returns the number of recipients changed, or nullopt for an unknown id.
  Result<std::optional<int>> retry(std::string_view id, TimePoint now);    // ready/deferred: due now
  Result<std::optional<int>> hold(std::string_view id);                    // ready/deferred -> held
  Result<std::optional<int>> release(std::string_view id, TimePoint now);  // held -> ready, due now
  Result<std::optional<int>> remove(std::string_view id);                  // deletes the message, no bounce; 1
  // Every ready/deferred recipient due later becomes due now; returns how many.
  Result<int> retry_all(TimePoint now);

 private:
  struct Conn;
  explicit Admin(std::unique_ptr<Conn> conn);
  template <class Fn>
  Result<std::optional<int>> on_message(std::string_view id, Fn&& fn);
  std::unique_ptr<Conn> conn_;
};

}  // namespace tern::queue
