#pragma once
// Dates in mail headers (RFC 5322 §3.3): a formatter for the canonical form in
// UTC, and a tolerant parser for what real MTAs write, obsolete syntax (§4.3),
// comments, folding and asctime included. No clocks: times are passed in. The
// parser never throws; text it cannot read is nullopt.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace tern::smtp {

// RFC 5322 date-time in UTC: "Tue, 25 Nov 2025 04:29:44 +0000" (day without a
// leading zero, as §3.3 allows). Defined for years 1900..9999, the range the
// parser accepts back.
std::string format_mail_date(std::chrono::sys_seconds t);

// RFC 3339 in UTC, for tools and JSON: "2025-11-25T04:29:44Z".
std::string format_rfc3339(std::chrono::sys_seconds t);

// Parses an RFC 5322 date-time and returns the instant in UTC. Accepted:
//   [day-of-week [","]] day month year hour ":" minute [":" second] [zone]
// with CFWS (whitespace, folding, nested comments) between tokens; day and
// month names in any case, full or abbreviated ("Sept"); 1- or 2-digit day;
// "-" between day, month and year; years of 4 digits (1900..9999), 2 digits
// (<50 is 20xx, else 19xx) or 3 digits (+1900); 1- or 2-digit hour; fractional
// seconds (ignored); zones "+hhmm", "-hhmm", "+hh:mm", UT, UTC, GMT, Z, the
// US zones EST/EDT/CST/CDT/MST/MDT/PST/PDT, military letters and other unknown
// alphabetic zones as -0000 (§4.3), and no zone at all as -0000. Also the
// asctime form "Tue Nov 25 10:00:00 [zone] 2025". A day-of-week that does not
// match the date is ignored. Anything else, or an impossible date (31 Nov),
// or trailing text other than comments: nullopt.
std::optional<std::chrono::sys_seconds> parse_mail_date(std::string_view text);

}  // namespace tern::smtp
