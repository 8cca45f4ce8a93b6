// RFC 5321 §4.1.2 paths and mailboxes, RFC 6531 UTF-8 extensions. Choices
// beyond the grammar, each for a reason:
//  - a domain label is at most 63 octets (RFC 1035 §2.3.4): longer names can
//    never be resolved, so refusing them at RCPT beats bouncing them later;
//  - an IPv4 literal number has no leading zero ("010" is octal to some
//    parsers and decimal to others: an address means one host or none);
//  - "::" in an IPv6 literal stands for at least two groups, as RFC 5321 says
//    (and RFC 5952's canonical form agrees).
#include "smtp/address.h"

#include <cstdint>

namespace tern::smtp {
namespace {

constexpr std::size_t kMaxLocal = 64;
constexpr std::size_t kMaxDomain = 255;
constexpr std::size_t kMaxLabel = 63;
constexpr std::size_t kMaxPath = 256;             // with the angle brackets
constexpr std::size_t kMaxMailbox = kMaxPath - 2;

Error bad(std::string_view what) { return Error::permanent("bad address syntax: " + std::string(what)); }

bool is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_hex(unsigned char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_let_dig(unsigned char c) { return is_alpha(c) || is_digit(c); }
bool is_atext(unsigned char c) {
  if (is_let_dig(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '/':
    case '=': case '?': case '^': case '_': case '`': case '{': case '|': case '}': case '~':
      return true;
    default:
      return false;
  }
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629 §4: no
// overlongs, no surrogates, nothing above U+10FFFF), or 0.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto in = [&](std::size_t k, unsigned lo, unsigned hi) {
    if (i + k >= s.size()) return false;
    auto c = static_cast<unsigned char>(s[i + k]);
    return c >= lo && c <= hi;
  };
  auto c = static_cast<unsigned char>(s[i]);
  if (c >= 0xC2 && c <= 0xDF) return in(1, 0x80, 0xBF) ? 2 : 0;
  if (c == 0xE0) return in(1, 0xA0, 0xBF) && in(2, 0x80, 0xBF) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return in(1, 0x80, 0xBF) && in(2, 0x80, 0xBF) ? 3 : 0;
  if (c == 0xED) return in(1, 0x80, 0x9F) && in(2, 0x80, 0xBF) ? 3 : 0;  // not U+D800..DFFF
  if (c == 0xF0) return in(1, 0x90, 0xBF) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return in(1, 0x80, 0xBF) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
  if (c == 0xF4) return in(1, 0x80, 0x8F) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
  return 0;
}

// At a byte >= 0x80: the length of its UTF-8 sequence, or an error.
Result<std::size_t> non_ascii(std::string_view s, std::size_t i, bool allow_utf8) {
  if (!allow_utf8) return bad("non-ASCII character without SMTPUTF8");
  std::size_t n = utf8_length(s, i);
  if (n == 0) return bad("invalid UTF-8");
  return n;
}

// Snum 3("." Snum), each 0..255 without leading zeros.
bool valid_ipv4(std::string_view s) {
  int parts = 0;
  std::size_t i = 0;
  while (true) {
    std::size_t start = i;
    int value = 0;
    while (i < s.size() && is_digit(static_cast<unsigned char>(s[i])) && i - start < 3) {
      value = value * 10 + (s[i] - '0');
      ++i;
    }
    std::size_t digits = i - start;
    if (digits == 0 || value > 255 || (digits > 1 && s[start] == '0')) return false;
    ++parts;
    if (parts == 4) return i == s.size();
    if (i >= s.size() || s[i] != '.') return false;
    ++i;
  }
}

// Groups of 1..4 hex digits separated by single ':'; empty text is no group.
// Returns the count, or -1.
int hex_groups(std::string_view s) {
  if (s.empty()) return 0;
  int count = 0;
  std::size_t i = 0;
  while (true) {
    std::size_t start = i;
    while (i < s.size() && is_hex(static_cast<unsigned char>(s[i])) && i - start < 4) ++i;
    if (i == start) return -1;
    ++count;
    if (i == s.size()) return count;
    if (s[i] != ':') return -1;
    ++i;
  }
}

// RFC 5321 IPv6-addr: IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp.
bool valid_ipv6(std::string_view s) {
  int max_groups = 8;
  std::string_view hex = s;
  if (s.find('.') != std::string_view::npos) {
    std::size_t colon = s.rfind(':');
    if (colon == std::string_view::npos || !valid_ipv4(s.substr(colon + 1))) return false;
    hex = s.substr(0, colon + 1);
    // "...::1.2.3.4" keeps its "::"; otherwise drop the ':' before the IPv4 part.
    if (!(hex.size() >= 2 && hex.substr(hex.size() - 2) == "::")) hex.remove_suffix(1);
    max_groups = 6;
  }
  std::size_t gap = hex.find("::");
  if (gap == std::string_view::npos) return hex_groups(hex) == max_groups;
  if (hex.find("::", gap + 1) != std::string_view::npos) return false;  // two "::" (or ":::")
  int left = hex_groups(hex.substr(0, gap));
  int right = hex_groups(hex.substr(gap + 2));
  // "::" stands for at least two groups of zeros.
  return left >= 0 && right >= 0 && left + right <= max_groups - 2;
}

// Standardized-tag ":" 1*dcontent, the tag an Ldh-str.
bool valid_general_literal(std::string_view s) {
  std::size_t colon = s.find(':');
  std::string_view tag = s.substr(0, colon);
  std::string_view content = s.substr(colon + 1);
  if (tag.empty() || !is_let_dig(static_cast<unsigned char>(tag.back()))) return false;
  for (char ch : tag) {
    auto c = static_cast<unsigned char>(ch);
    if (!is_let_dig(c) && c != '-') return false;
  }
  if (content.empty()) return false;
  for (char ch : content) {
    auto c = static_cast<unsigned char>(ch);
    if (!((c >= 33 && c <= 90) || (c >= 94 && c <= 126))) return false;
  }
  return true;
}

Status parse_literal(std::string_view d) {
  if (d.size() < 2 || d.back() != ']') return bad("unterminated address literal");
  std::string_view inside = d.substr(1, d.size() - 2);
  if (inside.empty()) return bad("empty address literal");
  std::size_t colon = inside.find(':');
  if (colon == std::string_view::npos) {
    if (!valid_ipv4(inside)) return bad("bad IPv4 address literal");
  } else if (iequals(inside.substr(0, colon), "IPv6")) {
    if (!valid_ipv6(inside.substr(colon + 1))) return bad("bad IPv6 address literal");
  } else if (!valid_general_literal(inside)) {
    return bad("bad address literal");
  }
  return {};
}

// Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str], or
// a U-label under SMTPUTF8; or an address literal.
Status parse_domain(std::string_view d, bool allow_utf8) {
  if (d.empty()) return bad("empty domain");
  if (d.size() > kMaxDomain) return bad("domain longer than 255 octets");
  if (d.front() == '[') return parse_literal(d);
  std::size_t i = 0;
  while (true) {
    std::size_t start = i;
    unsigned char last = 0;
    while (i < d.size() && d[i] != '.') {
      auto c = static_cast<unsigned char>(d[i]);
      if (c >= 0x80) {
        auto n = non_ascii(d, i, allow_utf8);
        if (!n) return n.error();
        i += *n;
      } else if (is_let_dig(c) || c == '-') {
        if (c == '-' && i == start) return bad("hyphen at start of domain label");
        ++i;
      } else {
        return bad("invalid character in domain");
      }
      last = c;
    }
    if (i == start) return bad(i == d.size() && i > 0 ? "trailing dot in domain" : "empty label in domain");
    if (last == '-') return bad("hyphen at end of domain label");
    if (i - start > kMaxLabel) return bad("domain label longer than 63 octets");
    if (i == d.size()) return {};
    ++i;  // the dot
  }
}

// Local-part = Dot-string / Quoted-string; returns its length in `s`, which
// must go on with "@".
Result<std::size_t> parse_local(std::string_view s, bool allow_utf8) {
  std::size_t i = 0;
  if (!s.empty() && s[0] == '"') {
    i = 1;
    while (true) {
      if (i >= s.size()) return bad("unbalanced quote");
      auto c = static_cast<unsigned char>(s[i]);
      if (c == '"') break;
      if (c == '\\') {
        if (i + 1 >= s.size()) return bad("unbalanced quote");
        auto q = static_cast<unsigned char>(s[i + 1]);
        if (q >= 0x80) {
          // quoted-pairSMTP escapes ASCII only: "\" %d32-126
          return allow_utf8 ? bad("bad quoted pair") : bad("non-ASCII character without SMTPUTF8");
        }
        if (q < 32 || q > 126) return bad("bad quoted pair");
        i += 2;
      } else if (c >= 0x80) {
        auto n = non_ascii(s, i, allow_utf8);
        if (!n) return n.error();
        i += *n;
      } else if (c >= 32 && c <= 126) {  // qtextSMTP: all of these but '"' and '\'
        ++i;
      } else {
        return bad("invalid character in quoted string");
      }
    }
    ++i;  // closing quote
    if (i == s.size()) return bad("missing @domain");
    if (s[i] != '@') return bad("text after quoted local part");
    return i;
  }
  bool after_dot = false;
  while (i < s.size() && s[i] != '@') {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '.') {
      if (i == 0) return bad("leading dot in local part");
      if (after_dot) return bad("double dot in local part");
      after_dot = true;
      ++i;
      continue;
    }
    if (c >= 0x80) {
      auto n = non_ascii(s, i, allow_utf8);
      if (!n) return n.error();
      i += *n;
    } else if (is_atext(c)) {
      ++i;
    } else {
      return bad(c == '"' ? "quote inside local part" : "invalid character in local part");
    }
    after_dot = false;
  }
  if (i == 0) return bad(s.empty() ? "empty address" : "empty local part");
  if (after_dot) return bad("trailing dot in local part");
  if (i == s.size()) return bad("missing @domain");
  return i;
}

Result<Mailbox> parse_mailbox_text(std::string_view s, bool allow_utf8) {
  auto local = parse_local(s, allow_utf8);
  if (!local) return local.error();
  if (*local > kMaxLocal) return bad("local part longer than 64 octets");
  std::string_view domain = s.substr(*local + 1);
  if (auto ok = parse_domain(domain, allow_utf8); !ok) return ok.error();
  if (s.size() > kMaxMailbox) return bad("address longer than 254 octets");
  return Mailbox{std::string(s.substr(0, *local)), std::string(domain)};
}

// A-d-l ":" — "@one,@two:" before the mailbox. Returns its length.
Result<std::size_t> parse_source_route(std::string_view s, bool allow_utf8) {
  std::size_t i = 0;
  while (true) {
    if (i >= s.size() || s[i] != '@') return bad("bad source route");
    ++i;
    std::size_t start = i;
    if (i < s.size() && s[i] == '[') {
      std::size_t close = s.find(']', i);
      if (close == std::string_view::npos) return bad("unterminated address literal");
      i = close + 1;
    } else {
      while (i < s.size() && s[i] != ',' && s[i] != ':') ++i;
    }
    if (auto ok = parse_domain(s.substr(start, i - start), allow_utf8); !ok) {
      return bad("bad source route: " + ok.error().message().substr(sizeof("bad address syntax: ") - 1));
    }
    if (i >= s.size()) return bad("bad source route");
    if (s[i] == ':') return i + 1;
    if (s[i] != ',') return bad("bad source route");
    ++i;
  }
}

}  // namespace

std::string Mailbox::str() const { return domain.empty() ? local : local + "@" + domain; }

std::optional<std::string> Mailbox::literal_address() const {
  if (!is_address_literal() || domain.size() < 2) return std::nullopt;
  std::string_view inside = std::string_view(domain).substr(1, domain.size() - 2);
  if (inside.size() >= 5 && iequals(inside.substr(0, 5), "IPv6:")) inside.remove_prefix(5);
  return std::string(inside);
}

std::string Mailbox::domain_key() const {
  std::string key = domain;
  for (auto& c : key) c = lower(c);
  return key;
}

std::string Path::str() const { return mailbox ? "<" + mailbox->str() + ">" : "<>"; }

Result<Path> parse_path(std::string_view text, const AddressSyntax& syntax) {
  if (text.size() > kMaxPath) return bad("path longer than 256 octets");
  if (text.size() < 2 || text.front() != '<' || text.back() != '>') return bad("path must be enclosed in <>");
  std::string_view inner = text.substr(1, text.size() - 2);
  if (inner.empty()) {
    if (!syntax.allow_null) return bad("null path not allowed here");
    return Path{};
  }
  if (syntax.allow_postmaster && iequals(inner, "Postmaster")) return Path{Mailbox{"Postmaster", ""}};
  if (inner.front() == '@') {
    auto route = parse_source_route(inner, syntax.allow_utf8);
    if (!route) return route.error();
    inner.remove_prefix(*route);  // RFC 5321 §4.1.2: accepted, then ignored
  }
  auto mailbox = parse_mailbox_text(inner, syntax.allow_utf8);
  if (!mailbox) return mailbox.error();
  return Path{std::move(*mailbox)};
}

Result<Mailbox> parse_mailbox(std::string_view text, bool allow_utf8) {
  return parse_mailbox_text(text, allow_utf8);
}

bool has_non_ascii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

}  // namespace tern::smtp
