// parse_capabilities: the EHLO reply read liberally, as real servers write it
// (lower-case keywords, tabs, "AUTH=LOGIN", "SIZE" without a number).
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/client_session.h"

namespace tern::smtp {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    std::size_t j = i;
    while (j < s.size() && !is_space(s[j])) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// SIZE's argument, or 0 ("no limit announced") when absent or not a number
// that fits: a limit we cannot read must not refuse mail.
std::uint64_t parse_size(const std::vector<std::string_view>& args) {
  if (args.empty()) return 0;
  std::uint64_t n = 0;
  for (char c : args[0]) {
    if (c < '0' || c > '9') return 0;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (n > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return 0;
    n = n * 10 + digit;
  }
  return n;
}

}  // namespace

Capabilities parse_capabilities(const Reply& ehlo_reply) {
  Capabilities caps;
  caps.esmtp = true;
  if (ehlo_reply.lines.empty()) return caps;
  if (auto first = words(ehlo_reply.lines[0]); !first.empty()) caps.server_name = std::string(first[0]);
  for (std::size_t i = 1; i < ehlo_reply.lines.size(); ++i) {
    std::vector<std::string_view> w = words(ehlo_reply.lines[i]);
    if (w.empty()) continue;
    std::string keyword = upper(w[0]);
    std::vector<std::string_view> args(w.begin() + 1, w.end());
    // Pre-RFC 4954 servers (and Postfix's broken_sasl_auth_clients) say
    // "AUTH=PLAIN LOGIN": the first mechanism is glued on with '='.
    if (keyword.starts_with("AUTH=")) {
      std::string_view glued = w[0].substr(5);
      args.insert(args.begin(), glued);
      keyword = "AUTH";
    }
    if (keyword == "PIPELINING") {
      caps.pipelining = true;
    } else if (keyword == "STARTTLS") {
      caps.starttls = true;
    } else if (keyword == "8BITMIME") {
      caps.eightbitmime = true;
    } else if (keyword == "SMTPUTF8") {
      caps.smtputf8 = true;
    } else if (keyword == "CHUNKING") {
      caps.chunking = true;
    } else if (keyword == "DSN") {
      caps.dsn = true;
    } else if (keyword == "ENHANCEDSTATUSCODES") {
      caps.enhanced_status_codes = true;
    } else if (keyword == "SIZE") {
      caps.size = parse_size(args);
    } else if (keyword == "AUTH") {
      for (std::string_view a : args) {
        if (a.empty()) continue;
        std::string mech = upper(a);
        bool seen = false;
        for (const auto& m : caps.auth_mechanisms) seen = seen || m == mech;
        if (!seen) caps.auth_mechanisms.push_back(std::move(mech));
      }
    }
  }
  return caps;
}

}  // namespace tern::smtp
