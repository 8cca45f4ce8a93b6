#pragma once
// Cidr: an IPv4 or IPv6 network such as "10.0.0.0/8" or "fd00::/8"; a bare
// address is a /32 or /128. parse() refuses host bits set below the prefix
// ("10.1.2.3/8" is an error suggesting "10.0.0.0/8"): trusted_networks lets
// clients relay without AUTH, so an ambiguous entry must not guess. contains()
// never throws: an unparsable client address is simply not contained. An
// IPv4-mapped IPv6 client (::ffff:10.1.2.3) matches IPv4 networks and vice versa.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "smtp/result.h"

namespace tern::relay {

class Cidr {
 public:
  static Result<Cidr> parse(std::string_view text);

  // ip_address: a textual IPv4 or IPv6 address, no brackets, no port.
  bool contains(std::string_view ip_address) const;
  // Canonical text: "10.0.0.0/8", "::1/128"; parse(str()) == *this.
  std::string str() const;
  bool is_ipv4() const { return ipv4_; }
  int prefix_length() const { return prefix_; }

  friend bool operator==(const Cidr&, const Cidr&) = default;

 private:
  Cidr() = default;
  bool ipv4_ = true;
  std::array<std::uint8_t, 16> bytes_{};  // IPv4 uses the first 4
  int prefix_ = 0;
};

}  // namespace tern::relay
