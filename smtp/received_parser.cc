// Reading Received: fields back (received.h): finding them in a header
// section, splitting each into clauses, and chaining them into hops. Every
// loop here advances through the input, so the work is linear in its size
// and a malformed field costs no more than a good one.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/mail_date.h"
#include "smtp/received.h"

namespace tern::smtp {
namespace {

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
  return s;
}

// Line breaks removed, the whitespace after them kept (RFC 5322 §2.2.3).
std::string unfold(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c != '\r' && c != '\n') out += c;
  }
  return out;
}

enum class TokenKind { Word, Comment, Semicolon };

struct Token {
  TokenKind kind;
  std::string_view text;  // a word, or a comment without its outer parentheses
  size_t end;             // offset just past the token
};

// Splits a field body into words, comments and semicolons. Comments nest and
// honour quoted pairs; an unterminated one runs to the end. Inside a word,
// <...> and "..." are kept whole when they close before the next ';', so
// "for <\"a b\"@c>" stays one word; an unclosed one is an ordinary character.
// Each failed search records how far it looked, so no stretch of the input
// is searched twice: the lexer stays linear on any input.
std::vector<Token> lex(std::string_view s) {
  std::vector<Token> tokens;
  size_t no_angle_before = 0;  // a '<' before this offset has no '>' ahead of the next ';'
  size_t no_quote_before = 0;  // likewise for '"'
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (is_ws(c) || c == ')') {  // a stray ')' closes nothing: skip it
      ++i;
    } else if (c == ';') {
      ++i;
      tokens.push_back({TokenKind::Semicolon, s.substr(i - 1, 1), i});
    } else if (c == '(') {
      size_t start = i + 1;
      size_t j = i;
      int depth = 0;
      bool closed = false;
      while (j < s.size()) {
        char d = s[j++];
        if (d == '\\') {
          if (j < s.size()) ++j;
        } else if (d == '(') {
          ++depth;
        } else if (d == ')' && --depth == 0) {
          closed = true;
          break;
        }
      }
      std::string_view inner = closed ? s.substr(start, j - 1 - start) : s.substr(start);
      tokens.push_back({TokenKind::Comment, inner, j});
      i = j;
    } else {
      size_t start = i;
      while (i < s.size()) {
        char d = s[i];
        if (is_ws(d) || d == '(' || d == ')' || d == ';') break;
        if (d == '<' && i >= no_angle_before) {
          size_t j = i + 1;
          while (j < s.size() && s[j] != '>' && s[j] != ';') ++j;
          if (j < s.size() && s[j] == '>') {
            i = j + 1;
            continue;
          }
          no_angle_before = j;
        } else if (d == '"' && i >= no_quote_before) {
          size_t j = i + 1;
          while (j < s.size() && s[j] != '"' && s[j] != ';') j += (s[j] == '\\') ? 2 : 1;
          if (j < s.size() && s[j] == '"') {
            i = j + 1;
            continue;
          }
          no_quote_before = j;
        }
        ++i;
      }
      tokens.push_back({TokenKind::Word, s.substr(start, i - start), i});
    }
  }
  return tokens;
}

enum class Key { None, From, By, Via, With, Id, For };

Key keyword(std::string_view word) {
  struct Entry {
    const char* name;
    Key key;
  };
  static constexpr Entry kKeys[] = {{"from", Key::From}, {"by", Key::By},  {"via", Key::Via},
                                    {"with", Key::With}, {"id", Key::Id},  {"for", Key::For}};
  for (const Entry& e : kKeys) {
    if (iequals(word, e.name)) return e.key;
  }
  return Key::None;
}

