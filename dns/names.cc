#include "dns/names.h"

#include <arpa/inet.h>

#include <array>
#include <cstddef>

namespace tern::dns {
namespace {

constexpr std::size_t kMaxNameLength = 253;  // RFC 1035 §2.3.4, without the trailing dot
constexpr std::size_t kMaxLabelLength = 63;

bool name_byte_ok(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

}  // namespace

bool is_ip_address(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
  if (text.find('\0') != std::string_view::npos) return false;  // inet_pton would stop there
  std::array<char, INET6_ADDRSTRLEN + 1> buf{};
  text.copy(buf.data(), text.size());
  std::array<unsigned char, sizeof(struct in6_addr)> out{};
  return inet_pton(AF_INET, buf.data(), out.data()) == 1 || inet_pton(AF_INET6, buf.data(), out.data()) == 1;
}

std::string printable_name(std::string_view name) {
  constexpr std::size_t kMax = 100;
  std::string out;
  for (char c : name.substr(0, kMax)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (name.size() > kMax) out += "...";
  return out;
}

Result<std::string> normalize_name(std::string_view name) {
  auto bad = [&](const char* why) {
    return Error::permanent("\"" + printable_name(name) + "\": 5.1.2 invalid domain name (" + why + ")");
  };
  std::string_view body = name;
  if (!body.empty() && body.back() == '.') body.remove_suffix(1);
  if (body.empty()) return bad("empty");
  if (body.size() > kMaxNameLength) return bad("longer than 253 characters");
  std::string out;
  out.reserve(body.size());
  std::size_t label = 0;
  for (char c : body) {
    if (c == '.') {
      if (label == 0) return bad("empty label");
      label = 0;
      out.push_back('.');
      continue;
    }
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (!name_byte_ok(c)) return bad("character not allowed");
    if (++label > kMaxLabelLength) return bad("label longer than 63 characters");
    out.push_back(c);
  }
  if (label == 0) return bad("empty label");
  return out;
}

}  // namespace tern::dns
