// One SMTP command line in, a Command or the exact reply out. Strict where
// the grammar is unambiguous (verbs, "MAIL FROM:", parameter values), lenient
// only where real clients are known to stray: a space after "FROM:"/"TO:",
// several spaces between parameters, trailing spaces, junk EHLO names.
// Parameters are decoded here (xtext) and checked for what later layers must
// be able to trust: a decoded ENVID or ORCPT never carries a CR or LF, so it
// cannot smuggle a header line into a DSN.
#include "smtp/command.h"

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "smtp/encoding.h"

namespace tern::smtp {
namespace {

constexpr std::size_t kMaxHeloArgument = 255;
constexpr std::size_t kMaxEnvid = 100;  // RFC 3461 §4.4
constexpr std::size_t kMaxSaslMechanism = 20;  // RFC 4422 §3.1

struct VerbEntry {
  std::string_view name;
  Verb verb;
};
constexpr std::array<VerbEntry, 14> kVerbs{{
    {"EHLO", Verb::Ehlo}, {"HELO", Verb::Helo}, {"MAIL", Verb::Mail}, {"RCPT", Verb::Rcpt},
    {"DATA", Verb::Data}, {"BDAT", Verb::Bdat}, {"RSET", Verb::Rset}, {"NOOP", Verb::Noop},
    {"QUIT", Verb::Quit}, {"VRFY", Verb::Vrfy}, {"EXPN", Verb::Expn}, {"HELP", Verb::Help},
    {"STARTTLS", Verb::StartTls}, {"AUTH", Verb::Auth},
}};

char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_control(char c) { return static_cast<unsigned char>(c) < 32 || c == 127; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (upper(a[i]) != upper(b[i])) return false;
  }
  return true;
}

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = upper(c);
  return out;
}

std::string_view skip_spaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}
std::string_view trim_spaces(std::string_view s) {
  s = skip_spaces(s);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// Splits on runs of spaces; at most `max` words (more: returns max + 1 words).
std::vector<std::string_view> words(std::string_view s, std::size_t max) {
  std::vector<std::string_view> out;
  s = skip_spaces(s);
  while (!s.empty() && out.size() <= max) {
    std::size_t end = s.find(' ');
    out.push_back(s.substr(0, end));
    s = end == std::string_view::npos ? std::string_view{} : skip_spaces(s.substr(end));
  }
  return out;
}

// 1*DIGIT that fits in 64 bits (at most `max_digits` of them).
std::optional<std::uint64_t> parse_number(std::string_view s, std::size_t max_digits) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

Reply syntax(std::string_view usage) { return make_reply(501, "5.5.4", "Syntax: " + std::string(usage)); }

// The end ('>') of the path that starts at s[0] == '<'; a '>' inside a
// quoted local part or an address literal does not count.
std::size_t path_end(std::string_view s) {
  bool quoted = false, literal = false;
  for (std::size_t i = 1; i < s.size(); ++i) {
    char c = s[i];
    if (quoted) {
      if (c == '\\') ++i;
      else if (c == '"') quoted = false;
    } else if (literal) {
      if (c == ']') literal = false;
    } else if (c == '"') {
      quoted = true;
    } else if (c == '[') {
      literal = true;
    } else if (c == '>') {
      return i;
    }
  }
  return std::string_view::npos;
}

// "MAIL FROM:<path> params" / "RCPT TO:<path> params" after the verb.
struct PathAndParams {
  std::string_view path;
  std::string_view params;
};
enum class PathSplit { Ok, NoKeyword, BadPath };

PathSplit split_path(std::string_view rest, std::string_view keyword, PathAndParams& out) {
  // Exactly one space before "FROM:" / "TO:"; any spaces after the colon.
  if (rest.size() < keyword.size() + 1 || rest[0] != ' ' || !iequals(rest.substr(1, keyword.size()), keyword)) {
    return PathSplit::NoKeyword;
  }
  std::string_view after = skip_spaces(rest.substr(keyword.size() + 1));
  if (after.empty()) return PathSplit::NoKeyword;
  if (after[0] != '<') return PathSplit::BadPath;
  std::size_t end = path_end(after);
  if (end == std::string_view::npos) return PathSplit::BadPath;
  out.path = after.substr(0, end + 1);
  out.params = after.substr(end + 1);
  if (!out.params.empty() && out.params[0] != ' ') return PathSplit::NoKeyword;
  return PathSplit::Ok;
}

struct Param {
  std::string_view keyword;
  std::optional<std::string_view> value;
};

// esmtp-param = esmtp-keyword ["=" esmtp-value] (RFC 5321 §4.1.2).
bool split_param(std::string_view token, Param& out) {
  std::size_t eq = token.find('=');
  out.keyword = token.substr(0, eq);
  if (out.keyword.empty() || !is_alnum(out.keyword[0])) return false;
  for (char c : out.keyword) {
    if (!is_alnum(c) && c != '-') return false;
  }
  out.value.reset();
  if (eq == std::string_view::npos) return true;
  std::string_view value = token.substr(eq + 1);
  if (value.empty()) return false;
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (u < 33 || u > 126 || c == '=') return false;
  }
  out.value = value;
  return true;
}

