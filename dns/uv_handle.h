#pragma once
// UvHandle<T>: sole owner of one libuv handle (uv_timer_t, uv_poll_t, uv_tcp_t,
// uv_idle_t, uv_async_t, ...). The handle lives on the heap because libuv needs
// its memory until the close callback has run: the destructor calls uv_close()
// and the close callback deletes it (as CMake's cmUVHandlePtr.h). Movable, not
// copyable. It does not run the loop: memory comes back only once the loop
// turns again after the destructor, and the loop must outlive every UvHandle.
// Creation fails with the libuv error when the init function fails; the
// half-made handle is then freed without uv_close (it was never registered).

#include <uv.h>

#include <string>
#include <type_traits>
#include <utility>

#include "smtp/result.h"

namespace tern::dns {

// The text of a libuv error code: "EMFILE (too many open files)".
inline std::string uv_error_text(int code) {
  return std::string(uv_err_name(code)) + " (" + uv_strerror(code) + ")";
}

template <class T>
class UvHandle {
 public:
  UvHandle() = default;

  // Allocates a zeroed T and calls init(T*), which must return a libuv status
  // (e.g. [&](uv_timer_t* t) { return uv_timer_init(loop, t); }). Errors are
  // transient: libuv fails to init a handle on resource exhaustion.
  template <class Init>
  static Result<UvHandle> create(Init&& init) {
    static_assert(std::is_invocable_r_v<int, Init, T*>, "init must be int(T*)");
    T* raw = new T{};
    if (int rc = std::forward<Init>(init)(raw); rc < 0) {
      delete raw;  // never registered with the loop: no uv_close needed
      return Error::transient("libuv handle init failed: " + uv_error_text(rc));
    }
    return UvHandle(raw);
  }

  UvHandle(const UvHandle&) = delete;
  UvHandle& operator=(const UvHandle&) = delete;
  UvHandle(UvHandle&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  UvHandle& operator=(UvHandle&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  ~UvHandle() { reset(); }

  // Closes the handle now (no callback of it runs after this) and frees it
  // once the loop has run its close callback.
  void reset() noexcept {
    T* h = std::exchange(handle_, nullptr);
    if (h == nullptr) return;
    auto* base = reinterpret_cast<uv_handle_t*>(h);
    base->data = nullptr;
    if (uv_is_closing(base) == 0) uv_close(base, &UvHandle::on_closed);
  }

  T* get() const { return handle_; }
  T* operator->() const { return handle_; }
  uv_handle_t* handle() const { return reinterpret_cast<uv_handle_t*>(handle_); }
  explicit operator bool() const { return handle_ != nullptr; }

 private:
  explicit UvHandle(T* h) : handle_(h) {}
  static void on_closed(uv_handle_t* h) noexcept { delete reinterpret_cast<T*>(h); }

  T* handle_ = nullptr;
};

}  // namespace tern::dns
