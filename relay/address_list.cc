// RFC 5322 address lists for `tern sendmail`. See address_list.h.
//
// Parsed leniently where RFC 5322 has obsolete forms (empty list elements, a
// missing ";" closing a group, source routes) and strictly where a guess
// could send mail to the wrong place (text outside <...> next to an address,
// whitespace inside an address).
#include "relay/address_list.h"

#include <cstddef>

namespace tern::relay {
namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (is_wsp(s.front()) || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (is_wsp(s.back()) || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// and domain literals. Unbalanced input was already refused by the splitter.
std::string strip_comments(std::string_view s) {
  std::string out;
  int depth = 0;
  bool quote = false;
  bool literal = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (depth > 0) {
      if (c == '\\') {
        ++i;
      } else if (c == '(') {
        ++depth;
      } else if (c == ')') {
        --depth;
        if (depth == 0) out += ' ';  // a comment separates like whitespace
      }
      continue;
    }
    if (quote || literal) {
      out += c;
      if (c == '\\' && i + 1 < s.size()) {
        out += s[++i];
      } else if ((quote && c == '"') || (literal && c == ']')) {
        quote = literal = false;
      }
      continue;
    }
    if (c == '(') {
      depth = 1;
      continue;
    }
    if (c == '"') quote = true;
    if (c == '[') literal = true;
    out += c;
  }
  return out;
}

// Whether `s` (comments already removed) has one of `wanted` outside quoted strings.
bool has_unquoted(std::string_view s, std::string_view wanted) {
  bool quote = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quote) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quote = false;
      }
      continue;
    }
    if (c == '"') {
      quote = true;
    } else if (wanted.find(c) != std::string_view::npos) {
      return true;
    }
  }
  return false;
}

Error invalid(std::string_view raw, std::string_view context, std::string_view why) {
  return Error::permanent("invalid address \"" + std::string(trim(raw)) + "\"" + std::string(context) + ": " +
                          std::string(why));
}

Result<smtp::Mailbox> to_mailbox(std::string_view addr, std::string_view raw, std::string_view default_domain,
                                 std::string_view context) {
  std::string full(addr);
  if (!has_unquoted(full, "@")) {
    if (default_domain.empty()) return invalid(raw, context, "no domain");
    full += '@';
    full += default_domain;
  }
  auto mailbox = smtp::parse_mailbox(full, /*allow_utf8=*/true);
  if (!mailbox) return invalid(raw, context, mailbox.error().message());
  return *mailbox;
}

// One element of an address list: "addr", "Name <addr>", "<@route:addr>",
// with comments anywhere. Empty (only CFWS): nothing.
Result<std::optional<smtp::Mailbox>> parse_element(std::string_view raw, std::string_view default_domain,
                                                   std::string_view context) {
  const std::string text = strip_comments(raw);
  // The splitter guarantees balanced quotes, literals and at most one <...>.
  std::size_t open = std::string::npos;
  bool quote = false;
  bool literal = false;
  for (std::size_t i = 0; i < text.size() && open == std::string::npos; ++i) {
    char c = text[i];
    if (quote || literal) {
      if (c == '\\') {
        ++i;
      } else if ((quote && c == '"') || (literal && c == ']')) {
        quote = literal = false;
      }
    } else if (c == '"') {
      quote = true;
    } else if (c == '[') {
      literal = true;
    } else if (c == '<') {
      open = i;
    }
  }
  if (open == std::string::npos) {
    std::string_view addr = trim(text);
    if (addr.empty()) return std::optional<smtp::Mailbox>();
    if (has_unquoted(addr, " \t")) return invalid(raw, context, "spaces in an address without <...>");
    auto mailbox = to_mailbox(addr, raw, default_domain, context);
    if (!mailbox) return mailbox.error();
    return std::optional<smtp::Mailbox>(std::move(*mailbox));
  }
  // The matching '>' outside quoted strings.
  std::size_t close = std::string::npos;
  quote = false;
  for (std::size_t i = open + 1; i < text.size(); ++i) {
    char c = text[i];
    if (quote) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quote = false;
      }
    } else if (c == '"') {
      quote = true;
    } else if (c == '>') {
      close = i;
      break;
    }
  }
  if (close == std::string::npos) return invalid(raw, context, "missing >");
  if (!trim(std::string_view(text).substr(close + 1)).empty()) return invalid(raw, context, "text after <...>");
  std::string_view addr = trim(std::string_view(text).substr(open + 1, close - open - 1));
  if (!addr.empty() && addr.front() == '@') {  // obsolete source route "@a,@b:": dropped
    std::size_t colon = addr.find(':');
    if (colon == std::string_view::npos) return invalid(raw, context, "source route without ':'");
    addr = trim(addr.substr(colon + 1));
  }
  if (addr.empty()) return invalid(raw, context, "empty address");
  auto mailbox = to_mailbox(addr, raw, default_domain, context);
  if (!mailbox) return mailbox.error();
  return std::optional<smtp::Mailbox>(std::move(*mailbox));
}