bool has_control(std::string_view s) {
  for (char c : s) {
    if (is_control(c)) return true;
  }
  return false;
}

Reply bad_param(std::string_view name) { return make_reply(501, "5.5.4", "Bad " + std::string(name) + " parameter"); }
Reply unsupported(std::string_view keyword) {
  return make_reply(555, "5.5.4", "Unsupported option: " + std::string(keyword));
}
Reply duplicate(std::string_view name) {
  return make_reply(501, "5.5.4", "Duplicate " + std::string(name) + " parameter");
}

// The parameters a keyword may name, to catch duplicates.
enum ParamBit : unsigned {
  kSize = 1, kBody = 2, kSmtpUtf8 = 4, kRet = 8, kEnvid = 16, kAuth = 32, kNotify = 64, kOrcpt = 128,
};

// Applies one MAIL parameter; a Reply on refusal.
std::optional<Reply> mail_param(const Param& p, MailParams& mail, unsigned& seen) {
  auto once = [&seen](ParamBit bit) {
    bool dup = (seen & bit) != 0;
    seen |= bit;
    return !dup;
  };
  if (iequals(p.keyword, "SIZE")) {
    if (!once(kSize)) return duplicate("SIZE");
    auto n = p.value ? parse_number(*p.value, 20) : std::nullopt;
    if (!n) return bad_param("SIZE");
    mail.size = *n;
  } else if (iequals(p.keyword, "BODY")) {
    if (!once(kBody)) return duplicate("BODY");
    if (!p.value) return bad_param("BODY");
    if (iequals(*p.value, "7BIT")) mail.body = BodyType::SevenBit;
    else if (iequals(*p.value, "8BITMIME")) mail.body = BodyType::EightBitMime;
    else if (iequals(*p.value, "BINARYMIME")) mail.body = BodyType::BinaryMime;
    else return bad_param("BODY");
  } else if (iequals(p.keyword, "SMTPUTF8")) {
    if (!once(kSmtpUtf8)) return duplicate("SMTPUTF8");
    if (p.value) return bad_param("SMTPUTF8");
    mail.smtputf8 = true;
  } else if (iequals(p.keyword, "RET")) {
    if (!once(kRet)) return duplicate("RET");
    if (!p.value) return bad_param("RET");
    if (iequals(*p.value, "FULL")) mail.ret = DsnRet::Full;
    else if (iequals(*p.value, "HDRS")) mail.ret = DsnRet::Hdrs;
    else return bad_param("RET");
  } else if (iequals(p.keyword, "ENVID")) {
    if (!once(kEnvid)) return duplicate("ENVID");
    if (!p.value || p.value->size() > kMaxEnvid) return bad_param("ENVID");
    auto decoded = xtext_decode(*p.value);
    // RFC 3461 §4.4: printable US-ASCII before encoding.
    if (!decoded) return bad_param("ENVID");
    for (char c : *decoded) {
      auto u = static_cast<unsigned char>(c);
      if (u < 32 || u > 126) return bad_param("ENVID");
    }
    mail.envid = std::move(*decoded);
  } else if (iequals(p.keyword, "AUTH")) {
    if (!once(kAuth)) return duplicate("AUTH");
    auto decoded = p.value ? xtext_decode(*p.value) : std::nullopt;
    if (!decoded || decoded->empty() || has_control(*decoded)) return bad_param("AUTH");
    mail.auth = std::move(*decoded);
  } else {
    return unsupported(p.keyword);
  }
  return std::nullopt;
}

