#pragma once
// Answer: what one DNS query (one name, one type) came back with, in the form
// the resolver caches and combines: a status, the records (MX or addresses as
// text) and the TTL the message allows. parse_answer() builds it from a c-ares
// query status and the raw response. It does no I/O. It never fails: a
// response that doesn't parse becomes status Malformed (a server failure, in
// the metrics).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tern::dns {

enum class RecordType { A, Aaaa, Mx };
std::string_view describe(RecordType type);  // "A", "AAAA", "MX"

enum class AnswerStatus {
  Ok,           // NOERROR with records of the type asked for
  NoData,       // NOERROR, no records of that type (NODATA)
  NxDomain,     // the name does not exist
  ServFail,     // SERVFAIL
  Refused,      // REFUSED
  Timeout,      // no answer within the configured timeout and tries
  Unreachable,  // the server could not be contacted (ICMP refused, TCP reset)
  Malformed,    // an answer c-ares could not parse, FORMERR or NOTIMP
  Cancelled,    // the resolver was destroyed before an answer came
  Failed,       // anything else c-ares reports (out of memory, bad name); see detail
};
std::string_view describe(AnswerStatus status);  // "NXDOMAIN", "timeout", ...

// Transient statuses: the same query may well succeed later.
bool is_transient(AnswerStatus status);

struct MxRecord {
  std::string host;  // "" for the null MX "." (RFC 7505)
  std::uint16_t preference = 0;
  friend bool operator==(const MxRecord&, const MxRecord&) = default;
};

struct Answer {
  AnswerStatus status = AnswerStatus::Failed;
  std::vector<MxRecord> mx;              // RecordType::Mx, in message order
  std::vector<std::string> addresses;    // RecordType::A / Aaaa, as text, duplicates removed
  std::optional<std::chrono::seconds> ttl;  // Ok: min answer TTL; NoData/NxDomain: SOA negative TTL
  std::string detail;                    // Failed: c-ares's words
};

// At most this many addresses are kept per answer (c-ares reports TTLs for a
// fixed-size array); a host needs a handful, never dozens.
inline constexpr std::size_t kMaxAddressesPerAnswer = 32;

// ares_status: the status c-ares passed to the ares_query callback.
// message/length: the response it passed (may be null on errors).
Answer parse_answer(RecordType type, int ares_status, const unsigned char* message, std::size_t length);

// The c-ares query type of a record type (ns_t_a, ns_t_aaaa, ns_t_mx).
int ares_type(RecordType type);

}  // namespace tern::dns
