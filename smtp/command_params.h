#pragma once
// The ESMTP parameters of MAIL FROM and RCPT TO (RFC 1870 SIZE, RFC 6152
// BODY, RFC 6531 SMTPUTF8, RFC 3461 RET/ENVID/NOTIFY/ORCPT, RFC 4954 AUTH):
// one "KEYWORD[=value]" token at a time into MailParams / RcptParams, and
// their canonical wire form. command.cc's helper, split out to keep each file
// one job. A token it cannot take yields the exact reply: 501 5.5.4 for bad
// syntax, a bad value or a duplicate, 555 5.5.4 for an unknown keyword.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "smtp/command.h"
#include "smtp/reply.h"

namespace tern::smtp {

// The parameters one command has carried so far (a bit each), to refuse duplicates.
using ParamsSeen = unsigned;

std::optional<Reply> parse_mail_param(std::string_view token, MailParams& params, ParamsSeen& seen);
std::optional<Reply> parse_rcpt_param(std::string_view token, RcptParams& params, ParamsSeen& seen);

// " SIZE=123 BODY=8BITMIME ..." in a fixed order, xtext-encoded where the
// value needs it; empty when there is nothing to send.
std::string encode_params(const MailParams& params);
std::string encode_params(const RcptParams& params);

// 1*DIGIT, at most max_digits of them, that fits in 64 bits (SIZE=, BDAT).
std::optional<std::uint64_t> parse_decimal(std::string_view text, std::size_t max_digits);

}  // namespace tern::smtp
