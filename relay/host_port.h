#pragma once
// HostPort: a "host:port" pair as the config writes it: "0.0.0.0:587",
// "[::1]:25" (IPv6 in brackets), "smtp.example.com:587". parse_host_port
// checks syntax only (it resolves nothing): the host is a bracketed IPv6
// address, an IPv4 address or a host name, the port 1..65535, and a missing
// port is an error unless a default is given. Errors quote the text.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "smtp/result.h"

namespace tern::relay {

struct HostPort {
  std::string host;        // without brackets: "::1", "192.0.2.7", "smtp.example.com"
  std::uint16_t port = 0;

  // "0.0.0.0:587", "[::]:587": parse_host_port(str()) gives the same value back.
  std::string str() const;
  // True when host is an IPv4 or IPv6 address (what bind() and c-ares need).
  bool is_ip_address() const;

  friend bool operator==(const HostPort&, const HostPort&) = default;
};

Result<HostPort> parse_host_port(std::string_view text,
                                 std::optional<std::uint16_t> default_port = std::nullopt);

// True for an IPv4 ("192.0.2.7") or IPv6 ("::1", no brackets) address literal.
bool is_ip_address(std::string_view text);

}  // namespace tern::relay
