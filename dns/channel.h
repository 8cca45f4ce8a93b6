#pragma once
// Channel: one c-ares channel driven by a libuv loop (STYLE.md §6). c-ares
// tells us which sockets it wants watched (ARES_OPT_SOCK_STATE_CB): each gets
// a uv_poll_t; one uv_timer_t follows ares_timeout(); when either fires,
// ares_process_fd() runs. Nothing blocks. It does no caching or
// interpretation: a query's callback gets c-ares's status and raw response.
// Sockets are unreferenced, so the loop is kept alive only while queries are
// pending (by the timer). Owned by one loop thread; the loop must outlive it.
// create() fails (permanent) on bad options or when c-ares cannot initialise.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dns/uv_handle.h"
#include "smtp/result.h"

struct ares_channeldata;

namespace tern::dns {

struct ChannelOptions {
  std::vector<std::pair<std::string, std::uint16_t>> servers;  // IP literals; empty: /etc/resolv.conf; port 0 = 53
  std::chrono::milliseconds timeout{5000};  // first try; c-ares doubles it on each later round of tries
  int tries = 2;
};

class Channel {
 public:
  // status: the ARES_* status; message/length: the response, null when none.
  using QueryCallback = std::function<void(int status, const unsigned char* message, std::size_t length)>;

  static Result<std::unique_ptr<Channel>> create(uv_loop_t* loop, const ChannelOptions& options);
  // Pending queries' callbacks run inside the destructor with ARES_EDESTRUCTION.
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Sends one query (class IN, recursion desired). The callback runs later from
  // the loop, or at once when c-ares fails it on the spot (e.g. a bad name);
  // it must not destroy the Channel.
  void query(const std::string& name, int type, QueryCallback callback);

  std::size_t watched_sockets() const { return polls_.size(); }

 private:
  explicit Channel(uv_loop_t* loop) : loop_(loop) {}

  static void on_sock_state(void* data, int fd, int readable, int writable) noexcept;
  static void on_poll(uv_poll_t* handle, int status, int events) noexcept;
  static void on_timer(uv_timer_t* handle) noexcept;
  static void on_answer(void* arg, int status, int timeouts, unsigned char* message, int length) noexcept;
  void watch(int fd, bool readable, bool writable);
  void process(int read_fd, int write_fd);
  void rearm_timer();

  uv_loop_t* loop_;
  ares_channeldata* channel_ = nullptr;
  bool destroying_ = false;
  UvHandle<uv_timer_t> timer_;
  std::unordered_map<int, UvHandle<uv_poll_t>> polls_;  // by socket
};

}  // namespace tern::dns
