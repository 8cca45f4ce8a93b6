// Header work for `tern sendmail`: Bcc removal, From:, recipients from
// To/Cc/Bcc. See sendmail_message.h.
//
// Choices beyond the RFCs, each for a reason:
//  - Bcc: is removed whether or not -t is given: the field exists to be hidden
//    from the other recipients, and a relay must never leak it.
//  - A header section that ends without an empty line (the next line is not a
//    field) gets one inserted before the body, so nothing we add and nothing
//    of the body can be read as a header field.
#include "relay/sendmail_message.h"

#include <algorithm>
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
      auto list = parse_address_list(unfold(value), options.default_domain, context);
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