bool is_ipv4(std::string_view w) {
  int parts = 0;
  size_t digits = 0;
  for (char c : w) {
    if (c >= '0' && c <= '9') {
      if (++digits > 3) return false;
    } else if (c == '.') {
      if (digits == 0) return false;
      ++parts;
      digits = 0;
    } else {
      return false;
    }
  }
  return parts == 3 && digits > 0;
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Groups of at most four hex digits, the last possibly a dotted quad, and
// either "::" or all eight groups: "10:00:05" (a time) is not an address.
bool is_ipv6(std::string_view w) {
  int colons = 0;
  bool compressed = false;
  size_t group_start = 0;
  for (size_t i = 0; i <= w.size(); ++i) {
    if (i < w.size() && w[i] != ':') continue;
    std::string_view group = w.substr(group_start, i - group_start);
    if (i == w.size() && group.find('.') != std::string_view::npos) {
      if (!is_ipv4(group)) return false;
    } else {
      if (group.size() > 4) return false;
      for (char c : group) {
        if (!is_hex(c)) return false;
      }
    }
    if (i < w.size()) {
      ++colons;
      if (i + 1 < w.size() && w[i + 1] == ':') {
        if (compressed) return false;
        compressed = true;
      }
    }
    group_start = i + 1;
  }
  return compressed ? colons >= 2 : colons == 7;
}

bool is_bare_ip(std::string_view w) { return is_ipv4(w) || is_ipv6(w); }

// A reverse name is a DNS name: no '=', ':', '@' or brackets, which mark
// Exim's "helo=", ident reports and address literals.
bool is_hostname(std::string_view w) {
  for (char c : w) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
              c == '_';
    if (!ok) return false;
  }
  return !w.empty();
}

// "[192.0.2.1]", "[IPv6:2001:db8::1]", Exim's "[192.0.2.1]:54321": the
// address inside the brackets without the IPv6 tag; empty when not a literal.
std::string_view literal_address(std::string_view w) {
  if (w.size() < 2 || w.front() != '[') return {};
  size_t close = w.find(']');
  if (close == std::string_view::npos) return {};
  std::string_view inner = w.substr(1, close - 1);
  if (istarts_with(inner, "IPv6:")) inner.remove_prefix(5);
  return inner;
}

std::vector<std::string_view> comment_words(std::string_view comment) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < comment.size()) {
    while (i < comment.size() && (is_ws(comment[i]) || comment[i] == '(' || comment[i] == ')')) ++i;
    size_t start = i;
    while (i < comment.size() && !is_ws(comment[i]) && comment[i] != '(' && comment[i] != ')') ++i;
    if (i > start) words.push_back(comment.substr(start, i - start));
  }
  return words;
}

std::string_view without_trailing_dot(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return name;
}

bool same_host(std::string_view a, std::string_view b) { return iequals(without_trailing_dot(a), without_trailing_dot(b)); }

// The readable "from" of received.h: the from-domain, the other name the
// receiver recorded, and the client address. They come from the TCP-info
// comment (RFC 5321 §4.4): the first comment after the from-domain, passing
// over qmail's "(HELO name)". Later comments ("(using TLSv1.3 ...)",
// "(Authenticated sender: ...)") say nothing about the sending host.
std::string describe_from(std::string_view domain, const std::vector<std::string_view>& comments) {
  std::string_view literal_ip, bare_ip, helo, reverse;
  for (std::string_view comment : comments) {
    std::vector<std::string_view> words = comment_words(comment);
    bool has_ip = false;
    for (std::string_view w : words) {
      if (std::string_view lit = literal_address(w); !lit.empty()) {
        has_ip = true;
        if (literal_ip.empty()) literal_ip = lit;
      } else if (is_bare_ip(w)) {
        has_ip = true;
        if (bare_ip.empty()) bare_ip = w;
      } else if (istarts_with(w, "helo=") && w.size() > 5 && helo.empty()) {
        helo = w.substr(5);  // Exim
      }
    }
    if (!has_ip && words.size() == 2 && iequals(words[0], "HELO")) {
      if (helo.empty()) helo = words[1];  // qmail
      continue;
    }
    // TCP-info names the reverse name in front of the address.
    if (has_ip && !words.empty() && !is_bare_ip(words[0]) && is_hostname(words[0]) && !same_host(words[0], "unknown")) {
      reverse = words[0];
    }
    break;
  }
  std::string_view ip = !literal_ip.empty() ? literal_ip : bare_ip;

  std::string alt;
  if (!reverse.empty() && !same_host(reverse, domain)) {
    alt = std::string(reverse);
  } else if (!helo.empty() && !same_host(helo, domain)) {
    alt = "helo=" + std::string(helo);
  }

  std::string out(domain);
  if (!alt.empty()) out += out.empty() ? alt : " (" + alt + ")";
  std::string_view domain_ip = literal_address(domain);
  if (!ip.empty() && !iequals(ip, domain_ip)) {
    if (!out.empty()) out += ' ';
    out += "[" + std::string(ip) + "]";
  }
  return out;
}

