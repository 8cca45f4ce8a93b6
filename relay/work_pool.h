#pragma once
// WorkPool: a few threads that run blocking or CPU-heavy jobs (Argon2 password
// checks) off the event loops. Jobs run in submission order per thread; the
// job itself posts its answer back to whichever loop asked. stop() finishes
// the queued jobs, then joins. Thread-safe.

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tern::relay {

class WorkPool {
 public:
  explicit WorkPool(unsigned threads);
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // Returns false (and drops the job) once stop() has begun.
  bool post(std::function<void()> job);
  void stop();

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;  // guarded by mutex_
  bool stopping_ = false;                   // guarded by mutex_
  std::vector<std::thread> threads_;
};

}  // namespace tern::relay
