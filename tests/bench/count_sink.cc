// count_sink: the receiving end of tests/bench/relay_vs_postfix.sh. A minimal
// SMTP server (PIPELINING, no TLS) on one epoll loop that accepts every
// message and keeps the running count of accepted messages in a file, so the
// benchmark can tell the moment the last message has arrived. Postfix's
// smtp-sink buffers its -c counters while connections stay open (Postfix and
// tern both cache connections), so it cannot be used for that.
//
// Usage: count_sink HOST:PORT COUNT_FILE
// The count file holds the decimal count, rewritten in place after each
// message. SIGTERM/SIGINT end the process.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>

namespace {

struct Conn {
  std::string in;
  std::string out;
  bool in_data = false;
  bool quit = false;
};

int count_fd = -1;
unsigned long long count = 0;

void bump() {
  ++count;
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "%llu\n", count);
  if (::pwrite(count_fd, buf, static_cast<size_t>(n), 0) != n) std::perror("count_sink: pwrite");
}

bool starts_with_ci(std::string_view line, std::string_view word) {
  if (line.size() < word.size()) return false;
  for (size_t i = 0; i < word.size(); ++i)
    if ((line[i] | 0x20) != (word[i] | 0x20)) return false;
  return true;
}

// Consumes every complete line of c.in, appending the replies to c.out.
void process(Conn& c) {
  size_t pos = 0;
  for (;;) {
    size_t eol = c.in.find("\r\n", pos);
    if (eol == std::string::npos) break;
    std::string_view line(c.in.data() + pos, eol - pos);
    pos = eol + 2;
    if (c.in_data) {
      if (line == ".") {
        c.in_data = false;
        bump();
        c.out += "250 2.0.0 Ok: queued\r\n";
      }
      continue;
    }
    if (starts_with_ci(line, "EHLO")) {
      c.out += "250-sink.bench\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 1073741824\r\n250 ENHANCEDSTATUSCODES\r\n";
    } else if (starts_with_ci(line, "HELO")) {
      c.out += "250 sink.bench\r\n";
    } else if (starts_with_ci(line, "DATA")) {
      c.in_data = true;
      c.out += "354 End data with <CR><LF>.<CR><LF>\r\n";
    } else if (starts_with_ci(line, "QUIT")) {
      c.out += "221 2.0.0 Bye\r\n";
      c.quit = true;
      break;
    } else {
      c.out += "250 2.0.0 Ok\r\n";  // MAIL, RCPT, RSET, NOOP
    }
  }
  c.in.erase(0, pos);
}

bool flush(int fd, Conn& c) {
  while (!c.out.empty()) {
    ssize_t n = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    c.out.erase(0, static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: count_sink HOST:PORT COUNT_FILE\n");
    return 64;
  }
  std::string hp = argv[1];
  size_t colon = hp.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "count_sink: %s: want HOST:PORT\n", argv[1]);
    return 64;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(hp.substr(colon + 1))));
  if (::inet_pton(AF_INET, hp.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "count_sink: %s: not an IPv4 address\n", argv[1]);
    return 64;
  }
  count_fd = ::open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (count_fd < 0) {
    std::perror(argv[2]);
    return 73;
  }
  if (::pwrite(count_fd, "0\n", 2, 0) != 2) return 74;

  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(lfd, 1024) != 0) {
    std::perror("count_sink: bind/listen");
    return 71;
  }
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = lfd;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);

  std::unordered_map<int, Conn> conns;
  epoll_event events[256];
  char buf[65536];
  for (;;) {
    int n = ::epoll_wait(ep, events, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::perror("count_sink: epoll_wait");
      return 71;
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == lfd) {
        for (;;) {
          int cfd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (cfd < 0) break;
          ::setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          Conn& c = conns[cfd];
          c.out = "220 sink.bench ESMTP count_sink\r\n";
          flush(cfd, c);
          epoll_event cev{};
          cev.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP;
          cev.data.fd = cfd;
          ::epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &cev);
        }
        continue;
      }
      Conn& c = conns[fd];
      bool alive = true;
      if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        for (;;) {
          ssize_t r = ::recv(fd, buf, sizeof buf, 0);
          if (r > 0) {
            c.in.append(buf, static_cast<size_t>(r));
            continue;
          }
          if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) alive = false;
          break;
        }
        process(c);
      }
      if (!flush(fd, c) || c.quit) alive = false;
      if (!alive) {
        ::close(fd);
        conns.erase(fd);
      }
    }
  }
}
