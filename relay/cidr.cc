#include "relay/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>

namespace tern::relay {
namespace {

struct Address {
  bool ipv4 = true;
  std::array<std::uint8_t, 16> bytes{};
};

std::optional<Address> parse_address(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string copy(text);
  Address a;
  if (inet_pton(AF_INET, copy.c_str(), a.bytes.data()) == 1) return a;
  a.ipv4 = false;
  if (inet_pton(AF_INET6, copy.c_str(), a.bytes.data()) == 1) return a;
  return std::nullopt;
}

constexpr std::array<std::uint8_t, 12> kMappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// ::ffff:a.b.c.d -> a.b.c.d; anything else unchanged.
Address unmap(const Address& a) {
  if (a.ipv4 || std::memcmp(a.bytes.data(), kMappedPrefix.data(), kMappedPrefix.size()) != 0) return a;
  Address v4;
  std::memcpy(v4.bytes.data(), a.bytes.data() + 12, 4);
  return v4;
}

// a.b.c.d -> ::ffff:a.b.c.d
Address map_to_v6(const Address& a) {
  Address v6;
  v6.ipv4 = false;
  std::memcpy(v6.bytes.data(), kMappedPrefix.data(), kMappedPrefix.size());
  std::memcpy(v6.bytes.data() + 12, a.bytes.data(), 4);
  return v6;
}

bool prefix_matches(const std::array<std::uint8_t, 16>& net, const std::array<std::uint8_t, 16>& addr,
                    int prefix) {
  const int whole = prefix / 8;
  if (std::memcmp(net.data(), addr.data(), static_cast<std::size_t>(whole)) != 0) return false;
  const int bits = prefix % 8;
  if (bits == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - bits));
  return (net[whole] & mask) == (addr[whole] & mask);
}

std::string address_text(bool ipv4, const std::array<std::uint8_t, 16>& bytes) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(ipv4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf) == nullptr) return "?";
  return buf;
}

Error bad(std::string_view text, const std::string& why) {
  return Error::permanent("\"" + std::string(text) + "\" is not a CIDR: " + why);
}

}  // namespace

Result<Cidr> Cidr::parse(std::string_view text) {
  const std::size_t slash = text.find('/');
  const std::string_view addr_text = text.substr(0, slash);
  const std::optional<Address> addr = parse_address(addr_text);
  if (!addr) return bad(text, "\"" + std::string(addr_text) + "\" is not an IPv4 or IPv6 address");
  const int max_prefix = addr->ipv4 ? 32 : 128;
  int prefix = max_prefix;
  if (slash != std::string_view::npos) {
    const std::string_view p = text.substr(slash + 1);
    const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (p.empty() || ec != std::errc() || end != p.data() + p.size() || p.front() == '-' || prefix > max_prefix) {
      return bad(text, "the prefix length must be 0.." + std::to_string(max_prefix));
    }
  }
  Cidr c;
  c.ipv4_ = addr->ipv4;
  c.prefix_ = prefix;
  // Keep only the network bits, then insist that nothing was dropped.
  for (int i = 0; i < 16; ++i) {
    const int keep = std::max(0, std::min(8, prefix - 8 * i));
    const auto mask = static_cast<std::uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
    c.bytes_[static_cast<std::size_t>(i)] = addr->bytes[static_cast<std::size_t>(i)] & mask;
  }
  if (c.bytes_ != addr->bytes) {
    return bad(text, "host bits are set below the /" + std::to_string(prefix) + " prefix (did you mean " +
                         c.str() + "?)");
  }
  return c;
}

bool Cidr::contains(std::string_view ip_address) const {
  std::optional<Address> addr = parse_address(ip_address);
  if (!addr) return false;
  Address a = unmap(*addr);
  if (ipv4_ != a.ipv4) {
    if (ipv4_) return false;  // a real IPv6 client never matches an IPv4 network
    a = map_to_v6(a);         // an IPv4 client may match a ::ffff:0:0/96-style network
  }
  return prefix_matches(bytes_, a.bytes, prefix_);
}

std::string Cidr::str() const { return address_text(ipv4_, bytes_) + "/" + std::to_string(prefix_); }

}  // namespace tern::relay
