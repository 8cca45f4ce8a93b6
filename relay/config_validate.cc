#include "relay/config_validate.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "relay/duration.h"

namespace tern::relay {
namespace {

// Opens the file the way the daemon will, so that "exists but unreadable
// by this user" is caught here rather than at the first TLS handshake.
std::optional<std::string> unreadable(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return "cannot read \"" + path + "\": " + std::strerror(errno);
  struct stat st {};
  std::optional<std::string> problem;
  if (::fstat(fd, &st) != 0) {
    problem = "cannot stat \"" + path + "\": " + std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    problem = "\"" + path + "\" is not a regular file";
  }
  ::close(fd);  // read-only: nothing to lose if close fails
  return problem;
}

class Checker {
 public:
  explicit Checker(const OriginOf& origin) : origin_(origin) {}

  void fail(std::string_view key, const std::string& problem) {
    errors_.push_back(std::string(key) + ": " + problem + " (" + origin_(key) + ")");
  }
  void file(std::string_view key, const std::string& path) {
    if (path.empty()) return;
    if (auto problem = unreadable(path)) fail(key, *problem);
  }
  std::vector<std::string> take() { return std::move(errors_); }
  std::string origin(std::string_view key) const { return origin_(key); }

 private:
  const OriginOf& origin_;
  std::vector<std::string> errors_;
};

void check_identity(const Config& c, Checker& check) {
  if (c.hostname.empty()) {
    check.fail("hostname", "must not be empty");
  } else if (!valid_domain_name(c.hostname)) {
    check.fail("hostname", "\"" + c.hostname +
                               "\" is not a valid domain name (letters, digits, hyphens and dots; at most 253)");
  }
  if (c.spool.empty()) {
    check.fail("spool", "must not be empty");
  } else if (c.spool.front() != '/') {
    check.fail("spool", "must be an absolute path, got \"" + c.spool + "\"");
  }
}

void check_submission(const Config& c, Checker& check) {
  const SubmissionConfig& s = c.submission;
  if (s.listen.empty() && s.listen_tls.empty()) {
    check.fail("submission.listen", "no listener: submission.listen and submission.listen_tls are both empty");
  }
  // The same address twice would fail at bind(), far from the config.
  std::vector<std::pair<std::string, std::string_view>> seen;  // address, key
  auto claim = [&](const HostPort& hp, std::string_view key) {
    for (const auto& [address, owner] : seen) {
      if (address == hp.str()) {
        check.fail(key, hp.str() + " is already used by " + std::string(owner));
        return;
      }
    }
    seen.emplace_back(hp.str(), key);
  };
  for (const HostPort& hp : s.listen) claim(hp, "submission.listen");
  for (const HostPort& hp : s.listen_tls) claim(hp, "submission.listen_tls");
  if (c.metrics.listen) claim(*c.metrics.listen, "metrics.listen");

  if (s.tls_cert.empty() != s.tls_key.empty()) {
    const bool cert_missing = s.tls_cert.empty();
    check.fail(cert_missing ? "submission.tls_cert" : "submission.tls_key",
               std::string("must be set together with ") +
                   (cert_missing ? "submission.tls_key (" + check.origin("submission.tls_key") + ")"
                                 : "submission.tls_cert (" + check.origin("submission.tls_cert") + ")"));
  }
  check.file("submission.tls_cert", s.tls_cert);
  check.file("submission.tls_key", s.tls_key);
  if (s.max_connections_per_client > s.max_connections) {
    check.fail("submission.max_connections_per_client",
               "must be at most submission.max_connections (" + std::to_string(s.max_connections) + ", " +
                   check.origin("submission.max_connections") + "), got " +
                   std::to_string(s.max_connections_per_client));
  }
}

void check_delivery(const Config& c, Checker& check) {
  const DeliveryConfig& d = c.delivery;
  if (d.mode == DeliveryMode::Relayhost && !d.relayhost) {
    check.fail("delivery.relayhost", "must be set (host:port) when delivery.mode is \"relayhost\" (" +
                                         check.origin("delivery.mode") + ")");
  }
  if (d.relayhost_user.empty() != d.relayhost_password_file.empty()) {
    const bool user_missing = d.relayhost_user.empty();
    check.fail(user_missing ? "delivery.relayhost_user" : "delivery.relayhost_password_file",
               std::string("must be set together with ") +
                   (user_missing ? "delivery.relayhost_password_file (" +
                                       check.origin("delivery.relayhost_password_file") + ")"
                                 : "delivery.relayhost_user (" + check.origin("delivery.relayhost_user") + ")"));
  }
  check.file("delivery.relayhost_password_file", d.relayhost_password_file);
  if (d.retry_schedule.empty()) {
    check.fail("delivery.retry_schedule", "must not be empty (the last delay repeats until max_queue_lifetime)");
  } else if (d.max_queue_lifetime < d.retry_schedule.front()) {
    check.fail("delivery.max_queue_lifetime",
               "must be at least the first delay of delivery.retry_schedule (" +
                   format_duration(d.retry_schedule.front()) + ", " + check.origin("delivery.retry_schedule") +
                   "), got " + format_duration(d.max_queue_lifetime));
  }
}

}  // namespace

bool valid_domain_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    const std::string_view label = name.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char ch : label) {
      const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-';
      if (!ok) return false;
    }
    start = dot + 1;
  }
  return true;
}

std::vector<std::string> validate_config(const Config& config, const OriginOf& origin) {
  Checker check(origin);
  check_identity(config, check);
  check_submission(config, check);
  check_delivery(config, check);
  return check.take();
}

}  // namespace tern::relay
