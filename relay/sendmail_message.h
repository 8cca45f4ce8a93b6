#pragma once
// What `tern sendmail` does to a message before submitting it: finds the
// header section, reads recipients from To:/Cc:/Bcc: (for -t; Resent-* fields
// are not looked at), removes every Bcc: field with its continuation lines,
// and adds "From: [NAME ]<sender>" when there is no From: (address lists are
// parsed by address_list.h, after unfolding). It adds no Date: or Message-ID:
// (the relay does) and rewrites nothing else. A bad address is an Error naming
// it (EX_DATAERR); nothing here throws. Input has CRLF line ends (MessageReader).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/address_list.h"
#include "smtp/address.h"
#include "smtp/result.h"

namespace tern::relay {

// The header line to add when the message has no From: "From: NAME <addr>\r\n",
// or "From: <addr>\r\n" without a name. The name becomes an atom phrase, a
// quoted string, or RFC 2047 encoded words (non-ASCII), folded under 78
// columns. Control characters in the name are an Error (header injection).
Result<std::string> make_from_header(const std::optional<std::string>& full_name, const smtp::Mailbox& sender);

// Removes "\r\n" before each space or tab (RFC 5322 §2.2.3 unfolding).
std::string unfold(std::string_view value);

struct PreparedMessage {
  std::string data;                        // the message to send, CRLF line ends
  std::vector<smtp::Mailbox> recipients;   // from To/Cc/Bcc when asked, in order, duplicates kept
  bool had_from = false;                   // the input had a From: field
};

struct PrepareOptions {
  bool extract_recipients = false;     // -t
  std::string default_domain;          // for unqualified header addresses
  std::string from_header;             // added when there is no From: (make_from_header); "" adds none
};

// Edits the message as described at the top. `message` has CRLF line ends.
Result<PreparedMessage> prepare_message(std::string_view message, const PrepareOptions& options);

}  // namespace tern::relay
