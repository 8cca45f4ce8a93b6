// One SMTP command line in, a Command or the exact reply out. Strict where
// the grammar is unambiguous (verbs, "MAIL FROM:", parameter values), lenient
// only where real clients are known to stray: a space after "FROM:"/"TO:",
// several spaces between parameters, trailing spaces, junk EHLO names.
// ESMTP parameters are command_params.cc's job.
#include "smtp/command.h"

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "smtp/command_params.h"

namespace tern::smtp {
namespace {

constexpr std::size_t kMaxHeloArgument = 255;
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
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_control(char c) { return static_cast<unsigned char>(c) < 32 || c == 127; }

bool has_control(std::string_view s) {
  for (char c : s) {
    if (is_control(c)) return true;
  }
  return false;
}

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

std::variant<Command, Reply> parse_mail(std::string_view rest) {
  PathAndParams parts;
  switch (split_path(rest, "FROM:", parts)) {
    case PathSplit::NoKeyword: return syntax("MAIL FROM:<address>");
    case PathSplit::BadPath: return make_reply(501, "5.1.7", "Bad sender address syntax");
    case PathSplit::Ok: break;
  }
  Command c;
  c.verb = Verb::Mail;
  ParamsSeen seen = 0;
  for (std::string_view token : words(parts.params, SIZE_MAX - 1)) {
    if (auto refusal = parse_mail_param(token, c.mail, seen)) return *refusal;
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
  ParamsSeen seen = 0;
  for (std::string_view token : words(parts.params, SIZE_MAX - 1)) {
    if (auto refusal = parse_rcpt_param(token, c.rcpt, seen)) return *refusal;
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
      if (!w.empty()) size = parse_decimal(w[0], SIZE_MAX);
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
    case Verb::Mail:
      out += " FROM:" + c.path.str() + encode_params(c.mail);
      break;
    case Verb::Rcpt:
      out += " TO:" + c.path.str() + encode_params(c.rcpt);
      break;
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