#pragma once
// Test helper: a private libuv loop that a test runs until a condition holds
// or a deadline passes (never a fixed sleep), and closes at the end, failing
// the test if any handle is left open (a leak of ours). Header-only.

#include <uv.h>

#include <chrono>
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "dns/uv_handle.h"

namespace tern::dns::testing {

class TestLoop {
 public:
  TestLoop() { ok_ = uv_loop_init(&loop_) == 0; }
  ~TestLoop() {
    if (ok_ && !closed_) close();
  }
  TestLoop(const TestLoop&) = delete;
  TestLoop& operator=(const TestLoop&) = delete;

  uv_loop_t* get() { return &loop_; }

  // Runs the loop until done() holds; false if the deadline passed first or
  // nothing was left that could make done() true.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    bool expired = false;
    auto timer = UvHandle<uv_timer_t>::create([&](uv_timer_t* t) { return uv_timer_init(&loop_, t); });
    if (!timer) {
      ADD_FAILURE() << timer.error().message();
      return false;
    }
    (*timer)->data = &expired;
    uv_timer_start(timer->get(), [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; },
                   static_cast<std::uint64_t>(deadline.count()), 0);
    uv_unref(timer->handle());  // the deadline alone must not keep the loop alive
    while (!done()) {
      if (expired) return false;
      if (uv_run(&loop_, UV_RUN_ONCE) == 0 && !done()) return false;
    }
    return true;
  }

  // Lets closing handles finish, then closes the loop; false (and a test
  // failure naming them) if handles are still open.
  bool close() {
    closed_ = true;
    if (!ok_) return false;
    run_until([&] { return uv_loop_alive(&loop_) == 0; }, std::chrono::seconds(5));
    uv_run(&loop_, UV_RUN_NOWAIT);  // the deadline timer's close callback
    if (uv_loop_close(&loop_) == 0) return true;
    std::string open;
    uv_walk(&loop_, [](uv_handle_t* h, void* arg) {
      *static_cast<std::string*>(arg) += std::string(uv_handle_type_name(h->type)) +
                                         (uv_is_closing(h) != 0 ? "(closing) " : " ");
    }, &open);
    ADD_FAILURE() << "handles left open on the loop: " << open;
    return false;
  }

 private:
  uv_loop_t loop_{};
  bool ok_ = false;
  bool closed_ = false;
};

}  // namespace tern::dns::testing
