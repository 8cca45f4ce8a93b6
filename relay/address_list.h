#pragma once
// RFC 5322 address lists as `tern sendmail` meets them: in To:/Cc:/Bcc:
// fields (unfolded first) and in command-line recipients, plus the -f sender.
// Display names, quoted strings with commas, nested comments, groups
// ("undisclosed-recipients:;"), source routes and empty elements are
// understood; names are dropped, only mailboxes come out. It never throws: a
// bad address is an Error quoting it ("invalid address \"John Doe\" in To:
// header: ..."), which the caller turns into EX_DATAERR.

#include <string_view>
#include <vector>

#include "smtp/address.h"
#include "smtp/result.h"

namespace tern::relay {

// Parses an address-list. A bare local part without "@" ("root", as cron
// writes it) is qualified with default_domain, as Postfix does with myorigin
// ("" refuses it). `context` goes into error messages after the quoted
// address, e.g. " in To: header".
Result<std::vector<smtp::Mailbox>> parse_address_list(std::string_view text, std::string_view default_domain,
                                                      std::string_view context = "");

// The -f argument: "" or "<>" is the null sender; "<a@b>" and "a@b" a
// mailbox; a bare local part gets default_domain.
Result<smtp::Path> parse_sender(std::string_view text, std::string_view default_domain);

}  // namespace tern::relay
