#pragma once
// Mailbox<Msg>: how threads talk to a loop (STYLE.md §5). post() from any
// thread appends to a mutex-guarded deque and wakes the owning loop through a
// uv_async_t; the loop's callback drains the whole deque, because
// uv_async_send coalesces wake-ups. Messages carry ids and values, never
// pointers into another loop's objects. Construct and destroy on the owning
// loop's thread; post() is safe from anywhere until close().

#include <uv.h>

#include <deque>
#include <functional>
#include <mutex>
#include <utility>

#include "relay/uv_handle.h"

namespace tern::relay {

template <class Msg>
class Mailbox {
 public:
  using Handler = std::function<void(Msg&&)>;

  Mailbox(uv_loop_t* loop, Handler handler) : handler_(std::move(handler)) {
    uv_async_init(loop, async_.get(), &Mailbox::on_async);
    async_->data = this;
  }
  ~Mailbox() { close(); }
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Any thread. Returns false once the mailbox is closed (the message is dropped).
  bool post(Msg msg) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (closed_) return false;
      pending_.push_back(std::move(msg));
    }
    uv_async_send(async_.get());
    return true;
  }

  // Owning thread: stop accepting posts and release the async handle.
  void close() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (closed_) return;
      closed_ = true;
      pending_.clear();
    }
    async_->data = nullptr;
    async_.reset();
  }

 private:
  static void on_async(uv_async_t* async) noexcept {
    auto* self = static_cast<Mailbox*>(async->data);
    if (self != nullptr) self->drain();
  }
  void drain() {
    std::deque<Msg> batch;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      batch.swap(pending_);
    }
    for (auto& msg : batch) handler_(std::move(msg));
  }

  Handler handler_;
  UvHandle<uv_async_t> async_;
  std::mutex mutex_;
  std::deque<Msg> pending_;  // guarded by mutex_
  bool closed_ = false;      // guarded by mutex_
};

}  // namespace tern::relay
