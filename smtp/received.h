#pragma once
// Received: trace fields (RFC 5321 §4.4, RFC 3848). format_received() writes
// tern's, folded under 78 columns where names allow; parse_received() reads
// those of Postfix, Exim, Sendmail, qmail, Gmail, Microsoft 365, SES and tern;
// received_chain() lists a message's hops oldest first, with delays. Parsing
// never throws: a field it cannot read still yields a Hop with its raw text.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tern::smtp {

// RFC 3848: ESMTP plus S (STARTTLS or implicit TLS) and/or A (AUTH).
enum class ReceivedProtocol { Smtp, Esmtp, Esmtps, Esmtpa, Esmtpsa };
std::string_view to_string(ReceivedProtocol p);  // "SMTP", "ESMTPSA", ...
// The keyword for a session: HELO is SMTP whatever else happened.
ReceivedProtocol received_protocol(bool ehlo, bool tls, bool authenticated);

struct ReceivedTls {
  std::string version;  // "TLSv1.3"
  std::string cipher;   // "TLS_AES_256_GCM_SHA384"
};

// What tern knows when it accepts a message. Strings come from the peer (helo)
// or from tern; format_received() makes each safe to write (see received_token).
struct ReceivedFields {
  std::string helo;                         // the client's HELO/EHLO argument
  std::string client_ip;                    // "192.0.2.7" or "2001:db8::1", no brackets
  std::optional<std::string> reverse_name;  // the client's verified PTR name; written only if a host name
                                            // (letters, digits, "-._", not "unknown") and client_ip is set
  std::string by;                           // our host name (config `hostname`)
  ReceivedProtocol protocol = ReceivedProtocol::Esmtp;
  std::string id;                           // queue id; empty: no "id" clause
  std::optional<std::string> for_rcpt;      // the single recipient, without <>; several: leave empty.
                                            // Controls, '<', '>' and ';' are written as '?'
  std::optional<ReceivedTls> tls;           // written as "(using TLSv1.3 with cipher ...)"
  std::chrono::system_clock::time_point time;  // written in UTC, whole seconds
};

// The complete field, "Received: from helo ([192.0.2.7])\r\n\tby ...; date\r\n".
// Shape: "from HELO (REVERSE [IP])" ("(unknown)" when client_ip is empty),
// then the TLS comment, "by BY (tern) with PROTO id ID", "for <RCPT>; DATE",
// each starting a line, longer lines folded between clauses.
std::string format_received(const ReceivedFields& fields);

// How a name from the peer or config is written: bytes that could end a
// word or a comment (controls, space, DEL, ()<>;"\) become '?'; empty becomes
// "unknown". A valid domain or address literal is left as it is.
std::string received_token(std::string_view text);

// One Received: field, read back.
struct Hop {
  // The sending host in one readable string: the from-domain, then in
  // parentheses the other name the receiver recorded (the verified reverse
  // name when it differs, or "helo=NAME" when Exim or qmail report the HELO),
  // then the client IP in brackets without "IPv6:": "mail-sor-f41.google.com
  // [209.85.220.41]", "[192.0.2.1] (helo=client.example)". Empty when absent.
  std::string from;
  std::string by;        // the by-domain; empty when absent
  std::string with;      // the protocol, words up to the next comment or clause ("Microsoft SMTP Server")
  std::string id;        // the id token
  std::string for_rcpt;  // the "for" address without <>
  std::optional<std::chrono::sys_seconds> timestamp;  // the date after the last ';'
  std::optional<std::chrono::seconds> delay;          // set by received_chain(); may be negative (clock skew)
  std::string raw;       // the field body, unfolded (line breaks removed), trimmed
};

// Parses a field body (the text after "Received:", folded or not).
Hop parse_received(std::string_view body);

// The bodies of every Received: field of the header section (which ends at
// the first empty line), in header order (newest first), unfolded. LF or CRLF.
std::vector<std::string> find_received_fields(std::string_view message);

// The hops of a message, oldest first. delay is the hop's timestamp minus the
// previous hop's; nullopt for the first hop or when either timestamp is missing.
std::vector<Hop> received_chain(std::string_view message);

}  // namespace tern::smtp
