// Tests metrics/http_server.cc over real TCP sockets on 127.0.0.1 (port 0):
// routes and status codes, health callbacks, limits on slow and oversized
// clients, connection caps, prompt stop(), bind errors. Every wait has a
// deadline; none relies on a fixed sleep for correctness.

#include "metrics/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "metrics/metrics.h"

namespace tern::metrics {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;
using Clock = std::chrono::steady_clock;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

Fd connect_to(std::uint16_t port) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
  }
  return fd;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

struct Received {
  std::string data;
  bool closed = false;  // EOF or reset seen before the deadline
  bool reset = false;
  Clock::duration took{};
};

// Reads until the server closes or `within` passes.
Received read_until_close(int fd, Clock::duration within = 5s) {
  Received r;
  const auto start = Clock::now();
  const auto deadline = start + within;
  char buf[16384];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms) break;
    pollfd p{fd, POLLIN, 0};
    const int rc = poll(&p, 1, static_cast<int>(left.count()) + 1);
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) continue;  // loop re-checks the deadline
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      r.data.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    r.closed = true;
    r.reset = n < 0;
    break;
  }
  r.took = Clock::now() - start;
  return r;
}

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  bool closed = false;
};

Response parse_response(const Received& r) {
  Response resp;
  resp.closed = r.closed && !r.reset;
  const auto end = r.data.find("\r\n\r\n");
  if (end == std::string::npos || r.data.rfind("HTTP/1.1 ", 0) != 0) return resp;
  resp.status = std::stoi(r.data.substr(9, 3));
  std::size_t pos = r.data.find("\r\n") + 2;
  while (pos < end) {
    const auto eol = r.data.find("\r\n", pos);
    const std::string line = r.data.substr(pos, eol - pos);
    const auto colon = line.find(':');
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    resp.headers[name] = line.substr(colon + 2);
    pos = eol + 2;
  }
  resp.body = r.data.substr(end + 4);
  return resp;
}

Response http(std::uint16_t port, std::string_view request) {
  Fd fd = connect_to(port);
  EXPECT_TRUE(send_all(fd.get(), request));
  return parse_response(read_until_close(fd.get()));
}

