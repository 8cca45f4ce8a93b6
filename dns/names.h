#pragma once
// What text may be looked up: is_ip_address() tells address literals (which the
// caller connects to directly) from names, and normalize_name() turns a domain
// or host name into the form the resolver queries and caches (lower case, no
// trailing dot). It does not resolve anything. A name that can never resolve
// (empty, over-long, an empty label, a byte outside letters/digits/-/_) is a
// permanent error whose text shows the name with unprintable bytes replaced.

#include <string>
#include <string_view>

#include "smtp/result.h"

namespace tern::dns {

// True for an IPv4 dotted quad ("192.0.2.1") or an IPv6 address ("::1",
// "2001:db8::7"), without brackets, prefix length or zone.
bool is_ip_address(std::string_view text);

// "Example.ORG." -> "example.org". Names are A-labels (IDNs arrive as punycode).
Result<std::string> normalize_name(std::string_view name);

// The name made safe for an error message or a log line: at most 100 bytes,
// bytes outside printable ASCII shown as '?'.
std::string printable_name(std::string_view name);

}  // namespace tern::dns
