#pragma once
// Mailboxes and paths of RFC 5321 §4.1.2: Local-part "@" (Domain / address-
// literal), with dot-atom or quoted-string local parts, [IPv4] and [IPv6:...]
// literals, a source route to ignore (@a,@b:user@c), the null reverse-path <>,
// and UTF-8 local parts and domains when SMTPUTF8 is in force (RFC 6531).
// Parsing never throws: bad syntax is an Error naming what is wrong. Lengths
// are enforced: local part 64 octets, domain 255, path 256 (RFC 5321 §4.5.3.1).

#include <optional>
#include <string>
#include <string_view>

#include "smtp/result.h"

namespace tern::smtp {

struct Mailbox {
  std::string local;   // as on the wire: dot-atom, or quoted-string with its quotes and escapes
  std::string domain;  // as on the wire: a domain, or a literal with brackets "[192.0.2.1]", "[IPv6:2001:db8::1]";
                       // empty only for the special RCPT TO:<Postmaster>

  std::string str() const;                  // "local@domain" ("Postmaster" when domain is empty)
  bool is_address_literal() const { return !domain.empty() && domain.front() == '['; }
  // For a literal, the address inside the brackets without "IPv6:"; nullopt otherwise.
  std::optional<std::string> literal_address() const;
  // The domain lower-cased (ASCII only): the key for routing and per-domain limits.
  std::string domain_key() const;

  friend bool operator==(const Mailbox&, const Mailbox&) = default;
};

// A reverse-path or forward-path: a mailbox, or the null path <>.
struct Path {
  std::optional<Mailbox> mailbox;  // nullopt: the null path <>

  bool is_null() const { return !mailbox.has_value(); }
  std::string str() const;         // "<local@domain>" or "<>"

  friend bool operator==(const Path&, const Path&) = default;
};

struct AddressSyntax {
  bool allow_utf8 = false;       // SMTPUTF8 in force: UTF-8 allowed in local part and domain
  bool allow_null = false;       // <> accepted (MAIL FROM only)
  bool allow_postmaster = false; // bare <Postmaster> accepted (RCPT TO only), case-insensitive
};

// Parses "<...>" exactly (angle brackets included, nothing after). The caller
// has already split off ESMTP parameters. A source route "@a,@b:" is accepted
// and dropped. Errors read like "bad address syntax: unbalanced quote".
Result<Path> parse_path(std::string_view text, const AddressSyntax& syntax);

// Parses "local@domain" without brackets (used for header addresses in
// `tern sendmail -t` and for the config); no null, no Postmaster.
Result<Mailbox> parse_mailbox(std::string_view text, bool allow_utf8);

// True when the text contains a byte >= 0x80 (needs SMTPUTF8 to relay).
bool has_non_ascii(std::string_view text);

}  // namespace tern::smtp
