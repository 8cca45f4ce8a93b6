#include "dns/channel.h"

#include <ares.h>
#include <arpa/nameser.h>

#include <cstdlib>
#include <mutex>
#include <type_traits>

#include "dns/names.h"

namespace tern::dns {
namespace {

static_assert(std::is_same_v<ares_socket_t, int>, "Channel passes sockets as int");
static_assert(std::is_same_v<ares_channel, ares_channeldata*>);

struct PendingQuery {
  Channel::QueryCallback callback;
};

Status init_library() {
  // ares_library_init is process-wide and not thread-safe; on Linux it only
  // sets up allocators, so once is enough and it is never undone.
  static std::once_flag once;
  static int rc = ARES_SUCCESS;
  std::call_once(once, [] { rc = ares_library_init(ARES_LIB_INIT_ALL); });
  if (rc != ARES_SUCCESS) return Error::permanent(std::string("c-ares library init failed: ") + ares_strerror(rc));
  return {};
}

Result<std::string> servers_csv(const ChannelOptions& options) {
  std::string csv;
  for (const auto& [address, port] : options.servers) {
    if (!is_ip_address(address)) {
      return Error::permanent("dns server \"" + printable_name(address) + "\" is not an IP address");
    }
    if (!csv.empty()) csv += ',';
    // c-ares 1.18 takes "[::1]:5353" but not "[::1]": brackets only with a port.
    bool v6 = address.find(':') != std::string::npos;
    if (port == 0) {
      csv += address;
    } else {
      csv += (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
    }
  }
  return csv;
}

}  // namespace

Result<std::unique_ptr<Channel>> Channel::create(uv_loop_t* loop, const ChannelOptions& options) {
  if (loop == nullptr) return Error::permanent("dns: no event loop");
  if (options.timeout <= std::chrono::milliseconds{0} || options.timeout > std::chrono::hours{1}) {
    return Error::permanent("dns timeout must be between 1ms and 1h, got " + std::to_string(options.timeout.count()) +
                            "ms");
  }
  if (options.tries < 1 || options.tries > 10) {
    return Error::permanent("dns tries must be 1..10, got " + std::to_string(options.tries));
  }
  auto csv = servers_csv(options);
  if (!csv) return csv.error();
  if (auto st = init_library(); !st) return st.error();

  std::unique_ptr<Channel> self(new Channel(loop));
  auto timer = UvHandle<uv_timer_t>::create([&](uv_timer_t* t) { return uv_timer_init(loop, t); });
  if (!timer) return timer.error().prefixed("dns timer");
  self->timer_ = std::move(*timer);
  self->timer_->data = self.get();

  struct ares_options opts {};
  // NOCHECKRESP: hand SERVFAIL and REFUSED to us as such; without it c-ares
  // turns both into ECONNREFUSED (RECIPES.md §2).
  opts.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH;
  opts.timeout = static_cast<int>(options.timeout.count());
  opts.tries = options.tries;
  opts.sock_state_cb = &Channel::on_sock_state;
  opts.sock_state_cb_data = self.get();
  int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB;
  ares_channel channel = nullptr;
  if (int rc = ares_init_options(&channel, &opts, mask); rc != ARES_SUCCESS) {
    return Error::permanent(std::string("c-ares init failed: ") + ares_strerror(rc));
  }
  self->channel_ = channel;
  if (!csv->empty()) {
    if (int rc = ares_set_servers_ports_csv(channel, csv->c_str()); rc != ARES_SUCCESS) {
      return Error::permanent("dns servers \"" + *csv + "\" rejected by c-ares: " + ares_strerror(rc));
    }
  }
  return self;
}

Channel::~Channel() {
  destroying_ = true;
  if (channel_ != nullptr) ares_destroy(channel_);  // runs pending callbacks, closes sockets (on_sock_state 0,0)
  channel_ = nullptr;
  polls_.clear();
}

void Channel::query(const std::string& name, int type, QueryCallback callback) {
  if (destroying_ || channel_ == nullptr) {
    callback(ARES_EDESTRUCTION, nullptr, 0);
    return;
  }
  auto* pending = new PendingQuery{std::move(callback)};
  ares_query(channel_, name.c_str(), ns_c_in, type, &Channel::on_answer, pending);
  rearm_timer();
}

void Channel::on_answer(void* arg, int status, int /*timeouts*/, unsigned char* message, int length) noexcept {
  std::unique_ptr<PendingQuery> pending(static_cast<PendingQuery*>(arg));
  std::size_t size = message != nullptr && length > 0 ? static_cast<std::size_t>(length) : 0;
  pending->callback(status, size > 0 ? message : nullptr, size);
}

void Channel::on_sock_state(void* data, int fd, int readable, int writable) noexcept {
  static_cast<Channel*>(data)->watch(fd, readable != 0, writable != 0);
}

void Channel::watch(int fd, bool readable, bool writable) {
  if (!readable && !writable) {
    // c-ares closes the socket right after this returns: stop polling first.
    polls_.erase(fd);
    return;
  }
  auto it = polls_.find(fd);
  if (it == polls_.end()) {
    auto poll = UvHandle<uv_poll_t>::create([&](uv_poll_t* p) { return uv_poll_init_socket(loop_, p, fd); });
    // Without a watcher the query on this socket ends by c-ares's timeout,
    // which is the right outcome for "could not wait on the socket".
    if (!poll) return;
    (*poll)->data = this;
    uv_unref(poll->handle());
    it = polls_.emplace(fd, std::move(*poll)).first;
  }
  int events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);
  if (uv_poll_start(it->second.get(), events, &Channel::on_poll) < 0) polls_.erase(it);
}

void Channel::on_poll(uv_poll_t* handle, int status, int events) noexcept {
  auto* self = static_cast<Channel*>(handle->data);
  if (self == nullptr) return;
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(handle), &fd) < 0) return;
  if (status < 0) {
    // An error on the socket: let c-ares read and write it to find out.
    self->process(fd, fd);
    return;
  }
  self->process((events & UV_READABLE) != 0 ? fd : ARES_SOCKET_BAD, (events & UV_WRITABLE) != 0 ? fd : ARES_SOCKET_BAD);
}

void Channel::on_timer(uv_timer_t* handle) noexcept {
  auto* self = static_cast<Channel*>(handle->data);
  if (self == nullptr) return;
  self->process(ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // expire what timed out
}

void Channel::process(int read_fd, int write_fd) {
  ares_process_fd(channel_, read_fd, write_fd);
  rearm_timer();
}

void Channel::rearm_timer() {
  if (destroying_ || !timer_) return;
  struct timeval tv {};
  if (ares_timeout(channel_, nullptr, &tv) == nullptr) {
    uv_timer_stop(timer_.get());  // nothing pending: let the loop exit; cannot fail
    return;
  }
  // Round up: waking before the deadline would just spin.
  std::uint64_t ms = static_cast<std::uint64_t>(tv.tv_sec) * 1000 + (static_cast<std::uint64_t>(tv.tv_usec) + 999) / 1000;
  // Fails only for a closing handle or a null callback: our bug.
  if (uv_timer_start(timer_.get(), &Channel::on_timer, ms, 0) < 0) std::abort();
}

}  // namespace tern::dns
