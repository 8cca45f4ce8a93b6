#pragma once
// SMTP commands (RFC 5321 §4.1, RFC 1869 parameters, RFC 3030 BDAT, RFC 3207
// STARTTLS, RFC 4954 AUTH, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8, RFC 3461 DSN
// parameters): parsing one command line into a Command, and encoding a Command
// back to its wire form. The parser is what a server runs on untrusted input: a
// line it cannot accept becomes the exact reply to send (500/501/504/555 with
// an enhanced code), never an exception. parse(encode(c)) == c for every
// Command that encode() accepts.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "smtp/address.h"
#include "smtp/reply.h"

namespace tern::smtp {

enum class Verb { Ehlo, Helo, Mail, Rcpt, Data, Bdat, Rset, Noop, Quit, Vrfy, Expn, Help, StartTls, Auth };

enum class BodyType { Unspecified, SevenBit, EightBitMime, BinaryMime };
enum class DsnRet { Unspecified, Full, Hdrs };

// MAIL FROM parameters.
struct MailParams {
  std::optional<std::uint64_t> size;        // SIZE=n (RFC 1870)
  BodyType body = BodyType::Unspecified;    // BODY=7BIT|8BITMIME|BINARYMIME
  bool smtputf8 = false;                    // SMTPUTF8
  DsnRet ret = DsnRet::Unspecified;         // RET=FULL|HDRS (RFC 3461)
  std::optional<std::string> envid;         // ENVID=, xtext-decoded
  std::optional<std::string> auth;          // AUTH=<mailbox> or AUTH=<> (RFC 4954 §5), xtext-decoded
  friend bool operator==(const MailParams&, const MailParams&) = default;
};

// RCPT TO parameters (RFC 3461).
struct RcptParams {
  bool notify_never = false;                // NOTIFY=NEVER
  bool notify_success = false;              // NOTIFY=SUCCESS,...
  bool notify_failure = false;
  bool notify_delay = false;
  std::optional<std::string> orcpt;         // ORCPT=addr-type;xtext, kept as "rfc822;addr" decoded
  bool notify_given() const { return notify_never || notify_success || notify_failure || notify_delay; }
  friend bool operator==(const RcptParams&, const RcptParams&) = default;
};

struct Command {
  Verb verb = Verb::Noop;
  std::string argument;       // EHLO/HELO: domain or address literal; VRFY/EXPN/HELP/NOOP: the text;
                              // AUTH: the mechanism, upper-cased
  std::optional<std::string> initial_response;  // AUTH: base64 initial response ("=" for empty), as sent
  Path path;                  // MAIL FROM / RCPT TO
  MailParams mail;            // MAIL FROM
  RcptParams rcpt;            // RCPT TO
  std::uint64_t chunk_size = 0;  // BDAT
  bool last_chunk = false;       // BDAT ... LAST

  friend bool operator==(const Command&, const Command&) = default;
};

struct CommandSyntax {
  // For RCPT TO: the transaction's MAIL FROM carried SMTPUTF8, so UTF-8
  // addresses are allowed. (For MAIL FROM the parser looks at the command's
  // own SMTPUTF8 parameter.)
  bool utf8_in_transaction = false;
};

// Parses one command line, without its CRLF. Verbs are case-insensitive.
// On failure, returns the reply to send, e.g.
//   500 5.5.2 Error: command not recognized
//   501 5.5.4 Syntax: MAIL FROM:<address>
//   501 5.1.7 Bad sender address syntax
//   501 5.1.3 Bad recipient address syntax
//   555 5.5.4 Unsupported option: FOO
// Line length limits are the session's job, not this function's.
std::variant<Command, Reply> parse_command(std::string_view line, const CommandSyntax& syntax = {});

// The wire form of a command, with CRLF, as a client sends it.
std::string encode(const Command& command);

// Convenience constructors for clients.
Command make_ehlo(std::string_view domain);
Command make_helo(std::string_view domain);
Command make_mail(const Path& sender, const MailParams& params = {});
Command make_rcpt(const Path& recipient, const RcptParams& params = {});
Command make_simple(Verb verb);  // DATA, RSET, NOOP, QUIT, STARTTLS
Command make_auth(std::string_view mechanism, std::optional<std::string> initial_response);

std::string_view verb_name(Verb verb);  // "MAIL", "STARTTLS", ...

}  // namespace tern::smtp