Response get(std::uint16_t port, const std::string& path) {
  return http(port, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
}

std::unique_ptr<HttpServer> start(Metrics& m, HealthChecks checks = {}, HttpServerOptions options = {}) {
  auto s = HttpServer::start("127.0.0.1", 0, m, std::move(checks), options);
  if (!s) throw std::runtime_error("start: " + s.error().message());
  return std::move(s).value();
}

TEST(HttpServer, PortZeroPicksAFreePort) {
  Metrics m;
  auto a = start(m);
  auto b = start(m);
  EXPECT_NE(a->port(), 0);
  EXPECT_NE(b->port(), 0);
  EXPECT_NE(a->port(), b->port());
}

TEST(HttpServer, ServesTheMetrics) {
  Metrics m;
  auto s = start(m);
  m.auth_failure();
  m.message_received(Listener::Submissions);
  const Response r = get(s->port(), "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.headers.at("content-type"), "text/plain; version=0.0.4");
  EXPECT_EQ(r.headers.at("connection"), "close");
  EXPECT_EQ(r.headers.at("content-length"), std::to_string(r.body.size()));
  EXPECT_EQ(r.body, m.serialize());
  EXPECT_NE(r.body.find("\ntern_auth_failures_total 1\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("tern_messages_received_total{listener=\"submissions\"} 1\n"), std::string::npos);
  m.auth_failure();
  EXPECT_NE(get(s->port(), "/metrics").body.find("\ntern_auth_failures_total 2\n"), std::string::npos);
}

TEST(HttpServer, HeadHasNoBody) {
  Metrics m;
  auto s = start(m);
  const Response r = http(s->port(), "HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.headers.at("content-length"), std::to_string(m.serialize().size()));
}

TEST(HttpServer, HealthzFollowsItsCallback) {
  Metrics m;
  std::atomic<bool> healthy{true};
  auto s = start(m, {.healthy = [&] { return healthy.load(); }});
  Response r = get(s->port(), "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  healthy = false;
  r = get(s->port(), "/healthz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "unhealthy\n");
  healthy = true;
  EXPECT_EQ(get(s->port(), "/healthz").status, 200);
}

TEST(HttpServer, ReadyzGivesTheReasonOnOneLine) {
  Metrics m;
  std::atomic<bool> ready{false};
  auto s = start(m, {.ready = [&]() -> std::pair<bool, std::string> {
                       if (ready) return {true, ""};
                       return {false, "spool full:\r\nno space left"};
                     }});
  Response r = get(s->port(), "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "spool full:  no space left\n");
  ready = true;
  r = get(s->port(), "/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
}

TEST(HttpServer, NotReadyWithoutAReasonStillSaysSomething) {
  Metrics m;
  auto s = start(m, {.ready = [] { return std::pair<bool, std::string>{false, ""}; }});
  const Response r = get(s->port(), "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "not ready\n");
}

TEST(HttpServer, EmptyChecksPass) {
  Metrics m;
  auto s = start(m);
  EXPECT_EQ(get(s->port(), "/healthz").status, 200);
  EXPECT_EQ(get(s->port(), "/readyz").status, 200);
}

TEST(HttpServer, AThrowingCheckIsA500) {
  Metrics m;
  auto s = start(m, {.healthy = []() -> bool { throw std::runtime_error("boom"); }});
  const Response r = get(s->port(), "/healthz");
  EXPECT_EQ(r.status, 500);
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(get(s->port(), "/metrics").status, 200);  // and the server lives on
}

struct StatusCase {
  const char* what;
  std::string request;
  int status;
};

TEST(HttpServer, StatusCodes) {
  Metrics m;
  auto s = start(m);
  const StatusCase cases[] = {
      {"metrics", "GET /metrics HTTP/1.1\r\n\r\n", 200},
      {"query ignored", "GET /healthz?verbose=1 HTTP/1.0\r\n\r\n", 200},
      {"unknown path", "GET /nope HTTP/1.1\r\n\r\n", 404},
      {"root", "GET / HTTP/1.1\r\n\r\n", 404},
      {"prefix is not a match", "GET /metricsx HTTP/1.1\r\n\r\n", 404},
      {"head unknown", "HEAD /nope HTTP/1.1\r\n\r\n", 404},
      {"post", "POST /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi", 405},
      {"delete", "DELETE /healthz HTTP/1.1\r\n\r\n", 405},
      {"lower-case get", "get /metrics HTTP/1.1\r\n\r\n", 405},
      {"tls client hello", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"s, 400},
      {"smtp", "EHLO client.example\r\n", 400},
      {"http/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const Response r = http(s->port(), c.request);
    EXPECT_EQ(r.status, c.status);
    EXPECT_TRUE(r.closed);
    if (c.status == 405) {
      EXPECT_EQ(r.headers.at("allow"), "GET, HEAD");
    }
  }
}

TEST(HttpServer, RequestSplitIntoManySegments) {
  Metrics m;
  auto s = start(m);
  Fd fd = connect_to(s->port());
  for (char c : std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) {
    ASSERT_TRUE(send_all(fd.get(), std::string_view(&c, 1)));
  }
  EXPECT_EQ(parse_response(read_until_close(fd.get())).status, 200);
}

TEST(HttpServer, OversizedRequestIsCutOff) {
  Metrics m;
  auto s = start(m, {}, {.request_timeout = 30s});
  Fd fd = connect_to(s->port());
  std::string req = "GET /metrics HTTP/1.1\r\n";
  while (req.size() < 9 * 1024) req += "X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
  send_all(fd.get(), req);  // may fail part-way once the server has answered
  const Received got = read_until_close(fd.get());
  const Response r = parse_response(got);
  EXPECT_EQ(r.status, 431);
  EXPECT_TRUE(got.closed);
  EXPECT_LT(got.took, 5s);
}

TEST(HttpServer, EndlessHeaderStreamIsCutOff) {
  // A client that keeps sending (up to 1 MiB here) is answered 431 and
  // closed once the linger ends, long before its stream does.
  Metrics m;
  auto s = start(m, {}, {.request_timeout = 30s, .linger = 200ms});
  Fd fd = connect_to(s->port());
  timeval five{5, 0};  // a server that neither reads nor closes must not hang the test
  ASSERT_EQ(setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &five, sizeof five), 0);
  std::thread sender([&] {
    send_all(fd.get(), "GET /metrics HTTP/1.1\r\n");
    const std::string chunk(4096, 'a');
    for (std::size_t sent = 0; sent < (1u << 20); sent += chunk.size()) {
      if (!send_all(fd.get(), chunk)) return;
    }
  });
  const Received got = read_until_close(fd.get());
  sender.join();
  EXPECT_TRUE(got.closed);
  EXPECT_EQ(got.data.rfind("HTTP/1.1 431 ", 0), 0u) << got.data;
  EXPECT_LT(got.took, 5s);
}

TEST(HttpServer, SlowClientIsCutOffAtTheDeadline) {
  Metrics m;
  auto s = start(m, {}, {.request_timeout = 300ms});
  Fd fd = connect_to(s->port());
  send_all(fd.get(), "GET /metr");
  const Received got = read_until_close(fd.get(), 10s);
  EXPECT_TRUE(got.closed);
  EXPECT_EQ(got.data, "");
  EXPECT_GE(got.took, 200ms);
  EXPECT_LT(got.took, 5s);
}

TEST(HttpServer, SilentClientIsCutOff) {
  Metrics m;
  auto s = start(m, {}, {.request_timeout = 300ms});
  Fd fd = connect_to(s->port());
  const Received got = read_until_close(fd.get(), 10s);
  EXPECT_TRUE(got.closed);
  EXPECT_LT(got.took, 5s);
}

TEST(HttpServer, TrickleDoesNotExtendTheDeadline) {
  Metrics m;
  auto s = start(m, {}, {.request_timeout = 500ms});
  Fd fd = connect_to(s->port());
  const auto start_time = Clock::now();
  // One header byte every 50 ms for up to 10 s: the deadline from accept must
  // cut this off; the sleep paces the client, it decides nothing.
  bool cut = false;
  send_all(fd.get(), "GET /metrics HTTP/1.1\r\n");
  for (int i = 0; i < 200 && !cut; ++i) {
    cut = !send_all(fd.get(), "X");
    pollfd p{fd.get(), POLLIN, 0};
    if (poll(&p, 1, 50) > 0) cut = true;  // EOF or reset readable
  }
  EXPECT_TRUE(cut);
  EXPECT_LT(Clock::now() - start_time, 5s);
}

TEST(HttpServer, ResponseSurvivesUnreadTrailingInput) {
  // Bytes after the head stay unread in the kernel; closing over them would
  // send a reset that can destroy the response before the client reads it
  // (on a real network). Here we see the reset itself instead of a FIN.
  Metrics m;
  auto s = start(m);
  Fd fd = connect_to(s->port());
  ASSERT_TRUE(send_all(fd.get(), "POST /nope HTTP/1.1\r\n\r\n" + std::string(64 * 1024, 'b')));
  std::this_thread::yield();
  const Response r = parse_response(read_until_close(fd.get()));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "not found\n");
  EXPECT_TRUE(r.closed) << "closed by a reset, not a FIN";
}

TEST(HttpServer, ExtraConnectionsAreRefusedAtTheCap) {
  Metrics m;
  auto s = start(m, {}, {.request_timeout = 30s, .max_connections = 2});
  Fd a = connect_to(s->port());
  Fd b = connect_to(s->port());
  send_all(a.get(), "GET /");
  send_all(b.get(), "GET /");
  Fd c = connect_to(s->port());
  const Received got = read_until_close(c.get(), 5s);
  EXPECT_TRUE(got.closed);
  EXPECT_EQ(got.data, "");
  // a and b are still being served.
  send_all(a.get(), "healthz HTTP/1.1\r\n\r\n");
  EXPECT_EQ(parse_response(read_until_close(a.get())).status, 200);  // "GET /" + "healthz ..."
}

TEST(HttpServer, ManyScrapesInParallel) {
  Metrics m;
  auto s = start(m);
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        m.delivery(DeliveryResult::Delivered);
        if (get(s->port(), "/metrics").status == 200) ++ok;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok, 100);
}

TEST(HttpServer, StopIsPromptWithClientsConnected) {
  Metrics m;
  auto s = start(m, {}, {.request_timeout = 60s});
  const std::uint16_t port = s->port();
  Fd idle = connect_to(port);
  Fd partial = connect_to(port);
  send_all(partial.get(), "GET /metrics HTTP/1.1\r\n");
  // Make sure both were accepted: a served request after them proves the
  // loop has turned past their accepts.
  EXPECT_EQ(get(port, "/healthz").status, 200);

  const auto t = Clock::now();
  s->stop();
  EXPECT_LT(Clock::now() - t, 1s);
  EXPECT_TRUE(read_until_close(idle.get(), 2s).closed);
  EXPECT_TRUE(read_until_close(partial.get(), 2s).closed);
  s->stop();  // twice is fine
  EXPECT_THROW(connect_to(port), std::runtime_error);
}

TEST(HttpServer, DestructorStops) {
  Metrics m;
  std::uint16_t port = 0;
  {
    auto s = start(m);
    port = s->port();
  }
  EXPECT_THROW(connect_to(port), std::runtime_error);
}

TEST(HttpServer, BindErrorsAreReturned) {
  Metrics m;
  auto a = start(m);
  auto taken = HttpServer::start("127.0.0.1", a->port(), m, {});
  ASSERT_FALSE(taken);
  EXPECT_NE(taken.error().message().find("address already in use"), std::string::npos) << taken.error().message();
  EXPECT_NE(taken.error().message().find("127.0.0.1:" + std::to_string(a->port())), std::string::npos);

  // TEST-NET-1 is on no interface here: EADDRNOTAVAIL, without any DNS query.
  auto foreign = HttpServer::start("192.0.2.1", 0, m, {});
  ASSERT_FALSE(foreign);
  EXPECT_NE(foreign.error().message().find("bind"), std::string::npos) << foreign.error().message();
}

TEST(HttpServer, Ipv6LoopbackInBrackets) {
  Metrics m;
  auto s = HttpServer::start("[::1]", 0, m, {});
  if (!s) GTEST_SKIP() << "no IPv6 loopback: " << s.error().message();
  Fd fd(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons((*s)->port());
  a.sin6_addr = in6addr_loopback;
  ASSERT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
  ASSERT_TRUE(send_all(fd.get(), "GET /healthz HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(parse_response(read_until_close(fd.get())).status, 200);
}

}  // namespace
}  // namespace tern::metrics