Result<std::vector<smtp::Mailbox>> parse_list_impl(std::string_view text, std::string_view default_domain,
                                              std::string_view context) {
  std::vector<smtp::Mailbox> out;
  auto take = [&](std::string_view element) -> Status {
    auto m = parse_element(element, default_domain, context);
    if (!m) return m.error();
    if (*m) out.push_back(std::move(**m));
    return {};
  };
  int comment = 0;
  bool quote = false;
  bool literal = false;
  bool angle = false;
  bool group = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote || comment > 0 || literal) {
      if (c == '\\') {
        ++i;
      } else if (quote && c == '"') {
        quote = false;
      } else if (literal && c == ']') {
        literal = false;
      } else if (comment > 0 && c == '(') {
        ++comment;
      } else if (comment > 0 && c == ')') {
        --comment;
      }
      continue;
    }
    switch (c) {
      case '"': quote = true; break;
      case '(': comment = 1; break;
      case '[': literal = true; break;
      case '<':
        if (angle) return invalid(text.substr(start), context, "unexpected <");
        angle = true;
        break;
      case '>':
        if (!angle) return invalid(text.substr(start, i + 1 - start), context, "unexpected >");
        angle = false;
        break;
      case ',':
        if (angle) break;
        if (Status st = take(text.substr(start, i - start)); !st) return st.error();
        start = i + 1;
        break;
      case ':': {
        if (angle) break;  // a source route inside <...>
        std::string_view name = text.substr(start, i - start);
        if (group) return invalid(name, context, "group inside a group");
        const std::string plain = strip_comments(name);
        if (has_unquoted(plain, "@<")) return invalid(name, context, "unexpected ':'");
        group = true;  // "name: a, b;": the name is dropped, the members are addresses
        start = i + 1;
        break;
      }
      case ';':
        if (angle) break;
        if (!group) return invalid(text.substr(start, i + 1 - start), context, "';' outside a group");
        if (Status st = take(text.substr(start, i - start)); !st) return st.error();
        group = false;
        start = i + 1;
        break;
      default: break;
    }
  }
  if (quote) return invalid(text.substr(start), context, "unbalanced quote");
  if (comment > 0) return invalid(text.substr(start), context, "unbalanced parenthesis");
  if (literal) return invalid(text.substr(start), context, "unbalanced [");
  if (angle) return invalid(text.substr(start), context, "missing >");
  if (Status st = take(text.substr(start)); !st) return st.error();  // a group may lack its ';'
  return out;
}

}  // namespace

Result<std::vector<smtp::Mailbox>> parse_address_list(std::string_view text, std::string_view default_domain,
                                                      std::string_view context) {
  return parse_list_impl(text, default_domain, context);
}

Result<smtp::Path> parse_sender(std::string_view text, std::string_view default_domain) {
  std::string_view s = trim(text);
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = trim(s.substr(1, s.size() - 2));
  if (s.empty()) return smtp::Path{};
  auto mailbox = to_mailbox(s, text, default_domain, " given with -f");
  if (!mailbox) return mailbox.error();
  return smtp::Path{std::move(*mailbox)};
}


}  // namespace tern::relay
