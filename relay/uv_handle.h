#pragma once
// Owners for libuv handles. A handle's memory must outlive uv_close() until its
// close callback runs, so UvHandle<T> heap-allocates the handle, calls uv_close
// in its destructor and frees the memory in the close callback (as CMake's
// cmUVHandlePtr.h does). Movable, not copyable. The loop must keep running
// (or be run once more) after destruction for the memory to be released.

#include <uv.h>

#include <utility>

namespace tern::relay {

template <class T>
class UvHandle {
 public:
  UvHandle() : handle_(new T{}) {}
  ~UvHandle() { reset(); }
  UvHandle(UvHandle&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  UvHandle& operator=(UvHandle&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  UvHandle(const UvHandle&) = delete;
  UvHandle& operator=(const UvHandle&) = delete;

  T* get() const { return handle_; }
  T* operator->() const { return handle_; }
  uv_handle_t* handle() const { return reinterpret_cast<uv_handle_t*>(handle_); }
  uv_stream_t* stream() const { return reinterpret_cast<uv_stream_t*>(handle_); }

  // Closes the handle (if it was initialised) and releases it in the close callback.
  void reset() {
    T* h = std::exchange(handle_, nullptr);
    if (h == nullptr) return;
    auto* base = reinterpret_cast<uv_handle_t*>(h);
    if (base->loop != nullptr && !uv_is_closing(base)) {
      uv_close(base, [](uv_handle_t* p) noexcept { delete reinterpret_cast<T*>(p); });
    } else if (base->loop == nullptr) {
      delete h;  // never initialised
    }
    // else: already closing; whoever called uv_close owns the release.
  }

 private:
  T* handle_;
};

}  // namespace tern::relay
