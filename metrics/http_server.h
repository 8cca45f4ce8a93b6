#pragma once
// HttpServer: a tiny HTTP/1.1 server for Prometheus and probes, on its own
// thread and libuv loop so a scrape never touches a relay loop. It serves GET
// and HEAD of /metrics, /healthz and /readyz (404 elsewhere, 405 for other
// methods, 400/431/505 for bad requests), one request per connection, and
// logs nothing per request. A client must send its request head within
// request_timeout of connecting and within max_request_bytes, or it is cut
// off. start() binds synchronously and returns bind/resolve errors.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "smtp/result.h"

namespace tern::metrics {

class Metrics;

// Called on the HTTP thread, once per probe: must be cheap and thread-safe.
// An empty function counts as passing.
struct HealthChecks {
  std::function<bool()> healthy;                            // /healthz: 200 "ok" or 503
  std::function<std::pair<bool, std::string>()> ready;      // /readyz: 200 "ok" or 503 with the reason
};

struct HttpServerOptions {
  // From accept to the last byte of the response: a trickle of bytes does not
  // keep a connection open.
  std::chrono::milliseconds request_timeout{std::chrono::seconds(10)};
  // After the response, how long to wait for the client's FIN before closing,
  // so unread input does not turn our close into a reset that eats the response.
  std::chrono::milliseconds linger{std::chrono::seconds(2)};
  std::size_t max_request_bytes = 8 * 1024;  // request line plus headers; beyond: 431
  std::size_t max_connections = 64;          // beyond: accepted and closed at once
};

class HttpServer {
 public:
  // host is an IP literal ("127.0.0.1", "::1" or "[::1]"), a name resolved
  // now, or "" for all IPv4 interfaces; port 0 picks a free port. metrics
  // must outlive the server.
  static Result<std::unique_ptr<HttpServer>> start(std::string host, std::uint16_t port, Metrics& metrics,
                                                   HealthChecks checks, HttpServerOptions options = {});
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();  // stop()s

  std::uint16_t port() const;
  // Closes the listener and every connection, then joins the thread. Safe
  // to call twice and from any thread but the server's own (its callbacks).
  void stop();

  struct Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tern::metrics
