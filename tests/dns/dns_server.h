#pragma once
// Test helper: real DNS servers on 127.0.0.1 for tests that resolve (RECIPES.md
// §2). DnsServer::start_dnsmasq() runs dnsmasq with the records you pass
// (answers MX/A/AAAA, NXDOMAIN under --local=/test/, timeouts by forwarding
// to a BlackHole); start_unbound() runs unbound with your local-zone lines
// (it alone can answer SERVFAIL). Each picks a free port, waits (with a
// deadline) until the server answers a query, and the destructor kills and
// reaps it. Start fails with the server's log when it does not come up; use
// *_installed() to GTEST_SKIP when a binary is missing. Header-only so other
// test folders can include it: #include "tests/dns/dns_server.h".

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "smtp/result.h"

extern char** environ;

namespace tern::dns::testing {

inline constexpr const char* kDnsmasqPath = "/usr/sbin/dnsmasq";
inline constexpr const char* kUnboundPath = "/usr/sbin/unbound";

namespace detail {

// Binds 127.0.0.1:0 of the given socket type; returns the fd (or -1) and port.
inline int bind_loopback(int type, std::uint16_t port, std::uint16_t* bound) {
  int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return -1;
  }
  if (bound != nullptr) *bound = ntohs(addr.sin_port);
  return fd;
}

// A port free for both UDP and TCP on 127.0.0.1 right now (a race with other
// processes remains; callers retry when the server fails to bind).
inline std::uint16_t free_port() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    std::uint16_t port = 0;
    int udp = bind_loopback(SOCK_DGRAM, 0, &port);
    if (udp < 0) continue;
    int tcp = bind_loopback(SOCK_STREAM, port, nullptr);
    ::close(udp);
    if (tcp >= 0) {
      ::close(tcp);
      return port;
    }
  }
  return 0;
}

// A minimal query ("<name> A IN", RD set) with the given id.
inline std::vector<unsigned char> probe_query(std::uint16_t id, const std::string& name) {
  std::vector<unsigned char> q = {static_cast<unsigned char>(id >> 8), static_cast<unsigned char>(id & 0xff),
                                  0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  std::stringstream labels(name);
  std::string label;
  while (std::getline(labels, label, '.')) {
    if (label.empty()) continue;
    q.push_back(static_cast<unsigned char>(label.size()));
    q.insert(q.end(), label.begin(), label.end());
  }
  q.insert(q.end(), {0, 0, 1, 0, 1});
  return q;
}

// True once the server at 127.0.0.1:port answers a UDP query (any rcode).
inline bool answers(std::uint16_t port, const std::string& probe_name, std::chrono::milliseconds wait) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  auto id = static_cast<std::uint16_t>(std::random_device{}());
  auto q = probe_query(id, probe_name);
  bool ok = false;
  if (::sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr) ==
      static_cast<ssize_t>(q.size())) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) == 1) {
      std::array<unsigned char, 4096> buf{};
      ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
      ok = n >= 12 && buf[0] == (id >> 8) && buf[1] == (id & 0xff);
    }
  }
  ::close(fd);
  return ok;
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace detail