std::string strip_angles(std::string_view w) {
  if (w.size() >= 2 && w.front() == '<' && w.back() == '>') w = w.substr(1, w.size() - 2);
  return std::string(w);
}

}  // namespace

Hop parse_received(std::string_view body) {
  Hop hop;
  hop.raw = std::string(trim(unfold(body)));
  std::string_view s = hop.raw;
  std::vector<Token> tokens = lex(s);

  size_t clause_end = tokens.size();
  for (size_t i = tokens.size(); i-- > 0;) {
    if (tokens[i].kind == TokenKind::Semicolon) {
      clause_end = i;
      hop.timestamp = parse_mail_date(s.substr(tokens[i].end));
      break;
    }
  }
  if (clause_end == tokens.size()) {
    // No ';' outside comments (an unclosed comment may have swallowed it):
    // the date may still follow the last ';' of the text.
    if (size_t semi = s.rfind(';'); semi != std::string_view::npos) hop.timestamp = parse_mail_date(s.substr(semi + 1));
  }

  std::string_view from_domain;
  std::vector<std::string_view> from_comments;
  bool seen[7] = {};
  bool in_first_from = false;
  size_t i = 0;
  while (i < clause_end) {
    const Token& t = tokens[i];
    Key key = t.kind == TokenKind::Word ? keyword(t.text) : Key::None;
    if (key == Key::None) {
      if (t.kind == TokenKind::Comment && in_first_from) from_comments.push_back(t.text);
      ++i;
      continue;
    }
    ++i;
    bool first = !seen[static_cast<int>(key)];
    seen[static_cast<int>(key)] = true;
    in_first_from = key == Key::From && first;
    // The word after a keyword is its value even if it reads like a keyword
    // ("from by"): a HELO name is whatever the client said.
    if (i >= clause_end || tokens[i].kind != TokenKind::Word) continue;
    std::string_view value = tokens[i++].text;
    if (!first) continue;
    switch (key) {
      case Key::From:
        from_domain = value;
        break;
      case Key::By:
        hop.by = std::string(value);
        break;
      case Key::With:
        hop.with = std::string(value);
        while (i < clause_end && tokens[i].kind == TokenKind::Word && keyword(tokens[i].text) == Key::None) {
          hop.with += ' ';
          hop.with += tokens[i++].text;
        }
        break;
      case Key::Id:
        hop.id = std::string(value);
        break;
      case Key::For:
        hop.for_rcpt = strip_angles(value);
        break;
      case Key::Via:
      case Key::None:
        break;
    }
  }
  if (seen[static_cast<int>(Key::From)]) hop.from = describe_from(from_domain, from_comments);
  return hop;
}

std::vector<std::string> find_received_fields(std::string_view message) {
  std::vector<std::string> fields;
  std::string body;
  bool in_received = false;
  auto finish = [&] {
    if (in_received) fields.push_back(std::string(trim(body)));
    in_received = false;
    body.clear();
  };

  size_t pos = 0;
  while (pos < message.size()) {
    size_t eol = message.find('\n', pos);
    size_t next = eol == std::string_view::npos ? message.size() : eol + 1;
    std::string_view line = message.substr(pos, (eol == std::string_view::npos ? message.size() : eol) - pos);
    pos = next;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // end of the header section
    if (line.front() == ' ' || line.front() == '\t') {
      if (in_received) body += line;
      continue;
    }
    finish();
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;  // not a field (an mbox "From " line, garbage)
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);  // obs: "Received :"
    if (iequals(name, "Received")) {
      in_received = true;
      body = std::string(line.substr(colon + 1));
    }
  }
  finish();
  return fields;
}

std::vector<Hop> received_chain(std::string_view message) {
  std::vector<std::string> fields = find_received_fields(message);
  std::vector<Hop> hops;
  hops.reserve(fields.size());
  for (size_t i = fields.size(); i-- > 0;) hops.push_back(parse_received(fields[i]));
  for (size_t i = 1; i < hops.size(); ++i) {
    if (hops[i].timestamp && hops[i - 1].timestamp) hops[i].delay = *hops[i].timestamp - *hops[i - 1].timestamp;
  }
  return hops;
}

}  // namespace tern::smtp