std::optional<Reply> rcpt_param(const Param& p, RcptParams& rcpt, unsigned& seen) {
  if (iequals(p.keyword, "NOTIFY")) {
    if (seen & kNotify) return duplicate("NOTIFY");
    seen |= kNotify;
    if (!p.value) return bad_param("NOTIFY");
    std::string_view list = *p.value;
    while (true) {
      std::size_t comma = list.find(',');
      std::string_view item = list.substr(0, comma);
      bool* flag = iequals(item, "NEVER")     ? &rcpt.notify_never
                   : iequals(item, "SUCCESS") ? &rcpt.notify_success
                   : iequals(item, "FAILURE") ? &rcpt.notify_failure
                   : iequals(item, "DELAY")   ? &rcpt.notify_delay
                                              : nullptr;
      if (flag == nullptr || *flag) return bad_param("NOTIFY");  // unknown, empty or repeated
      *flag = true;
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
    // RFC 3461 §4.1: NEVER stands alone.
    if (rcpt.notify_never && (rcpt.notify_success || rcpt.notify_failure || rcpt.notify_delay)) {
      return bad_param("NOTIFY");
    }
  } else if (iequals(p.keyword, "ORCPT")) {
    if (seen & kOrcpt) return duplicate("ORCPT");
    seen |= kOrcpt;
    if (!p.value) return bad_param("ORCPT");
    std::size_t semi = p.value->find(';');
    if (semi == 0 || semi == std::string_view::npos) return bad_param("ORCPT");
    std::string_view type = p.value->substr(0, semi);
    for (char c : type) {  // addr-type = atom
      if (!is_alnum(c) && std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) == std::string_view::npos) {
        return bad_param("ORCPT");
      }
    }
    auto address = xtext_decode(p.value->substr(semi + 1));
    if (!address || address->empty() || has_control(*address)) return bad_param("ORCPT");
    std::string orcpt;
    for (char c : type) orcpt += lower(c);
    rcpt.orcpt = orcpt + ";" + *address;
  } else {
    return unsupported(p.keyword);
  }
  return std::nullopt;
}

std::variant<Command, Reply> parse_mail(std::string_view rest) {
  PathAndParams parts;
  switch (split_path(rest, "FROM:", parts)) {
    case PathSplit::NoKeyword: return syntax("MAIL FROM:<address>");
    case PathSplit::BadPath: return make_reply(501, "5.1.7", "Bad sender address syntax");
    case PathSplit::Ok: break;
  }
  Command c;
  c.verb = Verb::Mail;
  unsigned seen = 0;
  for (std::string_view token : words(parts.params, SIZE_MAX - 1)) {
    Param p;
    if (!split_param(token, p)) return make_reply(501, "5.5.4", "Syntax error in parameters");
    if (auto refusal = mail_param(p, c.mail, seen)) return *refusal;
  }
  // The command's own SMTPUTF8 decides whether its sender may be UTF-8.
  auto path = parse_path(parts.path, AddressSyntax{.allow_utf8 = c.mail.smtputf8, .allow_null = true});
  if (!path) return make_reply(501, "5.1.7", "Bad sender address syntax");
  c.path = std::move(*path);
  return c;
}

