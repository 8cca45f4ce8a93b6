#pragma once
// Reads the TTLs out of a raw DNS response, which c-ares 1.18's MX parser
// does not return: the smallest TTL in the answer section (how long a
// positive answer may be cached), and for a negative answer (NXDOMAIN, NODATA)
// RFC 2308's negative TTL, min(SOA TTL, SOA MINIMUM), from an SOA record in
// the authority section. It does not look at record data otherwise. A
// truncated or malformed message yields no TTL (never a read out of bounds).

#include <chrono>
#include <cstddef>
#include <optional>

namespace tern::dns {

struct MessageTtls {
  std::optional<std::chrono::seconds> answer;    // min TTL over the answer section; none if it is empty
  std::optional<std::chrono::seconds> negative;  // from the first SOA in the authority section
};

// Never fails: what cannot be read is left empty. TTLs with the top bit set
// count as 0 (RFC 2181 §8).
MessageTtls read_message_ttls(const unsigned char* message, std::size_t length);

}  // namespace tern::dns