// A UDP socket on 127.0.0.1 that never reads: queries forwarded here time out.
class BlackHole {
 public:
  BlackHole() { fd_ = detail::bind_loopback(SOCK_DGRAM, 0, &port_); }
  ~BlackHole() {
    if (fd_ >= 0) ::close(fd_);
  }
  BlackHole(const BlackHole&) = delete;
  BlackHole& operator=(const BlackHole&) = delete;
  bool ok() const { return fd_ >= 0; }
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// The records tern's tests resolve (dnsmasq options). Under .test everything
// not listed is NXDOMAIN; names under timeout.test are forwarded to the
// black hole at `blackhole_port`, so they time out.
//   example.test    MX 10 mx1.example.test, MX 20 mx2.example.test
//   mx1.example.test A 127.0.0.2, AAAA ::2; mx2.example.test A 127.0.0.3
//   equal.test      MX 10 a/b/c.equal.test (A 127.0.1.1, .2, .3)
//   nullmx.test     MX 0 .  (RFC 7505)
//   nomx.test       no MX, A 127.0.0.4 (implicit MX)
//   noaddr.test     MX 10 ghost.noaddr.test, which does not exist
//   partial.test    MX 10 ghost.partial.test (does not exist), MX 20 mx2.example.test
//   slowmx.test     MX 10 host.timeout.test (its address lookups time out)
//   v6only.test     AAAA ::5
//   nx.test         NXDOMAIN
inline std::vector<std::string> standard_records(std::uint16_t blackhole_port) {
  return {
      "--mx-host=example.test,mx1.example.test,10", "--mx-host=example.test,mx2.example.test,20",
      "--host-record=mx1.example.test,127.0.0.2,::2", "--host-record=mx2.example.test,127.0.0.3",
      "--mx-host=equal.test,a.equal.test,10", "--mx-host=equal.test,b.equal.test,10",
      "--mx-host=equal.test,c.equal.test,10", "--host-record=a.equal.test,127.0.1.1",
      "--host-record=b.equal.test,127.0.1.2", "--host-record=c.equal.test,127.0.1.3",
      "--mx-host=nullmx.test,.,0", "--host-record=nomx.test,127.0.0.4",
      "--mx-host=noaddr.test,ghost.noaddr.test,10",
      "--mx-host=partial.test,ghost.partial.test,10", "--mx-host=partial.test,mx2.example.test,20",
      "--mx-host=slowmx.test,host.timeout.test,10", "--host-record=v6only.test,::5",
      "--local=/test/", "--server=/timeout.test/127.0.0.1#" + std::to_string(blackhole_port),
  };
}

class DnsServer {
 public:
  static bool dnsmasq_installed() { return ::access(kDnsmasqPath, X_OK) == 0; }
  static bool unbound_installed() { return ::access(kUnboundPath, X_OK) == 0; }

  // dnsmasq on 127.0.0.1:<free port>, serving only what `records` say
  // (--mx-host=..., --host-record=..., --local=/zone/, --server=/zone/ip#port)
  // with TTL `ttl` seconds; every other name is REFUSED.
  static Result<std::unique_ptr<DnsServer>> start_dnsmasq(const std::vector<std::string>& records, int ttl = 300,
                                                          const std::string& probe_name = "probe.invalid") {
    return start([&](std::uint16_t port, const std::filesystem::path&) {
      std::vector<std::string> argv = {kDnsmasqPath, "--keep-in-foreground", "--log-queries", "--log-facility=-",
                                       "--port=" + std::to_string(port), "--listen-address=127.0.0.1",
                                       "--bind-interfaces", "--no-resolv", "--no-hosts", "--no-poll",
                                       "--conf-file=/dev/null", "--pid-file=", "--local-ttl=" + std::to_string(ttl)};
      if (::geteuid() == 0) {  // dnsmasq drops root; without root it stays who it is
        argv.push_back("--user=nobody");
        argv.push_back("--group=nogroup");
      }
      argv.insert(argv.end(), records.begin(), records.end());
      return argv;
    }, probe_name);
  }

  // unbound on 127.0.0.1:<free port>; `server_lines` go in its server: clause
  // (local-zone/local-data...), `clauses` after it (forward-zone: ...).
  static Result<std::unique_ptr<DnsServer>> start_unbound(const std::string& server_lines, const std::string& clauses,
                                                          const std::string& probe_name = "probe.invalid") {
    return start([&](std::uint16_t port, const std::filesystem::path& dir) {
      std::ofstream conf(dir / "unbound.conf");
      conf << "server:\n"
           << "  interface: 127.0.0.1@" << port << "\n"
           << "  port: " << port << "\n"
           << "  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n"
           << "  directory: \"" << dir.string() << "\"\n"
           << "  pidfile: \"\"\n  use-syslog: no\n  logfile: \"\"\n  log-queries: yes\n  do-ip6: no\n  num-threads: 1\n"
           << "  access-control: 127.0.0.0/8 allow\n  module-config: \"iterator\"\n"
           << server_lines << "\n"
           << clauses << "\n";
      return std::vector<std::string>{kUnboundPath, "-d", "-c", (dir / "unbound.conf").string()};
    }, probe_name);
  }