std::variant<Command, Reply> parse_rcpt(std::string_view rest, const CommandSyntax& cs) {
  PathAndParams parts;
  switch (split_path(rest, "TO:", parts)) {
    case PathSplit::NoKeyword: return syntax("RCPT TO:<address>");
    case PathSplit::BadPath: return make_reply(501, "5.1.3", "Bad recipient address syntax");
    case PathSplit::Ok: break;
  }
  Command c;
  c.verb = Verb::Rcpt;
  unsigned seen = 0;
  for (std::string_view token : words(parts.params, SIZE_MAX - 1)) {
    Param p;
    if (!split_param(token, p)) return make_reply(501, "5.5.4", "Syntax error in parameters");
    if (auto refusal = rcpt_param(p, c.rcpt, seen)) return *refusal;
  }
  auto path = parse_path(parts.path,
                         AddressSyntax{.allow_utf8 = cs.utf8_in_transaction, .allow_postmaster = true});
  if (!path) return make_reply(501, "5.1.3", "Bad recipient address syntax");
  c.path = std::move(*path);
  return c;
}

bool is_sasl_mechanism(std::string_view s) {
  if (s.empty() || s.size() > kMaxSaslMechanism) return false;
  for (char c : s) {
    if (!is_alnum(c) && c != '-' && c != '_') return false;
  }
  return true;
}

bool is_base64_text(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_alnum(c) && c != '+' && c != '/' && c != '=') return false;
  }
  return true;
}

}  // namespace

std::string_view verb_name(Verb verb) {
  for (const auto& entry : kVerbs) {
    if (entry.verb == verb) return entry.name;
  }
  return "?";
}

std::variant<Command, Reply> parse_command(std::string_view line, const CommandSyntax& cs) {
  // The session has cut the line at CRLF; anything else below 0x20 (or DEL)
  // has no place in a command.
  if (has_control(line)) return make_reply(501, "5.5.2", "Syntax error: control character in command");

  std::size_t space = line.find(' ');
  std::string_view word = line.substr(0, space);
  std::string_view rest = space == std::string_view::npos ? std::string_view{} : line.substr(space);
  const VerbEntry* entry = nullptr;
  for (const auto& e : kVerbs) {
    if (iequals(word, e.name)) entry = &e;
  }
  if (entry == nullptr) return make_reply(500, "5.5.2", "Error: command not recognized");

  Command c;
  c.verb = entry->verb;
  std::string_view args = trim_spaces(rest);
  switch (c.verb) {
    case Verb::Ehlo:
    case Verb::Helo: {
      // Tolerant, as Postfix: any printable ASCII name, spaces and all.
      bool ok = !args.empty() && args.size() <= kMaxHeloArgument;
      for (char ch : args) ok = ok && static_cast<unsigned char>(ch) < 0x80;
      if (!ok) return syntax(c.verb == Verb::Ehlo ? "EHLO hostname" : "HELO hostname");
      c.argument = std::string(args);
      return c;
    }
    case Verb::Mail:
      return parse_mail(rest);
    case Verb::Rcpt:
      return parse_rcpt(rest, cs);
    case Verb::Data:
    case Verb::Rset:
    case Verb::Quit:
    case Verb::StartTls:
      if (!args.empty()) return syntax(entry->name);
      return c;
    case Verb::Vrfy:
      if (args.empty()) return syntax("VRFY address");
      c.argument = std::string(args);
      return c;
    case Verb::Noop:
    case Verb::Help:
    case Verb::Expn:
      c.argument = std::string(args);
      return c;
    case Verb::Bdat: {
      auto w = words(args, 2);
      std::optional<std::uint64_t> size;
      if (!w.empty()) size = parse_number(w[0], SIZE_MAX);
      if (w.empty() || w.size() > 2 || !size || (w.size() == 2 && !iequals(w[1], "LAST"))) {
        return syntax("BDAT chunk-size [LAST]");
      }
      c.chunk_size = *size;
      c.last_chunk = w.size() == 2;
      return c;
    }
    case Verb::Auth: {
      auto w = words(args, 2);
      if (w.empty() || w.size() > 2 || !is_sasl_mechanism(w[0]) || (w.size() == 2 && !is_base64_text(w[1]))) {
        return syntax("AUTH mechanism [initial-response]");
      }
      c.argument = to_upper(w[0]);
      if (w.size() == 2) c.initial_response = std::string(w[1]);
      return c;
    }
  }
  return make_reply(500, "5.5.2", "Error: command not recognized");
}

