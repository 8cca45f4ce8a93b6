// Header work for `tern sendmail`: address lists, Bcc removal, From:. See sendmail_message.h.
//
// Choices beyond the RFCs, each for a reason:
//  - Bcc: is removed whether or not -t is given: the field exists to be hidden
//    from the other recipients, and a relay must never leak it.
//  - A header section that ends without an empty line (the next line is not a
//    field) gets one inserted before the body, so nothing we add and nothing
//    of the body can be read as a header field.
//  - Addresses are parsed leniently where RFC 5322 has obsolete forms (empty
//    list elements, a missing ";" closing a group, source routes) and strictly
//    where a guess could send mail to the wrong place (text outside <...>
//    next to an address, whitespace inside an address).
#include "relay/sendmail_message.h"

#include <cstddef>

#include "smtp/encoding.h"

namespace tern::relay {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (is_wsp(s.front()) || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (is_wsp(s.back()) || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// Removes comments "(...)" (nested, with quoted pairs) outside quoted strings
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

Result<std::vector<smtp::Mailbox>> parse_list(std::string_view text, std::string_view default_domain,
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

// The header section: each field's name and its bytes (continuation lines and
// CRLFs included), where the body starts, and whether an empty line divided them.
struct Field {
  std::string_view name;
  std::string_view raw;
};
struct Split {
  std::vector<Field> fields;
  bool separator = false;
  std::string_view body;
};

// "Name:" with a name of printable ASCII but ':' (RFC 5322 §2.2), obsolete
// whitespace before the colon allowed.
std::optional<std::string_view> field_name(std::string_view line) {
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view name = line.substr(0, colon);
  while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
  if (name.empty()) return std::nullopt;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 33 || u > 126) return std::nullopt;
  }
  return name;
}

Split split_message(std::string_view message) {
  Split out;
  std::size_t pos = 0;
  std::size_t field_start = 0;
  while (pos < message.size()) {
    std::size_t eol = message.find("\r\n", pos);
    std::size_t next = eol == std::string_view::npos ? message.size() : eol + 2;
    std::string_view line = message.substr(pos, (eol == std::string_view::npos ? message.size() : eol) - pos);
    if (line.empty()) {
      out.separator = true;
      out.body = message.substr(next);
      return out;
    }
    if (is_wsp(line.front()) && !out.fields.empty()) {
      out.fields.back().raw = message.substr(field_start, next - field_start);
      pos = next;
      continue;
    }
    auto name = field_name(line);
    if (!name) {  // the body starts without an empty line
      out.body = message.substr(pos);
      return out;
    }
    field_start = pos;
    out.fields.push_back(Field{*name, message.substr(pos, next - pos)});
    pos = next;
  }
  return out;
}

bool is_atext_phrase(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    bool ok = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == ' ' ||
              std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// RFC 2047 "B" encoded words of at most 75 characters, never splitting a
// UTF-8 sequence.
std::string encoded_words(std::string_view s) {
  constexpr std::size_t kChunk = 45;  // 60 base64 characters + 12 of "=?UTF-8?B?" "?="
  std::string out;
  while (!s.empty()) {
    std::size_t n = std::min(kChunk, s.size());
    while (n < s.size() && n > 1 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    if (!out.empty()) out += ' ';
    out += "=?UTF-8?B?" + smtp::base64_encode(s.substr(0, n)) + "?=";
    s.remove_prefix(n);
  }
  return out;
}

// Folds at spaces so lines stay within 78 columns where a space allows it.
std::string fold(std::string_view line) {
  constexpr std::size_t kWidth = 78;
  std::string out;
  std::size_t column = 0;
  std::size_t pos = 0;
  while (pos < line.size()) {
    std::size_t space = line.find(' ', pos + 1);
    std::string_view word = line.substr(pos, space == std::string_view::npos ? line.size() - pos : space - pos);
    if (column > 0 && column + word.size() > kWidth && word.front() == ' ') {
      out += "\r\n";
      column = 0;
    }
    out += word;
    column += word.size();
    pos += word.size();
  }
  return out;
}

}  // namespace

std::string unfold(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\r' && i + 2 < value.size() && value[i + 1] == '\n' && is_wsp(value[i + 2])) {
      ++i;
      continue;
    }
    out += value[i];
  }
  return out;
}

Result<std::vector<smtp::Mailbox>> parse_address_list(std::string_view text, std::string_view default_domain) {
  return parse_list(text, default_domain, "");
}

Result<smtp::Path> parse_sender(std::string_view text, std::string_view default_domain) {
  std::string_view s = trim(text);
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = trim(s.substr(1, s.size() - 2));
  if (s.empty()) return smtp::Path{};
  auto mailbox = to_mailbox(s, text, default_domain, " given with -f");
  if (!mailbox) return mailbox.error();
  return smtp::Path{std::move(*mailbox)};
}

Result<std::string> make_from_header(const std::optional<std::string>& full_name, const smtp::Mailbox& sender) {
  constexpr std::size_t kMaxName = 512;
  std::string_view name = full_name ? trim(*full_name) : std::string_view();
  std::string phrase;
  bool ascii = true;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return Error::permanent("the full name (-F) contains a control character");
    if (u >= 0x80) ascii = false;
  }
  if (name.size() > kMaxName) {
    return Error::permanent("the full name (-F) is longer than " + std::to_string(kMaxName) + " bytes");
  }
  if (!ascii) {
    phrase = encoded_words(name);
  } else if (is_atext_phrase(name)) {
    phrase = std::string(name);
  } else {
    phrase = "\"";
    for (char c : name) {
      if (c == '"' || c == '\\') phrase += '\\';
      phrase += c;
    }
    phrase += '"';
  }
  std::string line = "From: ";
  if (!phrase.empty()) line += phrase + " ";
  line += "<" + sender.str() + ">";
  return fold(line) + "\r\n";
}

Result<PreparedMessage> prepare_message(std::string_view message, const PrepareOptions& options) {
  const Split split = split_message(message);
  PreparedMessage out;
  out.data.reserve(message.size() + options.from_header.size() + 2);
  for (const Field& field : split.fields) {
    const bool bcc = iequals(field.name, "Bcc");
    if (iequals(field.name, "From")) out.had_from = true;
    if (options.extract_recipients && (bcc || iequals(field.name, "To") || iequals(field.name, "Cc"))) {
      std::string_view value = field.raw.substr(field.raw.find(':') + 1);
      const std::string context = " in " + std::string(field.name) + ": header";
      auto list = parse_list(unfold(value), options.default_domain, context);
      if (!list) return list.error();
      out.recipients.insert(out.recipients.end(), list->begin(), list->end());
    }
    if (!bcc) out.data += field.raw;
  }
  if (!out.had_from && !options.from_header.empty()) out.data += options.from_header;
  if (split.separator || !split.body.empty()) out.data += "\r\n";
  out.data += split.body;
  return out;
}

}  // namespace tern::relay