  ~DnsServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      if (!reaped(std::chrono::seconds(5))) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
      }
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  // The exact command line, for logs and for reuse in end-to-end tests.
  std::string command_line() const {
    std::string out;
    for (const auto& a : argv_) out += (out.empty() ? "" : " ") + a;
    return out;
  }
  std::string log() const { return detail::read_file(dir_ / "server.log"); }

 private:
  DnsServer() = default;

  template <class MakeArgv>
  static Result<std::unique_ptr<DnsServer>> start(MakeArgv make_argv, const std::string& probe_name) {
    std::string last_error = "no free port";
    for (int attempt = 0; attempt < 5; ++attempt) {
      std::uint16_t port = detail::free_port();
      if (port == 0) continue;
      std::unique_ptr<DnsServer> server(new DnsServer());
      std::string tmpl = (std::filesystem::temp_directory_path() / "tern-dns-XXXXXX").string();
      if (::mkdtemp(tmpl.data()) == nullptr) return Error::permanent(std::string("mkdtemp: ") + std::strerror(errno));
      server->dir_ = tmpl;
      ::chmod(tmpl.c_str(), 0755);  // dnsmasq/unbound may run as nobody
      server->port_ = port;
      server->argv_ = make_argv(port, server->dir_);
      if (auto st = server->spawn(); !st) return st.error();
      if (server->wait_ready(probe_name, std::chrono::seconds(10))) return server;
      last_error = server->command_line() + "\n" + server->log();
      // Likely lost the port to someone else: the destructor reaps; try another.
    }
    return Error::permanent("DNS server did not come up: " + last_error);
  }

  Status spawn() {
    posix_spawn_file_actions_t actions;
    if (posix_spawn_file_actions_init(&actions) != 0) return Error::permanent("posix_spawn_file_actions_init failed");
    std::string log = (dir_ / "server.log").string();
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> args;
    for (auto& a : argv_) args.push_back(a.data());
    args.push_back(nullptr);
    int rc = ::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = -1;
      return Error::permanent("posix_spawn " + argv_[0] + ": " + std::strerror(rc));
    }
    return {};
  }

  // Polls with a deadline: a query every 50 ms until one is answered by our
  // server, or the process has exited, or time is up. "Ours" is checked in
  // the server's query log: two tests can be handed the same free port, and
  // the loser's server, before it fails to bind and exits, would otherwise
  // be declared ready on the strength of the winner's answer (the winner
  // then leaves, and every query of the loser's test is refused).
  bool wait_ready(const std::string& probe_name, std::chrono::milliseconds deadline) {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      if (reaped(std::chrono::milliseconds(0))) return false;
      if (detail::answers(port_, probe_name, std::chrono::milliseconds(50)) &&
          log().find(probe_name) != std::string::npos) {
        return true;
      }
    }
    return false;
  }

  // Waits up to `wait` for the child to exit; true (and pid_ cleared) if it did.
  bool reaped(std::chrono::milliseconds wait) {
    if (pid_ <= 0) return true;  // never waitpid(-1): that would reap someone else's child
    auto until = std::chrono::steady_clock::now() + wait;
    for (;;) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || (r < 0 && errno != EINTR)) {
        pid_ = -1;
        return true;
      }
      if (std::chrono::steady_clock::now() >= until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling a child's exit: no event to wait on
    }
  }

  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::filesystem::path dir_;
  std::vector<std::string> argv_;
};

}  // namespace tern::dns::testing