std::string encode(const Command& c) {
  std::string out(verb_name(c.verb));
  switch (c.verb) {
    case Verb::Mail: {
      out += " FROM:" + c.path.str();
      const MailParams& m = c.mail;
      if (m.size) out += " SIZE=" + std::to_string(*m.size);
      if (m.body == BodyType::SevenBit) out += " BODY=7BIT";
      if (m.body == BodyType::EightBitMime) out += " BODY=8BITMIME";
      if (m.body == BodyType::BinaryMime) out += " BODY=BINARYMIME";
      if (m.smtputf8) out += " SMTPUTF8";
      if (m.ret == DsnRet::Full) out += " RET=FULL";
      if (m.ret == DsnRet::Hdrs) out += " RET=HDRS";
      if (m.envid) out += " ENVID=" + xtext_encode(*m.envid);
      if (m.auth) out += " AUTH=" + xtext_encode(*m.auth);
      break;
    }
    case Verb::Rcpt: {
      out += " TO:" + c.path.str();
      const RcptParams& r = c.rcpt;
      if (r.notify_never) {
        out += " NOTIFY=NEVER";
      } else if (r.notify_given()) {
        std::string list;
        if (r.notify_success) list += ",SUCCESS";
        if (r.notify_failure) list += ",FAILURE";
        if (r.notify_delay) list += ",DELAY";
        out += " NOTIFY=" + list.substr(1);
      }
      if (r.orcpt) {
        // Stored as "type;address"; a bare address is taken to be rfc822.
        std::size_t semi = r.orcpt->find(';');
        std::string type = semi == std::string::npos ? "rfc822" : r.orcpt->substr(0, semi);
        std::string address = semi == std::string::npos ? *r.orcpt : r.orcpt->substr(semi + 1);
        out += " ORCPT=" + type + ";" + xtext_encode(address);
      }
      break;
    }
    case Verb::Bdat:
      out += " " + std::to_string(c.chunk_size);
      if (c.last_chunk) out += " LAST";
      break;
    case Verb::Auth:
      out += " " + c.argument;
      if (c.initial_response) out += " " + *c.initial_response;
      break;
    case Verb::Data:
    case Verb::Rset:
    case Verb::Quit:
    case Verb::StartTls:
      break;
    case Verb::Ehlo:
    case Verb::Helo:
    case Verb::Noop:
    case Verb::Help:
    case Verb::Vrfy:
    case Verb::Expn:
      if (!c.argument.empty()) out += " " + c.argument;
      break;
  }
  out += "\r\n";
  return out;
}

Command make_ehlo(std::string_view domain) {
  Command c;
  c.verb = Verb::Ehlo;
  c.argument = std::string(domain);
  return c;
}

Command make_helo(std::string_view domain) {
  Command c;
  c.verb = Verb::Helo;
  c.argument = std::string(domain);
  return c;
}

Command make_mail(const Path& sender, const MailParams& params) {
  Command c;
  c.verb = Verb::Mail;
  c.path = sender;
  c.mail = params;
  return c;
}

Command make_rcpt(const Path& recipient, const RcptParams& params) {
  Command c;
  c.verb = Verb::Rcpt;
  c.path = recipient;
  c.rcpt = params;
  return c;
}

Command make_simple(Verb verb) {
  Command c;
  c.verb = verb;
  return c;
}

Command make_auth(std::string_view mechanism, std::optional<std::string> initial_response) {
  Command c;
  c.verb = Verb::Auth;
  c.argument = to_upper(mechanism);
  c.initial_response = std::move(initial_response);
  return c;
}

}  // namespace tern::smtp
