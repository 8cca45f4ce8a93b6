#include "relay/host_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>

namespace tern::relay {
namespace {

Error bad(std::string_view text, const std::string& why) {
  return Error::permanent("\"" + std::string(text) + "\" is not a host:port: " + why);
}

bool parses_as(int family, std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
  const std::string copy(text);  // inet_pton needs a terminated string
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(family, copy.c_str(), buf) == 1;
}

// Letters, digits, '-', '_' and '.' (underscores exist in real relay names),
// labels non-empty: "smtp.example.com", "localhost", "192.0.2.7".
bool valid_host_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  std::size_t label = 0;
  for (char c : host) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label != 0;
}

}  // namespace

bool is_ip_address(std::string_view text) { return parses_as(AF_INET, text) || parses_as(AF_INET6, text); }

std::string HostPort::str() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool HostPort::is_ip_address() const { return relay::is_ip_address(host); }

Result<HostPort> parse_host_port(std::string_view text, std::optional<std::uint16_t> default_port) {
  if (text.empty()) return bad(text, "it is empty");
  HostPort out;
  std::string_view rest;  // what follows the host: "" or ":port"
  if (text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return bad(text, "missing ']' after the IPv6 address");
    const std::string_view host = text.substr(1, close - 1);
    if (!parses_as(AF_INET6, host)) return bad(text, "\"" + std::string(host) + "\" is not an IPv6 address");
    out.host = std::string(host);
    rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return bad(text, "expected ':' after ']'");
  } else {
    const std::size_t colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
      return bad(text, "an IPv6 address needs brackets, e.g. [::1]:25");
    }
    const std::string_view host = text.substr(0, colon);
    if (host.empty()) return bad(text, "the host is missing");
    if (!valid_host_name(host)) return bad(text, "\"" + std::string(host) + "\" is not a valid host");
    out.host = std::string(host);
    rest = colon == std::string_view::npos ? std::string_view() : text.substr(colon);
  }
  if (rest.empty()) {
    if (!default_port) return bad(text, "the port is missing (write host:port)");
    out.port = *default_port;
    return out;
  }
  const std::string_view port = rest.substr(1);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || port.front() == '+') {
    return bad(text, "the port must be a number 1..65535");
  }
  if (value < 1 || value > 65535) return bad(text, "the port must be 1..65535, got " + std::string(port));
  out.port = static_cast<std::uint16_t>(value);
  return out;
}

}  // namespace tern::relay
